//! Deployment as an operation: one Spin app rolled out to every metro, one at a time,
//! as a destructive action — refused read-only, built and published first (no metro
//! changes yet), then under the state directory's lock for the whole rollout (no
//! withdraw interleaves with it), audited write-ahead (an intent for the whole and for
//! each metro before it changes, outcomes after), and a line in the deployment history.
//!
//! ```text
//! build? publish? (digest)          outside the lock: nothing changes on a metro
//! lock · fresh poll · close abandoned intents · plan (order, drains) · intent
//! per metro (deploy::machine):
//!   drain     withdraw::execute_locked (verified; never the last advertiser), drain_ms
//!   register  versions (the previous one) · POST /v1/jobs
//!   watch     the new version's deployment, blocking queries, counts as events
//!   verify    the metro's own address answers the new version
//!   restore   withdraw::execute_locked (verified)
//!   failure → revert (Nomad's auto-revert, else /v1/job/:id/revert), watch, verify,
//!             restore; the rollout stops, metros not reached are untouched
//! outcome · history · unlock
//! ```
//!
//! A first cancel stops before the next step (a metro whose app changed finishes, so
//! every metro is left advertising and consistent); a second one interrupts the wait in
//! progress, which reverts that metro. No UI: events go to the caller.
//!
//! Where to look: the entry point, the summary and the history are here; `prepare.rs`
//! checks the request, previews the plan and builds/publishes before the lock;
//! `rollout.rs` drives the state machine and journals each metro; `steps.rs` is each
//! step (drain, register, watch, verify, restore, revert).

mod prepare;
mod rollout;
mod steps;

use std::time::{Duration, Instant, SystemTime};

use super::interlock::{self, Holder};
use super::journal::{self, StateDir};
use super::withdraw::{close_abandoned_seen, new_id, observed};
use super::{Interrupt, Poller};
use crate::config::Config;
use crate::deploy::machine::Machine;
use crate::domain::deploy::{AppRef, DeployEvent, HistoryEntry, MetroPhase, MetroReport, Plan};
use crate::domain::journal::{AuditAction, AuditRecord, Phase, Verdict, Via};
use crate::provision::Cancel;

use prepare::{build_and_publish, plan_on};
pub use prepare::{prepare, preview, Prepared};
use rollout::Rollout;

/// Timeout of each routing poll inside a deployment.
const POLL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long Nomad may take to show a registered version's deployment.
const FIND_LIMIT: Duration = Duration::from_secs(30);
/// Added to the update block's deadlines before the console stops waiting itself.
const WATCH_MARGIN: Duration = Duration::from_secs(30);

/// Who runs a deployment, how it is cancelled, and where its events go.
pub struct Run<'a> {
    pub via: Via,
    /// First request: stop before the next step; second: interrupt the wait in progress.
    pub cancel: Cancel,
    pub on_event: &'a mut (dyn FnMut(DeployEvent) + Send),
    /// This program's own notes ("waiting for another action ...").
    pub progress: &'a mut (dyn FnMut(&str) + Send),
}

/// How a deployment ended.
#[derive(Debug, Clone)]
pub struct Deployed {
    pub verdict: Verdict,
    /// "v2 runs on da, am" or why not.
    pub message: String,
    /// The app as rolled out (pinned to the published digest).
    pub app: AppRef,
    pub plan: Option<Plan>,
    pub metros: Vec<MetroReport>,
    pub took: Duration,
}

/// Runs a deployment (see the module's diagram). Never panics; failures are in the
/// returned [`Deployed`], and in the history.
pub async fn deploy(
    cfg: &Config,
    prepared: &Prepared,
    no_drain: bool,
    run: &mut Run<'_>,
) -> Deployed {
    let started = (SystemTime::now(), Instant::now());
    let mut done = Deployed {
        verdict: Verdict::Refused,
        message: String::new(),
        app: prepared.app.clone(),
        plan: None,
        metros: Vec::new(),
        took: Duration::ZERO,
    };
    let finish = |mut d: Deployed, run: &mut Run<'_>| -> Deployed {
        d.took = started.1.elapsed();
        history(cfg, &d, started.0, run.via);
        d
    };
    if cfg.console.read_only {
        done.message = "refused: read-only mode; nothing deployed".into();
        return finish(done, run);
    }
    let state = StateDir::of(cfg);
    if let Err(e) = state.prepare() {
        done.message = format!("refused: {e}; nothing deployed");
        return finish(done, run);
    }
    match build_and_publish(cfg, prepared, run).await {
        Ok(app) => done.app = app,
        Err((verdict, why)) => {
            done.verdict = verdict;
            done.message = why;
            return finish(done, run);
        }
    }
    let me = Holder {
        pid: std::process::id(),
        user: journal::user(),
        via: run.via.word().to_string(),
        what: format!("deploy {}", done.app.full),
        since: journal::timestamp(SystemTime::now()),
    };
    let mut never = Interrupt::never();
    let guard = tokio::select! {
        g = interlock::acquire(&state, &me, cfg.console.lock_wait, &mut never, run.progress) => g,
        _ = run.cancel.requested_wait() => Err("cancelled while waiting for the lock".into()),
    };
    let guard = match guard {
        Ok(g) => g,
        Err(e) => {
            done.message = format!("refused: {e}; nothing deployed");
            return finish(done, run);
        }
    };
    let mut poller = Poller::new(cfg, POLL_TIMEOUT);
    let snap = poller.snapshot().await;
    let tail = match state.tail() {
        Ok(t) => t,
        Err(e) => {
            done.message = format!("refused: {e}; nothing deployed");
            return finish(done, run);
        }
    };
    let mut desired = state.desired_in(&tail).unwrap_or_default();
    close_abandoned_seen(
        &state,
        &tail,
        &mut desired,
        &|m| Some(observed(&snap, m)),
        run.progress,
    );
    let plan = plan_on(cfg, prepared, &done.app, no_drain, &snap);
    (run.on_event)(DeployEvent::Plan { plan: plan.clone() });
    done.plan = Some(plan.clone());

    let whole = AuditRecord {
        time: journal::timestamp(SystemTime::now()),
        id: new_id(),
        phase: Phase::Intent,
        user: me.user.clone(),
        ssh: journal::ssh_origin(),
        pid: me.pid,
        via: Some(run.via),
        metro: plan
            .steps
            .iter()
            .map(|s| s.metro.as_str())
            .collect::<Vec<_>>()
            .join(","),
        action: AuditAction::Deploy,
        method: "nomad".into(),
        force: false,
        result: None,
        detail: Some(format!("{} ({})", done.app.full, plan.order_words())),
        convergence_ms: None,
        best_after: None,
        lock_wait_ms: Some((guard.waited.as_secs_f64() * 1e6).round() / 1e3),
        desired: None,
    };
    if let Err(e) = state.append(&whole) {
        done.message = format!(
            "refused: the audit log cannot be written, and nothing is deployed unaudited ({e})"
        );
        return finish(done, run);
    }

    let mut rollout = Rollout {
        cfg,
        prepared,
        app: done.app.clone(),
        state: &state,
        waited: guard.waited,
        whole_id: whole.id.clone(),
        metro_id: None,
        user: me.user.clone(),
        run,
        metros: Default::default(),
    };
    let machine = rollout.drive(Machine::new(&plan)).await;
    done.metros = plan
        .steps
        .iter()
        .map(|s| rollout.report(&machine, &s.metro))
        .collect();
    let cancelled = machine.cancels() > 0;
    let run = rollout.run;
    done.verdict = if machine.all_done() {
        Verdict::Ok
    } else if cancelled
        && done
            .metros
            .iter()
            .all(|m| matches!(m.phase, MetroPhase::Done | MetroPhase::Untouched))
    {
        Verdict::Interrupted
    } else {
        Verdict::Failed
    };
    done.message = summary(&done);
    let mut outcome = whole;
    outcome.time = journal::timestamp(SystemTime::now());
    outcome.phase = Phase::Outcome;
    outcome.result = Some(done.verdict.word().into());
    outcome.detail = Some(done.message.clone());
    outcome.desired = None;
    if let Err(e) = state.append(&outcome) {
        done.message
            .push_str(&format!(" (and the outcome could not be audited: {e})"));
        if done.verdict == Verdict::Ok {
            done.verdict = Verdict::Failed;
        }
    }
    drop(guard);
    finish(done, run)
}

/// "v2 runs on da, am", or which metro failed, how, and where each one stands.
fn summary(d: &Deployed) -> String {
    let version = d.app.version();
    match d.verdict {
        Verdict::Ok => format!(
            "{version} runs on {} and answers there",
            d.metros
                .iter()
                .map(|m| m.metro.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => {
            let parts: Vec<String> = d
                .metros
                .iter()
                .map(|m| match m.phase {
                    MetroPhase::Done => format!("{}: {version}", m.metro),
                    MetroPhase::Untouched => format!("{}: untouched", m.metro),
                    _ => format!("{}: {} ({})", m.metro, m.phase.word(), m.detail),
                })
                .collect();
            let head = if d.verdict == Verdict::Interrupted {
                "deployment cancelled"
            } else {
                "deployment failed"
            };
            format!("{head}: {}", parts.join("; "))
        }
    }
}

fn history(cfg: &Config, d: &Deployed, at: SystemTime, via: Via) {
    let state = StateDir::of(cfg);
    if state.prepare().is_err() {
        return;
    }
    let _ = state.append_deploy_history(&HistoryEntry {
        time: journal::timestamp(at),
        reference: d.app.full.clone(),
        digest: d.app.digest.clone(),
        result: d.verdict,
        duration_ms: u64::try_from(d.took.as_millis()).unwrap_or(u64::MAX),
        user: journal::user(),
        via: Some(via),
        metros: d.metros.clone(),
        summary: d.message.clone(),
    });
}

/// The deployment history (oldest first).
pub fn read_history(cfg: &Config) -> Result<Vec<HistoryEntry>, String> {
    StateDir::of(cfg).deploy_history()
}
