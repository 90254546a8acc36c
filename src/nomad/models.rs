//! Serde models for the Nomad list/detail payloads the console reads.
//!
//! Field names follow `hashicorp/nomad api/*.go` (PascalCase JSON, `ID`-style
//! acronyms). Decoding is lenient on purpose (the platform pins Nomad 1.4.1,
//! newer agents add fields): every struct has `#[serde(default)]`, unknown keys
//! are ignored, Go pointers that may be `null` are `Option`, and Go slices/maps
//! that may be `null` decode as empty collections. Times: `SubmitTime`,
//! `CreateTime`, `ModifyTime` and task event `Time` are integer nanoseconds;
//! `StartedAt`/`FinishedAt`/`LastRestart` are RFC 3339 strings where the Go zero
//! time means "unset" (see [`go_time`]).

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// `null` (a nil Go slice or map) decodes as the type's default value.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// An RFC 3339 time as Nomad sends it, or `None` for the Go zero time
/// (`0001-01-01T00:00:00Z`) and the empty string.
pub fn go_time(s: &str) -> Option<&str> {
    if s.is_empty() || s.starts_with("0001-01-01") {
        None
    } else {
        Some(s)
    }
}

// ---------------------------------------------------------------------------
// Jobs
// ---------------------------------------------------------------------------

/// One entry of `GET /v1/jobs` (`JobListStub`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobStub {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "ParentID")]
    pub parent_id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Namespace")]
    pub namespace: String,
    #[serde(rename = "Datacenters", deserialize_with = "nullable")]
    pub datacenters: Vec<String>,
    /// `service`, `batch`, `system` or `sysbatch`.
    #[serde(rename = "Type")]
    pub r#type: String,
    #[serde(rename = "Priority")]
    pub priority: i64,
    #[serde(rename = "Periodic")]
    pub periodic: bool,
    #[serde(rename = "ParameterizedJob")]
    pub parameterized_job: bool,
    /// `true` with `Status == "dead"`: stopped by an operator.
    #[serde(rename = "Stop")]
    pub stop: bool,
    /// `pending`, `running` or `dead`.
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "StatusDescription")]
    pub status_description: String,
    #[serde(rename = "JobSummary")]
    pub job_summary: Option<JobSummary>,
    /// Unix nanoseconds.
    #[serde(rename = "SubmitTime")]
    pub submit_time: i64,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
    #[serde(rename = "JobModifyIndex")]
    pub job_modify_index: u64,
}

impl JobStub {
    /// Sum of one per-group counter over all task groups (0 without a summary).
    fn sum(&self, f: impl Fn(&GroupSummary) -> u64) -> u64 {
        self.job_summary
            .as_ref()
            .map(|s| s.summary.values().map(&f).sum())
            .unwrap_or(0)
    }

    pub fn running(&self) -> u64 {
        self.sum(|g| g.running)
    }

    /// Failed plus lost allocations over all groups.
    pub fn failed(&self) -> u64 {
        self.sum(|g| g.failed + g.lost)
    }

    /// A running job with failed/lost allocations deserves a warning colour.
    pub fn needs_attention(&self) -> bool {
        self.status == "running" && self.failed() > 0
    }
}

/// `JobSummary` embedded in a job stub.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobSummary {
    #[serde(rename = "JobID")]
    pub job_id: String,
    #[serde(rename = "Namespace")]
    pub namespace: String,
    /// Keyed by task group name.
    #[serde(rename = "Summary", deserialize_with = "nullable")]
    pub summary: BTreeMap<String, GroupSummary>,
    #[serde(rename = "Children")]
    pub children: Option<JobChildren>,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// Allocation counts of one task group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct GroupSummary {
    pub queued: u64,
    pub complete: u64,
    pub failed: u64,
    pub running: u64,
    pub starting: u64,
    pub lost: u64,
    pub unknown: u64,
}

/// Child job counts of periodic/parameterized jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobChildren {
    pub pending: u64,
    pub running: u64,
    pub dead: u64,
}

// ---------------------------------------------------------------------------
// Allocations
// ---------------------------------------------------------------------------

/// `DeploymentStatus` of an allocation; `healthy` is `None` until decided.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AllocDeploymentStatus {
    #[serde(rename = "Healthy")]
    pub healthy: Option<bool>,
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    #[serde(rename = "Canary")]
    pub canary: bool,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// One entry of `GET /v1/allocations` / `GET /v1/job/:id/allocations`
/// (`AllocationListStub`). `task_states` is `None` with `task_states=false`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AllocStub {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// `job.group[N]`.
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Namespace")]
    pub namespace: String,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    #[serde(rename = "NodeName")]
    pub node_name: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    #[serde(rename = "JobType")]
    pub job_type: String,
    #[serde(rename = "JobVersion")]
    pub job_version: u64,
    #[serde(rename = "TaskGroup")]
    pub task_group: String,
    /// `run`, `stop` or `evict`.
    #[serde(rename = "DesiredStatus")]
    pub desired_status: String,
    #[serde(rename = "DesiredDescription")]
    pub desired_description: String,
    /// `pending`, `running`, `complete`, `failed`, `lost` or `unknown`.
    #[serde(rename = "ClientStatus")]
    pub client_status: String,
    #[serde(rename = "ClientDescription")]
    pub client_description: String,
    #[serde(rename = "TaskStates")]
    pub task_states: Option<BTreeMap<String, TaskState>>,
    #[serde(rename = "DeploymentStatus")]
    pub deployment_status: Option<AllocDeploymentStatus>,
    /// Set on the full allocation only.
    #[serde(rename = "PreviousAllocation")]
    pub previous_allocation: String,
    #[serde(rename = "FollowupEvalID")]
    pub followup_eval_id: String,
    #[serde(rename = "NextAllocation")]
    pub next_allocation: String,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
    /// Unix nanoseconds.
    #[serde(rename = "CreateTime")]
    pub create_time: i64,
    /// Unix nanoseconds.
    #[serde(rename = "ModifyTime")]
    pub modify_time: i64,
}

/// The first 8 characters of an allocation ID, as the Nomad CLI shows it.
fn short(id: &str) -> &str {
    match id.char_indices().nth(8) {
        Some((i, _)) => &id[..i],
        None => id,
    }
}

impl AllocStub {
    pub fn short_id(&self) -> &str {
        short(&self.id)
    }

    /// Restarts summed over task states (0 when the list was fetched with
    /// `task_states=false`).
    pub fn restarts(&self) -> u64 {
        self.task_states
            .as_ref()
            .map(|m| m.values().map(|t| t.restarts).sum())
            .unwrap_or(0)
    }

    /// The reference's display rule, minus the time-based "pending for long" part (the
    /// caller knows how long it has watched): `ClientStatus` failed/lost, or
    /// `DeploymentStatus.Healthy == false`.
    pub fn is_bad(&self) -> bool {
        matches!(self.client_status.as_str(), "failed" | "lost")
            || self
                .deployment_status
                .as_ref()
                .is_some_and(|d| d.healthy == Some(false))
    }

    /// Task names, sorted (the map's order); empty without task states.
    pub fn tasks(&self) -> Vec<&str> {
        self.task_states
            .as_ref()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

/// `GET /v1/allocation/:id`: the same fields as the list entry, with task states (and
/// `previous_allocation`). The embedded `Job` and resource blocks are not decoded.
pub type Allocation = AllocStub;

/// State of one task inside an allocation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskState {
    /// `pending`, `running` or `dead`.
    #[serde(rename = "State")]
    pub state: String,
    #[serde(rename = "Failed")]
    pub failed: bool,
    #[serde(rename = "Restarts")]
    pub restarts: u64,
    /// RFC 3339; see [`go_time`].
    #[serde(rename = "LastRestart")]
    pub last_restart: String,
    #[serde(rename = "StartedAt")]
    pub started_at: String,
    #[serde(rename = "FinishedAt")]
    pub finished_at: String,
    /// At most the latest 10, oldest first.
    #[serde(rename = "Events", deserialize_with = "nullable")]
    pub events: Vec<TaskEvent>,
}

impl TaskState {
    pub fn last_event(&self) -> Option<&TaskEvent> {
        self.events.last()
    }
}

/// One task event (`Received`, `Started`, `Terminated`, `Restarting`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskEvent {
    #[serde(rename = "Type")]
    pub r#type: String,
    /// Unix nanoseconds.
    #[serde(rename = "Time")]
    pub time: i64,
    #[serde(rename = "DisplayMessage")]
    pub display_message: String,
    #[serde(rename = "Message")]
    pub message: String,
    #[serde(rename = "Details", deserialize_with = "nullable")]
    pub details: BTreeMap<String, String>,
}

impl TaskEvent {
    /// `DisplayMessage`, falling back to `Message`.
    pub fn text(&self) -> &str {
        if self.display_message.is_empty() {
            &self.message
        } else {
            &self.display_message
        }
    }
}

// ---------------------------------------------------------------------------
// Nodes and agent
// ---------------------------------------------------------------------------

/// One entry of `GET /v1/nodes` (`NodeListStub`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeStub {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Address")]
    pub address: String,
    #[serde(rename = "Datacenter")]
    pub datacenter: String,
    #[serde(rename = "NodeClass")]
    pub node_class: String,
    /// Absent before Nomad 1.6.
    #[serde(rename = "NodePool")]
    pub node_pool: String,
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Drain")]
    pub drain: bool,
    /// `eligible` or `ineligible`.
    #[serde(rename = "SchedulingEligibility")]
    pub scheduling_eligibility: String,
    /// `initializing`, `ready`, `down` or `disconnected`.
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "StatusDescription")]
    pub status_description: String,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

impl NodeStub {
    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }

    pub fn short_id(&self) -> &str {
        short(&self.id)
    }
}

/// `GET /v1/agent/self`. Top-level keys are lower case; every `stats` value is
/// a string (`"true"`, `"3"`, `"17.79s"`, `"never"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentSelf {
    pub config: AgentConfig,
    pub member: AgentMember,
    /// `stats.<section>.<key>`, e.g. `stats.nomad.leader`, `stats.raft.last_contact`.
    #[serde(deserialize_with = "stats_strings")]
    pub stats: BTreeMap<String, BTreeMap<String, String>>,
}

/// The subset of the agent configuration the metro header shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentConfig {
    #[serde(rename = "Region")]
    pub region: String,
    #[serde(rename = "Datacenter")]
    pub datacenter: String,
    #[serde(rename = "NodeName")]
    pub node_name: String,
    /// `Version.Version` (+ `-VersionPrerelease`) of current agents, or a
    /// plain string from older ones; empty when absent.
    #[serde(rename = "Version", deserialize_with = "agent_version")]
    pub version: String,
}

fn agent_version<'de, D>(d: D) -> Result<String, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Object(m) => {
            let get = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("");
            match (get("Version"), get("VersionPrerelease")) {
                ("", _) => String::new(),
                (v, "") => v.to_string(),
                (v, pre) => format!("{v}-{pre}"),
            }
        }
        _ => String::new(),
    })
}

/// The agent's serf member entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentMember {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Addr")]
    pub addr: String,
    #[serde(rename = "Port")]
    pub port: u64,
    #[serde(rename = "Status")]
    pub status: String,
    /// `role`, `region`, `dc`, `build`, …
    #[serde(rename = "Tags", deserialize_with = "nullable")]
    pub tags: BTreeMap<String, String>,
}

/// Accept the documented all-strings shape but also stray numbers/bools
/// (rendered to strings) rather than failing the whole document.
fn stats_strings<'de, D>(d: D) -> Result<BTreeMap<String, BTreeMap<String, String>>, D::Error>
where
    D: Deserializer<'de>,
{
    let raw: Option<BTreeMap<String, Option<BTreeMap<String, serde_json::Value>>>> =
        Option::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .map(|(section, kv)| {
            let kv = kv
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| {
                    let s = match v {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    (k, s)
                })
                .collect();
            (section, kv)
        })
        .collect())
}

impl AgentSelf {
    /// `stats.<section>.<key>`.
    pub fn stat(&self, section: &str, key: &str) -> Option<&str> {
        self.stats
            .get(section)
            .and_then(|m| m.get(key))
            .map(String::as_str)
    }

    /// `stats.nomad.leader == "true"`.
    pub fn is_leader(&self) -> bool {
        self.stat("nomad", "leader") == Some("true")
    }

    /// Whether this agent runs a server (`stats.nomad.server`).
    pub fn is_server(&self) -> bool {
        self.stat("nomad", "server") == Some("true")
    }

    /// `config.Region`, else the member's `region` tag.
    pub fn region(&self) -> Option<&str> {
        non_empty(&self.config.region).or_else(|| self.tag("region"))
    }

    /// `config.Datacenter`, else the member's `dc` tag.
    pub fn datacenter(&self) -> Option<&str> {
        non_empty(&self.config.datacenter).or_else(|| self.tag("dc"))
    }

    /// Agent version from the config, else the member's `build` tag.
    pub fn version(&self) -> Option<String> {
        non_empty(&self.config.version)
            .or_else(|| self.tag("build"))
            .map(str::to_string)
    }

    /// `stats.raft.last_contact`: `"never"` on the leader itself.
    pub fn raft_last_contact(&self) -> Option<&str> {
        self.stat("raft", "last_contact")
    }

    fn tag(&self, key: &str) -> Option<&str> {
        self.member.tags.get(key).and_then(|s| non_empty(s))
    }
}

fn non_empty(s: &str) -> Option<&str> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nomad::events::EventLineDecoder;
    use crate::nomad::logs::{LogChunk, LogDecoder};
    use proptest::prelude::*;
    use std::path::PathBuf;

    fn fixture_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nomad")
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(fixture_dir().join(name)).unwrap()
    }

    /// Add an unknown key to every struct-like object of a JSON tree (not to
    /// the data maps keyed by group/task/tag names, whose keys are data).
    fn sprinkle_unknown(v: &mut serde_json::Value) {
        sprinkle(v, 0)
    }

    /// `depth`: 0 = a struct, 1 = a data map of structs, 2 = a data map of data maps.
    fn sprinkle(v: &mut serde_json::Value, depth: u8) {
        const DATA_MAPS: [&str; 4] = ["Summary", "TaskStates", "Details", "Tags"];
        match v {
            serde_json::Value::Object(m) => {
                for (k, child) in m.iter_mut() {
                    let next = match depth {
                        0 if k == "stats" => 2,
                        0 if DATA_MAPS.contains(&k.as_str()) => 1,
                        0 | 1 => 0,
                        _ => 1,
                    };
                    sprinkle(child, next);
                }
                if depth == 0 {
                    m.insert(
                        "ZzFutureField".into(),
                        serde_json::json!({"Nested": [1, "two", null]}),
                    );
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|c| sprinkle(c, 0)),
            _ => {}
        }
    }

    /// Decode a fixture as `T`, then again with unknown keys added everywhere;
    /// both must succeed and agree.
    fn decode_both<T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
        bytes: &[u8],
    ) -> T {
        let plain: T = serde_json::from_slice(bytes).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        sprinkle_unknown(&mut v);
        let extra: T = serde_json::from_value(v).unwrap();
        assert_eq!(plain, extra);
        plain
    }

    #[test]
    fn nomad_every_fixture_decodes() {
        let mut seen = 0;
        for entry in std::fs::read_dir(fixture_dir()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let bytes = std::fs::read(&path).unwrap();
            match name.as_str() {
                n if n.starts_with("jobs") => {
                    let jobs: Vec<JobStub> = decode_both(&bytes);
                    assert!(!jobs.is_empty(), "{n}");
                }
                n if n.starts_with("allocations") || n.starts_with("job_allocations") => {
                    let a: Vec<AllocStub> = decode_both(&bytes);
                    assert!(!a.is_empty(), "{n}");
                }
                n if n.starts_with("allocation") => {
                    let a: Allocation = decode_both(&bytes);
                    assert!(!a.id.is_empty(), "{n}");
                }
                n if n.starts_with("nodes") => {
                    let n2: Vec<NodeStub> = decode_both(&bytes);
                    assert!(!n2.is_empty(), "{n}");
                }
                n if n.starts_with("agent_self") => {
                    let a: AgentSelf = decode_both(&bytes);
                    assert!(!a.stats.is_empty(), "{n}");
                }
                n if n.starts_with("leader") => {
                    let s: String = serde_json::from_slice(&bytes).unwrap();
                    assert!(s.contains(':'));
                }
                n if n.starts_with("event_stream") => {
                    let mut d = EventLineDecoder::default();
                    let lines = d.push(&bytes);
                    assert!(lines.iter().all(|l| l.is_ok()), "{n}: {lines:?}");
                    assert!(lines.len() >= 3, "{n}");
                }
                n if n.starts_with("log_stream") => {
                    let mut d = LogDecoder::default();
                    let chunks = d.push(&bytes);
                    assert!(chunks.iter().all(|c| c.is_ok()), "{n}: {chunks:?}");
                    assert!(!chunks.is_empty(), "{n}");
                }
                other => panic!("fixture {other} has no decoder in this test"),
            }
            seen += 1;
        }
        assert!(seen >= 9, "only {seen} fixtures");
    }

    #[test]
    fn nomad_jobs_fixture_fields() {
        let jobs: Vec<JobStub> = serde_json::from_slice(&fixture("jobs.json")).unwrap();
        let hippo = jobs.iter().find(|j| j.id == "hippo").unwrap();
        assert_eq!(hippo.r#type, "service");
        assert_eq!(hippo.status, "running");
        assert_eq!(hippo.submit_time, 1_764_226_402_512_345_678);
        let s = hippo.job_summary.as_ref().unwrap();
        assert_eq!(s.summary["hippo"].running, 1);
        assert_eq!(s.children, Some(JobChildren::default()));
        assert_eq!(hippo.running(), 1);
        assert!(!hippo.needs_attention());
        let stopped = jobs.iter().find(|j| j.stop).unwrap();
        assert_eq!(stopped.status, "dead");
        assert!(jobs.iter().any(|j| j.needs_attention()));
    }

    #[test]
    fn nomad_alloc_stubs_without_and_with_task_states() {
        let bare: Vec<AllocStub> = serde_json::from_slice(&fixture("allocations.json")).unwrap();
        assert!(bare.iter().all(|a| a.task_states.is_none()));
        assert_eq!(bare[0].short_id(), "0b6f3c2e");
        assert_eq!(bare[0].restarts(), 0);
        assert!(bare.iter().any(|a| a.is_bad()));
        let full: Vec<AllocStub> =
            serde_json::from_slice(&fixture("allocations_task_states.json")).unwrap();
        let spin = &full[0].task_states.as_ref().unwrap()["spin"];
        assert_eq!(spin.state, "running");
        assert_eq!(spin.events.len(), 2);
        assert_eq!(go_time(&spin.last_restart), None);
        assert!(go_time(&spin.started_at).is_some());
        assert!(full.iter().any(|a| a.restarts() > 0));
        let unhealthy = full
            .iter()
            .find(|a| a.deployment_status.as_ref().and_then(|d| d.healthy) == Some(false))
            .unwrap();
        assert!(unhealthy.is_bad());
    }

    #[test]
    fn nomad_full_allocation() {
        let a: Allocation = serde_json::from_slice(&fixture("allocation.json")).unwrap();
        assert_eq!(a.tasks(), vec!["spin"]);
        let t = &a.task_states.as_ref().unwrap()["spin"];
        assert!(t.failed);
        assert_eq!(a.restarts(), 2);
        let last = t.last_event().unwrap();
        assert_eq!(last.r#type, "Not Restarting");
        assert!(!last.text().is_empty());
        assert!(t.events.iter().any(|e| e.details.contains_key("exit_code")));
        assert!(a.is_bad());
    }

    #[test]
    fn nomad_nodes_and_agent() {
        let nodes: Vec<NodeStub> = serde_json::from_slice(&fixture("nodes.json")).unwrap();
        assert!(nodes[0].is_ready());
        assert_eq!(nodes[0].node_pool, "");
        let agent: AgentSelf = serde_json::from_slice(&fixture("agent_self.json")).unwrap();
        assert!(agent.is_leader());
        assert!(agent.is_server());
        assert_eq!(agent.region(), Some("global"));
        assert_eq!(agent.datacenter(), Some("dc1"));
        assert_eq!(agent.version().as_deref(), Some("1.4.1"));
        assert_eq!(agent.raft_last_contact(), Some("never"));
        assert_eq!(agent.stat("raft", "num_peers"), Some("0"));
    }

    #[test]
    fn nomad_null_collections_and_stray_stat_types() {
        let j: JobStub = serde_json::from_str(
            r#"{"ID":"x","Datacenters":null,"JobSummary":{"Summary":null,"Children":null}}"#,
        )
        .unwrap();
        assert!(j.datacenters.is_empty());
        assert_eq!(j.job_summary.unwrap().children, None);
        let t: TaskState = serde_json::from_str(r#"{"Events":null}"#).unwrap();
        assert!(t.events.is_empty());
        let e: TaskEvent = serde_json::from_str(r#"{"Details":null}"#).unwrap();
        assert!(e.details.is_empty());
        let a: AgentSelf = serde_json::from_str(
            r#"{"config":{"Version":"1.2.3"},"stats":{"nomad":{"leader":true,"n":3},"x":null}}"#,
        )
        .unwrap();
        assert!(a.is_leader());
        assert_eq!(a.stat("nomad", "n"), Some("3"));
        assert_eq!(a.version().as_deref(), Some("1.2.3"));
        let empty: AgentSelf = serde_json::from_str("{}").unwrap();
        assert_eq!(empty.region(), None);
        assert_eq!(empty.version(), None);
    }

    #[test]
    fn nomad_short_id_handles_short_and_multibyte() {
        let a = AllocStub {
            id: "abc".into(),
            ..Default::default()
        };
        assert_eq!(a.short_id(), "abc");
        let b = AllocStub {
            id: "ééééééééé".into(),
            ..Default::default()
        };
        assert_eq!(b.short_id().chars().count(), 8);
    }

    #[test]
    fn nomad_log_fixture_has_reset_and_data() {
        let mut d = LogDecoder::default();
        let chunks: Vec<LogChunk> = d
            .push(&fixture("log_stream.json"))
            .into_iter()
            .map(|c| c.unwrap())
            .collect();
        assert!(chunks
            .iter()
            .any(|c| matches!(c, LogChunk::Reset(s) if s == "file truncated")));
        let text: Vec<u8> = chunks
            .iter()
            .filter_map(|c| match c {
                LogChunk::Data(d) => Some(d.clone()),
                LogChunk::Reset(_) => None,
            })
            .flatten()
            .collect();
        assert!(String::from_utf8_lossy(&text).contains("GET /hello 200"));
    }

    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            (-1e9f64..1e9).prop_map(serde_json::Value::from),
            "[A-Za-z0-9 :=/_.-]{0,12}".prop_map(serde_json::Value::from),
        ];
        let keys = prop_oneof![
            Just("ID".to_string()),
            Just("Summary".to_string()),
            Just("TaskStates".to_string()),
            Just("Events".to_string()),
            Just("Details".to_string()),
            Just("Healthy".to_string()),
            Just("stats".to_string()),
            Just("config".to_string()),
            Just("Version".to_string()),
            Just("Index".to_string()),
            Just("Data".to_string()),
            "[A-Za-z]{1,8}",
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::btree_map(keys.clone(), inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn try_all(bytes: &[u8]) {
        let _ = serde_json::from_slice::<Vec<JobStub>>(bytes);
        let _ = serde_json::from_slice::<Vec<AllocStub>>(bytes);
        let _ = serde_json::from_slice::<Allocation>(bytes);
        let _ = serde_json::from_slice::<Vec<NodeStub>>(bytes);
        if let Ok(a) = serde_json::from_slice::<AgentSelf>(bytes) {
            let _ = (a.is_leader(), a.region(), a.datacenter(), a.version());
        }
        let mut e = EventLineDecoder::default();
        let _ = e.push(bytes);
        let mut l = LogDecoder::default();
        let _ = l.push(bytes);
    }

    proptest! {
        #[test]
        fn nomad_decoders_never_panic_on_json(v in arb_json()) {
            let bytes = serde_json::to_vec(&v).unwrap();
            try_all(&bytes);
            let mut line = bytes.clone();
            line.push(b'\n');
            try_all(&line);
            if let Ok(a) = serde_json::from_value::<Vec<AllocStub>>(v) {
                for s in &a {
                    let _ = (s.short_id(), s.restarts(), s.is_bad());
                }
            }
        }

        #[test]
        fn nomad_decoders_never_panic_on_bytes(b in prop::collection::vec(any::<u8>(), 0..512)) {
            try_all(&b);
        }
    }
}
