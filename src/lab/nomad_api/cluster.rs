//! The cluster behind one lab endpoint: its index, the buffer of recent event frames
//! that subscriptions resume from, and the synthetic allocations (`lab up --allocs N`)
//! with the churn that changes them at a steady pace. Answers "what is the cluster's
//! state now, and which events made it so?"; it serves nothing over HTTP.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hyper::body::Bytes;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::documents::nanos;
use super::Load;
use crate::lab::dataplane::lock;

/// Event frames held for subscriptions that resume (Nomad's `event_buffer_size`
/// defaults to 100; more rides out a slow reconnect at a high change rate).
const EVENT_BUFFER: usize = 8192;
/// Allocations per synthetic job.
const PER_JOB: usize = 100;
/// Nodes of a synthetic cluster.
const SYNTH_NODES: usize = 50;

/// One event: its topic and its whole JSON text.
pub(in crate::lab) type EventText = (&'static str, String);

pub(super) struct EventFrameRec {
    pub(super) index: u64,
    pub(super) events: Vec<EventText>,
}

pub(in crate::lab) struct ClusterState {
    pub(super) index: u64,
    pub(super) frames: VecDeque<EventFrameRec>,
    /// The index of the newest frame dropped from the buffer.
    pub(super) dropped: u64,
    pub(super) synth: Option<Synth>,
}

pub(in crate::lab) struct Cluster {
    pub(super) state: Mutex<ClusterState>,
    pub(super) index: watch::Sender<u64>,
    /// Blocking queries being held now (`stats.lab.blocking_queries` of the agent, so
    /// a test can see its query arrive before it changes anything).
    pub(super) held: std::sync::atomic::AtomicUsize,
}

impl Cluster {
    pub(super) fn new(synth: Option<Synth>) -> Cluster {
        Cluster {
            state: Mutex::new(ClusterState {
                index: 1,
                frames: VecDeque::new(),
                dropped: 0,
                synth,
            }),
            index: watch::Sender::new(1),
            held: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub(in crate::lab) fn index(&self) -> u64 {
        lock(&self.state).index
    }

    /// A first write, so that a subscription from the first lists' index finds its
    /// frame (as on a live cluster, whose buffer holds its last writes).
    pub(super) fn seed(&self) {
        self.commit(|st, index| {
            st.synth
                .as_ref()
                .and_then(|s| s.nodes.first())
                .map(|n| {
                    let text = String::from_utf8_lossy(n).into_owned();
                    vec![event("Node", "NodeRegistration", "", index, &text)]
                })
                .unwrap_or_default()
        });
    }

    /// One write: the index moves on, and its events (made from the new index) are
    /// buffered for subscribers.
    pub(in crate::lab) fn commit(
        &self,
        change: impl FnOnce(&mut ClusterState, u64) -> Vec<EventText>,
    ) -> u64 {
        let index = {
            let mut st = lock(&self.state);
            st.index += 1;
            let index = st.index;
            let events = change(&mut st, index);
            st.frames.push_back(EventFrameRec { index, events });
            while st.frames.len() > EVENT_BUFFER {
                if let Some(f) = st.frames.pop_front() {
                    st.dropped = f.index;
                }
            }
            index
        };
        self.index.send_replace(index);
        index
    }
}

pub(in crate::lab) fn event(
    topic: &'static str,
    kind: &str,
    key: &str,
    index: u64,
    object: &str,
) -> EventText {
    let key = Value::from(key);
    (
        topic,
        format!(
            r#"{{"Topic":"{topic}","Type":"{kind}","Key":{key},"Namespace":"default","Index":{index},"Payload":{{"{topic}":{object}}}}}"#
        ),
    )
}

/// Allocations, jobs and nodes made up at `Load::allocs`, with a "mark" allocation
/// (job `0mark`) whose group a benchmark sets to see the change arrive on screen.
pub(super) struct Synth {
    pub(super) allocs: Vec<SynthAlloc>,
    pub(super) jobs: Vec<Bytes>,
    pub(super) nodes: Vec<Bytes>,
    code: String,
    rng: fastrand::Rng,
}

pub(super) struct SynthAlloc {
    id: String,
    job: String,
    n: usize,
    pub(super) group: String,
    node: usize,
    status: &'static str,
    create_time: u128,
    modify_time: u128,
    modify_index: u64,
    pub(super) json: Bytes,
}

/// A stable UUID-shaped ID for the `i`th object of a kind in a metro; the first 8
/// digits (what the pane shows) differ from one object to the next.
pub(super) fn synth_id(kind: u8, code: &str, i: usize) -> String {
    let tag = code
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mixed = (i as u64 ^ tag).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
    format!("{mixed:08x}-{kind:02x}00-4000-8000-{i:012x}")
}

impl SynthAlloc {
    fn render(&mut self, code: &str) {
        let node = synth_id(2, code, self.node);
        let v = json!({
            "ID": self.id, "EvalID": synth_id(3, code, self.n),
            "Name": format!("{}.{}[{}]", self.job, self.group, self.n % PER_JOB),
            "Namespace": "default", "NodeID": node, "NodeName": format!("{code}-node-{:02}", self.node),
            "JobID": self.job, "JobType": "service", "JobVersion": 0, "TaskGroup": self.group,
            "DesiredStatus": "run", "DesiredDescription": "",
            "ClientStatus": self.status, "ClientDescription": "",
            "TaskStates": null,
            "DeploymentStatus": {"Healthy": self.status == "running", "Timestamp": "2026-11-27T07:21:14.402113Z",
                                 "Canary": false, "ModifyIndex": self.modify_index},
            "FollowupEvalID": "", "NextAllocation": "", "RescheduleTracker": null,
            "PreemptedAllocations": null, "PreemptedByAllocation": "",
            "CreateIndex": 1, "ModifyIndex": self.modify_index,
            "CreateTime": self.create_time, "ModifyTime": self.modify_time,
        });
        self.json = Bytes::from(v.to_string());
    }
}

impl Synth {
    pub(super) fn new(code: &str, allocs: usize) -> Synth {
        let now = nanos(SystemTime::now());
        let jobs_n = allocs.div_ceil(PER_JOB);
        let job_name = |j: usize| format!("{code}-job-{j:04}");
        let mut list: Vec<SynthAlloc> = (0..allocs)
            .map(|i| SynthAlloc {
                id: synth_id(1, code, i),
                job: job_name(i / PER_JOB),
                n: i,
                group: "web".into(),
                node: i % SYNTH_NODES,
                status: "running",
                create_time: now - (i as u128) * 1_000_000_000,
                modify_time: now,
                modify_index: 1,
                json: Bytes::new(),
            })
            .collect();
        list.push(SynthAlloc {
            id: synth_id(9, code, 0),
            job: "0mark".into(),
            n: 0,
            group: "mark".into(),
            node: 0,
            status: "running",
            create_time: now,
            modify_time: now,
            modify_index: 1,
            json: Bytes::new(),
        });
        for a in &mut list {
            a.render(code);
        }
        let job = |id: String| {
            Bytes::from(
                json!({"ID": id, "Name": id, "Namespace": "default", "Type": "service",
                       "Status": "running", "Stop": false, "Priority": 50, "JobSummary": null,
                       "CreateIndex": 1, "ModifyIndex": 1})
                .to_string(),
            )
        };
        let mut jobs: Vec<Bytes> = (0..jobs_n).map(|j| job(job_name(j))).collect();
        jobs.push(job("0mark".into()));
        let nodes = (0..SYNTH_NODES)
            .map(|n| {
                Bytes::from(
                    json!({"ID": synth_id(2, code, n), "Name": format!("{code}-node-{n:02}"),
                           "Status": "ready", "SchedulingEligibility": "eligible", "Drain": false,
                           "Datacenter": code, "CreateIndex": 1, "ModifyIndex": 1})
                    .to_string(),
                )
            })
            .collect();
        Synth {
            allocs: list,
            jobs,
            nodes,
            code: code.to_string(),
            rng: fastrand::Rng::with_seed(u64::from(
                code.bytes()
                    .fold(7u32, |h, b| h.wrapping_mul(31) ^ u32::from(b)),
            )),
        }
    }

    /// Allocation `i` changes at `index`: its event.
    pub(super) fn change(
        &mut self,
        i: usize,
        index: u64,
        set: impl FnOnce(&mut SynthAlloc),
    ) -> EventText {
        let code = self.code.clone();
        let a = &mut self.allocs[i];
        set(a);
        a.modify_index = index;
        a.modify_time = nanos(SystemTime::now());
        a.render(&code);
        event(
            "Allocation",
            "AllocationUpdated",
            &a.id,
            index,
            &String::from_utf8_lossy(&a.json),
        )
    }
}

/// Synthetic allocations change at `load.changes_per_sec`: a random one moves to the
/// next status of running → pending → running → failed → running.
pub(super) async fn churn(cluster: Arc<Cluster>, load: Load) {
    const STATUSES: [&str; 4] = ["pending", "running", "failed", "running"];
    let tick = Duration::from_millis(10);
    let mut due = 0.0;
    let mut every = tokio::time::interval(tick);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        due += load.changes_per_sec * tick.as_secs_f64();
        while due >= 1.0 {
            due -= 1.0;
            cluster.commit(|st, index| {
                let Some(s) = st.synth.as_mut() else {
                    return Vec::new();
                };
                // The last one is the mark: left to the benchmark.
                let i = s.rng.usize(..s.allocs.len().saturating_sub(1).max(1));
                let next = |a: &mut SynthAlloc| {
                    let at = STATUSES.iter().position(|s| *s == a.status).unwrap_or(0);
                    a.status = STATUSES[(at + a.n) % STATUSES.len()];
                };
                vec![s.change(i, index, next)]
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_cluster_changes_one_allocation_per_frame() {
        let c = Cluster::new(Some(Synth::new("m1", 250)));
        let st = lock(&c.state);
        let s = st.synth.as_ref().unwrap();
        assert_eq!(s.allocs.len(), 251, "with the mark");
        assert_eq!(s.jobs.len(), 4);
        drop(st);
        let i = c.commit(|st, index| {
            let s = st.synth.as_mut().unwrap();
            vec![s.change(3, index, |a| a.status = "failed")]
        });
        assert_eq!(i, 2);
        let st = lock(&c.state);
        let (topic, text) = &st.frames[0].events[0];
        assert_eq!(*topic, "Allocation");
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["Payload"]["Allocation"]["ClientStatus"], "failed");
        assert_eq!(v["Payload"]["Allocation"]["ModifyIndex"], 2);
    }
}
