//! Nomad's wire shapes, only the fields kept (unknown keys skipped; absent or null is
//! empty), turned into the rows of [`crate::domain::nomad`] with every text made
//! visible: list entries ([`Row`] for allocations, jobs and nodes) and the event
//! payloads that carry the same rows. Answers "which fields of Nomad's JSON does the
//! console keep, and how?".

use std::borrow::Cow;
use std::marker::PhantomData;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::domain::nomad::{AllocRow, ClientStatus, DesiredStatus, GroupCounts, JobRow, NodeRow};
use crate::domain::text::visible;

use super::{Names, Row};

type Text<'a> = Option<Cow<'a, str>>;

fn text<'a>(t: &'a Text<'_>) -> &'a str {
    t.as_deref().unwrap_or("")
}

/// Visible text of a field, in its own box.
fn boxed(t: &Text<'_>) -> Box<str> {
    Box::from(visible(text(t)).as_ref())
}

/// The values of a JSON object whose keys do not matter (task names, group names);
/// `null` is none.
fn map_values<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Option<Vec<T>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object or null")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_map(self)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((_, v)) = m.next_entry::<IgnoredAny, T>()? {
                out.push(v);
            }
            Ok(Some(out))
        }
    }
    d.deserialize_option(V(PhantomData))
}

#[derive(Deserialize)]
struct WireHealth {
    #[serde(rename = "Healthy", default)]
    healthy: Option<bool>,
}

#[derive(Deserialize)]
struct WireRestarts {
    #[serde(rename = "Restarts", default)]
    restarts: Option<u64>,
}

#[derive(Deserialize)]
struct WireAlloc<'a> {
    #[serde(rename = "ID", borrow, default)]
    id: Text<'a>,
    #[serde(rename = "Name", borrow, default)]
    name: Text<'a>,
    #[serde(rename = "Namespace", borrow, default)]
    namespace: Text<'a>,
    #[serde(rename = "JobID", borrow, default)]
    job: Text<'a>,
    #[serde(rename = "TaskGroup", borrow, default)]
    group: Text<'a>,
    #[serde(rename = "NodeName", borrow, default)]
    node: Text<'a>,
    #[serde(rename = "ClientStatus", borrow, default)]
    client: Text<'a>,
    #[serde(rename = "DesiredStatus", borrow, default)]
    desired: Text<'a>,
    #[serde(rename = "DeploymentStatus", default)]
    deployment: Option<WireHealth>,
    #[serde(rename = "NextAllocation", borrow, default)]
    next: Text<'a>,
    #[serde(rename = "TaskStates", default, deserialize_with = "map_values")]
    tasks: Option<Vec<WireRestarts>>,
    #[serde(rename = "CreateTime", default)]
    create_time: Option<i64>,
    #[serde(rename = "ModifyTime", default)]
    modify_time: Option<i64>,
}

impl WireAlloc<'_> {
    fn row(self, names: &mut Names) -> AllocRow {
        AllocRow {
            id: boxed(&self.id),
            name: boxed(&self.name),
            namespace: names.get(text(&self.namespace)),
            job: names.get(text(&self.job)),
            group: names.get(text(&self.group)),
            node: names.get(text(&self.node)),
            client: ClientStatus::parse(text(&self.client)),
            desired: DesiredStatus::parse(text(&self.desired)),
            healthy: self.deployment.and_then(|d| d.healthy),
            replaced_by: Some(text(&self.next))
                .filter(|n| !n.is_empty())
                .map(|n| Box::from(visible(n).as_ref())),
            // Counts from outside: summed without overflow.
            restarts: self.tasks.map(|t| {
                let sum = t
                    .iter()
                    .filter_map(|t| t.restarts)
                    .fold(0u64, u64::saturating_add);
                u32::try_from(sum).unwrap_or(u32::MAX)
            }),
            create_time: self.create_time.unwrap_or(0),
            modify_time: self.modify_time.unwrap_or(0),
        }
    }
}

impl Row for AllocRow {
    fn decode(entry: &[u8], names: &mut Names) -> Result<Self, serde_json::Error> {
        let w: WireAlloc = serde_json::from_slice(entry)?;
        Ok(w.row(names))
    }

    fn own_bytes(&self) -> usize {
        AllocRow::own_bytes(self)
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct WireGroup {
    queued: Option<u64>,
    starting: Option<u64>,
    running: Option<u64>,
    failed: Option<u64>,
    lost: Option<u64>,
    unknown: Option<u64>,
    complete: Option<u64>,
}

#[derive(Deserialize)]
struct WireSummary {
    #[serde(rename = "Summary", default, deserialize_with = "map_values")]
    groups: Option<Vec<WireGroup>>,
}

#[derive(Deserialize)]
struct WireJob<'a> {
    #[serde(rename = "ID", borrow, default)]
    id: Text<'a>,
    #[serde(rename = "Name", borrow, default)]
    name: Text<'a>,
    #[serde(rename = "Namespace", borrow, default)]
    namespace: Text<'a>,
    #[serde(rename = "Type", borrow, default)]
    kind: Text<'a>,
    #[serde(rename = "Status", borrow, default)]
    status: Text<'a>,
    #[serde(rename = "Stop", default)]
    stop: Option<bool>,
    #[serde(rename = "JobSummary", default)]
    summary: Option<WireSummary>,
}

/// A count a row may hold: summed without overflow, and at most `u32::MAX`, so that the
/// sum of any two of them (failed + lost) cannot overflow either.
fn count(sum: u64, v: Option<u64>) -> u64 {
    sum.saturating_add(v.unwrap_or(0)).min(u64::from(u32::MAX))
}

impl WireJob<'_> {
    fn row(self, names: &mut Names) -> JobRow {
        let summary = self.summary.map(|s| {
            let mut c = GroupCounts::default();
            for g in s.groups.unwrap_or_default() {
                c.queued = count(c.queued, g.queued);
                c.starting = count(c.starting, g.starting);
                c.running = count(c.running, g.running);
                c.failed = count(c.failed, g.failed);
                c.lost = count(c.lost, g.lost);
                c.unknown = count(c.unknown, g.unknown);
                c.complete = count(c.complete, g.complete);
            }
            c
        });
        JobRow {
            id: names.get(text(&self.id)),
            name: boxed(&self.name),
            namespace: names.get(text(&self.namespace)),
            kind: names.get(text(&self.kind)),
            status: names.get(text(&self.status)),
            stop: self.stop.unwrap_or(false),
            summary,
        }
    }
}

impl Row for JobRow {
    fn decode(entry: &[u8], names: &mut Names) -> Result<Self, serde_json::Error> {
        let w: WireJob = serde_json::from_slice(entry)?;
        Ok(w.row(names))
    }

    fn own_bytes(&self) -> usize {
        JobRow::own_bytes(self)
    }
}

#[derive(Deserialize)]
struct WireNode<'a> {
    #[serde(rename = "ID", borrow, default)]
    id: Text<'a>,
    #[serde(rename = "Name", borrow, default)]
    name: Text<'a>,
    #[serde(rename = "Status", borrow, default)]
    status: Text<'a>,
    #[serde(rename = "SchedulingEligibility", borrow, default)]
    eligibility: Text<'a>,
    /// Node stubs say `Drain`; whole nodes (event payloads) carry a `DrainStrategy`.
    #[serde(rename = "Drain", default)]
    drain: Option<bool>,
    #[serde(rename = "DrainStrategy", default)]
    drain_strategy: Option<IgnoredAny>,
}

impl WireNode<'_> {
    fn row(self, names: &mut Names) -> NodeRow {
        NodeRow {
            id: boxed(&self.id),
            name: boxed(&self.name),
            status: names.get(text(&self.status)),
            eligible: text(&self.eligibility) != "ineligible",
            drain: self.drain.unwrap_or(false) || self.drain_strategy.is_some(),
        }
    }
}

impl Row for NodeRow {
    fn decode(entry: &[u8], names: &mut Names) -> Result<Self, serde_json::Error> {
        let w: WireNode = serde_json::from_slice(entry)?;
        Ok(w.row(names))
    }

    fn own_bytes(&self) -> usize {
        NodeRow::own_bytes(self)
    }
}

// ---------------------------------------------------------------------------------------
// Event payloads (`Payload` of an event, keyed by object type): the same rows as a list
// entry gives, so a list plus its events equals a fresh list.
// ---------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct AllocPayload<'a> {
    #[serde(rename = "Allocation", borrow, default)]
    alloc: Option<WireAlloc<'a>>,
}

#[derive(Deserialize)]
struct JobPayload<'a> {
    #[serde(rename = "Job", borrow, default)]
    job: Option<WireJob<'a>>,
}

#[derive(Deserialize)]
struct NodePayload<'a> {
    #[serde(rename = "Node", borrow, default)]
    node: Option<WireNode<'a>>,
}

/// `Payload.Allocation` of an event as the list row (`None` when absent). The list is
/// read without task states, so the row has no restart count either.
pub fn alloc_event(
    payload: &str,
    names: &mut Names,
) -> Result<Option<AllocRow>, serde_json::Error> {
    let p: AllocPayload = serde_json::from_str(payload)?;
    Ok(p.alloc.map(|a| AllocRow {
        restarts: None,
        ..a.row(names)
    }))
}

/// `Payload.Job` of an event as the list row. A whole job carries no `JobSummary`: the
/// row has none (the caller keeps the listed one).
pub fn job_event(payload: &str, names: &mut Names) -> Result<Option<JobRow>, serde_json::Error> {
    let p: JobPayload = serde_json::from_str(payload)?;
    Ok(p.job.map(|j| j.row(names)))
}

/// `Payload.Node` of an event as the list row.
pub fn node_event(payload: &str, names: &mut Names) -> Result<Option<NodeRow>, serde_json::Error> {
    let p: NodePayload = serde_json::from_str(payload)?;
    Ok(p.node.map(|n| n.row(names)))
}
