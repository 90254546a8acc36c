//! Provisioning runs as data: which operation, and the history line each run leaves in
//! the state directory (`provision.jsonl`), read back by the console's pane after a
//! restart. The files are `ops::provision`'s.

use serde::{Deserialize, Serialize};

use super::journal::{Verdict, Via};

/// A provisioning operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProvisionOp {
    Plan,
    Apply,
    Destroy,
    Output,
}

impl ProvisionOp {
    pub fn word(self) -> &'static str {
        match self {
            ProvisionOp::Plan => "plan",
            ProvisionOp::Apply => "apply",
            ProvisionOp::Destroy => "destroy",
            ProvisionOp::Output => "output",
        }
    }

    /// Whether it changes infrastructure: confirmed, interlocked, audited, refused
    /// read-only.
    pub fn destructive(self) -> bool {
        matches!(self, ProvisionOp::Apply | ProvisionOp::Destroy)
    }
}

/// One run, as `provision.jsonl` keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// RFC 3339, UTC, milliseconds: when it started.
    pub time: String,
    pub op: ProvisionOp,
    /// `ok`, `failed`, `interrupted`, `refused`; a declined plan is `refused`.
    pub result: Verdict,
    pub duration_ms: u64,
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
    /// "1 to add, 0 to change, 0 to destroy", "+ fr 127.0.0.1", the first error.
    #[serde(default)]
    pub summary: String,
}
