//! The typed bodies of the stream's messages: diagnostics and their place in a file,
//! planned changes and drift, change summaries, apply, refresh and provisioner hooks,
//! outputs. Answers "what does a message of this type say?", in the shapes the console
//! and the tracker read; how they are read off the wire is in `wire`.

use std::time::Duration;

use crate::domain::text::visible;
use crate::provision::outputs::OutputValue;

/// `diagnostic`: a warning or an error, with its place in the configuration when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    /// May span lines.
    pub detail: String,
    /// The resource it concerns, e.g. `terraform_data.metro["fr"]`.
    pub address: Option<String>,
    pub range: Option<Range>,
    /// The configuration line the range points into (`snippet.code`), and its context
    /// (`snippet.context`, e.g. `resource "terraform_data" "metro"`).
    pub code: Option<String>,
    pub context: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A place in a configuration file: 1-based lines and columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub filename: String,
    pub line: u64,
    pub column: u64,
    pub end_line: u64,
    pub end_column: u64,
}

impl Diagnostic {
    /// `main.tf:4,3` when the diagnostic has a place, as terraform writes it.
    pub fn location(&self) -> Option<String> {
        self.range
            .as_ref()
            .map(|r| format!("{}:{},{}", r.filename, r.line, r.column))
    }
}

impl std::fmt::Display for Diagnostic {
    /// `Error: summary (main.tf:4,3): detail` on one or more lines.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let word = match self.severity {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
        };
        write!(f, "{word}: {}", self.summary)?;
        if let Some(loc) = self.location() {
            write!(f, " ({loc})")?;
        }
        if let Some(a) = &self.address {
            write!(f, " [{a}]")?;
        }
        let detail = self.detail.trim();
        if !detail.is_empty() {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

/// What a plan does to one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Noop,
    Create,
    Read,
    Update,
    Replace,
    Delete,
    Move,
    Import,
    Remove,
    /// Any other word (ephemeral `open`/`renew`/`close`, future ones), made visible.
    Other(String),
}

impl Action {
    pub(super) fn from_word(w: &str) -> Action {
        match w {
            "noop" => Action::Noop,
            "create" => Action::Create,
            "read" => Action::Read,
            "update" => Action::Update,
            "replace" => Action::Replace,
            "delete" => Action::Delete,
            "move" => Action::Move,
            "import" => Action::Import,
            "remove" => Action::Remove,
            other => Action::Other(visible(other).into_owned()),
        }
    }

    /// The word terraform uses.
    pub fn word(&self) -> &str {
        match self {
            Action::Noop => "noop",
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Move => "move",
            Action::Import => "import",
            Action::Remove => "remove",
            Action::Other(w) => w,
        }
    }
}

/// `resource` object of changes and hooks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resource {
    /// Full address, e.g. `terraform_data.metro["fr"]`.
    pub addr: String,
    /// `""` for the root module.
    pub module: String,
    pub resource_type: String,
    pub resource_name: String,
    /// The for_each key or count index, as text; `None` for a single resource.
    pub key: Option<String>,
}

/// `planned_change` / `resource_drift`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub resource: Resource,
    pub previous: Option<Resource>,
    pub action: Action,
    /// `tainted`, `requested`, ... when terraform gives one.
    pub reason: Option<String>,
}

/// `change_summary`: counts of a plan, apply or destroy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChangeSummary {
    pub add: u64,
    pub change: u64,
    pub remove: u64,
    pub import: u64,
    /// OpenTofu 1.10+ counts forgotten resources apart.
    pub forget: u64,
    pub operation: Operation,
}

impl ChangeSummary {
    /// Whether it changes any resource.
    pub fn is_empty(&self) -> bool {
        // Each count on its own: their sum can overflow on a hostile stream.
        [self.add, self.change, self.remove, self.import, self.forget]
            .iter()
            .all(|&n| n == 0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Operation {
    #[default]
    Plan,
    Apply,
    Destroy,
    Other,
}

/// `apply_*`, `refresh_*` hooks.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    pub resource: Resource,
    /// `None` for refresh hooks.
    pub action: Option<Action>,
    pub id_key: Option<String>,
    pub id_value: Option<String>,
    /// Whole seconds in practice, a float on the wire.
    pub elapsed: Option<Duration>,
}

/// `provision_*` hooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionHook {
    pub resource: Resource,
    pub provisioner: String,
    /// `provision_progress` only: one line of output (may hold anything the command printed).
    pub output: Option<String>,
}

/// One entry of an `outputs` message.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamOutput {
    /// `create`, `update`, `noop`, `delete` on a plan's outputs.
    pub action: Option<String>,
    /// An applied output's value; planned outputs have none ([`OutputValue::Absent`]).
    pub value: OutputValue,
}
