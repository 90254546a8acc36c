//! Live view of one metro's Nomad: a one-shot [`snapshot`] (used by `status`)
//! and [`spawn_watch`], which keeps a [`NomadSnapshot`] current with one
//! blocking query per list (jobs, allocations, nodes; reference §3) plus a
//! leader probe every 5 s, and sends the whole snapshot after every change.
//!
//! Index rules: each list starts from the index of the initial round; a
//! blocking return whose index did not change is re-sent with the same index
//! (never without it); an index lower than the one sent means the cluster was
//! rebuilt (dev agents forget everything on restart), so the list is re-read
//! from index 0; after a transport error the index is also reset, so a
//! restarted agent is re-listed at once instead of after a full `wait`.

use super::client::{Client, NomadError, QueryOptions};
use super::models::{AgentSelf, AllocStub, JobStub, NodeStub};
use serde::Serialize;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

/// Everything the console shows about one metro's Nomad.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NomadSnapshot {
    /// `ip:4647` of the Raft leader; `None` when there is none or the probe failed.
    pub leader: Option<String>,
    /// `/v1/agent/self`; `None` when not (yet) readable (needs `agent:read`).
    pub agent: Option<AgentSelf>,
    pub nodes: Vec<NodeStub>,
    pub jobs: Vec<JobStub>,
    /// Stubs without task states.
    pub allocs: Vec<AllocStub>,
    /// Latest error text; `None` when the last request of every list worked.
    pub error: Option<String>,
    /// When data or error state last changed.
    pub updated: Option<SystemTime>,
}

/// Allocation counts by client status; `failed` counts failed + lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AllocCounts {
    pub running: u64,
    pub pending: u64,
    pub failed: u64,
    pub total: u64,
}

/// The per-metro numbers `status --json` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NomadSummary {
    pub leader: bool,
    pub nodes_ready: u64,
    pub nodes_total: u64,
    pub allocs: AllocCounts,
}

impl NomadSnapshot {
    pub fn summary(&self) -> NomadSummary {
        let mut allocs = AllocCounts::default();
        for a in &self.allocs {
            allocs.total += 1;
            match a.client_status.as_str() {
                "running" => allocs.running += 1,
                "pending" => allocs.pending += 1,
                "failed" | "lost" => allocs.failed += 1,
                _ => {}
            }
        }
        NomadSummary {
            leader: self.leader.is_some(),
            nodes_ready: self.nodes.iter().filter(|n| n.is_ready()).count() as u64,
            nodes_total: self.nodes.len() as u64,
            allocs,
        }
    }
}

/// The sources of a snapshot, in the order errors are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Leader,
    Nodes,
    Jobs,
    Allocs,
}

const SOURCES: [Source; 4] = [Source::Leader, Source::Nodes, Source::Jobs, Source::Allocs];

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Leader => "leader",
            Source::Nodes => "nodes",
            Source::Jobs => "jobs",
            Source::Allocs => "allocations",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// One error text for the status bar: the bare message when several failing
/// sources say the same thing (agent down), else `source: message; …`.
fn compose_error(errors: &[Option<String>; 4]) -> Option<String> {
    let failing: Vec<(Source, &String)> = SOURCES
        .iter()
        .filter_map(|&s| errors[s.slot()].as_ref().map(|e| (s, e)))
        .collect();
    let first = failing.first()?;
    if failing.len() > 1 && failing.iter().all(|(_, e)| *e == first.1) {
        return Some(first.1.clone());
    }
    Some(
        failing
            .iter()
            .map(|(s, e)| format!("{}: {e}", s.name()))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// Snapshot plus the list indexes it was read at.
struct Round {
    snap: NomadSnapshot,
    errors: [Option<String>; 4],
    nodes_index: u64,
    jobs_index: u64,
    allocs_index: u64,
}

async fn round(client: &Client) -> Round {
    let q = QueryOptions::default();
    let (leader, agent, nodes, jobs, allocs) = tokio::join!(
        client.leader(),
        client.agent_self(),
        client.nodes(q),
        client.jobs(q),
        client.allocations(q),
    );
    let mut snap = NomadSnapshot::default();
    let mut errors: [Option<String>; 4] = Default::default();
    let mut err = |s: Source, e: NomadError| errors[s.slot()] = Some(e.to_string());
    match leader {
        Ok(l) => snap.leader = l,
        Err(e) => err(Source::Leader, e),
    }
    snap.agent = agent.ok();
    let mut idx = [0u64; 3];
    match nodes {
        Ok(n) => {
            snap.nodes = n.value;
            idx[0] = n.index;
        }
        Err(e) => err(Source::Nodes, e),
    }
    match jobs {
        Ok(j) => {
            snap.jobs = j.value;
            idx[1] = j.index;
        }
        Err(e) => err(Source::Jobs, e),
    }
    match allocs {
        Ok(a) => {
            snap.allocs = a.value;
            idx[2] = a.index;
        }
        Err(e) => err(Source::Allocs, e),
    }
    snap.error = compose_error(&errors);
    snap.updated = Some(SystemTime::now());
    Round {
        snap,
        errors,
        nodes_index: idx[0],
        jobs_index: idx[1],
        allocs_index: idx[2],
    }
}

/// One round of ordinary requests (leader, agent, nodes, jobs, allocations),
/// concurrently. Errors land in `.error` (an agent/self failure alone is not
/// an error: it needs `agent:read`); never panics.
pub async fn snapshot(client: &Client) -> NomadSnapshot {
    round(client).await.snap
}

/// Tuning of [`spawn_watch_with`]; [`WatchOptions::new`] gives production values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchOptions {
    /// Blocking-query `wait`.
    pub wait: Duration,
    /// Leader probe period.
    pub leader_every: Duration,
    /// Agent/self refresh period.
    pub agent_every: Duration,
    pub backoff_start: Duration,
    pub backoff_cap: Duration,
}

impl WatchOptions {
    pub fn new(wait: Duration) -> Self {
        WatchOptions {
            wait,
            leader_every: Duration::from_secs(5),
            agent_every: Duration::from_secs(60),
            backoff_start: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(10),
        }
    }
}

enum Update {
    Leader(Result<Option<String>, String>),
    Agent(AgentSelf),
    Nodes(Result<Vec<NodeStub>, String>),
    Jobs(Result<Vec<JobStub>, String>),
    Allocs(Result<Vec<AllocStub>, String>),
}

struct State {
    snap: NomadSnapshot,
    errors: [Option<String>; 4],
}

fn replace<T: PartialEq>(slot: &mut T, v: T) -> bool {
    if *slot == v {
        false
    } else {
        *slot = v;
        true
    }
}

impl State {
    /// Apply one update; true when the snapshot changed.
    fn apply(&mut self, u: Update) -> bool {
        let (source, data_changed, err) = match u {
            Update::Agent(a) => {
                let changed = replace(&mut self.snap.agent, Some(a));
                if changed {
                    self.snap.updated = Some(SystemTime::now());
                }
                return changed;
            }
            Update::Leader(r) => match r {
                Ok(l) => (Source::Leader, replace(&mut self.snap.leader, l), None),
                // Reference §6: an error is "no leader".
                Err(e) => (
                    Source::Leader,
                    replace(&mut self.snap.leader, None),
                    Some(e),
                ),
            },
            Update::Nodes(r) => match r {
                Ok(v) => (Source::Nodes, replace(&mut self.snap.nodes, v), None),
                Err(e) => (Source::Nodes, false, Some(e)),
            },
            Update::Jobs(r) => match r {
                Ok(v) => (Source::Jobs, replace(&mut self.snap.jobs, v), None),
                Err(e) => (Source::Jobs, false, Some(e)),
            },
            Update::Allocs(r) => match r {
                Ok(v) => (Source::Allocs, replace(&mut self.snap.allocs, v), None),
                Err(e) => (Source::Allocs, false, Some(e)),
            },
        };
        self.errors[source.slot()] = err;
        let error_changed = replace(&mut self.snap.error, compose_error(&self.errors));
        let changed = data_changed || error_changed;
        if changed {
            self.snap.updated = Some(SystemTime::now());
        }
        changed
    }
}

#[derive(Clone, Copy)]
enum List {
    Nodes,
    Jobs,
    Allocs,
}

async fn fetch(client: &Client, list: List, q: QueryOptions) -> (Update, Option<u64>) {
    let text = |e: NomadError| e.to_string();
    match list {
        List::Nodes => match client.nodes(q).await {
            Ok(r) => (Update::Nodes(Ok(r.value)), Some(r.index)),
            Err(e) => (Update::Nodes(Err(text(e))), None),
        },
        List::Jobs => match client.jobs(q).await {
            Ok(r) => (Update::Jobs(Ok(r.value)), Some(r.index)),
            Err(e) => (Update::Jobs(Err(text(e))), None),
        },
        List::Allocs => match client.allocations(q).await {
            Ok(r) => (Update::Allocs(Ok(r.value)), Some(r.index)),
            Err(e) => (Update::Allocs(Err(text(e))), None),
        },
    }
}

/// One long-poll loop. Ends when the coordinator is gone (send fails) or
/// when aborted with the coordinator's task set.
async fn list_loop(
    client: Client,
    list: List,
    mut index: u64,
    opts: WatchOptions,
    utx: mpsc::Sender<Update>,
) {
    let mut backoff = opts.backoff_start;
    loop {
        let q = if index > 0 {
            QueryOptions::blocking(index, opts.wait)
        } else {
            QueryOptions::default()
        };
        let started = Instant::now();
        let (update, got) = fetch(&client, list, q).await;
        if utx.send(update).await.is_err() {
            return;
        }
        match got {
            None => {
                // Keep the data, re-list from scratch once the agent answers.
                index = 0;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(opts.backoff_cap);
            }
            Some(new) => {
                backoff = opts.backoff_start;
                if new < index {
                    // Index went backwards: cluster rebuilt. Re-list.
                    index = 0;
                    tokio::time::sleep(opts.backoff_start).await;
                    continue;
                }
                let unchanged = new == index;
                index = new;
                if index == 0 {
                    // No X-Nomad-Index: cannot block; poll politely instead.
                    tokio::time::sleep(opts.wait.min(Duration::from_secs(5))).await;
                } else if unchanged && started.elapsed() < opts.wait / 4 {
                    // The server returned early without a change: don't spin.
                    tokio::time::sleep(opts.wait.min(Duration::from_secs(2))).await;
                }
            }
        }
    }
}

async fn leader_loop(client: Client, opts: WatchOptions, utx: mpsc::Sender<Update>) {
    let start = tokio::time::Instant::now();
    let mut leader_tick = tokio::time::interval_at(start + opts.leader_every, opts.leader_every);
    leader_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut agent_tick = tokio::time::interval_at(start + opts.agent_every, opts.agent_every);
    agent_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let update = tokio::select! {
            _ = leader_tick.tick() => {
                Some(Update::Leader(client.leader().await.map_err(|e| e.to_string())))
            }
            // Needs `agent:read`; without it the agent stays as first read.
            _ = agent_tick.tick() => client.agent_self().await.ok().map(Update::Agent),
        };
        if let Some(update) = update {
            if utx.send(update).await.is_err() {
                return;
            }
        }
    }
}

/// Watch one metro with production timings (see [`WatchOptions::new`]).
/// Sends one snapshot at once, then a whole snapshot after every change. On
/// errors the last data stays, `.error` is set and the failing list backs off
/// (250 ms doubling to 10 s) and keeps trying. Ends when `tx` is closed.
pub fn spawn_watch(
    client: Client,
    wait: Duration,
    tx: mpsc::UnboundedSender<NomadSnapshot>,
) -> JoinHandle<()> {
    spawn_watch_with(client, WatchOptions::new(wait), tx)
}

/// [`spawn_watch`] with explicit timings.
pub fn spawn_watch_with(
    client: Client,
    opts: WatchOptions,
    tx: mpsc::UnboundedSender<NomadSnapshot>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let first = tokio::select! {
            r = round(&client) => r,
            _ = tx.closed() => return,
        };
        let mut state = State {
            snap: first.snap,
            errors: first.errors,
        };
        if tx.send(state.snap.clone()).is_err() {
            return;
        }
        let (utx, mut urx) = mpsc::channel(16);
        // Dropping the set (when this task ends) aborts the loops.
        let mut loops = JoinSet::new();
        for (list, index) in [
            (List::Jobs, first.jobs_index),
            (List::Allocs, first.allocs_index),
            (List::Nodes, first.nodes_index),
        ] {
            loops.spawn(list_loop(client.clone(), list, index, opts, utx.clone()));
        }
        loops.spawn(leader_loop(client.clone(), opts, utx));
        loop {
            let update = tokio::select! {
                u = urx.recv() => u,
                _ = tx.closed() => return,
            };
            let Some(update) = update else { return };
            if state.apply(update) && tx.send(state.snap.clone()).is_err() {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(id: &str, status: &str) -> AllocStub {
        AllocStub {
            id: id.into(),
            client_status: status.into(),
            desired_status: "run".into(),
            ..Default::default()
        }
    }

    #[test]
    fn nomad_summary_counts() {
        let snap = NomadSnapshot {
            leader: Some("10.0.0.1:4647".into()),
            nodes: vec![
                NodeStub {
                    status: "ready".into(),
                    ..Default::default()
                },
                NodeStub {
                    status: "down".into(),
                    ..Default::default()
                },
            ],
            allocs: vec![
                alloc("a", "running"),
                alloc("b", "pending"),
                alloc("c", "failed"),
                alloc("d", "lost"),
                alloc("e", "complete"),
            ],
            ..Default::default()
        };
        let s = snap.summary();
        assert_eq!(
            s,
            NomadSummary {
                leader: true,
                nodes_ready: 1,
                nodes_total: 2,
                allocs: AllocCounts {
                    running: 1,
                    pending: 1,
                    failed: 2,
                    total: 5
                }
            }
        );
        assert_eq!(
            serde_json::to_value(s).unwrap()["allocs"]["failed"],
            serde_json::json!(2)
        );
        assert_eq!(NomadSnapshot::default().summary(), NomadSummary::default());
    }

    #[test]
    fn nomad_compose_error() {
        let mut e: [Option<String>; 4] = Default::default();
        assert_eq!(compose_error(&e), None);
        e[2] = Some("HTTP 500: boom".into());
        assert_eq!(compose_error(&e).as_deref(), Some("jobs: HTTP 500: boom"));
        e[2] = None;
        e[1] = Some("nomad unreachable: connection refused".into());
        e[3] = Some("nomad unreachable: connection refused".into());
        assert_eq!(
            compose_error(&e).as_deref(),
            Some("nomad unreachable: connection refused")
        );
        e[2] = Some("ACL: permission denied (403)".into());
        assert_eq!(
            compose_error(&e).as_deref(),
            Some("nodes: nomad unreachable: connection refused; jobs: ACL: permission denied (403); allocations: nomad unreachable: connection refused")
        );
    }

    #[test]
    fn nomad_state_apply_keeps_data_on_error() {
        let mut st = State {
            snap: NomadSnapshot::default(),
            errors: Default::default(),
        };
        assert!(st.apply(Update::Allocs(Ok(vec![alloc("a", "running")]))));
        assert!(!st.apply(Update::Allocs(Ok(vec![alloc("a", "running")]))));
        assert!(st.apply(Update::Allocs(Err("HTTP 500: boom".into()))));
        assert_eq!(st.snap.allocs.len(), 1);
        assert_eq!(
            st.snap.error.as_deref(),
            Some("allocations: HTTP 500: boom")
        );
        assert!(!st.apply(Update::Allocs(Err("HTTP 500: boom".into()))));
        assert!(st.apply(Update::Allocs(Ok(vec![alloc("a", "running")]))));
        assert_eq!(st.snap.error, None);
        assert!(st.apply(Update::Leader(Ok(Some("x:4647".into())))));
        assert!(st.apply(Update::Leader(Err("nomad timed out".into()))));
        assert_eq!(st.snap.leader, None);
    }
}
