//! `platform-tui deploy REF [--metros LIST] [--no-drain] [--yes] [--json]` and
//! `platform-tui deploy history [--json]`: the plan (metros in order, which are drained),
//! a confirmation on a terminal unless `--yes`, then one line per metro step, and the
//! outcome per metro. A signal stops the rollout before its next step (a second one
//! interrupts the wait in progress, which reverts that metro). `--json`: one object per
//! event, ending with a `result` object (shapes in the README).
//!
//! Exit codes: 0 every metro runs and answers the new version, 1 the rollout failed
//! (after reverting) or was refused or cancelled, 2 bad usage or config.

use std::io::{IsTerminal, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::json;

use super::{failed, usage, Failure};
use crate::config::Config;
use crate::domain::deploy::{DeployEvent, HistoryEntry, MetroReport, Plan};
use crate::domain::journal::{Verdict, Via};
use crate::domain::text::visible;
use crate::ops::deploy::{self as ops, Run};
use crate::provision::Cancel;

/// What the command was asked.
pub struct Args {
    pub reference: String,
    pub metros: Option<String>,
    pub no_drain: bool,
    pub yes: bool,
    pub json: bool,
}

fn say(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

fn note(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The plan, as a confirmation shows it.
fn plan_lines(plan: &Plan) -> Vec<String> {
    let mut out = vec![format!(
        "deploy {} (job {}) to {} metro{}, one at a time:",
        plan.app.full,
        plan.job,
        plan.steps.len(),
        if plan.steps.len() == 1 { "" } else { "s" }
    )];
    for (i, s) in plan.steps.iter().enumerate() {
        out.push(format!("  {}. {:<8} {}", i + 1, s.metro, s.drain.words()));
    }
    for w in &plan.warnings {
        out.push(format!("  warning: {w}"));
    }
    out
}

pub async fn run(cfg: &Config, args: Args) -> Result<(), Failure> {
    let metros: Option<Vec<String>> = args.metros.as_ref().map(|l| {
        l.split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect()
    });
    if metros.as_ref().is_some_and(Vec::is_empty) {
        return Err(usage(
            "--metros: list at least one metro, e.g. --metros am,da",
        ));
    }
    let prepared = ops::prepare(cfg, &args.reference, metros.as_deref()).map_err(usage)?;
    if cfg.console.read_only {
        return Err(failed("refused: read-only mode; nothing deployed"));
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(usage("deploy needs --yes when not run from a terminal"));
        }
        let plan = ops::preview(cfg, &prepared, args.no_drain).await;
        for l in plan_lines(&plan) {
            note(&l);
        }
        eprint!("Deploy? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err(failed("declined: nothing deployed"));
        }
    }
    let started = Instant::now();
    let json = args.json;
    let cancel = Cancel::new();
    let printer = Arc::new(Mutex::new(Printer::new(json)));
    let signals = {
        let (cancel, printer) = (cancel.clone(), printer.clone());
        tokio::spawn(async move {
            let Ok(mut stop) = crate::signals::Stop::new(true) else {
                return;
            };
            loop {
                let why = stop.recv().await;
                let n = cancel.cancel();
                let line = match n {
                    1 => format!(
                        "{why}: stopping before the next step; every metro is left advertising and consistent (again: revert the metro in progress now)"
                    ),
                    _ => format!("{why}: interrupting the step in progress"),
                };
                if let Ok(mut p) = printer.lock() {
                    p.note(&line);
                }
            }
        })
    };
    let mut on_event = {
        let printer = printer.clone();
        move |e: DeployEvent| {
            if let Ok(mut p) = printer.lock() {
                p.event(&e);
            }
        }
    };
    let mut progress = {
        let printer = printer.clone();
        move |l: &str| {
            if let Ok(mut p) = printer.lock() {
                p.note(l);
            }
        }
    };
    let mut run = Run {
        via: Via::Cli,
        cancel,
        on_event: &mut on_event,
        progress: &mut progress,
    };
    let done = ops::deploy(cfg, &prepared, args.no_drain, &mut run).await;
    signals.abort();
    let took = started.elapsed().as_secs_f64();
    if json {
        say(&json!({
            "type": "result",
            "ok": done.verdict == Verdict::Ok,
            "result": done.verdict.word(),
            "message": done.message,
            "ref": done.app.full,
            "version": done.app.version(),
            "digest": done.app.digest,
            "metros": done.metros,
            "duration_s": (took * 1000.0).round() / 1000.0,
        })
        .to_string());
    } else {
        for m in &done.metros {
            say(&report_line(m));
        }
        if done.verdict == Verdict::Ok {
            say(&format!("{} ({took:.1}s)", done.message));
        }
    }
    match done.verdict {
        Verdict::Ok => Ok(()),
        _ if json => Err(Failure {
            code: 1,
            message: String::new(),
        }),
        _ => Err(failed(done.message)),
    }
}

/// "am   done      v2 answers; restored  (drain 0.8s, rollout 0.6s, verify 0.1s, restore 0.0s)".
fn report_line(m: &MetroReport) -> String {
    let t = &m.timings;
    let mut parts = Vec::new();
    for (name, v) in [
        ("drain", t.drain_ms),
        ("rollout", t.rollout_ms),
        ("verify", t.verify_ms),
        ("restore", t.restore_ms),
        ("revert", t.revert_ms),
    ] {
        if let Some(ms) = v {
            parts.push(format!("{name} {:.1}s", ms / 1000.0));
        }
    }
    let times = if parts.is_empty() {
        String::new()
    } else {
        format!("  ({})", parts.join(", "))
    };
    format!(
        "{:<8} {:<10} {}{times}",
        m.metro,
        m.phase.word(),
        visible(&m.detail)
    )
}

/// Prints what a deployment says: lines, or one JSON object each.
struct Printer {
    json: bool,
}

impl Printer {
    fn new(json: bool) -> Printer {
        Printer { json }
    }

    fn note(&mut self, line: &str) {
        if self.json {
            say(&json!({"type": "progress", "message": line}).to_string());
        } else {
            note(line);
        }
    }

    fn event(&mut self, e: &DeployEvent) {
        if self.json {
            if let Ok(v) = serde_json::to_value(e) {
                say(&v.to_string());
            }
            return;
        }
        match e {
            DeployEvent::Plan { plan } => {
                for l in plan_lines(plan) {
                    say(&l);
                }
            }
            DeployEvent::Phase {
                metro,
                phase,
                detail,
            } => say(&format!(
                "{metro:<8} {:<11} {}",
                phase.word(),
                visible(detail)
            )),
            DeployEvent::Allocs { metro, counts } => say(&format!(
                "{metro:<8} {:<11} {} healthy of {} desired, {} placed{}",
                "allocs",
                counts.healthy,
                counts.desired,
                counts.placed,
                if counts.description.is_empty() {
                    String::new()
                } else {
                    format!(": {}", counts.description)
                }
            )),
            DeployEvent::Version { metro, version } => say(&format!(
                "{metro:<8} {:<11} answers {}",
                "version",
                visible(version)
            )),
            DeployEvent::Log { metro, message } => note(&format!(
                "{:<8} {}",
                metro.as_deref().unwrap_or(""),
                visible(message)
            )),
            // The summary lists every metro at the end.
            DeployEvent::Metro { .. } => {}
        }
    }
}

/// `deploy history [--json]`: the state directory's deployments, oldest first.
pub fn history(cfg: &Config, json: bool) -> Result<(), Failure> {
    let entries = ops::read_history(cfg).map_err(failed)?;
    if json {
        say(&serde_json::to_string(&entries).unwrap_or_else(|_| "[]".into()));
        return Ok(());
    }
    if entries.is_empty() {
        say("no deployments yet");
        return Ok(());
    }
    for e in &entries {
        say(&history_line(e));
    }
    Ok(())
}

fn history_line(e: &HistoryEntry) -> String {
    let when = e.time.get(..19).unwrap_or(&e.time).replace('T', " ");
    let metros: Vec<String> = e
        .metros
        .iter()
        .map(|m| format!("{} {}", m.metro, m.phase.word()))
        .collect();
    format!(
        "{when}  {:<11} {:>6.1}s  {}  [{}]  {} ({})",
        e.result.word(),
        e.duration_ms as f64 / 1000.0,
        visible(&e.reference),
        metros.join(", "),
        e.user,
        e.via.map(|v| v.word()).unwrap_or("-")
    )
}
