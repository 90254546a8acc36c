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
    pub fn add(&mut self, a: &AllocRow) {
        self.total += 1;
        match (&a.client, a.state()) {
            (_, AllocState::Replaced) => self.replaced += 1,
            (ClientStatus::Failed, _) => self.failed += 1,
            (ClientStatus::Lost, _) => self.lost += 1,
            (ClientStatus::Unknown, _) => self.unknown += 1,
            (ClientStatus::Running, _) => self.running += 1,
            (ClientStatus::Pending, _) => self.pending += 1,
            (ClientStatus::Complete, _) => self.complete += 1,
            (ClientStatus::Other(_), _) => {}
        }
    }

    /// Failed or lost without a replacement.
    pub fn attention(&self) -> u64 {
        self.failed + self.lost
    }
}

/// A metro's allocation list with its counts, overall and per job (namespace, job ID).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllocList {
    pub rows: Vec<AllocRow>,
    pub counts: AllocCounts,
    pub by_job: HashMap<(Arc<str>, Arc<str>), AllocCounts>,
}

impl AllocList {
    /// Counts the rows; the list is then complete.
    pub fn from_rows(rows: Vec<AllocRow>) -> AllocList {
        let mut counts = AllocCounts::default();
        let mut by_job: HashMap<(Arc<str>, Arc<str>), AllocCounts> = HashMap::new();
        for a in &rows {
            counts.add(a);
            by_job
                .entry((a.namespace.clone(), a.job.clone()))
                .or_default()
                .add(a);
        }
        AllocList {
            rows,
            counts,
            by_job,
        }
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
        self.tasks.iter().map(|t| t.restarts).sum()
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
