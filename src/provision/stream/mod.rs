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
//!
//! Where to look: the event, the message and its body, and reading a line are here;
//! `payload.rs` holds each body's typed shape, `wire.rs` which JSON fields become it.

mod payload;
mod wire;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::domain::text::{visible, visible_lines};
use wire::{body, Envelope};

pub use payload::{
    Action, Change, ChangeSummary, Diagnostic, Hook, Operation, ProvisionHook, Range, Resource,
    Severity, StreamOutput,
};

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
