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
//!
//! Where to look: the list decoder, the shared names and the single documents are here;
//! `scan.rs` finds where each entry of a streamed list starts and ends, `wire.rs` says
//! which fields of an entry or an event payload become a row.

mod scan;
mod wire;

use std::collections::HashSet;
use std::sync::Arc;

use super::client::{truncate, NomadError};
use super::models::{go_time, AgentSelf, Allocation};
use crate::domain::nomad::{AllocDetail, AllocList, TaskDetail, TaskEventRow};
use crate::domain::text::visible;

pub use scan::{ArraySplitter, ValueScan};
pub use wire::{alloc_event, job_event, node_event};

/// Longest single entry of a list (or single document) held while it is decoded.
pub const MAX_ENTRY: usize = 16 << 20;

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
    use crate::domain::nomad::{
        AllocRow, AllocState, ClientStatus, DesiredStatus, GroupCounts, JobRow, NodeRow,
    };
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
