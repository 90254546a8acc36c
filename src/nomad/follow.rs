//! Following one metro's event stream (reference §7) after one round of lists: each
//! event is applied to the compact rows (upsert or delete by ID, counts kept right as
//! rows change), so a change costs work in proportion to the change, not to the
//! cluster. Snapshots go out at most every [`WatchOptions::publish_after`] (250 ms,
//! longer for large lists), sharing every unchanged chunk of rows with the one before.
//!
//! Resuming: the stream reconnects from the last index it delivered and drops replays;
//! a connection whose first line is not the replay of that index may have skipped
//! events (Nomad keeps a bounded buffer and starts past an index it no longer holds),
//! and so does a lost line: then the lists are read again while the stream goes on,
//! and the events that arrive meanwhile are applied on top of them (those at or below a
//! list's index are in it already). An agent that refuses the stream (403, or no such
//! endpoint) is followed with blocking queries instead.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::client::{Client, Indexed, NomadError, QueryOptions};
use super::decode::{alloc_event, job_event, node_event, Names};
use super::events::{Event, EventFrame, EventStream, StreamItem};
use super::watch::{Indexes, NomadSnapshot, State, Update, WatchOptions};
use crate::domain::backoff::Backoff;
use crate::domain::nomad::{AllocList, AllocRow, JobKey, JobRow, NodeRow};
use crate::domain::text::visible;

/// What the console shows changes of. Deployments are not among them: an allocation's
/// deployment health reaches its row through `Allocation` events.
pub const TOPICS: [&str; 3] = ["Allocation", "Job", "Node"];

/// Events held while the lists are read again, at most; past that they are dropped and
/// the lists read once more.
const MAX_PENDING: usize = 200_000;

/// Which lists changed since the last snapshot went out.
#[derive(Debug, Clone, Copy, Default)]
struct Changed {
    allocs: bool,
    jobs: bool,
    nodes: bool,
}

/// The rows as the events leave them, with where each row is by ID.
struct Live {
    /// Names of the rows that events bring; fresh with every list, so names of jobs
    /// long gone are not kept for ever.
    names: Names,
    allocs: AllocList,
    alloc_at: HashMap<Box<str>, usize>,
    /// Memory the allocation rows take, against `budget`.
    alloc_bytes: usize,
    budget: usize,
    jobs: Vec<JobRow>,
    job_at: HashMap<JobKey, usize>,
    nodes: Vec<NodeRow>,
    node_at: HashMap<Box<str>, usize>,
    /// The lists' indexes: an event at or below its list's is in the list already.
    floors: Indexes,
    /// The highest frame index applied.
    applied: u64,
    changed: Changed,
}

impl Live {
    fn new(
        allocs: AllocList,
        jobs: Vec<JobRow>,
        nodes: Vec<NodeRow>,
        floors: Indexes,
        budget: usize,
    ) -> Live {
        let alloc_at = allocs
            .rows
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        let alloc_bytes = allocs.rows.iter().map(AllocRow::own_bytes).sum();
        let job_at = jobs
            .iter()
            .enumerate()
            .map(|(i, j)| ((j.namespace.clone(), j.id.clone()), i))
            .collect();
        let node_at = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.clone(), i))
            .collect();
        Live {
            names: Names::default(),
            allocs,
            alloc_at,
            alloc_bytes,
            budget,
            jobs,
            job_at,
            nodes,
            node_at,
            floors,
            applied: floors.allocs.max(floors.jobs).max(floors.nodes),
            changed: Changed {
                allocs: true,
                jobs: true,
                nodes: true,
            },
        }
    }

    /// Apply a frame's events; an event that cannot be read is an error (the rows may
    /// then miss a change).
    fn apply(&mut self, frame: &EventFrame) -> Result<(), String> {
        let mut bad = None;
        for e in &frame.events {
            if let Err(err) = self.apply_event(e) {
                bad = Some(format!("{} event at index {}: {err}", e.topic, e.index));
            }
        }
        self.applied = self.applied.max(frame.index);
        bad.map_or(Ok(()), Err)
    }

    fn apply_event(&mut self, e: &Event) -> Result<(), serde_json::Error> {
        match e.topic.as_str() {
            "Allocation" if e.index > self.floors.allocs => {
                if let Some(row) = alloc_event(e.payload(), &mut self.names)? {
                    self.upsert_alloc(row);
                }
            }
            "Job" if e.index > self.floors.jobs => {
                if let Some(row) = job_event(e.payload(), &mut self.names)? {
                    // Stopped jobs stay listed (dead); purged ones go.
                    let gone = matches!(
                        e.r#type.as_str(),
                        "JobDeregistered" | "JobBatchDeregistered"
                    ) && !row.stop;
                    if gone {
                        self.remove_job(&(row.namespace, row.id));
                    } else {
                        self.upsert_job(row);
                    }
                }
            }
            "Node" if e.index > self.floors.nodes => {
                if let Some(row) = node_event(e.payload(), &mut self.names)? {
                    if e.r#type == "NodeDeregistration" {
                        self.remove_node(&row.id);
                    } else {
                        self.upsert_node(row);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn upsert_alloc(&mut self, row: AllocRow) {
        self.changed.allocs = true;
        self.alloc_bytes += row.own_bytes();
        match self.alloc_at.get(&row.id) {
            Some(&i) => {
                let old = self.allocs.rows.get(i).map_or(0, AllocRow::own_bytes);
                self.alloc_bytes = self.alloc_bytes.saturating_sub(old);
                self.allocs.replace(i, row);
            }
            None => {
                let id = row.id.clone();
                let i = self.allocs.push(row);
                self.alloc_at.insert(id, i);
            }
        }
    }

    fn upsert_job(&mut self, mut row: JobRow) {
        self.changed.jobs = true;
        let key = (row.namespace.clone(), row.id.clone());
        match self.job_at.get(&key) {
            Some(&i) => {
                if let Some(old) = self.jobs.get_mut(i) {
                    // A whole job carries no summary: keep the listed one.
                    row.summary = row.summary.or(old.summary);
                    *old = row;
                }
            }
            None => {
                self.job_at.insert(key, self.jobs.len());
                self.jobs.push(row);
            }
        }
    }

    fn remove_job(&mut self, key: &JobKey) {
        let Some(i) = self.job_at.remove(key) else {
            return;
        };
        self.changed.jobs = true;
        self.jobs.swap_remove(i);
        if let Some(moved) = self.jobs.get(i) {
            self.job_at
                .insert((moved.namespace.clone(), moved.id.clone()), i);
        }
    }

    fn upsert_node(&mut self, row: NodeRow) {
        self.changed.nodes = true;
        match self.node_at.get(&row.id) {
            Some(&i) => {
                if let Some(old) = self.nodes.get_mut(i) {
                    *old = row;
                }
            }
            None => {
                self.node_at.insert(row.id.clone(), self.nodes.len());
                self.nodes.push(row);
            }
        }
    }

    fn remove_node(&mut self, id: &str) {
        let Some(i) = self.node_at.remove(id) else {
            return;
        };
        self.changed.nodes = true;
        self.nodes.swap_remove(i);
        if let Some(moved) = self.nodes.get(i) {
            self.node_at.insert(moved.id.clone(), i);
        }
    }

    /// The rows (and their index by ID) outgrew what a list of them may take: read
    /// the list again, which enforces the cap and says so.
    fn over_budget(&self) -> bool {
        let index = self.alloc_at.len() * (std::mem::size_of::<(Box<str>, usize)>() + 16);
        self.alloc_bytes + index > self.budget
    }
}

/// The three lists, read afresh.
struct Lists {
    allocs: Result<Indexed<AllocList>, NomadError>,
    jobs: Result<Indexed<Vec<JobRow>>, NomadError>,
    nodes: Result<Indexed<Vec<NodeRow>>, NomadError>,
}

type Relist = Pin<Box<dyn Future<Output = Lists> + Send>>;

fn relist(client: &Client) -> Relist {
    let client = client.clone();
    Box::pin(async move {
        let q = QueryOptions::default();
        let (allocs, jobs, nodes) =
            tokio::join!(client.allocations(q), client.jobs(q), client.nodes(q));
        Lists {
            allocs,
            jobs,
            nodes,
        }
    })
}

/// The agent will not stream to this token (403) or has no event stream: blocking
/// queries get round it.
pub(super) fn refused(e: &NomadError) -> bool {
    matches!(
        e,
        NomadError::Forbidden(_)
            | NomadError::Http {
                status: 404 | 405 | 501,
                ..
            }
    )
}

async fn next_item(s: &mut Option<EventStream>) -> Option<StreamItem> {
    match s {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_lists(r: &mut Option<Relist>) -> Lists {
    match r {
        Some(r) => r.await,
        None => std::future::pending().await,
    }
}

async fn at(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// The follower's own state besides the rows.
struct Follower<'a> {
    client: &'a Client,
    opts: &'a WatchOptions,
    budget: usize,
    live: Option<Live>,
    stream: Option<EventStream>,
    relist: Option<Relist>,
    /// Frames that came while the lists were read again.
    pending: Vec<EventFrame>,
    pending_events: usize,
    /// Frames were dropped while the lists were read: read them once more.
    overflow: bool,
    /// When the lists are read again next (after a failure, or to reconcile).
    relist_at: Option<Instant>,
    backoff: Backoff,
    /// Per list (allocations, jobs, nodes): why it is not current.
    errors: [Option<String>; 3],
    /// The errors are the stream's (cleared when it connects again), not a list's.
    stream_failed: bool,
    dirty: bool,
    last_publish: Option<Instant>,
    indexes: Indexes,
}

/// How following ended.
enum Next {
    /// The console is gone.
    Stop,
    /// Follow with blocking queries from these indexes.
    Blocking(Indexes),
}

impl Follower<'_> {
    fn start_relist(&mut self) {
        if self.relist.is_none() {
            self.relist = Some(relist(self.client));
            self.relist_at = None;
        }
    }

    /// Lists read (the first round's, or afresh).
    fn on_lists(&mut self, lists: Lists) -> Option<Next> {
        let errs = [
            lists.allocs.as_ref().err().cloned(),
            lists.jobs.as_ref().err().cloned(),
            lists.nodes.as_ref().err().cloned(),
        ];
        if errs.iter().flatten().any(refused) {
            return Some(Next::Blocking(self.indexes));
        }
        self.dirty = true;
        let (Ok(allocs), Ok(jobs), Ok(nodes)) = (lists.allocs, lists.jobs, lists.nodes) else {
            // Keep the rows; say why they are not current; try again.
            self.errors = errs.map(|e| e.map(|e| e.to_string()));
            self.stream_failed = false;
            self.relist_at = Some(Instant::now() + self.backoff.next_wait());
            return None;
        };
        self.backoff.reset();
        self.errors = Default::default();
        self.stream_failed = false;
        self.indexes = Indexes {
            allocs: allocs.index,
            jobs: jobs.index,
            nodes: nodes.index,
        };
        let mut live = Live::new(
            allocs.value,
            jobs.value,
            nodes.value,
            self.indexes,
            self.budget,
        );
        if live.applied == 0 {
            // No X-Nomad-Index: nowhere to resume a stream from.
            return Some(Next::Blocking(self.indexes));
        }
        for f in std::mem::take(&mut self.pending) {
            // An event that cannot be read is skipped here; the next list has it.
            let _ = live.apply(&f);
        }
        self.pending_events = 0;
        let resume = live.applied;
        self.live = Some(live);
        match &self.stream {
            Some(s) => s.resume_from(resume),
            None => {
                self.stream = Some(
                    self.client
                        .event_stream_with(&TOPICS, resume, self.opts.stream),
                )
            }
        }
        if std::mem::take(&mut self.overflow) {
            self.start_relist();
        } else {
            self.relist_at = Some(Instant::now() + self.opts.relist_every);
        }
        None
    }

    fn on_item(&mut self, item: Option<StreamItem>) -> Option<Next> {
        match item {
            // The reader only ends with an empty topic list: nothing to follow.
            None => return Some(Next::Blocking(self.indexes)),
            Some(StreamItem::Connected { continuous, .. }) => {
                if std::mem::take(&mut self.stream_failed) {
                    self.errors = Default::default();
                    self.dirty = true;
                }
                if !continuous {
                    self.start_relist();
                }
            }
            Some(StreamItem::Frame(f)) => {
                if self.relist.is_some() {
                    self.pending_events += f.events.len();
                    if self.pending_events > MAX_PENDING {
                        self.pending = Vec::new();
                        self.pending_events = 0;
                        self.overflow = true;
                    } else if !self.overflow {
                        self.pending.push(f);
                    }
                } else if let Some(live) = &mut self.live {
                    self.dirty = true;
                    let read = live.apply(&f);
                    if read.is_err() || live.over_budget() {
                        self.start_relist();
                    }
                }
            }
            Some(StreamItem::Heartbeat) => {}
            Some(StreamItem::Error(e)) if refused(&e) => {
                return Some(Next::Blocking(self.indexes));
            }
            // A line was lost: the rows may miss its events.
            Some(StreamItem::Error(NomadError::Decode(_))) => self.start_relist(),
            Some(StreamItem::Error(e)) => {
                // The stream reconnects by itself; until then the rows are stale. An
                // unreachable agent reads as it does for the lists (one message for the
                // metro); what only the stream said is marked as the stream's.
                let text = match e {
                    NomadError::Http { .. } | NomadError::Decode(_) => {
                        visible(&format!("event stream: {e}")).into_owned()
                    }
                    _ => e.to_string(),
                };
                self.errors = [Some(text.clone()), Some(text.clone()), Some(text)];
                self.stream_failed = true;
                self.dirty = true;
            }
        }
        None
    }

    /// Send the snapshot; false when the console is gone.
    fn publish(&mut self, state: &mut State, tx: &mpsc::UnboundedSender<NomadSnapshot>) -> bool {
        let snap = &mut state.snap;
        if let Some(live) = &mut self.live {
            if live.changed.allocs {
                snap.allocs.value = Some(Arc::new(live.allocs.clone()));
            }
            if live.changed.jobs {
                snap.jobs.value = Some(Arc::new(live.jobs.clone()));
            }
            if live.changed.nodes {
                snap.nodes.value = Some(Arc::new(live.nodes.clone()));
            }
            live.changed = Changed::default();
        }
        let [a, j, n] = self.errors.clone();
        snap.allocs.error = a;
        snap.jobs.error = j;
        snap.nodes.error = n;
        state.touched();
        self.dirty = false;
        self.last_publish = Some(Instant::now());
        tx.send(state.snap.clone()).is_ok()
    }
}

/// The first round's lists, as read.
pub(super) struct FirstLists {
    pub(super) allocs: Result<Indexed<AllocList>, NomadError>,
    pub(super) jobs: Result<Indexed<Vec<JobRow>>, NomadError>,
    pub(super) nodes: Result<Indexed<Vec<NodeRow>>, NomadError>,
}

/// Follow the event stream from the first round's lists until the console is gone
/// (`None`) or the agent refuses the stream (the indexes blocking queries go on from).
pub(super) async fn events(
    client: &Client,
    opts: &WatchOptions,
    tx: &mpsc::UnboundedSender<NomadSnapshot>,
    state: &mut State,
    urx: &mut mpsc::Receiver<Update>,
    first: FirstLists,
) -> Option<Indexes> {
    let mut f = Follower {
        client,
        opts,
        budget: usize::try_from(client.settings().max_body / 2).unwrap_or(usize::MAX),
        live: None,
        stream: None,
        relist: None,
        pending: Vec::new(),
        pending_events: 0,
        overflow: false,
        relist_at: None,
        backoff: Backoff::new(opts.backoff_start, opts.backoff_cap),
        errors: Default::default(),
        stream_failed: false,
        dirty: false,
        last_publish: Some(Instant::now()),
        indexes: Indexes::default(),
    };
    let first = Lists {
        allocs: first.allocs,
        jobs: first.jobs,
        nodes: first.nodes,
    };
    // The first snapshot went out already: this one only follows a change.
    let mut next = f.on_lists(first);
    f.dirty = false;
    loop {
        if let Some(n) = next.take() {
            return match n {
                Next::Stop => None,
                Next::Blocking(indexes) => {
                    // Whatever the events brought goes out before blocking queries
                    // take over.
                    if f.dirty && !f.publish(state, tx) {
                        return None;
                    }
                    Some(indexes)
                }
            };
        }
        let rows = f.live.as_ref().map_or(0, |l| l.allocs.rows.len());
        let publish_at = f.dirty.then(|| {
            f.last_publish
                .map_or(Instant::now(), |t| t + opts.publish_after(rows))
        });
        tokio::select! {
            _ = tx.closed() => next = Some(Next::Stop),
            u = urx.recv() => match u {
                Some(u) => f.dirty |= state.apply(u),
                None => next = Some(Next::Stop),
            },
            item = next_item(&mut f.stream) => next = f.on_item(item),
            lists = next_lists(&mut f.relist) => {
                f.relist = None;
                next = f.on_lists(lists);
            }
            _ = at(f.relist_at) => f.start_relist(),
            _ = at(publish_at) => {
                if !f.publish(state, tx) {
                    next = Some(Next::Stop);
                }
            }
        }
    }
}
