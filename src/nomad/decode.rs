//! Nomad's list answers decoded while they stream in, into the compact rows of
//! [`crate::domain::nomad`]: one entry of the JSON array is held at a time, only the
//! fields shown are kept, names shared between rows are kept once, and every text is
//! made visible here, where wire data becomes rows, so no view can forget to.
//!
//! Memory is bounded twice: the client refuses a body larger than
//! [`Settings::max_body`](super::Settings) on the wire, and [`ListDecoder`] refuses an
//! answer whose rows would take more than half of that in memory, counted by what the
//! list reserves (a real allocation stub is about 1 KB on the wire and under 200
//! bytes as a row, so any real list within the cap fits; 50 MB of `{}`s, a hundred
//! times their size as rows, is refused instead of taking gigabytes).

use std::borrow::Cow;
use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use super::client::{truncate, NomadError};
use super::models::{go_time, AgentSelf, Allocation};
use crate::domain::nomad::{
    AllocDetail, AllocList, AllocRow, ClientStatus, DesiredStatus, GroupCounts, JobRow, NodeRow,
    TaskDetail, TaskEventRow,
};
use crate::domain::text::visible;

/// Longest single entry of a list (or single document) held while it is decoded.
pub const MAX_ENTRY: usize = 16 << 20;

/// Where the splitter is in the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    /// Before the opening `[` (or a `null`).
    #[default]
    Start,
    /// Inside `null`; this many of its letters seen.
    Null(u8),
    /// After `[`: an entry or `]`.
    First,
    /// After `,`: an entry.
    Next,
    /// Inside an entry.
    Entry,
    /// After an entry: `,` or `]`.
    After,
    /// After the closing `]`: only whitespace.
    Done,
}

/// Where one JSON value ends, found in bytes that arrive in pieces: the scan remembers
/// where it stopped (depth, inside a string, after a backslash), so every byte is looked
/// at once however the value is cut. Nothing is parsed here; framing comes first and the
/// value's decoder sees it whole, so a cut never looks like bad JSON (serde_json calls
/// `1.` or `-` at the end of its input an invalid number, not the end of the input).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValueScan {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// A bare scalar (number, `true`, ...): it ends at `,` `]` `}` or space.
    scalar: bool,
}

/// The bytes that matter inside a string.
const STRING_STOPS: [bool; 256] = stops(b"\"\\");
/// The bytes that matter inside an object or array, outside strings.
const STRUCT_STOPS: [bool; 256] = stops(b"\"{}[]");
/// The bytes that end a bare scalar.
const SCALAR_STOPS: [bool; 256] = stops(b",]} \t\n\r");

const fn stops(bytes: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] = true;
        i += 1;
    }
    t
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl ValueScan {
    /// A value whose first byte is `first` (not yet scanned: [`ValueScan::end`] starts
    /// at it).
    pub fn new(first: u8) -> ValueScan {
        ValueScan {
            scalar: !matches!(first, b'{' | b'[' | b'"'),
            ..ValueScan::default()
        }
    }

    /// Scan `piece[from..]`. `Some(end)`: the value ends before `piece[end]` (a scalar
    /// ends before the byte that ends it, which is not part of it). `None`: it goes on
    /// in the next piece.
    pub fn end(&mut self, piece: &[u8], from: usize) -> Option<usize> {
        let mut i = from;
        while i < piece.len() {
            // Most bytes change nothing: skip to the next one that may.
            let stops = if self.scalar {
                &SCALAR_STOPS
            } else if self.in_string {
                &STRING_STOPS
            } else {
                &STRUCT_STOPS
            };
            if !self.escaped && !stops[usize::from(piece[i])] {
                i = piece[i..]
                    .iter()
                    .position(|&c| stops[usize::from(c)])
                    .map_or(piece.len(), |k| i + k);
                continue;
            }
            let b = piece[i];
            if self.scalar {
                return Some(i);
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    _ => {
                        // `}` or `]`.
                        self.depth = self.depth.saturating_sub(1);
                        if self.depth == 0 {
                            return Some(i + 1);
                        }
                    }
                }
            }
            i += 1;
        }
        None
    }
}

/// Splits a JSON array arriving in pieces into its entries, without holding more than
/// one entry. `null` (Go's nil slice) is an empty array. Entries are not validated
/// here; their decoder does that.
#[derive(Debug, Default)]
pub struct ArraySplitter {
    phase: Phase,
    /// Bytes of an entry that started in an earlier piece.
    entry: Vec<u8>,
    scan: ValueScan,
}

impl ArraySplitter {
    /// Feed the next piece of the body; `entry` is called with each complete entry.
    pub fn push(
        &mut self,
        piece: &[u8],
        mut entry: impl FnMut(&[u8]) -> Result<(), NomadError>,
    ) -> Result<(), NomadError> {
        let bad = |what: &str| Err(NomadError::Decode(format!("not a JSON list: {what}")));
        let mut i = 0;
        while i < piece.len() {
            let b = piece[i];
            match self.phase {
                Phase::Start => match b {
                    b'[' => self.phase = Phase::First,
                    b'n' => self.phase = Phase::Null(1),
                    _ if is_ws(b) => {}
                    _ => return bad("expected `[`"),
                },
                Phase::Null(n) => {
                    if Some(&b) != b"null".get(usize::from(n)) {
                        return bad("expected `null`");
                    }
                    self.phase = if n == 3 {
                        Phase::Done
                    } else {
                        Phase::Null(n + 1)
                    };
                }
                Phase::First | Phase::Next if is_ws(b) => {}
                Phase::First if b == b']' => self.phase = Phase::Done,
                Phase::Next if b == b']' => return bad("a `,` before `]`"),
                Phase::First | Phase::Next => {
                    self.phase = Phase::Entry;
                    self.scan = ValueScan::new(b);
                    // Scanned as part of the entry, from this byte on.
                    continue;
                }
                Phase::Entry => {
                    // The entry started at `i` in this piece, or in an earlier one.
                    let start = if self.entry.is_empty() { i } else { 0 };
                    let Some(end) = self.scan.end(piece, i) else {
                        if self.entry.len() + (piece.len() - start) > MAX_ENTRY {
                            return Err(NomadError::Decode(format!(
                                "one entry is longer than {} MB",
                                MAX_ENTRY >> 20
                            )));
                        }
                        self.entry.extend_from_slice(&piece[start..]);
                        return Ok(());
                    };
                    if self.entry.is_empty() {
                        entry(&piece[start..end])?;
                    } else {
                        self.entry.extend_from_slice(&piece[..end]);
                        let done = std::mem::take(&mut self.entry);
                        entry(&done)?;
                    }
                    self.phase = Phase::After;
                    // A scalar ends before the byte that ends it: look at it again.
                    i = end;
                    continue;
                }
                Phase::After => match b {
                    b',' => self.phase = Phase::Next,
                    b']' => self.phase = Phase::Done,
                    _ if is_ws(b) => {}
                    _ => return bad("expected `,` or `]` after an entry"),
                },
                Phase::Done if is_ws(b) => {}
                Phase::Done => return bad("data after the closing `]`"),
            }
            i += 1;
        }
        Ok(())
    }

    /// The body ended: it must have been a whole array.
    pub fn finish(&self) -> Result<(), NomadError> {
        if self.phase == Phase::Done {
            Ok(())
        } else {
            Err(NomadError::Decode(
                "not a JSON list: the body ended early".into(),
            ))
        }
    }
}

/// Names (job, group, node, namespace, statuses) kept once per answer, made visible.
#[derive(Debug, Default)]
pub struct Names {
    set: HashSet<Arc<str>>,
    /// The names looked up last: rows come in runs of one job, group and node.
    recent: [Option<Arc<str>>; 8],
    next: usize,
    /// Memory taken by the names kept so far.
    bytes: usize,
}

impl Names {
    pub fn get(&mut self, s: &str) -> Arc<str> {
        // A kept name is visible text: it equals `s` only when `s` needs no escaping.
        if let Some(a) = self.recent.iter().flatten().find(|a| ***a == *s) {
            return a.clone();
        }
        let v = visible(s);
        let a = match self.set.get(v.as_ref()) {
            Some(a) => a.clone(),
            None => {
                let a: Arc<str> = Arc::from(v.as_ref());
                // The string and the Arc's two counters.
                self.bytes += a.len() + 16;
                self.set.insert(a.clone());
                a
            }
        };
        self.recent[self.next % self.recent.len()] = Some(a.clone());
        self.next = self.next.wrapping_add(1);
        a
    }
}

/// A row type decoded from one entry of a list.
pub trait Row: Sized {
    fn decode(entry: &[u8], names: &mut Names) -> Result<Self, serde_json::Error>;
    /// Memory the row takes beyond the shared names.
    fn own_bytes(&self) -> usize;
}

/// Decodes a list's entries into rows as the body streams in, within a memory budget.
#[derive(Debug)]
pub struct ListDecoder<R> {
    splitter: ArraySplitter,
    names: Names,
    rows: Vec<R>,
    bytes: usize,
    /// Memory the rows may take.
    budget: usize,
    /// The wire cap the budget derives from, for the error text.
    max_body: u64,
}

impl<R: Row> ListDecoder<R> {
    /// Rows may take half of `max_body` bytes.
    pub fn new(max_body: u64) -> Self {
        ListDecoder {
            splitter: ArraySplitter::default(),
            names: Names::default(),
            rows: Vec::new(),
            bytes: 0,
            budget: usize::try_from(max_body / 2).unwrap_or(usize::MAX),
            max_body,
        }
    }

    pub fn push(&mut self, piece: &[u8]) -> Result<(), NomadError> {
        let ListDecoder {
            splitter,
            names,
            rows,
            bytes,
            budget,
            max_body,
        } = self;
        splitter.push(piece, |entry| {
            let row = R::decode(entry, names).map_err(|e| {
                NomadError::Decode(truncate(
                    &visible(&format!("entry {}: {e}", rows.len() + 1)),
                    200,
                ))
            })?;
            // The list grows by half at a time (not doubling), and is counted by what it
            // reserves: growth is paid for too.
            let grow = if rows.len() == rows.capacity() {
                (rows.len() / 2).max(1024)
            } else {
                0
            };
            let reserved = (rows.capacity() + grow) * std::mem::size_of::<R>();
            let strings = *bytes + row.own_bytes() - std::mem::size_of::<R>();
            if reserved + strings + names.bytes > *budget {
                return Err(NomadError::TooLarge {
                    limit_mb: *max_body >> 20,
                    entries: Some(rows.len() + 1),
                });
            }
            rows.reserve_exact(grow);
            *bytes = strings;
            rows.push(row);
            Ok(())
        })
    }

    /// The body ended; the rows, once it was a whole list.
    pub fn finish(mut self) -> Result<Vec<R>, NomadError> {
        self.splitter.finish()?;
        self.rows.shrink_to_fit();
        Ok(self.rows)
    }
}

/// Decode a whole list held in memory (tests, benchmarks, small answers).
pub fn decode_all<R: Row>(body: &[u8], max_body: u64) -> Result<Vec<R>, NomadError> {
    let mut d = ListDecoder::new(max_body);
    d.push(body)?;
    d.finish()
}

/// [`decode_all`] of an allocation list, counted.
pub fn alloc_list(body: &[u8], max_body: u64) -> Result<AllocList, NomadError> {
    decode_all(body, max_body).map(AllocList::from_rows)
}

// ---------------------------------------------------------------------------------------
// Wire shapes: only the fields kept. Unknown keys are skipped; absent or null is empty.
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Single documents: held whole (at most MAX_ENTRY bytes, like one list entry).
// ---------------------------------------------------------------------------------------

/// `GET /v1/allocation/:id`, decoded and made visible.
pub fn allocation(body: &[u8]) -> Result<AllocDetail, serde_json::Error> {
    serde_json::from_slice::<Allocation>(body).map(alloc_detail)
}

/// `GET /v1/agent/self`.
pub fn agent(body: &[u8]) -> Result<AgentSelf, serde_json::Error> {
    serde_json::from_slice(body)
}

/// The opened allocation, every text made visible.
pub fn alloc_detail(a: Allocation) -> AllocDetail {
    let v = |s: &str| visible(s).into_owned();
    let opt = |s: &str| Some(s).filter(|s| !s.is_empty()).map(v);
    let mut tasks: Vec<TaskDetail> = a
        .task_states
        .iter()
        .flatten()
        .map(|(name, t)| TaskDetail {
            name: v(name),
            state: v(&t.state),
            failed: t.failed,
            restarts: t.restarts,
            started_at: go_time(&t.started_at).map(v),
            finished_at: go_time(&t.finished_at).map(v),
            events: t
                .events
                .iter()
                .map(|e| TaskEventRow {
                    kind: v(&e.r#type),
                    time: e.time,
                    text: v(e.text()),
                })
                .collect(),
        })
        .collect();
    tasks.sort_by(|a, b| a.name.cmp(&b.name));
    AllocDetail {
        id: v(&a.id),
        name: v(&a.name),
        job: v(&a.job_id),
        group: v(&a.task_group),
        node: v(&a.node_name),
        client: v(&a.client_status),
        client_description: v(&a.client_description),
        desired: v(&a.desired_status),
        desired_description: v(&a.desired_description),
        replaced_by: opt(&a.next_allocation),
        replaces: opt(&a.previous_allocation),
        tasks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::nomad::AllocState;
    use proptest::prelude::*;

    const MB: u64 = 1 << 20;

    fn entries(body: &[u8], split: usize) -> Result<Vec<String>, NomadError> {
        let mut s = ArraySplitter::default();
        let mut out = Vec::new();
        let mut take = |e: &[u8]| {
            out.push(String::from_utf8_lossy(e).into_owned());
            Ok(())
        };
        s.push(&body[..split], &mut take)?;
        s.push(&body[split..], &mut take)?;
        s.finish()?;
        Ok(out)
    }

    #[test]
    fn splitter_finds_every_entry_at_every_split() {
        let body = br#" [ {"a":"x]}\"{","b":[1,{"c":2}]} , 12 ,"s\\",true,[[]],null ,-1.5e3]  "#;
        let want = vec![
            r#"{"a":"x]}\"{","b":[1,{"c":2}]}"#,
            "12",
            r#""s\\""#,
            "true",
            "[[]]",
            "null",
            "-1.5e3",
        ];
        for split in 0..=body.len() {
            assert_eq!(entries(body, split).unwrap(), want, "split at {split}");
        }
        for empty in [&b"[]"[..], b" [ ] ", b"null", b" null\n"] {
            for split in 0..=empty.len() {
                assert_eq!(entries(empty, split).unwrap(), Vec::<String>::new());
            }
        }
    }

    #[test]
    fn splitter_refuses_what_is_not_a_list() {
        for bad in [
            &b"{}"[..],
            b"[1,]",
            b"[1 2]",
            b"[1]x",
            b"[{}",
            b"",
            b"nul",
            b"nulx",
            b"[{\"a\":1}}",
        ] {
            assert!(entries(bad, 0).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn an_entry_longer_than_the_cap_is_refused() {
        let mut s = ArraySplitter::default();
        let chunk = vec![b'1'; 1 << 20];
        s.push(b"[\"", |_| Ok(())).unwrap();
        let mut last = Ok(());
        for _ in 0..=(MAX_ENTRY >> 20) {
            last = s.push(&chunk, |_| Ok(()));
            if last.is_err() {
                break;
            }
        }
        assert!(
            matches!(&last, Err(NomadError::Decode(m)) if m.contains("longer than 16 MB")),
            "{last:?}"
        );
    }

    fn field_allocs(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/nomad_field/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("json");
        serde_json::to_vec(&v["routes"]["/v1/allocations"]["json"]).expect("json")
    }

    #[test]
    fn replaced_failures_decode_as_history() {
        let list = alloc_list(&field_allocs("13-nomad-replaced-failed-allocs.json"), MB).unwrap();
        assert_eq!(list.counts.failed, 0);
        assert_eq!(list.counts.replaced, 2);
        assert_eq!(list.counts.running, 1);
        assert_eq!(list.counts.total, 3);
        assert_eq!(
            list.rows[0].replaced_by.as_deref(),
            Some("2b2b2b2b-0000-4000-8000-000000000002")
        );
        assert_eq!(list.rows[0].state(), AllocState::Replaced);
        assert_eq!(list.rows[0].restarts, None, "listed without task states");
        // Names are kept once for all rows.
        assert!(Arc::ptr_eq(&list.rows[0].job, &list.rows[2].job));
        let web = list.by_job.values().next().copied().unwrap_or_default();
        assert_eq!((web.replaced, web.running), (2, 1));
    }

    #[test]
    fn rows_keep_the_shown_fields_made_visible() {
        let body = serde_json::to_vec(&serde_json::json!([{
            "ID": "a\u{1b}]2;x\u{7}", "Name": "j.g[0]", "Namespace": "default", "JobID": "web\u{1b}[31m",
            "TaskGroup": "g", "NodeName": "n\u{9b}", "ClientStatus": "lost", "DesiredStatus": "stop",
            "DeploymentStatus": {"Healthy": false, "Canary": true},
            "TaskStates": {"a": {"Restarts": 2, "Events": null}, "b": {"Restarts": 3}},
            "CreateTime": 5, "ModifyTime": 6, "Padding": "x".repeat(300), "Future": {"x": [1]}
        }, {"ID": "b", "ClientStatus": "running", "TaskStates": null, "NextAllocation": null}]))
        .unwrap();
        let rows: Vec<AllocRow> = decode_all(&body, MB).unwrap();
        let a = &rows[0];
        assert_eq!(&*a.id, "a\\x1b]2;x\\x07");
        assert_eq!(&*a.job, "web\\x1b[31m");
        assert_eq!(&*a.node, "n\\u{9b}");
        assert_eq!(a.client, ClientStatus::Lost);
        assert_eq!(a.desired, DesiredStatus::Stop);
        assert_eq!(a.healthy, Some(false));
        assert_eq!(a.restarts, Some(5));
        assert_eq!((a.create_time, a.modify_time), (5, 6));
        assert_eq!(rows[1].restarts, None);
        assert_eq!(rows[1].replaced_by, None);
        assert_eq!(&*rows[1].namespace, "");
    }

    #[test]
    fn jobs_and_nodes_decode() {
        let jobs: Vec<JobRow> = decode_all(
            br#"[{"ID":"web","Name":"web","Namespace":"default","Type":"service","Status":"running",
                 "JobSummary":{"Summary":{"a":{"Running":1,"Failed":2},"b":{"Queued":3,"Lost":null}}}},
                {"ID":"x","Stop":true,"JobSummary":{"Summary":null}}, {"ID":"y","JobSummary":null}]"#,
            MB,
        )
        .unwrap();
        let s = jobs[0].summary.unwrap();
        assert_eq!((s.running, s.failed, s.queued), (1, 2, 3));
        assert!(jobs[1].stop);
        assert_eq!(jobs[1].summary, Some(GroupCounts::default()));
        assert_eq!(jobs[2].summary, None);
        let nodes: Vec<NodeRow> = decode_all(
            br#"[{"ID":"n1","Name":"a","Status":"ready","SchedulingEligibility":"eligible"},
                {"ID":"n2","Status":"down","SchedulingEligibility":"ineligible","Drain":true}]"#,
            MB,
        )
        .unwrap();
        assert!(nodes[0].is_ready() && nodes[0].eligible);
        assert!(!nodes[1].is_ready() && !nodes[1].eligible && nodes[1].drain);
    }

    #[test]
    fn counts_from_outside_never_overflow() {
        // Fuzzing found these: restarts summed over tasks, and a job's counters summed
        // over groups, overflowed (a panic with overflow checks on).
        let max = u64::MAX;
        let body = format!(
            r#"[{{"ID":"a","TaskStates":{{"a":{{"Restarts":{max}}},"b":{{"Restarts":{max}}}}}}}]"#
        );
        let rows: Vec<AllocRow> = decode_all(body.as_bytes(), MB).unwrap();
        assert_eq!(rows[0].restarts, Some(u32::MAX));
        let body = format!(
            r#"[{{"ID":"j","JobSummary":{{"Summary":{{"a":{{"Failed":{max},"Lost":{max}}},"b":{{"Failed":{max}}}}}}}}}]"#
        );
        let jobs: Vec<JobRow> = decode_all(body.as_bytes(), MB).unwrap();
        let s = jobs[0].summary.unwrap();
        assert_eq!(
            (s.failed, s.lost),
            (u64::from(u32::MAX), u64::from(u32::MAX))
        );
        // So `failed + lost` (the views' warning test) cannot overflow either.
        assert!(s.failed.checked_add(s.lost).is_some());
        let mut c = crate::domain::nomad::AllocCounts {
            failed: max,
            lost: max,
            ..Default::default()
        };
        assert_eq!(c.attention(), max);
        c.remove(&rows[0]);
        assert_eq!(c.total, 0, "never below zero");
    }

    #[test]
    fn event_payloads_decode_to_the_rows_a_list_gives() {
        let entry = br#"{"ID":"a1","Name":"web.web[0]","Namespace":"default","JobID":"web",
            "TaskGroup":"web","NodeName":"n1","ClientStatus":"failed","NextAllocation":"b"}"#;
        let mut names = Names::default();
        let listed = AllocRow::decode(entry, &mut names).unwrap();
        let payload = format!(
            r#"{{"Allocation":{},"Job":null}}"#,
            String::from_utf8_lossy(entry).replace("}", r#","TaskStates":{"t":{"Restarts":3}}}"#)
        );
        let from_event = alloc_event(&payload, &mut names).unwrap().unwrap();
        assert_eq!(from_event, listed, "no restarts: the list has none");
        assert_eq!(alloc_event(r#"{"Job":{}}"#, &mut names).unwrap(), None);
        let job = job_event(
            r#"{"Job":{"ID":"web","Namespace":"default","Stop":true}}"#,
            &mut names,
        )
        .unwrap()
        .unwrap();
        assert!(job.stop && job.summary.is_none());
        let node = node_event(
            r#"{"Node":{"ID":"n","Status":"ready","DrainStrategy":{}}}"#,
            &mut names,
        )
        .unwrap()
        .unwrap();
        assert!(node.drain && node.is_ready());
        assert!(alloc_event("{\"Allocation\":[1]}", &mut names).is_err());
    }

    #[test]
    fn a_flood_of_tiny_entries_is_refused_within_the_budget() {
        // 300 KB of `{}`: about sixty times its size as rows, were it kept.
        let mut body = b"[".to_vec();
        body.extend(std::iter::repeat_n(&b"{},"[..], 100_000).flatten());
        body.extend_from_slice(b"{}]");
        let err = decode_all::<AllocRow>(&body, MB).unwrap_err();
        assert!(
            matches!(err, NomadError::TooLarge { limit_mb: 1, entries: Some(n) } if n < 5_000),
            "{err:?}"
        );
        assert!(err.to_string().contains("max_body_mb"), "{err}");
        // The same entries fit a larger cap.
        assert_eq!(
            decode_all::<AllocRow>(&body, 64 * MB).unwrap().len(),
            100_001
        );
    }

    #[test]
    fn a_real_list_as_large_as_the_cap_fits() {
        // Stubs shaped like an agent's (task_states=false), 1 MB of them.
        let stub = |i: usize| {
            serde_json::json!({
                "ID": format!("{i:08x}-0000-4000-8000-000000000000"),
                "EvalID": format!("{i:08x}-0000-4000-8000-000000000001"),
                "Name": format!("web.web[{i}]"), "Namespace": "default",
                "NodeID": "00000000-0000-0000-0000-000000000001", "NodeName": "node-1",
                "JobID": "web", "JobType": "service", "JobVersion": 0, "TaskGroup": "web",
                "DesiredStatus": "run", "DesiredDescription": "", "ClientStatus": "running",
                "ClientDescription": "Tasks are running", "TaskStates": null,
                "DeploymentStatus": {"Healthy": true, "Timestamp": "2025-11-27T07:21:14.402113Z",
                                     "Canary": false, "ModifyIndex": 60},
                "FollowupEvalID": "", "NextAllocation": "", "RescheduleTracker": null,
                "PreemptedAllocations": null, "PreemptedByAllocation": "",
                "CreateIndex": 20 + i, "ModifyIndex": 20 + i,
                "CreateTime": 1_764_226_402_512_345_678i64, "ModifyTime": 1_764_226_402_512_345_678i64
            })
        };
        let mut items = Vec::new();
        let mut len = 0;
        while len < MB as usize - 1000 {
            let s = stub(items.len());
            len += s.to_string().len() + 1;
            items.push(s);
        }
        let body = serde_json::to_vec(&items).unwrap();
        assert!(body.len() <= MB as usize, "{}", body.len());
        let rows: Vec<AllocRow> = decode_all(&body, MB).unwrap();
        assert_eq!(rows.len(), items.len());
    }

    #[test]
    fn a_bad_entry_names_its_position() {
        let err = decode_all::<AllocRow>(br#"[{"ID":"a"},{"ID":3}]"#, MB).unwrap_err();
        assert!(
            matches!(&err, NomadError::Decode(m) if m.starts_with("entry 2: invalid type")),
            "{err:?}"
        );
        let err = decode_all::<AllocRow>(b"[\"\x1b[2J\"]", MB).unwrap_err();
        assert!(!err.to_string().contains('\x1b'), "{err}");
    }

    #[test]
    fn detail_is_made_visible() {
        let a: Allocation = serde_json::from_value(serde_json::json!({
            "ID": "abc", "ClientStatus": "failed", "ClientDescription": "bad\u{1b}[2J",
            "NextAllocation": "def", "PreviousAllocation": "",
            "TaskStates": {"z": {"State": "dead"}, "spin\u{7}": {"State": "dead", "Failed": true,
                "Restarts": 2, "StartedAt": "0001-01-01T00:00:00Z",
                "Events": [{"Type": "Terminated", "Time": 7, "DisplayMessage": "",
                            "Message": "exit \u{1b}]0;x\u{7}"}]}}
        }))
        .unwrap();
        let d = alloc_detail(a);
        assert_eq!(d.client_description, "bad\\x1b[2J");
        assert_eq!(d.replaced_by.as_deref(), Some("def"));
        assert_eq!(d.replaces, None);
        assert!(!d.is_bad(), "replaced");
        assert_eq!(d.tasks(), vec!["spin\\x07", "z"]);
        assert_eq!(d.restarts(), 2);
        assert_eq!(d.tasks[0].started_at, None);
        assert_eq!(d.tasks[0].events[0].text, "exit \\x1b]0;x\\x07");
    }

    proptest! {
        #[test]
        fn splitter_agrees_with_serde(
            v in prop::collection::vec(
                prop_oneof![
                    any::<i64>().prop_map(serde_json::Value::from),
                    ".{0,8}".prop_map(serde_json::Value::from),
                    any::<bool>().prop_map(serde_json::Value::from),
                    Just(serde_json::json!({"a": "]}", "b": [1, {"c": "\\\""}]})),
                    Just(serde_json::Value::Null),
                ],
                0..8,
            ),
            split in 0usize..200,
            pretty in any::<bool>(),
        ) {
            let body = if pretty {
                serde_json::to_vec_pretty(&v).unwrap()
            } else {
                serde_json::to_vec(&v).unwrap()
            };
            let split = split.min(body.len());
            let got: Vec<serde_json::Value> = entries(&body, split)
                .unwrap()
                .iter()
                .map(|e| serde_json::from_str(e).unwrap())
                .collect();
            prop_assert_eq!(got, v);
        }

        #[test]
        fn decoders_never_panic(b in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_all::<AllocRow>(&b, MB);
            let _ = decode_all::<JobRow>(&b, MB);
            let _ = decode_all::<NodeRow>(&b, MB);
        }
    }
}
