//! What the console keeps of a metro's Nomad: compact rows of allocations, jobs and
//! nodes (only the fields shown), the counts derived from them, and one opened
//! allocation's detail. Plain data, built by `nomad/` from the wire; every text in
//! here has already been made visible (`domain::text::visible`), so no view and no
//! `status` line can forget to. No I/O, no UI.
//!
//! Counting rules (the numbers `status --json` prints):
//! - a failed or lost allocation with a `NextAllocation` was **replaced**: history,
//!   counted apart, never a failure needing attention;
//! - `failed` counts the failed allocations nobody replaced (they need attention);
//! - `lost` and `unknown` (a disconnected client) are their own states, never running
//!   or failed.

use std::collections::HashMap;
use std::sync::Arc;

/// Nomad's `ClientStatus` of an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientStatus {
    Pending,
    Running,
    Complete,
    Failed,
    Lost,
    /// The allocation's client is disconnected (`max_client_disconnect`).
    Unknown,
    /// Anything a newer agent may send; kept as sent (made visible).
    Other(Arc<str>),
}

impl ClientStatus {
    pub fn parse(s: &str) -> ClientStatus {
        match s {
            "pending" => ClientStatus::Pending,
            "running" => ClientStatus::Running,
            "complete" => ClientStatus::Complete,
            "failed" => ClientStatus::Failed,
            "lost" => ClientStatus::Lost,
            "unknown" => ClientStatus::Unknown,
            other => ClientStatus::Other(Arc::from(super::text::visible(other))),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ClientStatus::Pending => "pending",
            ClientStatus::Running => "running",
            ClientStatus::Complete => "complete",
            ClientStatus::Failed => "failed",
            ClientStatus::Lost => "lost",
            ClientStatus::Unknown => "unknown",
            ClientStatus::Other(s) => s,
        }
    }
}

/// Nomad's `DesiredStatus` of an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DesiredStatus {
    Run,
    Stop,
    Evict,
    Other(Arc<str>),
}

impl DesiredStatus {
    pub fn parse(s: &str) -> DesiredStatus {
        match s {
            "run" => DesiredStatus::Run,
            "stop" => DesiredStatus::Stop,
            "evict" => DesiredStatus::Evict,
            other => DesiredStatus::Other(Arc::from(super::text::visible(other))),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            DesiredStatus::Run => "run",
            DesiredStatus::Stop => "stop",
            DesiredStatus::Evict => "evict",
            DesiredStatus::Other(s) => s,
        }
    }
}

/// What an allocation amounts to for the operator: the client status, with replaced
/// failures told apart from the failures that need attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AllocState {
    // Ordered for "sort by status": what needs attention first, history last.
    Failed,
    Lost,
    Unknown,
    Unhealthy,
    Pending,
    Running,
    Other,
    Complete,
    Replaced,
}

impl AllocState {
    /// The word shown in the allocation list.
    pub fn word(self) -> &'static str {
        match self {
            AllocState::Failed => "failed",
            AllocState::Lost => "lost",
            AllocState::Unknown => "unknown",
            AllocState::Unhealthy => "unhealthy",
            AllocState::Pending => "pending",
            AllocState::Running => "running",
            AllocState::Other => "other",
            AllocState::Complete => "complete",
            AllocState::Replaced => "replaced",
        }
    }

    /// Failed, lost, or running but reported unhealthy by its deployment.
    pub fn needs_attention(self) -> bool {
        matches!(
            self,
            AllocState::Failed | AllocState::Lost | AllocState::Unhealthy
        )
    }
}

/// One allocation as the list shows it (`GET /v1/allocations?task_states=false`). The
/// metro is the snapshot the row belongs to. Job, group, namespace and node names are
/// shared between rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocRow {
    pub id: Box<str>,
    /// `job.group[N]`.
    pub name: Box<str>,
    pub namespace: Arc<str>,
    pub job: Arc<str>,
    pub group: Arc<str>,
    pub node: Arc<str>,
    pub client: ClientStatus,
    pub desired: DesiredStatus,
    /// `DeploymentStatus.Healthy`: `None` until decided (or outside a deployment).
    pub healthy: Option<bool>,
    /// `NextAllocation`: the allocation that replaced this one.
    pub replaced_by: Option<Box<str>>,
    /// Restarts over all tasks; `None` when the list came without task states.
    pub restarts: Option<u32>,
    /// Unix nanoseconds.
    pub create_time: i64,
    /// Unix nanoseconds.
    pub modify_time: i64,
}

/// The first 8 characters of an ID, as the Nomad CLI shows it.
pub fn short_id(id: &str) -> &str {
    match id.char_indices().nth(8) {
        Some((i, _)) => &id[..i],
        None => id,
    }
}

impl AllocRow {
    pub fn short_id(&self) -> &str {
        short_id(&self.id)
    }

    pub fn state(&self) -> AllocState {
        match self.client {
            ClientStatus::Failed | ClientStatus::Lost if self.replaced_by.is_some() => {
                AllocState::Replaced
            }
            ClientStatus::Failed => AllocState::Failed,
            ClientStatus::Lost => AllocState::Lost,
            ClientStatus::Unknown => AllocState::Unknown,
            _ if self.healthy == Some(false) => AllocState::Unhealthy,
            ClientStatus::Pending => AllocState::Pending,
            ClientStatus::Running => AllocState::Running,
            ClientStatus::Complete => AllocState::Complete,
            ClientStatus::Other(_) => AllocState::Other,
        }
    }

    /// Memory this row takes, for the decoder's budget (shared names not included).
    pub fn own_bytes(&self) -> usize {
        std::mem::size_of::<AllocRow>()
            + self.id.len()
            + self.name.len()
            + self.replaced_by.as_ref().map_or(0, |r| r.len())
    }
}

/// Allocations by what they amount to. `failed` counts only the failures that need
/// attention; replaced ones are in `replaced`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocCounts {
    pub running: u64,
    pub pending: u64,
    pub failed: u64,
    pub replaced: u64,
    pub lost: u64,
    pub unknown: u64,
    pub complete: u64,
    pub total: u64,
}

impl AllocCounts {
    /// The counter this row is counted in (`None`: only in `total`).
    fn counter(&mut self, a: &AllocRow) -> Option<&mut u64> {
        match (&a.client, a.state()) {
            (_, AllocState::Replaced) => Some(&mut self.replaced),
            (ClientStatus::Failed, _) => Some(&mut self.failed),
            (ClientStatus::Lost, _) => Some(&mut self.lost),
            (ClientStatus::Unknown, _) => Some(&mut self.unknown),
            (ClientStatus::Running, _) => Some(&mut self.running),
            (ClientStatus::Pending, _) => Some(&mut self.pending),
            (ClientStatus::Complete, _) => Some(&mut self.complete),
            (ClientStatus::Other(_), _) => None,
        }
    }

    pub fn add(&mut self, a: &AllocRow) {
        self.total = self.total.saturating_add(1);
        if let Some(c) = self.counter(a) {
            *c = c.saturating_add(1);
        }
    }

    /// Undo [`AllocCounts::add`] of the same row (it changed or went away).
    pub fn remove(&mut self, a: &AllocRow) {
        self.total = self.total.saturating_sub(1);
        if let Some(c) = self.counter(a) {
            *c = c.saturating_sub(1);
        }
    }

    /// Failed or lost without a replacement.
    pub fn attention(&self) -> u64 {
        self.failed.saturating_add(self.lost)
    }
}

/// Rows kept in chunks of [`Rows::CHUNK`] shared between copies: a copy costs a pointer
/// per chunk, and changing a row copies only its chunk when an older copy (a snapshot the
/// console still draws) shares it. Every chunk but the last is full, so a row is found by
/// its position at once. Removing a row moves the last row into its place: the order is
/// not kept (the views sort).
#[derive(Debug, Clone)]
pub struct Rows<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for Rows<T> {
    fn default() -> Self {
        Rows {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: PartialEq> PartialEq for Rows<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Eq> Eq for Rows<T> {}

impl<T> std::ops::Index<usize> for Rows<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        match self.get(i) {
            Some(r) => r,
            None => panic!("row {i} of {}", self.len),
        }
    }
}

impl<T: Clone> FromIterator<T> for Rows<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut rows = Rows::default();
        for r in iter {
            rows.push(r);
        }
        rows
    }
}

impl<T: Clone> From<Vec<T>> for Rows<T> {
    fn from(v: Vec<T>) -> Self {
        let len = v.len();
        let mut chunks = Vec::with_capacity(len.div_ceil(Self::CHUNK));
        let mut it = v.into_iter().peekable();
        while it.peek().is_some() {
            chunks.push(Arc::new(it.by_ref().take(Self::CHUNK).collect()));
        }
        Rows { chunks, len }
    }
}

impl<T> Rows<T> {
    /// Rows per chunk: small enough that copying one on a change is cheap.
    pub const CHUNK: usize = 256;

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / Self::CHUNK)?.get(i % Self::CHUNK)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }
}

impl<T: PartialEq> Rows<T> {
    /// The positions whose row differs from `old`'s at the same position, in order,
    /// positions only one of them has included. A chunk the two share is skipped
    /// without looking at its rows, so comparing a copy with the one it was made from
    /// costs in proportion to the chunks changed since.
    pub fn differing(&self, old: &Rows<T>) -> Vec<usize> {
        let mut out = Vec::new();
        let chunks = self.chunks.len().max(old.chunks.len());
        for c in 0..chunks {
            let (new, was) = (self.chunks.get(c), old.chunks.get(c));
            if let (Some(a), Some(b)) = (new, was) {
                if Arc::ptr_eq(a, b) {
                    continue;
                }
            }
            let (new, was) = (
                new.map_or(&[][..], |c| &c[..]),
                was.map_or(&[][..], |c| &c[..]),
            );
            for i in 0..new.len().max(was.len()) {
                if new.get(i) != was.get(i) {
                    out.push(c * Self::CHUNK + i);
                }
            }
        }
        out
    }
}

impl<T: Clone> Rows<T> {
    pub fn push(&mut self, row: T) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < Self::CHUNK => Arc::make_mut(c).push(row),
            _ => {
                let mut c = Vec::with_capacity(Self::CHUNK);
                c.push(row);
                self.chunks.push(Arc::new(c));
            }
        }
        self.len += 1;
    }

    /// Put `row` at `i`; the row that was there.
    pub fn replace(&mut self, i: usize, row: T) -> Option<T> {
        let c = self.chunks.get_mut(i / Self::CHUNK)?;
        let slot = Arc::make_mut(c).get_mut(i % Self::CHUNK)?;
        Some(std::mem::replace(slot, row))
    }

    /// Take the row at `i` out; the last row takes its place.
    pub fn swap_remove(&mut self, i: usize) -> Option<T> {
        if i >= self.len {
            return None;
        }
        let last = Arc::make_mut(self.chunks.last_mut()?).pop()?;
        if self.chunks.last().is_some_and(|c| c.is_empty()) {
            self.chunks.pop();
        }
        self.len -= 1;
        if i == self.len {
            return Some(last);
        }
        self.replace(i, last)
    }
}

/// The counts of allocations per job: (namespace, job ID).
pub type JobKey = (Arc<str>, Arc<str>);

/// A metro's allocation list with its counts, overall and per job (namespace, job ID),
/// kept right as rows come, change and go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllocList {
    pub rows: Rows<AllocRow>,
    pub counts: AllocCounts,
    pub by_job: HashMap<JobKey, AllocCounts>,
}

impl AllocList {
    /// Counts the rows; the list is then complete. The rows are put in the order the
    /// Nomad pane shows by default (job, then name), so that sorting them there after
    /// every change costs a pass, not a sort (330 000 rows: 169 ms a snapshot when they
    /// came in Nomad's order, by ID).
    pub fn from_rows(mut rows: Vec<AllocRow>) -> AllocList {
        rows.sort_unstable_by(|a, b| (&a.job, &a.name).cmp(&(&b.job, &b.name)));
        let mut list = AllocList::default();
        for a in &rows {
            list.count(a);
        }
        list.rows = Rows::from(rows);
        list
    }

    fn count(&mut self, a: &AllocRow) {
        self.counts.add(a);
        self.by_job
            .entry((a.namespace.clone(), a.job.clone()))
            .or_default()
            .add(a);
    }

    fn uncount(&mut self, a: &AllocRow) {
        self.counts.remove(a);
        let key = (a.namespace.clone(), a.job.clone());
        if let Some(c) = self.by_job.get_mut(&key) {
            c.remove(a);
            // A job without allocations has no entry, as in a fresh list.
            if c.total == 0 {
                self.by_job.remove(&key);
            }
        }
    }

    /// Add a row at the end; its position.
    pub fn push(&mut self, a: AllocRow) -> usize {
        self.count(&a);
        self.rows.push(a);
        self.rows.len() - 1
    }

    /// Put `a` at position `i` in place of the row there.
    pub fn replace(&mut self, i: usize, a: AllocRow) {
        self.count(&a);
        if let Some(old) = self.rows.replace(i, a) {
            self.uncount(&old);
        }
    }

    /// Remove the row at `i`; the last row moves to `i`.
    pub fn swap_remove(&mut self, i: usize) -> Option<AllocRow> {
        let old = self.rows.swap_remove(i)?;
        self.uncount(&old);
        Some(old)
    }

    /// The counts of one job's allocations (zero when it has none).
    pub fn of_job(&self, job: &JobRow) -> AllocCounts {
        self.by_job
            .get(&(job.namespace.clone(), job.id.clone()))
            .copied()
            .unwrap_or_default()
    }
}

/// Nomad's `JobSummary` summed over task groups. Its `failed` counts every failed
/// allocation ever, replaced ones included: it is Nomad's history, not attention.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCounts {
    pub queued: u64,
    pub starting: u64,
    pub running: u64,
    pub failed: u64,
    pub lost: u64,
    pub unknown: u64,
    pub complete: u64,
}

/// One job (`GET /v1/jobs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    pub id: Arc<str>,
    pub name: Box<str>,
    pub namespace: Arc<str>,
    /// `service`, `batch`, `system`, `sysbatch`.
    pub kind: Arc<str>,
    /// `pending`, `running`, `dead`.
    pub status: Arc<str>,
    /// Stopped by an operator.
    pub stop: bool,
    /// `None` when the job came without a summary.
    pub summary: Option<GroupCounts>,
}

impl JobRow {
    pub fn own_bytes(&self) -> usize {
        std::mem::size_of::<JobRow>() + self.id.len() + self.name.len()
    }
}

/// One client node (`GET /v1/nodes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub id: Box<str>,
    pub name: Box<str>,
    /// `initializing`, `ready`, `down`, `disconnected`.
    pub status: Arc<str>,
    pub eligible: bool,
    pub drain: bool,
}

impl NodeRow {
    pub fn is_ready(&self) -> bool {
        &*self.status == "ready"
    }

    pub fn own_bytes(&self) -> usize {
        std::mem::size_of::<NodeRow>() + self.id.len() + self.name.len()
    }
}

/// One allocation opened in the Nomad pane (`GET /v1/allocation/:id`), with its tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllocDetail {
    pub id: String,
    pub name: String,
    pub job: String,
    pub group: String,
    pub node: String,
    pub client: String,
    pub client_description: String,
    pub desired: String,
    pub desired_description: String,
    /// `NextAllocation`.
    pub replaced_by: Option<String>,
    /// `PreviousAllocation`.
    pub replaces: Option<String>,
    /// Sorted by task name.
    pub tasks: Vec<TaskDetail>,
}

impl AllocDetail {
    pub fn short_id(&self) -> &str {
        short_id(&self.id)
    }

    /// Task names, sorted.
    pub fn tasks(&self) -> Vec<&str> {
        self.tasks.iter().map(|t| t.name.as_str()).collect()
    }

    pub fn restarts(&self) -> u64 {
        self.tasks
            .iter()
            .map(|t| t.restarts)
            .fold(0, u64::saturating_add)
    }

    pub fn is_bad(&self) -> bool {
        matches!(self.client.as_str(), "failed" | "lost") && self.replaced_by.is_none()
    }
}

/// One task of an opened allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskDetail {
    pub name: String,
    /// `pending`, `running`, `dead`.
    pub state: String,
    pub failed: bool,
    pub restarts: u64,
    /// RFC 3339, `None` for Go's zero time.
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Oldest first (Nomad keeps the latest 10).
    pub events: Vec<TaskEventRow>,
}

/// One task event: its type, when (unix nanoseconds), and its message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskEventRow {
    pub kind: String,
    pub time: i64,
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(client: &str, next: Option<&str>) -> AllocRow {
        AllocRow {
            id: "0b6f3c2e-8d41-4a7e-9c55-2f1e7b9a6d10".into(),
            name: "web.web[0]".into(),
            namespace: "default".into(),
            job: "web".into(),
            group: "web".into(),
            node: "node-1".into(),
            client: ClientStatus::parse(client),
            desired: DesiredStatus::Run,
            healthy: None,
            replaced_by: next.map(Into::into),
            restarts: None,
            create_time: 0,
            modify_time: 0,
        }
    }

    #[test]
    fn replaced_failures_are_history_and_lost_unknown_are_their_own() {
        let list = AllocList::from_rows(vec![
            row("failed", Some("b")),
            row("failed", Some("c")),
            row("running", None),
            row("lost", None),
            row("lost", Some("d")),
            row("unknown", None),
            row("failed", None),
            row("complete", None),
            row("pending", None),
            row("draining", None),
        ]);
        assert_eq!(
            list.counts,
            AllocCounts {
                running: 1,
                pending: 1,
                failed: 1,
                replaced: 3,
                lost: 1,
                unknown: 1,
                complete: 1,
                total: 10,
            }
        );
        assert_eq!(list.counts.attention(), 2);
        assert_eq!(list.rows[0].state(), AllocState::Replaced);
        assert!(!list.rows[0].state().needs_attention());
        assert_eq!(list.rows[5].state(), AllocState::Unknown);
        assert!(list.rows[6].state().needs_attention());
        assert_eq!(list.rows[9].client.as_str(), "draining");
        let mut unhealthy = row("running", None);
        unhealthy.healthy = Some(false);
        assert_eq!(unhealthy.state(), AllocState::Unhealthy);
        assert!(AllocState::Failed < AllocState::Running);
        assert!(AllocState::Running < AllocState::Replaced);
    }

    #[test]
    fn rows_share_chunks_and_change_in_place() {
        let n = Rows::<u32>::CHUNK * 2 + 5;
        let mut rows: Rows<u32> = (0..n as u32).collect();
        let copy = rows.clone();
        assert_eq!(rows.len(), n);
        assert_eq!(rows.replace(3, 1000), Some(3));
        assert_eq!(copy[3], 3, "a copy keeps what it had");
        assert_eq!(rows[3], 1000);
        // The last row moves into the hole; the last chunk shrinks.
        assert_eq!(rows.swap_remove(1), Some(1));
        assert_eq!(rows[1], n as u32 - 1);
        assert_eq!(rows.len(), n - 1);
        for _ in 0..5 {
            let last = rows.len() - 1;
            rows.swap_remove(last);
        }
        assert_eq!(rows.len(), Rows::<u32>::CHUNK * 2 - 1);
        assert_eq!(rows.get(rows.len()), None);
        assert_eq!(rows.swap_remove(rows.len()), None);
        assert_eq!(rows.iter().count(), rows.len());
        assert_eq!(Rows::from(vec![1, 2, 3]), [1, 2, 3].into_iter().collect());
    }

    #[test]
    fn differing_rows_are_found_by_position() {
        let chunk = Rows::<u32>::CHUNK;
        let n = chunk * 3 + 5;
        let old: Rows<u32> = (0..n as u32).collect();
        assert!(old.clone().differing(&old).is_empty());
        let mut rows = old.clone();
        rows.replace(chunk + 7, 7);
        // Written again with the same value: copied, yet not a difference.
        rows.replace(2 * chunk, 2 * chunk as u32);
        assert_eq!(rows.differing(&old), [chunk + 7]);
        // The last row moves into 3; the old last position is gone.
        rows.swap_remove(3);
        assert_eq!(rows.differing(&old), [3, chunk + 7, n - 1]);
        rows.push(1);
        rows.push(2);
        assert_eq!(rows.differing(&old), [3, chunk + 7, n - 1, n]);
        // A whole chunk gone.
        let mut short = old.clone();
        for _ in 0..6 {
            short.swap_remove(short.len() - 1);
        }
        assert_eq!(short.differing(&old), (n - 6..n).collect::<Vec<_>>());
        assert_eq!(old.differing(&short), (n - 6..n).collect::<Vec<_>>());
    }

    #[test]
    fn counts_follow_rows_that_change_and_go() {
        let mut list = AllocList::from_rows(vec![row("running", None), row("failed", None)]);
        let mut other = row("pending", None);
        other.job = "api".into();
        list.push(other.clone());
        list.replace(0, row("lost", None));
        list.replace(1, row("failed", Some("x")));
        let moved = list.swap_remove(0);
        assert_eq!(moved.map(|r| r.client), Some(ClientStatus::Lost));
        let fresh = AllocList::from_rows(list.rows.iter().cloned().collect());
        assert_eq!(list.counts, fresh.counts);
        assert_eq!(list.by_job, fresh.by_job);
        list.swap_remove(0);
        list.swap_remove(0);
        assert_eq!(list, AllocList::default(), "no empty per-job entries left");
    }

    #[test]
    fn odd_statuses_are_made_visible() {
        assert_eq!(
            ClientStatus::parse("x\x1b[2J").as_str(),
            "x\\x1b[2J",
            "an unknown status is text from outside"
        );
        assert_eq!(DesiredStatus::parse("\x07").as_str(), "\\x07");
        assert_eq!(short_id("ééééééééé").chars().count(), 8);
        assert_eq!(short_id("abc"), "abc");
    }
}
