//! One run as an operator follows it: the stream's events folded into a table of
//! resources (action, state, time, the last provisioner line), the diagnostics, the
//! change summary, the outputs and a bounded raw log. Pure: the console's pane and the
//! command line's progress lines both read a [`Tracker`].

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

use super::stream::{Action, Body, ChangeSummary, Diagnostic, Event, Operation, StreamOutput};

/// Lines of raw log kept; older ones are dropped (a long apply must not grow memory).
pub const MAX_LOG_LINES: usize = 2000;
/// Diagnostics kept (a broken module can print thousands).
pub const MAX_DIAGNOSTICS: usize = 200;
/// Longest provisioner line kept per resource, in characters.
const MAX_LINE: usize = 300;

/// Where one resource is in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceState {
    /// In the plan, not started.
    Planned,
    Running,
    Done,
    Failed,
}

impl ResourceState {
    pub fn word(self) -> &'static str {
        match self {
            ResourceState::Planned => "planned",
            ResourceState::Running => "running",
            ResourceState::Done => "done",
            ResourceState::Failed => "failed",
        }
    }
}

/// One resource of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRow {
    /// e.g. `terraform_data.metro["fr"]`.
    pub addr: String,
    pub action: Action,
    /// Why, when terraform says (`tainted`, `delete_because_each_key`, ...).
    pub reason: Option<String>,
    pub state: ResourceState,
    /// When it started (the message's timestamp), for a live elapsed time.
    pub started: Option<SystemTime>,
    /// Time terraform reported (`elapsed_seconds`), or measured between its messages.
    pub elapsed: Option<Duration>,
    /// The last line its provisioners printed (trimmed to 300 characters).
    pub last_line: Option<String>,
}

/// A run of plan, apply or destroy, folded from its events.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tracker {
    /// In the order terraform named them.
    pub rows: Vec<ResourceRow>,
    pub diagnostics: Vec<Diagnostic>,
    /// The plan's summary (to add / change / destroy).
    pub planned: Option<ChangeSummary>,
    /// The apply's or destroy's summary, once it finished.
    pub applied: Option<ChangeSummary>,
    /// The outputs the stream reported (sensitive values never kept).
    pub outputs: BTreeMap<String, StreamOutput>,
    /// Every line as text, the newest last; at most [`MAX_LOG_LINES`].
    pub log: VecDeque<String>,
    /// Lines dropped from the front of `log`.
    pub log_dropped: u64,
    /// The program and its version ("Terraform 1.11.4").
    pub version: Option<String>,
    /// Waiting for, or holding, the state lock.
    pub state_lock: Option<bool>,
}

impl Tracker {
    /// Folds one event in. Returns a line for a progress display when a resource
    /// changed state or printed, or terraform said something an operator must see.
    pub fn take(&mut self, e: &Event) -> Option<String> {
        self.push_log(e.text());
        let Event::Message(m) = e else {
            return None;
        };
        match &m.body {
            Body::Version { .. } => {
                self.version = Some(m.text.clone());
                None
            }
            Body::PlannedChange(c) => {
                let new = !self.rows.iter().any(|r| r.addr == c.resource.addr);
                let row = self.row(&c.resource.addr, &c.action);
                row.action = c.action.clone();
                row.reason = c.reason.clone();
                // An apply of a saved plan names its changes again: said once.
                new.then(|| {
                    let why = c
                        .reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default();
                    format!(
                        "{} {} will be {}{why}",
                        sign(&c.action),
                        c.resource.addr,
                        ed(&c.action)
                    )
                })
            }
            Body::ChangeSummary(s) => {
                match s.operation {
                    Operation::Plan => self.planned = Some(*s),
                    _ => self.applied = Some(*s),
                }
                Some(m.text.clone())
            }
            Body::ApplyStart(h) => {
                let action = h.action.clone().unwrap_or(Action::Other("apply".into()));
                let row = self.row(&h.resource.addr, &action);
                row.state = ResourceState::Running;
                row.started = m.timestamp;
                Some(format!(
                    "{} {}: {}",
                    sign(&row.action),
                    row.addr,
                    ing(&row.action)
                ))
            }
            Body::ApplyProgress(h) => {
                let action = h.action.clone().unwrap_or(Action::Other("apply".into()));
                let row = self.row(&h.resource.addr, &action);
                row.elapsed = h.elapsed.or(row.elapsed);
                None
            }
            Body::ApplyComplete(h) | Body::ApplyErrored(h) => {
                let failed = matches!(m.body, Body::ApplyErrored(_));
                let action = h.action.clone().unwrap_or(Action::Other("apply".into()));
                let row = self.row(&h.resource.addr, &action);
                row.state = if failed {
                    ResourceState::Failed
                } else {
                    ResourceState::Done
                };
                row.elapsed = h.elapsed.or_else(|| {
                    m.timestamp
                        .zip(row.started)
                        .and_then(|(end, start)| end.duration_since(start).ok())
                });
                let took = row
                    .elapsed
                    .map(|d| format!(" after {}", seconds(d)))
                    .unwrap_or_default();
                Some(format!(
                    "{} {}: {}{took}",
                    sign(&row.action),
                    row.addr,
                    if failed { "failed" } else { ed(&row.action) }
                ))
            }
            Body::ProvisionProgress(p) => {
                let line = p.output.as_deref().unwrap_or_default().trim();
                if line.is_empty() {
                    return None;
                }
                let short: String = line.chars().take(MAX_LINE).collect();
                let row = self.row(&p.resource.addr, &Action::Other("apply".into()));
                row.last_line = Some(short.clone());
                Some(format!("    {}: {short}", p.provisioner))
            }
            Body::ProvisionErrored(p) => {
                let row = self.row(&p.resource.addr, &Action::Other("apply".into()));
                row.state = ResourceState::Failed;
                Some(format!("    {}: failed", p.provisioner))
            }
            Body::Diagnostic(d) => {
                if self.diagnostics.len() < MAX_DIAGNOSTICS {
                    self.diagnostics.push(d.clone());
                }
                Some(d.to_string())
            }
            Body::Outputs(o) => {
                self.outputs = o.clone();
                None
            }
            Body::StateLockAcquire => {
                self.state_lock = Some(true);
                None
            }
            Body::StateLockRelease => {
                self.state_lock = Some(false);
                None
            }
            // Interrupts, "Stopping operation...": said at warn level.
            Body::Log if m.level >= super::stream::Level::Warn => Some(m.text.clone()),
            _ => None,
        }
    }

    /// Resources finished (done or failed).
    pub fn finished(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| matches!(r.state, ResourceState::Done | ResourceState::Failed))
            .count()
    }

    /// Resources the run changes (no-ops and reads left out).
    pub fn changing(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| !matches!(r.action, Action::Noop | Action::Read))
            .count()
    }

    /// Errors among the diagnostics.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == super::stream::Severity::Error)
    }

    fn row(&mut self, addr: &str, action: &Action) -> &mut ResourceRow {
        let i = match self.rows.iter().position(|r| r.addr == addr) {
            Some(i) => i,
            None => {
                self.rows.push(ResourceRow {
                    addr: addr.to_string(),
                    action: action.clone(),
                    reason: None,
                    state: ResourceState::Planned,
                    started: None,
                    elapsed: None,
                    last_line: None,
                });
                self.rows.len() - 1
            }
        };
        &mut self.rows[i]
    }

    fn push_log(&mut self, text: &str) {
        for line in text.lines() {
            self.log.push_back(line.to_string());
        }
        while self.log.len() > MAX_LOG_LINES {
            self.log.pop_front();
            self.log_dropped += 1;
        }
    }
}

/// `+`, `-`, `~`, `-/+` as terraform's plan shows them.
pub fn sign(a: &Action) -> &'static str {
    match a {
        Action::Create => "+",
        Action::Delete | Action::Remove => "-",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Read => "<=",
        _ => "*",
    }
}

fn ing(a: &Action) -> &'static str {
    match a {
        Action::Create => "creating",
        Action::Delete | Action::Remove => "destroying",
        Action::Update => "modifying",
        Action::Replace => "replacing",
        Action::Read => "reading",
        _ => "applying",
    }
}

fn ed(a: &Action) -> &'static str {
    match a {
        Action::Create => "created",
        Action::Delete | Action::Remove => "destroyed",
        Action::Update => "modified",
        Action::Replace => "replaced",
        Action::Read => "read",
        _ => "applied",
    }
}

/// `1s`, `2m05s`.
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::stream::parse_line;

    fn fold(fixture: &str) -> (Tracker, Vec<String>) {
        let text = std::fs::read_to_string(format!(
            "{}/tests/fixtures/terraform/{fixture}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture");
        let mut t = Tracker::default();
        let lines = text
            .lines()
            .filter_map(|l| t.take(&parse_line(l)))
            .collect();
        (t, lines)
    }

    #[test]
    fn an_apply_that_adds_fr() {
        let (t, lines) = fold("lab_apply_add.jsonl");
        assert_eq!(
            t.rows.len(),
            1,
            "the apply's planned_change and hooks are one row"
        );
        let fr = &t.rows[0];
        assert_eq!(fr.addr, "terraform_data.metro[\"fr\"]");
        assert_eq!(fr.state, ResourceState::Done);
        assert_eq!(fr.elapsed, Some(Duration::from_secs(1)));
        assert!(fr
            .last_line
            .as_deref()
            .unwrap()
            .starts_with("fr (Frankfurt) added"));
        assert_eq!((t.finished(), t.changing()), (1, 1));
        assert_eq!(t.applied.map(|s| s.add), Some(1));
        assert_eq!(t.version.as_deref(), Some("Terraform 1.11.4"));
        assert_eq!(lines[0], "+ terraform_data.metro[\"fr\"] will be created");
        assert_eq!(lines[1], "+ terraform_data.metro[\"fr\"]: creating");
        assert!(lines
            .iter()
            .any(|l| l == "+ terraform_data.metro[\"fr\"]: created after 1s"));
        assert!(lines.iter().any(|l| l.starts_with("Apply complete!")));
        assert!(!t.outputs.is_empty());
        assert!(t.outputs["admin_password"].value.is_sensitive());
    }

    #[test]
    fn a_failing_provisioner_and_an_unknown_metro() {
        let (t, lines) = fold("lab_apply_provisioner_fails.jsonl");
        assert!(
            t.rows.iter().any(|r| r.state == ResourceState::Failed),
            "{:?}",
            t.rows
        );
        assert!(t.errors().count() >= 1);
        assert!(lines.iter().any(|l| l.starts_with("Error: ")), "{lines:#?}");
        let (t, _) = fold("lab_plan_unknown_metro.jsonl");
        let e = t.errors().next().expect("an error");
        assert!(e.to_string().contains("zz"), "{e}");
    }

    #[test]
    fn a_plan_counts_and_the_log_is_bounded() {
        let (t, _) = fold("lab_plan_add.jsonl");
        assert_eq!(t.planned.map(|s| (s.add, s.remove)), Some((1, 0)));
        assert!(t.rows.iter().all(|r| r.state == ResourceState::Planned));
        let mut t = Tracker::default();
        for i in 0..(MAX_LOG_LINES + 10) {
            t.take(&Event::Raw(format!("line {i}")));
        }
        assert_eq!(t.log.len(), MAX_LOG_LINES);
        assert_eq!(t.log_dropped, 10);
        assert_eq!(t.log.back().map(String::as_str), Some("line 2009"));
    }
}
