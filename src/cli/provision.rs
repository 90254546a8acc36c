//! `platform-tui provision plan|apply|destroy|output`: terraform/tofu on the config's
//! installer. Progress lines as resources change, the change summary, a confirmation
//! (`yes`; `destroy` for a destroy) unless `--yes`, the outputs with sensitive values
//! masked, and the metros the run added or removed written into the config. A signal
//! interrupts terraform gracefully (a second one cancels it). `--json`: one object per
//! event, ending with a `result` object (shapes in the README).
//!
//! Exit codes: 0 done, 1 terraform failed or the operator declined, 2 bad usage/config.

use std::io::{IsTerminal, Write as _};
use std::time::Instant;

use serde_json::{json, Value};

use super::{failed, usage, Failure};
use crate::config::Config;
use crate::domain::journal::{Verdict, Via};
use crate::domain::provision::ProvisionOp;
use crate::ops::provision::{self as ops, Run};
use crate::provision::stream::{Body, Severity};
use crate::provision::{Cancel, Event, MetroDiff, OutputValue, Outputs, Tracker};

/// What the command was asked.
pub struct Args {
    pub op: ProvisionOp,
    pub vars: Vec<String>,
    pub yes: bool,
    pub json: bool,
}

/// Prints what a run says: progress lines, or JSON objects.
struct Out {
    json: bool,
    tracker: Tracker,
}

impl Out {
    fn event(&mut self, e: &Event) {
        let line = self.tracker.take(e);
        if self.json {
            if let Some(v) = event_json(e) {
                emit(&v);
            }
        } else if let Some(l) = line {
            say(&l);
        }
    }

    fn note(&self, line: &str) {
        if self.json {
            emit(&json!({"type": "progress", "message": line}));
        } else {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }
}

fn say(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

fn emit(v: &Value) {
    let _ = writeln!(std::io::stdout(), "{v}");
}

pub async fn run(cfg: &Config, args: Args) -> Result<(), Failure> {
    let mut extra = Vec::new();
    for v in &args.vars {
        extra.push(ops::parse_var(v).map_err(usage)?);
    }
    let settings = ops::settings(cfg, &extra).map_err(usage)?;
    crate::provision::find_binary(settings.binary.as_deref()).map_err(usage)?;
    if args.op.destructive() && cfg.console.read_only {
        return Err(failed(format!(
            "refused: read-only mode; {} not performed",
            args.op.word()
        )));
    }
    if args.op.destructive() && !args.yes && !std::io::stdin().is_terminal() {
        return Err(usage(format!(
            "provision {} needs --yes when not run from a terminal",
            args.op.word()
        )));
    }
    let started = Instant::now();
    let out = std::sync::Arc::new(std::sync::Mutex::new(Out {
        json: args.json,
        tracker: Tracker::default(),
    }));
    let cancel = Cancel::new();
    let signals = spawn_signals(cancel.clone(), out.clone());
    let result = go(cfg, &args, &settings, &cancel, &out).await;
    signals.abort();
    let took = started.elapsed().as_secs_f64();
    let out = out.lock().map(|o| o.json).unwrap_or(args.json);
    match &result {
        Ok(message) | Err((_, message)) if out => emit(&json!({
            "type": "result",
            "operation": args.op.word(),
            "ok": result.is_ok(),
            "result": match &result { Ok(_) => "ok", Err((v, _)) => v.word() },
            "message": message,
            "duration_s": (took * 1000.0).round() / 1000.0,
        })),
        Ok(message) => say(message),
        Err(_) => {}
    }
    result.map(|_| ()).map_err(|(_, m)| {
        if out {
            // Said in the result object; the exit code carries the rest.
            Failure {
                code: 1,
                message: String::new(),
            }
        } else {
            failed(m)
        }
    })
}

type Shared = std::sync::Arc<std::sync::Mutex<Out>>;

fn with<R>(out: &Shared, f: impl FnOnce(&mut Out) -> R) -> Option<R> {
    out.lock().ok().map(|mut o| f(&mut o))
}

/// The first signal interrupts terraform gracefully, the second cancels it.
fn spawn_signals(cancel: Cancel, out: Shared) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Ok(mut stop) = crate::signals::Stop::new(true) else {
            return;
        };
        loop {
            let why = stop.recv().await;
            let n = cancel.cancel();
            with(&out, |o| {
                o.note(&match n {
                    1 => format!(
                        "{why}: stopping terraform gracefully (a second interrupt cancels it)"
                    ),
                    _ => format!("{why}: cancelling terraform"),
                })
            });
        }
    })
}

async fn go(
    cfg: &Config,
    args: &Args,
    settings: &crate::provision::Settings,
    cancel: &Cancel,
    out: &Shared,
) -> Result<String, (Verdict, String)> {
    let mut on_event = {
        let out = out.clone();
        move |e: Event| {
            with(&out, |o| o.event(&e));
        }
    };
    let mut progress = {
        let out = out.clone();
        move |l: &str| {
            with(&out, |o| o.note(l));
        }
    };
    let mut run = Run {
        via: Via::Cli,
        cancel: cancel.clone(),
        on_event: &mut on_event,
        progress: &mut progress,
    };
    if args.op == ProvisionOp::Output {
        let outputs = ops::outputs(cfg, settings, &mut run)
            .await
            .map_err(|e| (Verdict::Failed, e))?;
        show_outputs(out, &outputs);
        return Ok(format!("{} outputs", outputs.0.len()));
    }

    let destroy = args.op == ProvisionOp::Destroy;
    let plan = ops::plan(cfg, settings, destroy, &mut run)
        .await
        .map_err(|e| (Verdict::Failed, e))?;
    if !plan.finish.succeeded() {
        return Err((
            match plan.finish {
                crate::provision::Finish::Cancelled { .. } => Verdict::Interrupted,
                _ => Verdict::Failed,
            },
            // The diagnostics were printed as they came: the first one's summary here.
            format!("plan failed: {}", ops::plan_words(&plan)),
        ));
    }
    let words = ops::plan_words(&plan);
    if args.op == ProvisionOp::Plan {
        return Ok(format!("plan: {words}"));
    }
    let Some(file) = plan.plan.filter(|_| plan.has_changes) else {
        // Nothing to apply; the config may still lack what the installer has.
        return sync_config(cfg, settings, args, out, &mut run).await;
    };
    if !args.yes {
        let word = if destroy { "destroy" } else { "yes" };
        let question = format!(
            "{} {words}? Type `{word}` to go on: ",
            if destroy { "Destroy:" } else { "Apply:" }
        );
        if !confirm(&question, word, cancel).await {
            return Err((Verdict::Refused, "declined: nothing was applied".into()));
        }
    }
    let applied = ops::apply(cfg, settings, file, args.yes, &mut run).await;
    if let Some(Ok(o)) = &applied.outputs {
        show_outputs(out, o);
    }
    match &applied.diff {
        Some(Ok(d)) if !d.is_empty() => {
            let written = match &applied.config_written {
                Some(r) => r.clone(),
                None => offer_write(cfg, d, out, cancel).await,
            };
            show_diff(out, cfg, d, &written);
        }
        Some(Err(e)) => with(out, |o| {
            o.note(&format!(
                "the metros could not be read from the outputs: {e}"
            ))
        })
        .unwrap_or_default(),
        _ => {}
    }
    match applied.verdict {
        Verdict::Ok => Ok(applied.message),
        v => {
            let mut m = applied.message;
            if let Some(o) = &applied.outcome {
                if !o.diagnostics.is_empty() && !args.json {
                    m = format!("{m}\n{}", errors_or(&o.diagnostics, ""));
                }
            }
            Err((v, m))
        }
    }
}

/// Nothing to apply: the installer's metros against the config's, written with `--yes`.
async fn sync_config(
    cfg: &Config,
    settings: &crate::provision::Settings,
    args: &Args,
    out: &Shared,
    run: &mut Run<'_>,
) -> Result<String, (Verdict, String)> {
    let outputs = crate::provision::outputs(settings, &run.cancel, &mut |_| {}).await;
    if let Ok(o) = outputs {
        if let Ok(d) = ops::metro_changes(cfg, settings, &o, None) {
            if !d.is_empty() {
                let written = if args.yes {
                    ops::write_metros_locked(cfg, &d, Via::Cli, run.progress).await
                } else {
                    offer_write(cfg, &d, out, &run.cancel).await
                };
                show_diff(out, cfg, &d, &written);
            }
        }
    }
    Ok("no changes: the installer matches its configuration".into())
}

/// Asks whether to write the metro diff into the config (a terminal only).
async fn offer_write(
    cfg: &Config,
    d: &MetroDiff,
    out: &Shared,
    cancel: &Cancel,
) -> Result<(), String> {
    if !std::io::stdin().is_terminal() {
        return Err("not written (pass --yes to write it)".into());
    }
    with(out, |o| {
        for l in d.lines() {
            o.note(&format!("  {l}"));
        }
    });
    if confirm("Write these metros into the config? [y/N] ", "y", cancel).await {
        let mut progress = |l: &str| {
            let _ = writeln!(std::io::stderr(), "{l}");
        };
        ops::write_metros_locked(cfg, d, Via::Cli, &mut progress).await
    } else {
        Err("not written (declined)".into())
    }
}

/// Reads one answer from the terminal; a signal is a no.
async fn confirm(question: &str, word: &str, cancel: &Cancel) -> bool {
    let _ = write!(std::io::stderr(), "{question}");
    let _ = std::io::stderr().flush();
    let read = tokio::task::spawn_blocking(|| {
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        answer
    });
    tokio::select! {
        a = read => a.is_ok_and(|a| {
            let a = a.trim();
            a == word || (word == "y" && matches!(a, "Y" | "yes"))
        }),
        _ = cancel.requested_wait() => false,
    }
}

fn show_outputs(out: &Shared, o: &Outputs) {
    with(out, |out| {
        if out.json {
            let map: serde_json::Map<String, Value> =
                o.0.iter()
                    .map(|(k, v)| {
                        let value = match &v.value {
                            OutputValue::Value(v) => v.clone(),
                            OutputValue::Sensitive(_) | OutputValue::Absent => {
                                Value::String(v.value.to_string())
                            }
                        };
                        (
                            k.clone(),
                            json!({"sensitive": v.value.is_sensitive(), "value": value}),
                        )
                    })
                    .collect();
            emit(&json!({"type": "outputs", "outputs": map}));
        } else {
            say("Outputs:");
            for l in o.lines() {
                say(&format!("  {l}"));
            }
        }
    });
}

fn show_diff(out: &Shared, cfg: &Config, d: &MetroDiff, written: &Result<(), String>) {
    let path = cfg
        .source
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    with(out, |o| {
        if o.json {
            emit(&json!({
                "type": "metros",
                "changes": d.lines(),
                "config": path,
                "written": written.is_ok(),
                "error": written.as_ref().err(),
            }));
        } else {
            say(&format!("Metros against {path}:"));
            for l in d.lines() {
                say(&format!("  {l}"));
            }
            match written {
                Ok(()) => say("  written to the config (a running console picks it up)"),
                Err(e) => say(&format!("  {e}")),
            }
        }
    });
}

fn errors_or(ds: &[crate::provision::Diagnostic], none: &str) -> String {
    let errs: Vec<String> = ds
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.to_string())
        .collect();
    if errs.is_empty() {
        none.to_string()
    } else {
        errs.join("\n")
    }
}

/// The stable JSON shape of one event (README: "provision --json").
fn event_json(e: &Event) -> Option<Value> {
    let m = match e {
        Event::Raw(t) => return Some(json!({"type": "log", "level": "info", "message": t})),
        Event::Stderr(t) => return Some(json!({"type": "stderr", "message": t})),
        Event::Message(m) => m,
    };
    let res = |r: &crate::provision::stream::Resource| r.addr.clone();
    let secs = |d: Option<std::time::Duration>| d.map(|d| d.as_secs_f64());
    Some(match &m.body {
        Body::Version { version, .. } => {
            json!({"type": "version", "message": m.text, "version": version})
        }
        Body::Log | Body::InitOutput { .. } => json!({
            "type": "log",
            "level": format!("{:?}", m.level).to_lowercase(),
            "message": m.text,
        }),
        Body::Diagnostic(d) => json!({
            "type": "diagnostic",
            "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
            "summary": d.summary,
            "detail": d.detail,
            "address": d.address,
            "file": d.range.as_ref().map(|r| r.filename.clone()),
            "line": d.range.as_ref().map(|r| r.line),
            "column": d.range.as_ref().map(|r| r.column),
        }),
        Body::PlannedChange(c) | Body::ResourceDrift(c) => json!({
            "type": if matches!(m.body, Body::PlannedChange(_)) { "planned_change" } else { "drift" },
            "address": res(&c.resource),
            "action": c.action.word(),
            "reason": c.reason,
        }),
        Body::ChangeSummary(s) => json!({
            "type": "summary",
            "operation": format!("{:?}", s.operation).to_lowercase(),
            "add": s.add,
            "change": s.change,
            "remove": s.remove,
            "message": m.text,
        }),
        Body::ApplyStart(h)
        | Body::ApplyProgress(h)
        | Body::ApplyComplete(h)
        | Body::ApplyErrored(h) => json!({
            "type": "resource",
            "address": res(&h.resource),
            "action": h.action.as_ref().map(|a| a.word().to_string()),
            "state": match m.body {
                Body::ApplyStart(_) => "started",
                Body::ApplyProgress(_) => "progress",
                Body::ApplyComplete(_) => "complete",
                _ => "errored",
            },
            "elapsed_s": secs(h.elapsed),
        }),
        Body::ProvisionStart(p)
        | Body::ProvisionProgress(p)
        | Body::ProvisionComplete(p)
        | Body::ProvisionErrored(p) => json!({
            "type": "provisioner",
            "address": res(&p.resource),
            "provisioner": p.provisioner,
            "state": match m.body {
                Body::ProvisionStart(_) => "started",
                Body::ProvisionProgress(_) => "progress",
                Body::ProvisionComplete(_) => "complete",
                _ => "errored",
            },
            "line": p.output,
        }),
        Body::RefreshStart(h) | Body::RefreshComplete(h) => json!({
            "type": "refresh",
            "address": res(&h.resource),
            "state": if matches!(m.body, Body::RefreshStart(_)) { "started" } else { "complete" },
        }),
        Body::StateLockAcquire | Body::StateLockRelease => json!({
            "type": "state_lock",
            "held": matches!(m.body, Body::StateLockAcquire),
            "message": m.text,
        }),
        // The stream's outputs: the result's own `outputs` object follows an apply.
        Body::Outputs(_) => return None,
        Body::Unknown { kind } => json!({"type": "message", "kind": kind, "message": m.text}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::parse_line;

    #[test]
    fn every_fixture_line_has_a_stable_shape() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/terraform");
        let mut kinds = std::collections::BTreeSet::new();
        for f in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
            for l in text.lines() {
                if let Some(v) = event_json(&parse_line(l)) {
                    let kind = v["type"].as_str().unwrap().to_string();
                    assert!(v.to_string().len() < 100_000);
                    kinds.insert(kind);
                }
            }
        }
        for k in [
            "version",
            "planned_change",
            "summary",
            "resource",
            "provisioner",
            "diagnostic",
        ] {
            assert!(kinds.contains(k), "no {k} in {kinds:?}");
        }
    }
}
