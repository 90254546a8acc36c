//! Serde models of the single documents the console reads whole: one allocation
//! (`GET /v1/allocation/:id`, the detail pane) and the agent (`GET /v1/agent/self`).
//! Lists and event payloads are not decoded here but straight into compact rows
//! ([`super::decode`]).
//!
//! Field names follow `hashicorp/nomad api/*.go` (PascalCase JSON, `ID`-style
//! acronyms). Decoding is lenient on purpose (the platform pins Nomad 1.4.1,
//! newer agents add fields): every struct has `#[serde(default)]`, unknown keys
//! are ignored, Go slices/maps that may be `null` decode as empty collections.
//! Task event `Time` is integer nanoseconds; `StartedAt`/`FinishedAt` are RFC 3339
//! strings where the Go zero time means "unset" (see [`go_time`]).

use serde::{Deserialize, Deserializer};
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

/// `GET /v1/allocation/:id`: the fields of the detail pane. The embedded `Job` and the
/// resource blocks are skipped.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Allocation {
    #[serde(rename = "ID")]
    pub id: String,
    /// `job.group[N]`.
    pub name: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub task_group: String,
    pub node_name: String,
    /// `run`, `stop` or `evict`.
    pub desired_status: String,
    pub desired_description: String,
    /// `pending`, `running`, `complete`, `failed`, `lost` or `unknown`.
    pub client_status: String,
    pub client_description: String,
    /// Keyed by task name.
    pub task_states: Option<BTreeMap<String, TaskState>>,
    pub previous_allocation: String,
    pub next_allocation: String,
}

/// State of one task inside an allocation.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskState {
    /// `pending`, `running` or `dead`.
    pub state: String,
    pub failed: bool,
    pub restarts: u64,
    /// RFC 3339; see [`go_time`].
    pub started_at: String,
    pub finished_at: String,
    /// At most the latest 10, oldest first.
    #[serde(deserialize_with = "nullable")]
    pub events: Vec<TaskEvent>,
}

/// One task event (`Received`, `Started`, `Terminated`, `Restarting`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskEvent {
    pub r#type: String,
    /// Unix nanoseconds.
    pub time: i64,
    pub display_message: String,
    pub message: String,
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

/// `GET /v1/agent/self`. Top-level keys are lower case; every `stats` value is
/// a string (`"true"`, `"3"`, `"17.79s"`, `"never"`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AgentSelf {
    pub config: AgentConfig,
    /// `stats.<section>.<key>`, e.g. `stats.nomad.leader`, `stats.raft.last_contact`.
    #[serde(deserialize_with = "stats_strings")]
    pub stats: BTreeMap<String, BTreeMap<String, String>>,
}

/// The agent configuration a metro header would show.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AgentConfig {
    pub region: String,
    pub datacenter: String,
    /// `Version.Version` (+ `-VersionPrerelease`) of current agents, or a
    /// plain string from older ones; empty when absent.
    #[serde(deserialize_with = "agent_version")]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::nomad::{AllocRow, JobRow, NodeRow};
    use crate::nomad::decode;
    use crate::nomad::events::EventLineDecoder;
    use crate::nomad::logs::{LogChunk, LogDecoder};
    use proptest::prelude::*;
    use std::path::PathBuf;

    const MAX: u64 = crate::nomad::DEFAULT_MAX_BODY;

    fn fixture_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nomad")
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(fixture_dir().join(name)).unwrap()
    }

    /// Add an unknown key to every struct-like object of a JSON tree (not to
    /// the data maps keyed by group/task/tag names, whose keys are data).
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

    /// Decode a fixture with the console's decoder, then again with unknown keys added
    /// everywhere; both must succeed and agree.
    fn decode_both<T: PartialEq + std::fmt::Debug, E: std::fmt::Debug>(
        bytes: &[u8],
        decode: impl Fn(&[u8]) -> Result<T, E>,
    ) -> T {
        let plain = decode(bytes).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        sprinkle(&mut v, 0);
        let extra = decode(&serde_json::to_vec(&v).unwrap()).unwrap();
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
                    let jobs = decode_both(&bytes, |b| decode::decode_all::<JobRow>(b, MAX));
                    assert!(!jobs.is_empty(), "{n}");
                }
                n if n.starts_with("allocations") => {
                    let a = decode_both(&bytes, |b| decode::decode_all::<AllocRow>(b, MAX));
                    assert!(!a.is_empty(), "{n}");
                }
                n if n.starts_with("allocation") => {
                    let a = decode_both(&bytes, decode::allocation);
                    assert!(!a.id.is_empty(), "{n}");
                }
                n if n.starts_with("nodes") => {
                    let n2 = decode_both(&bytes, |b| decode::decode_all::<NodeRow>(b, MAX));
                    assert!(!n2.is_empty(), "{n}");
                }
                n if n.starts_with("agent_self") => {
                    let a = decode_both(&bytes, decode::agent);
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
    fn nomad_full_allocation_and_agent() {
        let a = decode::allocation(&fixture("allocation.json")).unwrap();
        assert_eq!(a.tasks(), vec!["spin"]);
        assert!(a.tasks[0].failed);
        assert_eq!(a.restarts(), 2);
        let last = a.tasks[0].events.last().unwrap();
        assert_eq!(last.kind, "Not Restarting");
        assert!(!last.text.is_empty());
        assert!(!a.is_bad(), "replaced");
        let agent = decode::agent(&fixture("agent_self.json")).unwrap();
        assert_eq!(agent.stats["nomad"]["leader"], "true");
        assert_eq!(agent.config.region, "global");
        assert_eq!(agent.config.datacenter, "dc1");
        assert_eq!(agent.config.version, "1.4.1");
        assert_eq!(agent.stats["raft"]["last_contact"], "never");
    }

    #[test]
    fn nomad_null_collections_and_stray_stat_types() {
        let t: TaskState = serde_json::from_str(r#"{"Events":null}"#).unwrap();
        assert!(t.events.is_empty());
        let a: AgentSelf = serde_json::from_str(
            r#"{"config":{"Version":"1.2.3"},"stats":{"nomad":{"leader":true,"n":3},"x":null}}"#,
        )
        .unwrap();
        assert_eq!(a.stats["nomad"]["leader"], "true");
        assert_eq!(a.stats["nomad"]["n"], "3");
        assert_eq!(a.config.version, "1.2.3");
        let pre: AgentSelf = serde_json::from_str(
            r#"{"config":{"Version":{"Version":"1.9.0","VersionPrerelease":"beta.1"}}}"#,
        )
        .unwrap();
        assert_eq!(pre.config.version, "1.9.0-beta.1");
        assert_eq!(go_time("0001-01-01T00:00:00Z"), None);
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
            Just("Restarts".to_string()),
            Just("Failed".to_string()),
            Just("Lost".to_string()),
            Just("Events".to_string()),
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
        let _ = decode::decode_all::<JobRow>(bytes, MAX);
        if let Ok(rows) = decode::decode_all::<AllocRow>(bytes, MAX) {
            let _ = crate::domain::nomad::AllocList::from_rows(rows)
                .counts
                .attention();
        }
        let _ = decode::decode_all::<NodeRow>(bytes, MAX);
        if let Ok(a) = decode::allocation(bytes) {
            let _ = (a.restarts(), a.is_bad());
        }
        let _ = decode::agent(bytes);
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
            let list = serde_json::to_vec(&serde_json::Value::Array(vec![v])).unwrap();
            try_all(&list);
        }

        #[test]
        fn nomad_decoders_never_panic_on_bytes(b in prop::collection::vec(any::<u8>(), 0..512)) {
            try_all(&b);
        }
    }
}
