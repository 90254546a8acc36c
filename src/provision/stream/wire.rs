//! The wire models of a `-json` message, tolerant (every field optional, unknown fields
//! ignored), and how each becomes its typed body with every text made visible. Answers
//! "which JSON fields of a message are read, and into what?"

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::payload::{
    Action, Change, ChangeSummary, Diagnostic, Hook, Operation, ProvisionHook, Range, Resource,
    Severity, StreamOutput,
};
use super::Body;
use crate::domain::text::{visible, visible_lines};
use crate::provision::outputs::OutputValue;

#[derive(Deserialize)]
pub(super) struct Envelope {
    #[serde(rename = "@level")]
    pub(super) level: Option<String>,
    #[serde(rename = "@message")]
    pub(super) message: Option<Value>,
    #[serde(rename = "@module")]
    pub(super) module: Option<String>,
    #[serde(rename = "@timestamp")]
    pub(super) timestamp: Option<String>,
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
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
fn from<T: serde::de::DeserializeOwned>(v: Option<Value>) -> Option<T> {
    serde_json::from_value(v?).ok()
}

pub(super) fn body(kind: &str, env: Envelope) -> Option<Body> {
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
