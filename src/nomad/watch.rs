//! Live view of one metro's Nomad: a one-shot [`snapshot`] (used by `status`)
//! and [`spawn_watch`], which keeps a [`NomadSnapshot`] current: after one round
//! of lists it follows the event stream ([`super::follow`]; a change costs work in
//! proportion to the change), or, where the agent refuses the stream (403) or
//! when forced ([`Follow`]), one blocking query per list (jobs, allocations,
//! nodes; reference §3). A leader probe runs every 5 s.
//! Each endpoint is its own [`Piece`]: one refused endpoint (a token without
//! `node:read`) leaves the others counted, and its numbers unknown, not zero. The
//! lists are decoded into compact rows while they stream in
//! ([`super::decode`]) and shared with the receiver, never copied.
//!
//! Index rules: each list starts from the index of the initial round; a
//! blocking return whose index did not change is re-sent with the same index
//! (never without it); an index lower than the one sent means the cluster was
//! rebuilt (dev agents forget everything on restart), so the list is re-read
//! from index 0; after a transport error the index is also reset, so a
//! restarted agent is re-listed at once instead of after a full `wait`.

use super::client::{Client, NomadError, QueryOptions};
use super::events::StreamOptions;
use super::follow::FirstLists;
use super::models::AgentSelf;
use crate::domain::backoff::Backoff;
use crate::domain::nomad::{AllocCounts, AllocList, JobRow, NodeRow};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

/// One piece of a snapshot (one endpoint): its data as last read, and why the last
/// request for it failed. A piece never read is unknown, not empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece<T> {
    /// `None` until read once: unknown. Kept (stale) when a later request fails.
    pub value: Option<T>,
    /// Why the last request failed; `None` when it worked.
    pub error: Option<String>,
}

impl<T> Default for Piece<T> {
    fn default() -> Self {
        Piece {
            value: None,
            error: None,
        }
    }
}

impl<T> Piece<T> {
    pub fn ok(value: T) -> Self {
        Piece {
            value: Some(value),
            error: None,
        }
    }

    pub fn failed(error: impl Into<String>) -> Self {
        Piece {
            value: None,
            error: Some(error.into()),
        }
    }
}

/// Everything the console shows about one metro's Nomad, one piece per endpoint, so a
/// refused endpoint leaves the others readable. Lists are shared (`Arc`): sending a
/// snapshot never copies them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NomadSnapshot {
    /// `ip:4647` of the Raft leader; `Some(None)`: the agent says there is none.
    pub leader: Piece<Option<String>>,
    /// `/v1/agent/self` (needs `agent:read`); shown nowhere, so its failure is not
    /// part of [`NomadSnapshot::error`].
    pub agent: Piece<AgentSelf>,
    pub nodes: Piece<Arc<Vec<NodeRow>>>,
    pub jobs: Piece<Arc<Vec<JobRow>>>,
    /// Rows without task states, counted.
    pub allocs: Piece<Arc<AllocList>>,
    /// The failing endpoints in one line (`GET /v1/nodes: 403 Permission denied`), or
    /// the one message they share; `None` when every shown piece was read.
    pub error: Option<String>,
    /// When data or error state last changed.
    pub updated: Option<SystemTime>,
}

/// The per-metro numbers `status --json` prints; `None` where the piece could not be
/// read (unknown, not zero).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NomadSummary {
    pub leader: Option<bool>,
    pub nodes_ready: Option<u64>,
    pub nodes_total: Option<u64>,
    pub allocs: Option<AllocCounts>,
}

impl NomadSnapshot {
    /// A metro whose agent cannot be asked at all (bad address, bad CA file).
    pub fn failed(error: impl Into<String>) -> NomadSnapshot {
        let e: String = error.into();
        NomadSnapshot::from_pieces(
            Piece::failed(e.clone()),
            Piece::failed(e.clone()),
            Piece::failed(e.clone()),
            Piece::failed(e.clone()),
            Piece::failed(e),
        )
    }

    /// A snapshot of these pieces, its error composed from theirs.
    pub fn from_pieces(
        leader: Piece<Option<String>>,
        agent: Piece<AgentSelf>,
        nodes: Piece<Arc<Vec<NodeRow>>>,
        jobs: Piece<Arc<Vec<JobRow>>>,
        allocs: Piece<Arc<AllocList>>,
    ) -> NomadSnapshot {
        let mut s = NomadSnapshot {
            leader,
            agent,
            nodes,
            jobs,
            allocs,
            error: None,
            updated: Some(SystemTime::now()),
        };
        s.error = s.compose_error();
        s
    }

    pub fn summary(&self) -> NomadSummary {
        let nodes = self.nodes.value.as_deref();
        NomadSummary {
            leader: self.leader.value.as_ref().map(Option::is_some),
            nodes_ready: nodes.map(|n| n.iter().filter(|n| n.is_ready()).count() as u64),
            nodes_total: nodes.map(|n| n.len() as u64),
            allocs: self.allocs.value.as_ref().map(|a| a.counts),
        }
    }

    /// Every failing endpoint with its error, the agent's included.
    pub fn errors(&self) -> Vec<(&'static str, &str)> {
        SOURCES
            .iter()
            .filter_map(|&s| self.piece_error(s).map(|e| (s.endpoint(), e)))
            .collect()
    }

    fn piece_error(&self, s: Source) -> Option<&str> {
        match s {
            Source::Leader => self.leader.error.as_deref(),
            Source::Agent => self.agent.error.as_deref(),
            Source::Nodes => self.nodes.error.as_deref(),
            Source::Jobs => self.jobs.error.as_deref(),
            Source::Allocs => self.allocs.error.as_deref(),
        }
    }

    /// One error text for the shown pieces: the bare message when several failing
    /// endpoints say the same thing (agent down), else `GET <endpoint>: message; …`.
    fn compose_error(&self) -> Option<String> {
        let failing: Vec<(Source, &str)> = SOURCES
            .iter()
            .filter(|s| **s != Source::Agent)
            .filter_map(|&s| self.piece_error(s).map(|e| (s, e)))
            .collect();
        let first = failing.first()?;
        if failing.len() > 1 && failing.iter().all(|(_, e)| *e == first.1) {
            return Some(first.1.to_string());
        }
        Some(
            failing
                .iter()
                .map(|(s, e)| format!("GET {}: {e}", s.endpoint()))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

/// The endpoints of a snapshot, in the order errors are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Leader,
    Agent,
    Nodes,
    Jobs,
    Allocs,
}

const SOURCES: [Source; 5] = [
    Source::Leader,
    Source::Agent,
    Source::Nodes,
    Source::Jobs,
    Source::Allocs,
];

impl Source {
    fn endpoint(self) -> &'static str {
        match self {
            Source::Leader => "/v1/status/leader",
            Source::Agent => "/v1/agent/self",
            Source::Nodes => "/v1/nodes",
            Source::Jobs => "/v1/jobs",
            Source::Allocs => "/v1/allocations",
        }
    }
}

/// Snapshot plus the lists as read (their indexes, or their errors as errors).
struct Round {
    snap: NomadSnapshot,
    lists: FirstLists,
}

fn piece<T>(r: Result<T, NomadError>) -> Piece<T> {
    match r {
        Ok(v) => Piece::ok(v),
        Err(e) => Piece::failed(e.to_string()),
    }
}

/// A list's piece: the rows shared (`Arc`), a copy kept for the follower (a copy of
/// an allocation list shares its chunks of rows).
fn list_piece<T: Clone>(r: &Result<super::Indexed<T>, NomadError>) -> Piece<Arc<T>> {
    match r {
        Ok(v) => Piece::ok(Arc::new(v.value.clone())),
        Err(e) => Piece::failed(e.to_string()),
    }
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
    let snap = NomadSnapshot::from_pieces(
        piece(leader),
        piece(agent),
        list_piece(&nodes),
        list_piece(&jobs),
        list_piece(&allocs),
    );
    Round {
        snap,
        lists: FirstLists {
            allocs,
            jobs,
            nodes,
        },
    }
}

/// One round of ordinary requests (leader, agent, nodes, jobs, allocations),
/// concurrently. Each endpoint's failure stays with its piece (and in `.error`, the
/// agent's excepted: it needs `agent:read` and is shown nowhere); never panics.
pub async fn snapshot(client: &Client) -> NomadSnapshot {
    round(client).await.snap
}

/// How a watcher follows changes after its first lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// The event stream (reference §7), falling back to blocking queries where the
    /// agent refuses it: a change costs work in proportion to the change.
    Events,
    /// Blocking queries only: every change re-lists its whole list.
    Blocking,
}

impl Follow {
    /// `PLATFORM_TUI_NOMAD_WATCH=blocking` forces blocking queries (to compare, or
    /// for an agent whose event stream misbehaves); anything else follows events.
    pub fn from_env() -> Follow {
        match std::env::var("PLATFORM_TUI_NOMAD_WATCH").as_deref() {
            Ok("blocking") => Follow::Blocking,
            _ => Follow::Events,
        }
    }
}

/// Tuning of [`spawn_watch_with`]; [`WatchOptions::new`] gives production values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchOptions {
    pub follow: Follow,
    /// Blocking-query `wait`.
    pub wait: Duration,
    /// Leader probe period.
    pub leader_every: Duration,
    /// Agent/self refresh period.
    pub agent_every: Duration,
    pub backoff_start: Duration,
    pub backoff_cap: Duration,
    /// Following events, a snapshot is sent at most this often: changes that come
    /// together are sent together. Large lists wait longer ([`WatchOptions::publish_after`]).
    pub publish_every: Duration,
    /// The longest wait between a change and its snapshot, however large the list.
    pub publish_max: Duration,
    /// Following events, the lists are read afresh this often even when the stream
    /// missed nothing: Nomad sends no event when it garbage-collects an allocation.
    pub relist_every: Duration,
    /// The event stream's own timeouts.
    pub stream: StreamOptions,
}

impl WatchOptions {
    pub fn new(wait: Duration) -> Self {
        WatchOptions {
            follow: Follow::Events,
            wait,
            leader_every: Duration::from_secs(5),
            agent_every: Duration::from_secs(60),
            backoff_start: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(10),
            publish_every: Duration::from_millis(250),
            publish_max: Duration::from_millis(900),
            relist_every: Duration::from_secs(15 * 60),
            stream: StreamOptions::default(),
        }
    }
}

impl WatchOptions {
    /// How long after a snapshot of `rows` allocations the next may go: the console
    /// sorts every row it shows again for each snapshot (about 30 ms for 330 000 rows
    /// in all), so a large list is sent less often: 7 µs a row (110 000 rows: 770 ms),
    /// within `publish_every..=publish_max`, so a change is on screen within a second.
    pub fn publish_after(&self, rows: usize) -> Duration {
        let per_row =
            Duration::from_micros(7).saturating_mul(u32::try_from(rows).unwrap_or(u32::MAX));
        per_row.clamp(self.publish_every, self.publish_max.max(self.publish_every))
    }
}

pub(super) enum Update {
    Leader(Result<Option<String>, String>),
    Agent(Result<AgentSelf, String>),
    Nodes(Result<Vec<NodeRow>, String>),
    Jobs(Result<Vec<JobRow>, String>),
    Allocs(Result<AllocList, String>),
}

pub(super) struct State {
    pub(super) snap: NomadSnapshot,
}

/// Apply a list answer to its piece; true when the piece changed. The new list
/// replaces the old one (which the console may still be drawing until it gets this
/// snapshot); an equal one is dropped at once.
fn apply_list<T: PartialEq>(p: &mut Piece<Arc<T>>, r: Result<T, String>) -> bool {
    match r {
        Ok(v) => {
            let same = p.value.as_deref() == Some(&v) && p.error.is_none();
            if !same {
                p.value = Some(Arc::new(v));
                p.error = None;
            }
            !same
        }
        Err(e) => {
            let same = p.error.as_deref() == Some(e.as_str());
            p.error = Some(e);
            !same
        }
    }
}

impl State {
    /// Apply one update; true when the snapshot changed.
    pub(super) fn apply(&mut self, u: Update) -> bool {
        let snap = &mut self.snap;
        let changed = match u {
            Update::Agent(r) => {
                let new = match r {
                    Ok(a) => Piece::ok(a),
                    // Keep what was read; say why it is not current.
                    Err(e) => Piece {
                        value: snap.agent.value.take(),
                        error: Some(e),
                    },
                };
                let changed = snap.agent != new;
                snap.agent = new;
                changed
            }
            // A leader that cannot be asked is unknown, not the last one seen.
            Update::Leader(r) => {
                let new = match r {
                    Ok(l) => Piece::ok(l),
                    Err(e) => Piece::failed(e),
                };
                let changed = snap.leader != new;
                snap.leader = new;
                changed
            }
            Update::Nodes(r) => apply_list(&mut snap.nodes, r),
            Update::Jobs(r) => apply_list(&mut snap.jobs, r),
            Update::Allocs(r) => apply_list(&mut snap.allocs, r),
        };
        if changed {
            self.touched();
        }
        changed
    }

    /// Some piece changed: recompose the error, stamp the time.
    pub(super) fn touched(&mut self) {
        self.snap.error = self.snap.compose_error();
        self.snap.updated = Some(SystemTime::now());
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
    let mut backoff = Backoff::new(opts.backoff_start, opts.backoff_cap);
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
                tokio::time::sleep(backoff.next_wait()).await;
            }
            Some(new) => {
                backoff.reset();
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

pub(super) async fn leader_loop(client: Client, opts: WatchOptions, utx: mpsc::Sender<Update>) {
    let start = tokio::time::Instant::now();
    let mut leader_tick = tokio::time::interval_at(start + opts.leader_every, opts.leader_every);
    leader_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut agent_tick = tokio::time::interval_at(start + opts.agent_every, opts.agent_every);
    agent_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let update = tokio::select! {
            _ = leader_tick.tick() => {
                Update::Leader(client.leader().await.map_err(|e| e.to_string()))
            }
            // Needs `agent:read`; without it the piece keeps its error.
            _ = agent_tick.tick() => {
                Update::Agent(client.agent_self().await.map_err(|e| e.to_string()))
            }
        };
        if utx.send(update).await.is_err() {
            return;
        }
    }
}

/// The list indexes a watcher goes on from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Indexes {
    pub(super) allocs: u64,
    pub(super) jobs: u64,
    pub(super) nodes: u64,
}

/// Watch one metro with production timings (see [`WatchOptions::new`]), following
/// the event stream unless [`Follow::from_env`] says otherwise. Sends one snapshot
/// at once, then a whole snapshot after every change (following events, at most
/// every 250 ms). On errors the last data stays, `.error` is set and the failing
/// list or stream backs off (with jitter) and keeps trying. Ends when `tx` is closed.
pub fn spawn_watch(
    client: Client,
    wait: Duration,
    tx: mpsc::UnboundedSender<NomadSnapshot>,
) -> JoinHandle<()> {
    let opts = WatchOptions {
        follow: Follow::from_env(),
        ..WatchOptions::new(wait)
    };
    spawn_watch_with(client, opts, tx)
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
        let mut state = State { snap: first.snap };
        if tx.send(state.snap.clone()).is_err() {
            return;
        }
        let (utx, mut urx) = mpsc::channel(16);
        // Dropping the set (when this task ends) aborts the loops.
        let mut loops = JoinSet::new();
        loops.spawn(leader_loop(client.clone(), opts, utx.clone()));
        let mut indexes = Indexes {
            allocs: first.lists.allocs.as_ref().map_or(0, |r| r.index),
            jobs: first.lists.jobs.as_ref().map_or(0, |r| r.index),
            nodes: first.lists.nodes.as_ref().map_or(0, |r| r.index),
        };
        if opts.follow == Follow::Events {
            match super::follow::events(&client, &opts, &tx, &mut state, &mut urx, first.lists)
                .await
            {
                Some(from) => indexes = from,
                None => return,
            }
        }
        for (list, index) in [
            (List::Jobs, indexes.jobs),
            (List::Allocs, indexes.allocs),
            (List::Nodes, indexes.nodes),
        ] {
            loops.spawn(list_loop(client.clone(), list, index, opts, utx.clone()));
        }
        drop(utx);
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
    use crate::domain::nomad::{AllocRow, ClientStatus, DesiredStatus};

    fn alloc(id: &str, status: &str) -> AllocRow {
        AllocRow {
            id: id.into(),
            name: "app.app[0]".into(),
            namespace: "default".into(),
            job: "app".into(),
            group: "app".into(),
            node: "n".into(),
            client: ClientStatus::parse(status),
            desired: DesiredStatus::Run,
            healthy: None,
            replaced_by: None,
            restarts: None,
            create_time: 0,
            modify_time: 0,
        }
    }

    fn node(status: &str) -> NodeRow {
        NodeRow {
            id: "n".into(),
            name: "n".into(),
            status: status.into(),
            eligible: true,
            drain: false,
        }
    }

    #[test]
    fn nomad_summary_counts() {
        let snap = NomadSnapshot {
            leader: Piece::ok(Some("10.0.0.1:4647".into())),
            nodes: Piece::ok(Arc::new(vec![node("ready"), node("down")])),
            allocs: Piece::ok(Arc::new(AllocList::from_rows(vec![
                alloc("a", "running"),
                alloc("b", "pending"),
                alloc("c", "failed"),
                alloc("d", "lost"),
                alloc("e", "complete"),
            ]))),
            ..Default::default()
        };
        let s = snap.summary();
        assert_eq!(s.leader, Some(true));
        assert_eq!((s.nodes_ready, s.nodes_total), (Some(1), Some(2)));
        let a = s.allocs.unwrap();
        assert_eq!(
            (a.running, a.pending, a.failed, a.lost, a.complete, a.total),
            (1, 1, 1, 1, 1, 5)
        );
        // Nothing read: every number unknown, not zero.
        assert_eq!(NomadSnapshot::default().summary(), NomadSummary::default());
        assert_eq!(NomadSnapshot::default().summary().nodes_total, None);
        let no_leader = NomadSnapshot {
            leader: Piece::ok(None),
            ..Default::default()
        };
        assert_eq!(no_leader.summary().leader, Some(false));
    }

    #[test]
    fn snapshots_of_large_lists_go_out_less_often_but_within_a_second() {
        let o = WatchOptions::new(Duration::from_secs(300));
        assert_eq!(o.publish_after(0), Duration::from_millis(250));
        assert_eq!(o.publish_after(10_000), Duration::from_millis(250));
        assert_eq!(o.publish_after(110_000), Duration::from_millis(770));
        assert_eq!(o.publish_after(usize::MAX), Duration::from_millis(900));
    }

    #[test]
    fn nomad_compose_error() {
        let mut s = NomadSnapshot::default();
        assert_eq!(s.compose_error(), None);
        s.jobs.error = Some("HTTP 500: boom".into());
        assert_eq!(
            s.compose_error().as_deref(),
            Some("GET /v1/jobs: HTTP 500: boom")
        );
        s.jobs.error = None;
        s.agent.error = Some("403 Permission denied".into());
        assert_eq!(s.compose_error(), None, "the agent is shown nowhere");
        assert_eq!(
            s.errors(),
            vec![("/v1/agent/self", "403 Permission denied")]
        );
        s.nodes.error = Some("nomad unreachable: connection refused".into());
        s.allocs.error = Some("nomad unreachable: connection refused".into());
        assert_eq!(
            s.compose_error().as_deref(),
            Some("nomad unreachable: connection refused")
        );
        s.jobs.error = Some("403 Permission denied".into());
        assert_eq!(
            s.compose_error().as_deref(),
            Some("GET /v1/nodes: nomad unreachable: connection refused; GET /v1/jobs: 403 Permission denied; GET /v1/allocations: nomad unreachable: connection refused")
        );
        let f = NomadSnapshot::failed("invalid nomad address: x");
        assert_eq!(f.error.as_deref(), Some("invalid nomad address: x"));
        assert_eq!(f.summary(), NomadSummary::default());
    }

    #[test]
    fn nomad_state_apply_keeps_data_on_error() {
        let mut st = State {
            snap: NomadSnapshot::default(),
        };
        let list = || AllocList::from_rows(vec![alloc("a", "running")]);
        assert!(st.apply(Update::Allocs(Ok(list()))));
        let first = st.snap.allocs.value.clone().unwrap();
        assert!(!st.apply(Update::Allocs(Ok(list()))));
        assert!(
            Arc::ptr_eq(&first, st.snap.allocs.value.as_ref().unwrap()),
            "an equal list is not swapped in"
        );
        assert!(st.apply(Update::Allocs(Err("HTTP 500: boom".into()))));
        assert_eq!(st.snap.allocs.value.as_ref().map(|a| a.rows.len()), Some(1));
        assert_eq!(
            st.snap.error.as_deref(),
            Some("GET /v1/allocations: HTTP 500: boom")
        );
        assert!(!st.apply(Update::Allocs(Err("HTTP 500: boom".into()))));
        assert!(st.apply(Update::Allocs(Ok(list()))));
        assert_eq!(st.snap.error, None);
        assert!(st.apply(Update::Leader(Ok(Some("x:4647".into())))));
        assert!(st.apply(Update::Leader(Err("nomad timed out".into()))));
        assert_eq!(st.snap.summary().leader, None, "unknown, not no leader");
        assert!(st.apply(Update::Agent(Err("403 Permission denied".into()))));
        assert_eq!(
            st.snap.error.as_deref(),
            Some("GET /v1/status/leader: nomad timed out")
        );
        assert!(st.apply(Update::Nodes(Err("403 Permission denied".into()))));
        assert_eq!(st.snap.summary().nodes_total, None);
        assert_eq!(st.snap.summary().allocs.map(|a| a.running), Some(1));
    }
}
