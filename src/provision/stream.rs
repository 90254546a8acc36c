//! The `-json` machine-readable UI of `terraform` and `tofu` (`@module` `terraform.ui` or
//! `tofu.ui`), one JSON object per stdout line. Every line becomes an [`Event`]: known
//! message types become typed bodies, unknown types keep their `@message`, a line that is
//! not a message becomes [`Event::Raw`]. Parsing never panics and never fails.
//!
//! Everything here comes from an outside program: every text field is made visible at this
//! boundary ([`crate::domain::text`]): control characters are escaped, so no field can
//! drive a terminal. Fields that may span lines (`@message`, a diagnostic's `detail`, a
//! provisioner's output) keep their newlines; every other field is one line.
//!
//! Facts: `shared/reference/provision.md` §2-§3, §6.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::Value;

use super::outputs::OutputValue;
use crate::domain::text::{visible, visible_lines};

/// One line of a run: a stdout message, a stdout line that is not one, or a stderr line.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Boxed: a message is large, raw lines are not.
    Message(Box<Message>),
    /// A stdout line that is not a JSON message (made visible). Should not happen with
    /// `-json`; `init` without `-json` prints only these.
    Raw(String),
    /// A stderr line (made visible): human text, such as the CLI-config warning or a crash.
    Stderr(String),
}

impl Event {
    /// The line as an operator reads it: the message's `@message`, or the raw text.
    pub fn text(&self) -> &str {
        match self {
            Event::Message(m) => &m.text,
            Event::Raw(t) | Event::Stderr(t) => t,
        }
    }
}

/// `@level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    Trace,
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

/// Which program wrote the stream, from `@module` (`terraform.ui`, `tofu.ui`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    Terraform,
    OpenTofu,
    /// Another `*.ui` module, named.
    Other(String),
}

/// The keys every message has, and its typed body.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub level: Level,
    /// `@message`, made visible (newlines kept).
    pub text: String,
    pub program: Program,
    /// `@timestamp`; `None` when absent or unreadable. Microseconds or whole seconds.
    pub timestamp: Option<SystemTime>,
    pub body: Body,
}

/// A message's payload by `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// `version`: the program's version (`terraform` or `tofu` key) and the UI schema.
    Version {
        version: String,
        ui: String,
    },
    /// `log`: an unstructured notice (interrupts, "Stopping operation..."); the text is
    /// the message's.
    Log,
    Diagnostic(Diagnostic),
    PlannedChange(Change),
    ResourceDrift(Change),
    ChangeSummary(ChangeSummary),
    /// `outputs`: planned (`action`, no value) or applied (`type`, `value`). Sensitive
    /// values are never kept, even when a (pre-1.4) program printed them.
    Outputs(BTreeMap<String, StreamOutput>),
    ApplyStart(Hook),
    ApplyProgress(Hook),
    ApplyComplete(Hook),
    ApplyErrored(Hook),
    ProvisionStart(ProvisionHook),
    /// One line of a provisioner's output (`output`).
    ProvisionProgress(ProvisionHook),
    ProvisionComplete(ProvisionHook),
    ProvisionErrored(ProvisionHook),
    RefreshStart(Hook),
    RefreshComplete(Hook),
    StateLockAcquire,
    StateLockRelease,
    /// `init_output` (`init -json`, 1.9+): `message_code`.
    InitOutput {
        code: String,
    },
    /// Any other type (or a known type whose payload did not fit): show the text.
    Unknown {
        kind: String,
    },
}

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
    fn from_word(w: &str) -> Action {
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

// ------------------------------------------------------------------------------------
// Wire models: tolerant (every field optional, unknown fields ignored).
// ------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "@level")]
    level: Option<String>,
    #[serde(rename = "@message")]
    message: Option<Value>,
    #[serde(rename = "@module")]
    module: Option<String>,
    #[serde(rename = "@timestamp")]
    timestamp: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    terraform: Option<Value>,
    tofu: Option<Value>,
    ui: Option<Value>,
    diagnostic: Option<Value>,
    change: Option<Value>,
    changes: Option<Value>,
    hook: Option<Value>,
    outputs: Option<Value>,
    message_code: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireDiagnostic {
    severity: String,
    summary: String,
    detail: String,
    address: Option<String>,
    range: Option<WireRange>,
    snippet: Option<WireSnippet>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireRange {
    filename: String,
    start: WirePos,
    end: WirePos,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WirePos {
    line: u64,
    column: u64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireSnippet {
    context: Option<String>,
    code: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireResource {
    addr: String,
    module: String,
    resource_type: String,
    resource_name: String,
    resource_key: Value,
}

#[derive(Deserialize)]
struct WireChange {
    resource: WireResource,
    previous_resource: Option<WireResource>,
    action: String,
    reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireSummary {
    add: u64,
    change: u64,
    remove: u64,
    import: u64,
    forget: u64,
    operation: String,
}

#[derive(Deserialize)]
struct WireHook {
    resource: WireResource,
    action: Option<String>,
    id_key: Option<String>,
    id_value: Option<String>,
    elapsed_seconds: Option<f64>,
}

#[derive(Deserialize)]
struct WireProvisionHook {
    resource: WireResource,
    #[serde(default)]
    provisioner: String,
    output: Option<String>,
}

#[derive(Deserialize)]
struct WireOutput {
    #[serde(default)]
    sensitive: bool,
    action: Option<String>,
    value: Option<Value>,
}

/// Parses one stdout line. Never panics: a line that is not a JSON object with a string
/// `type` is [`Event::Raw`]; a known type whose payload does not fit is
/// [`Body::Unknown`] with its text.
pub fn parse_line(line: &str) -> Event {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let trimmed = line.trim();
    if !trimmed.starts_with('{') {
        return Event::Raw(visible(line).into_owned());
    }
    let env: Envelope = match serde_json::from_str(trimmed) {
        Ok(e) => e,
        Err(_) => return Event::Raw(visible(line).into_owned()),
    };
    let Some(kind) = env.kind.clone() else {
        return Event::Raw(visible(line).into_owned());
    };
    let text = match &env.message {
        Some(Value::String(s)) => visible_lines(s).into_owned(),
        Some(other) => visible(&other.to_string()).into_owned(),
        None => String::new(),
    };
    let level = match env.level.as_deref() {
        Some("trace") => Level::Trace,
        Some("debug") => Level::Debug,
        Some("warn") => Level::Warn,
        Some("error") => Level::Error,
        _ => Level::Info,
    };
    let program = match env.module.as_deref() {
        Some("terraform.ui") | None => Program::Terraform,
        Some("tofu.ui") => Program::OpenTofu,
        Some(other) => Program::Other(visible(other).into_owned()),
    };
    let timestamp = env.timestamp.as_deref().and_then(parse_timestamp);
    let body = body(&kind, env).unwrap_or_else(|| Body::Unknown {
        kind: visible(&kind).into_owned(),
    });
    Event::Message(Box::new(Message {
        level,
        text,
        program,
        timestamp,
        body,
    }))
}

fn from<T: serde::de::DeserializeOwned>(v: Option<Value>) -> Option<T> {
    serde_json::from_value(v?).ok()
}

fn body(kind: &str, env: Envelope) -> Option<Body> {
    Some(match kind {
        "version" => {
            let version = env.terraform.or(env.tofu);
            Body::Version {
                version: value_text(version.as_ref()),
                ui: value_text(env.ui.as_ref()),
            }
        }
        "log" => Body::Log,
        "diagnostic" => Body::Diagnostic(diagnostic(from(env.diagnostic)?)),
        "planned_change" => Body::PlannedChange(change(from(env.change)?)),
        "resource_drift" => Body::ResourceDrift(change(from(env.change)?)),
        "change_summary" => {
            let s: WireSummary = from(env.changes)?;
            Body::ChangeSummary(ChangeSummary {
                add: s.add,
                change: s.change,
                remove: s.remove,
                import: s.import,
                forget: s.forget,
                operation: match s.operation.as_str() {
                    "plan" => Operation::Plan,
                    "apply" => Operation::Apply,
                    "destroy" => Operation::Destroy,
                    _ => Operation::Other,
                },
            })
        }
        "outputs" => {
            let raw: BTreeMap<String, WireOutput> = from(env.outputs)?;
            Body::Outputs(
                raw.into_iter()
                    .map(|(name, o)| {
                        let value = match (o.sensitive, o.value) {
                            (true, _) => OutputValue::sensitive(),
                            (false, Some(v)) => OutputValue::Value(v),
                            (false, None) => OutputValue::Absent,
                        };
                        let out = StreamOutput {
                            action: o.action.map(|a| visible(&a).into_owned()),
                            value,
                        };
                        (visible(&name).into_owned(), out)
                    })
                    .collect(),
            )
        }
        "apply_start" => Body::ApplyStart(hook(from(env.hook)?)),
        "apply_progress" => Body::ApplyProgress(hook(from(env.hook)?)),
        "apply_complete" => Body::ApplyComplete(hook(from(env.hook)?)),
        "apply_errored" => Body::ApplyErrored(hook(from(env.hook)?)),
        "refresh_start" => Body::RefreshStart(hook(from(env.hook)?)),
        "refresh_complete" => Body::RefreshComplete(hook(from(env.hook)?)),
        "provision_start" => Body::ProvisionStart(provision_hook(from(env.hook)?)),
        "provision_progress" => Body::ProvisionProgress(provision_hook(from(env.hook)?)),
        "provision_complete" => Body::ProvisionComplete(provision_hook(from(env.hook)?)),
        "provision_errored" => Body::ProvisionErrored(provision_hook(from(env.hook)?)),
        "state_lock_acquire" => Body::StateLockAcquire,
        "state_lock_release" => Body::StateLockRelease,
        "init_output" => Body::InitOutput {
            code: value_text(env.message_code.as_ref()),
        },
        _ => return None,
    })
}

/// A JSON string's text, or any other value's JSON, made visible; `""` when absent.
fn value_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => visible(s).into_owned(),
        Some(Value::Null) | None => String::new(),
        Some(other) => visible(&other.to_string()).into_owned(),
    }
}

fn diagnostic(d: WireDiagnostic) -> Diagnostic {
    let snippet = d.snippet.unwrap_or_default();
    Diagnostic {
        severity: if d.severity == "warning" {
            Severity::Warning
        } else {
            Severity::Error
        },
        summary: visible(&d.summary).into_owned(),
        detail: visible_lines(&d.detail).into_owned(),
        address: d.address.map(|a| visible(&a).into_owned()),
        range: d.range.map(|r| Range {
            filename: visible(&r.filename).into_owned(),
            line: r.start.line,
            column: r.start.column,
            end_line: r.end.line,
            end_column: r.end.column,
        }),
        code: snippet.code.map(|c| visible(&c).into_owned()),
        context: snippet.context.map(|c| visible(&c).into_owned()),
    }
}

fn resource(r: WireResource) -> Resource {
    Resource {
        addr: visible(&r.addr).into_owned(),
        module: visible(&r.module).into_owned(),
        resource_type: visible(&r.resource_type).into_owned(),
        resource_name: visible(&r.resource_name).into_owned(),
        key: match r.resource_key {
            Value::Null => None,
            v => Some(value_text(Some(&v))),
        },
    }
}

fn change(c: WireChange) -> Change {
    Change {
        resource: resource(c.resource),
        previous: c.previous_resource.map(resource),
        action: Action::from_word(&c.action),
        reason: c.reason.map(|r| visible(&r).into_owned()),
    }
}

fn hook(h: WireHook) -> Hook {
    Hook {
        resource: resource(h.resource),
        action: h.action.as_deref().map(Action::from_word),
        id_key: h.id_key.map(|v| visible(&v).into_owned()),
        id_value: h.id_value.map(|v| visible(&v).into_owned()),
        elapsed: h
            .elapsed_seconds
            .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
            .map(Duration::from_secs_f64),
    }
}

fn provision_hook(h: WireProvisionHook) -> ProvisionHook {
    ProvisionHook {
        resource: resource(h.resource),
        provisioner: visible(&h.provisioner).into_owned(),
        output: h.output.map(|o| visible_lines(&o).into_owned()),
    }
}

/// RFC 3339 with microseconds (`2026-11-29T15:39:37.563316Z`), milliseconds or whole
/// seconds (`2026-11-29T15:40:23Z`), in UTC or with an offset (`+01:00`).
pub fn parse_timestamp(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let (base, offset_secs) = if let Some(b) = s.strip_suffix('Z').or(s.strip_suffix('z')) {
        (b, 0i64)
    } else {
        // The offset is the last `+HH:MM` / `-HH:MM` after the time of day.
        let t = s.find('T').or(s.find('t'))?;
        let rel = s[t..].rfind(['+', '-'])?;
        let (b, off) = s.split_at(t + rel);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off.get(1..)?.split_once(':')?;
        let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
        // An offset is at most 23:59; a larger one is not a time (and would overflow).
        if !(0..24).contains(&h) || !(0..60).contains(&m) {
            return None;
        }
        (b, sign * (h * 3600 + m * 60))
    };
    let utc = humantime::parse_rfc3339_weak(base).ok()?;
    let magnitude = Duration::from_secs(offset_secs.unsigned_abs());
    if offset_secs >= 0 {
        utc.checked_sub(magnitude)
    } else {
        utc.checked_add(magnitude)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(line: &str) -> Message {
        match parse_line(line) {
            Event::Message(m) => *m,
            other => panic!("not a message: {other:?}"),
        }
    }

    #[test]
    fn an_offset_out_of_range_is_no_time_and_no_overflow() {
        assert_eq!(
            parse_timestamp("2026-11-29T10:39:37+9999999999999999:00"),
            None
        );
        assert_eq!(
            parse_timestamp("2026-11-29T10:39:37-00:999999999999999999"),
            None
        );
        assert_eq!(parse_timestamp("2026-11-29T10:39:37+24:00"), None);
        assert!(parse_timestamp("2026-11-29T10:39:37+23:59").is_some());
    }

    #[test]
    fn a_summary_with_huge_counts_is_not_empty_and_does_not_overflow() {
        let m = msg(
            r#"{"type":"change_summary","changes":{"add":18446744073709551615,"change":1,"remove":0,"operation":"plan"}}"#,
        );
        let Body::ChangeSummary(s) = m.body else {
            panic!("{:?}", m.body)
        };
        assert!(!s.is_empty());
        assert!(ChangeSummary::default().is_empty());
    }

    #[test]
    fn timestamps_in_every_precision_and_offset() {
        let micro = parse_timestamp("2026-11-29T15:39:37.563316Z").unwrap();
        let whole = parse_timestamp("2026-11-29T15:39:37Z").unwrap();
        assert_eq!(
            micro.duration_since(whole).unwrap(),
            Duration::from_micros(563_316)
        );
        let offset = parse_timestamp("2026-11-29T16:39:37+01:00").unwrap();
        assert_eq!(offset, whole);
        let west = parse_timestamp("2026-11-29T10:39:37.5-05:00").unwrap();
        assert_eq!(
            west.duration_since(whole).unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp(""), None);
    }

    #[test]
    fn a_line_that_is_not_a_message_is_raw_and_visible() {
        assert_eq!(parse_line("hello"), Event::Raw("hello".into()));
        assert_eq!(
            parse_line("{\"no\": \"type\"}"),
            Event::Raw("{\"no\": \"type\"}".into())
        );
        assert_eq!(parse_line("{broken"), Event::Raw("{broken".into()));
        assert_eq!(
            parse_line("\x1b]0;pwned\x07"),
            Event::Raw("\\x1b]0;pwned\\x07".into())
        );
        assert_eq!(parse_line("[1,2]"), Event::Raw("[1,2]".into()));
    }

    #[test]
    fn an_unknown_type_keeps_its_message() {
        let m = msg(
            r#"{"@level":"info","@message":"Listing \u001b[31mthings","@module":"terraform.ui","type":"list_start","list_start":{"address":"x"}}"#,
        );
        assert_eq!(
            m.body,
            Body::Unknown {
                kind: "list_start".into()
            }
        );
        assert_eq!(m.text, "Listing \\x1b[31mthings");
    }

    #[test]
    fn a_known_type_with_an_odd_payload_is_unknown_not_lost() {
        // `action_*` hooks carry an object where apply hooks carry a string.
        let m = msg(
            r#"{"@level":"info","@message":"act","type":"apply_start","hook":{"resource":{"addr":"a.b"},"action":{"resource":"x"}}}"#,
        );
        assert_eq!(
            m.body,
            Body::Unknown {
                kind: "apply_start".into()
            }
        );
        assert_eq!(m.text, "act");
    }

    #[test]
    fn tofu_version_and_unescaped_text() {
        let m = msg(
            r#"{"@level":"info","@message":"OpenTofu 1.9.0","@module":"tofu.ui","@timestamp":"2026-11-29T15:39:37.563316Z","tofu":"1.9.0","type":"version","ui":"1.2"}"#,
        );
        assert_eq!(m.program, Program::OpenTofu);
        assert_eq!(
            m.body,
            Body::Version {
                version: "1.9.0".into(),
                ui: "1.2".into()
            }
        );
    }

    #[test]
    fn sensitive_values_are_dropped_even_when_printed() {
        let m = msg(
            r#"{"@level":"info","@message":"Outputs: 2","type":"outputs","outputs":{"pw":{"sensitive":true,"type":"string","value":"hunter2"},"ip":{"sensitive":false,"type":"string","value":"192.0.2.1"}}}"#,
        );
        let Body::Outputs(o) = m.body else {
            panic!("outputs")
        };
        assert_eq!(o["pw"].value.to_string(), "(sensitive)");
        assert!(!format!("{o:?}").contains("hunter2"));
        assert_eq!(o["ip"].value.to_string(), "\"192.0.2.1\"");
    }

    #[test]
    fn elapsed_seconds_as_float_or_integer() {
        let m = msg(
            r#"{"type":"apply_complete","hook":{"resource":{"addr":"x.y","resource_key":null},"action":"create","elapsed_seconds":1.5}}"#,
        );
        let Body::ApplyComplete(h) = m.body else {
            panic!("hook")
        };
        assert_eq!(h.elapsed, Some(Duration::from_millis(1500)));
        assert_eq!(h.resource.key, None);
        let m = msg(
            r#"{"type":"apply_progress","hook":{"resource":{"addr":"x.y[3]","resource_key":3},"action":"create","elapsed_seconds":-4}}"#,
        );
        let Body::ApplyProgress(h) = m.body else {
            panic!("hook")
        };
        assert_eq!(h.elapsed, None);
        assert_eq!(h.resource.key.as_deref(), Some("3"));
    }
}
