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

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use super::interlock::{self, Holder};
use super::journal::{self, StateDir};
use super::withdraw::{close_abandoned_seen, execute_locked, new_id, observed, Caller};
use super::{Interrupt, Poller};
use crate::config::Config;
use crate::deploy::machine::{Machine, Outcome as StepOutcome, Step};
use crate::deploy::{job, verify, watch};
use crate::domain::deploy::{
    AllocCounts, AppRef, DeployEvent, HistoryEntry, MetroPhase, MetroReport, Plan, Timings,
};
use crate::domain::journal::{AuditAction, AuditRecord, Phase, Verdict, Via};
use crate::domain::text::visible;
use crate::domain::{ActionKind, Request};
use crate::nomad::Client;
use crate::provision::Cancel;

/// Timeout of each routing poll inside a deployment.
const POLL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long Nomad may take to show a registered version's deployment.
const FIND_LIMIT: Duration = Duration::from_secs(30);
/// Added to the update block's deadlines before the console stops waiting itself.
const WATCH_MARGIN: Duration = Duration::from_secs(30);

/// What was asked, checked before anything is confirmed: the ref, the job, the metros.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub app: AppRef,
    pub job: String,
    /// In config order; the plan orders them.
    pub metros: Vec<String>,
    /// The job template's text, when the config names one.
    pub template: Option<String>,
}

/// Checks a deployment of `reference` to `metros` (default: every metro with a
/// `[metro.nomad]`) can be asked: a bad ref, an unknown metro, a metro without Nomad or
/// an unreadable template is a usage error.
pub fn prepare(
    cfg: &Config,
    reference: &str,
    metros: Option<&[String]>,
) -> Result<Prepared, String> {
    let app = AppRef::parse(reference)?;
    let with_nomad: Vec<String> = cfg
        .metros
        .iter()
        .filter(|m| m.nomad.is_some())
        .map(|m| m.name.clone())
        .collect();
    let chosen = match metros {
        Some(list) => {
            let mut out = Vec::new();
            for m in list {
                if cfg.metro(m).is_none() {
                    return Err(crate::config::no_metro(cfg, m));
                }
                if !with_nomad.contains(m) {
                    return Err(format!(
                        "metro `{m}` has no [metro.nomad] table: the console cannot deploy there"
                    ));
                }
                if !out.contains(m) {
                    out.push(m.clone());
                }
            }
            out
        }
        None => with_nomad,
    };
    let chosen: Vec<String> = match &cfg.deploy.order {
        Some(order) => order
            .iter()
            .filter(|m| chosen.contains(m))
            .cloned()
            .collect(),
        None => chosen,
    };
    if chosen.is_empty() {
        return Err(match &cfg.deploy.order {
            Some(_) => "no metro to deploy to: none of them is in [deploy] order".to_string(),
            None => "no metro to deploy to: no metro has a [metro.nomad] table".to_string(),
        });
    }
    let template = match &cfg.deploy.job_template {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| format!("[deploy] job_template {}: {e}", p.display()))?,
        ),
        None => None,
    };
    let job = cfg
        .deploy
        .job
        .clone()
        .unwrap_or_else(|| app.name().to_string());
    Ok(Prepared {
        app,
        job,
        metros: chosen,
        template,
    })
}

/// The plan on the routers as they are now (what a confirmation shows; the rollout
/// decides again under the lock).
pub async fn preview(cfg: &Config, prepared: &Prepared, no_drain: bool) -> Plan {
    let mut poller = Poller::new(cfg, POLL_TIMEOUT);
    let snap = poller.snapshot().await;
    plan_on(cfg, prepared, &prepared.app, no_drain, &snap)
}

fn plan_on(
    cfg: &Config,
    prepared: &Prepared,
    app: &AppRef,
    no_drain: bool,
    snap: &crate::domain::Snapshot,
) -> Plan {
    let order = crate::deploy::order(
        &prepared.metros,
        cfg.deploy.order.as_deref(),
        snap.observer.as_ref(),
    );
    let mut plan = crate::deploy::plan(app, &prepared.job, &order, &snap.advertising(), no_drain);
    if cfg.deploy.order.is_none() && !matches!(snap.observer, Some(Ok(_))) {
        plan.warnings
            .push("no observer's answer: metros in the config's order".into());
    }
    plan
}

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

/// Build and publish, before the lock: they change no metro. The app to roll out
/// (pinned to the digest a publish printed).
async fn build_and_publish(
    cfg: &Config,
    prepared: &Prepared,
    run: &mut Run<'_>,
) -> Result<AppRef, (Verdict, String)> {
    let d = &cfg.deploy;
    let dir = cfg.source.as_deref().and_then(Path::parent);
    let mut app = prepared.app.clone();
    for (what, line) in [("build", d.build.clone()), ("publish", d.publish.clone())] {
        let Some(line) = line else { continue };
        let line = line.replace("{ref}", &prepared.app.full);
        (run.on_event)(DeployEvent::Log {
            metro: None,
            message: format!("{what}: {}", visible(&line)),
        });
        let (tx, mut interrupt) = Interrupt::pair();
        let cancel = run.cancel.clone();
        let forward = tokio::spawn(async move {
            cancel.requested_wait().await;
            let _ = tx.send(Some("cancelled".into()));
        });
        let ran =
            super::command::run_in(&line, dir, d.command_timeout, &d.pass_env, &mut interrupt)
                .await;
        forward.abort();
        match ran {
            Ok(out) => {
                for l in out.lines().filter(|l| !l.trim().is_empty()) {
                    (run.on_event)(DeployEvent::Log {
                        metro: None,
                        message: format!("{what}: {l}"),
                    });
                }
                if what == "publish" {
                    match crate::deploy::pushed_digest(&out) {
                        Some(digest) => app = prepared.app.with_digest(&digest),
                        None => (run.on_event)(DeployEvent::Log {
                            metro: None,
                            message: format!(
                                "publish printed no digest: every metro gets {}",
                                prepared.app.full
                            ),
                        }),
                    }
                }
            }
            Err(super::command::CommandError::Interrupted(why)) => {
                return Err((Verdict::Interrupted, format!("{what} interrupted: {why}")))
            }
            Err(super::command::CommandError::Failed(why)) => {
                return Err((Verdict::Failed, format!("{what} failed: {why}")))
            }
        }
    }
    Ok(app)
}

/// What a metro's rollout learned on the way, for its report.
#[derive(Debug, Clone, Default)]
struct MetroFacts {
    started: Option<Instant>,
    /// When it was finished with: its total stops there.
    ended: Option<Instant>,
    timings: Timings,
    previous: Option<(u64, Option<String>)>,
    version: Option<u64>,
    revert_version: Option<u64>,
    deployment: Option<String>,
    seen: Option<String>,
    advertising: Option<bool>,
    notes: Vec<String>,
    step_started: Option<Instant>,
}

struct Rollout<'c, 'r, 'a> {
    cfg: &'c Config,
    prepared: &'c Prepared,
    app: AppRef,
    state: &'c StateDir,
    waited: Duration,
    whole_id: String,
    /// The running metro's intent.
    metro_id: Option<String>,
    user: String,
    run: &'r mut Run<'a>,
    metros: std::collections::BTreeMap<String, MetroFacts>,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

impl Rollout<'_, '_, '_> {
    fn event(&mut self, e: DeployEvent) {
        (self.run.on_event)(e);
    }

    fn log(&mut self, metro: &str, message: String) {
        self.event(DeployEvent::Log {
            metro: Some(metro.to_string()),
            message,
        });
    }

    fn phase(&mut self, metro: &str, phase: MetroPhase, detail: String) {
        self.event(DeployEvent::Phase {
            metro: metro.to_string(),
            phase,
            detail,
        });
    }

    fn facts(&mut self, metro: &str) -> &mut MetroFacts {
        self.metros.entry(metro.to_string()).or_default()
    }

    async fn drive(&mut self, mut machine: Machine) -> Machine {
        let mut current: Option<String> = None;
        loop {
            // A cancel takes effect between steps.
            while self.run.cancel.requested() > machine.cancels() {
                machine.cancel();
            }
            let Some((metro, step)) = machine.current().map(|(m, s)| (m.to_string(), s)) else {
                break;
            };
            if current.as_deref() != Some(metro.as_str()) {
                if let Some(prev) = current.take() {
                    self.end_metro(&machine, &prev);
                }
                self.begin_metro(&metro);
                current = Some(metro.clone());
            }
            let detail = self.step_words(&metro, step);
            self.phase(&metro, step.phase(), detail);
            self.facts(&metro).step_started = Some(Instant::now());
            let outcome = self.step(&metro, step).await;
            if let StepOutcome::Failed(why) | StepOutcome::NotDrained(why) = &outcome {
                self.log(&metro, format!("{}: {why}", step.phase().word()));
            }
            machine.record(outcome);
        }
        if let Some(prev) = current {
            self.end_metro(&machine, &prev);
        }
        // Metros never reached.
        for (m, phase) in machine.phases() {
            if phase == MetroPhase::Untouched && !self.metros.contains_key(&m) {
                let report = self.report(&machine, &m);
                self.event(DeployEvent::Metro { report });
            }
        }
        machine
    }

    fn step_words(&self, metro: &str, step: Step) -> String {
        let version = self.app.version();
        match step {
            Step::Drain => format!("withdrawing {metro} from anycast"),
            Step::Register => format!("registering {} ({version})", self.prepared.job),
            Step::Watch => "waiting for Nomad's deployment".into(),
            Step::Verify => format!("asking {metro} for {version}"),
            Step::Restore => format!("restoring {metro}'s advertisement"),
            Step::Revert => "going back to the previous version".into(),
            Step::WatchRevert => "waiting for the revert's deployment".into(),
            Step::VerifyRevert => format!("asking {metro} for the previous version"),
        }
    }

    fn begin_metro(&mut self, metro: &str) {
        self.facts(metro).started = Some(Instant::now());
        let id = new_id();
        let record = AuditRecord {
            time: journal::timestamp(SystemTime::now()),
            id: id.clone(),
            phase: Phase::Intent,
            user: self.user.clone(),
            ssh: journal::ssh_origin(),
            pid: std::process::id(),
            via: Some(self.run.via),
            metro: metro.to_string(),
            action: AuditAction::Deploy,
            method: "nomad".into(),
            force: false,
            result: None,
            detail: Some(self.app.full.clone()),
            convergence_ms: None,
            best_after: None,
            lock_wait_ms: None,
            desired: None,
        };
        if let Err(e) = self.state.append(&record) {
            self.log(metro, format!("its intent could not be audited: {e}"));
        }
        self.metro_id = Some(id);
    }

    fn end_metro(&mut self, machine: &Machine, metro: &str) {
        self.facts(metro).ended = Some(Instant::now());
        let report = self.report(machine, metro);
        if let Some(id) = self.metro_id.take() {
            let result = match report.phase {
                MetroPhase::Done => Verdict::Ok,
                MetroPhase::Untouched => Verdict::Interrupted,
                _ => Verdict::Failed,
            };
            let record = AuditRecord {
                time: journal::timestamp(SystemTime::now()),
                id,
                phase: Phase::Outcome,
                user: self.user.clone(),
                ssh: journal::ssh_origin(),
                pid: std::process::id(),
                via: Some(self.run.via),
                metro: metro.to_string(),
                action: AuditAction::Deploy,
                method: "nomad".into(),
                force: false,
                result: Some(result.word().into()),
                detail: Some(format!("{}: {}", report.phase.word(), report.detail)),
                convergence_ms: Some(report.timings.total_ms),
                best_after: None,
                lock_wait_ms: None,
                desired: None,
            };
            if let Err(e) = self.state.append(&record) {
                self.log(metro, format!("its outcome could not be audited: {e}"));
            }
        }
        self.phase(metro, report.phase, report.detail.clone());
        self.event(DeployEvent::Metro { report });
    }

    /// The report of `metro` as it stands.
    fn report(&mut self, machine: &Machine, metro: &str) -> MetroReport {
        let phase = machine.phase(metro).unwrap_or(MetroPhase::Untouched);
        let version = self.app.version().to_string();
        let left_withdrawn = machine.left_withdrawn(metro);
        let problems = machine.problems(metro);
        let f = self.facts(metro).clone();
        let mut detail = match phase {
            MetroPhase::Done => format!(
                "{version} answers{}",
                if machine.planned_drain(metro) {
                    "; restored"
                } else {
                    ""
                }
            ),
            MetroPhase::Reverted => {
                let back = f
                    .previous
                    .as_ref()
                    .and_then(|(_, r)| r.clone())
                    .map(|r| format!(" to {r}"))
                    .unwrap_or_default();
                format!("{problems}; reverted{back}, verified")
            }
            MetroPhase::Untouched if problems.is_empty() => "not reached".into(),
            _ => problems.clone(),
        };
        if left_withdrawn {
            detail.push_str("; LEFT WITHDRAWN from anycast: its app may not work");
        }
        for n in &f.notes {
            detail.push_str(&format!("; {n}"));
        }
        let mut timings = f.timings;
        timings.total_ms = f
            .started
            .map(|s| ms(f.ended.unwrap_or_else(Instant::now).duration_since(s)))
            .unwrap_or(0.0);
        MetroReport {
            metro: metro.to_string(),
            phase,
            drained: machine.planned_drain(metro),
            advertising: f.advertising,
            previous_version: f.previous.as_ref().map(|(v, _)| *v),
            job_version: f.revert_version.or(f.version),
            deployment_id: f.deployment,
            seen_version: f.seen,
            timings,
            detail,
        }
    }

    fn client(&self, metro: &str) -> Result<Client, String> {
        let m = self
            .cfg
            .metro(metro)
            .ok_or_else(|| crate::config::no_metro(self.cfg, metro))?;
        let settings = super::nomad_settings(m)
            .ok_or_else(|| format!("metro `{metro}` has no [metro.nomad] table"))?;
        Client::new(settings).map_err(|e| e.to_string())
    }

    async fn step(&mut self, metro: &str, step: Step) -> StepOutcome {
        let started = Instant::now();
        let outcome = match step {
            Step::Drain => self.drain(metro).await,
            Step::Register => self.register(metro).await,
            Step::Watch => self.watch(metro, false).await,
            Step::Verify => self.verify(metro, false).await,
            Step::Restore => self.restore(metro).await,
            Step::Revert => self.revert(metro).await,
            Step::WatchRevert => self.watch(metro, true).await,
            Step::VerifyRevert => self.verify(metro, true).await,
        };
        let took = ms(started.elapsed());
        let t = &mut self.facts(metro).timings;
        let add = |slot: &mut Option<f64>| *slot = Some(slot.unwrap_or(0.0) + took);
        match step {
            Step::Drain => add(&mut t.drain_ms),
            Step::Register | Step::Watch => add(&mut t.rollout_ms),
            Step::Verify => add(&mut t.verify_ms),
            Step::Restore => add(&mut t.restore_ms),
            Step::Revert | Step::WatchRevert | Step::VerifyRevert => add(&mut t.revert_ms),
        }
        outcome
    }

    /// A withdraw or restore through the one verified path, inside this rollout's lock.
    async fn act(&mut self, metro: &str, action: ActionKind) -> crate::domain::Outcome {
        let (tx, interrupt) = Interrupt::pair();
        let cancel = self.run.cancel.clone();
        let forward = tokio::spawn(async move {
            cancel.reached(2).await;
            let _ = tx.send(Some("a second cancel".into()));
        });
        let req = Request {
            metro: metro.to_string(),
            action,
            force: false,
        };
        let mut lines = Vec::new();
        let mut progress = |l: &str| lines.push(l.to_string());
        let mut caller = Caller {
            via: self.run.via,
            interrupt,
            progress: &mut progress,
        };
        let in_flight: Vec<&str> = std::iter::once(self.whole_id.as_str())
            .chain(self.metro_id.as_deref())
            .collect();
        let outcome = execute_locked(
            self.cfg,
            &req,
            &mut caller,
            self.state,
            self.waited,
            &in_flight,
        )
        .await;
        forward.abort();
        for l in lines {
            self.log(metro, l);
        }
        self.log(metro, outcome.message.clone());
        outcome
    }

    async fn drain(&mut self, metro: &str) -> StepOutcome {
        // The last advertising metro is never withdrawn (decided on a fresh poll).
        let mut poller = Poller::new(self.cfg, POLL_TIMEOUT);
        let snap = poller.snapshot().await;
        let advertising = snap.advertising();
        if crate::domain::is_last_advertising(&advertising, metro) {
            return StepOutcome::NotDrained(format!(
                "{metro} is the last metro advertising {}: not drained",
                self.cfg.anycast.prefix
            ));
        }
        let outcome = self.act(metro, ActionKind::Withdraw).await;
        if !outcome.ok() {
            return StepOutcome::Failed(outcome.message);
        }
        self.facts(metro).advertising = Some(false);
        let drain = self.cfg.deploy.drain;
        if !drain.is_zero() {
            self.phase(
                metro,
                MetroPhase::Draining,
                format!(
                    "withdrawn; {:.1}s for requests in flight",
                    drain.as_secs_f64()
                ),
            );
            let cancel = self.run.cancel.clone();
            tokio::select! {
                _ = tokio::time::sleep(drain) => {}
                // Its app has not changed: a cancel ends the wait (it is restored).
                _ = cancel.requested_wait() => {}
            }
        }
        StepOutcome::Ok
    }

    async fn restore(&mut self, metro: &str) -> StepOutcome {
        let outcome = self.act(metro, ActionKind::Restore).await;
        if outcome.ok() {
            self.facts(metro).advertising = Some(true);
            StepOutcome::Ok
        } else {
            StepOutcome::Failed(outcome.message)
        }
    }

    async fn register(&mut self, metro: &str) -> StepOutcome {
        let client = match self.client(metro) {
            Ok(c) => c,
            Err(e) => return StepOutcome::Failed(e),
        };
        let job_id = self.prepared.job.clone();
        let before = match client.job_versions(&job_id).await {
            Ok(v) => v.unwrap_or_default(),
            Err(e) => return StepOutcome::Failed(format!("reading {job_id}'s versions: {e}")),
        };
        let previous = before.first().map(|v| (v.version, v.app_ref()));
        self.facts(metro).previous = previous.clone();
        if let Some((v, r)) = &previous {
            self.log(
                metro,
                format!(
                    "{job_id} runs version {v}{} now",
                    r.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
                ),
            );
        }
        // Nomad 1.4.1 requires the datacenters: the agent's own.
        let datacenters = match client.agent_self().await {
            Ok(a) if !a.config.datacenter.is_empty() => vec![a.config.datacenter],
            Ok(_) => vec!["dc1".into()],
            Err(_) => vec!["dc1".into()],
        };
        let input = job::JobInput {
            id: &job_id,
            app: &self.app,
            metro,
            datacenters,
            deploy: &self.cfg.deploy,
        };
        let spec = match &self.prepared.template {
            Some(t) => match job::from_template(t, &input) {
                Ok(j) => j,
                Err(e) => return StepOutcome::Failed(e),
            },
            None => job::build(&input),
        };
        let answer = match client.register(&spec).await {
            Ok(a) => a,
            Err(e) => return StepOutcome::Failed(format!("register {job_id}: {e}")),
        };
        if !answer.warnings.trim().is_empty() {
            self.log(
                metro,
                format!("Nomad warns: {}", visible(answer.warnings.trim())),
            );
        }
        let after = match client.job_versions(&job_id).await {
            Ok(v) => v.unwrap_or_default(),
            Err(e) => return StepOutcome::Failed(format!("reading {job_id}'s versions: {e}")),
        };
        let Some(newest) = after.first() else {
            return StepOutcome::Failed(format!("{job_id} has no version after registering"));
        };
        self.facts(metro).version = Some(newest.version);
        if previous.as_ref().is_some_and(|(v, _)| *v == newest.version) {
            self.log(
                metro,
                format!(
                    "{job_id} already runs this job (version {}): no new deployment",
                    newest.version
                ),
            );
            return StepOutcome::Unchanged;
        }
        self.log(
            metro,
            format!("registered {job_id} version {}", newest.version),
        );
        StepOutcome::Ok
    }

    async fn watch(&mut self, metro: &str, revert: bool) -> StepOutcome {
        let client = match self.client(metro) {
            Ok(c) => c,
            Err(e) => return StepOutcome::Failed(e),
        };
        let f = self.facts(metro).clone();
        let Some(version) = (if revert { f.revert_version } else { f.version }) else {
            return StepOutcome::Failed("no job version to watch".into());
        };
        let job_id = self.prepared.job.clone();
        let cancel = self.run.cancel.clone();
        // A revert is waited for whatever is asked: it is what makes the metro whole.
        let stop_at = if revert { u8::MAX } else { 2 };
        let d = match watch::find(
            &client,
            &job_id,
            version,
            FIND_LIMIT,
            cancel.reached(stop_at),
        )
        .await
        {
            Ok(d) => d,
            Err(e) => return StepOutcome::Failed(e),
        };
        self.facts(metro).deployment = Some(d.id.clone());
        self.log(
            metro,
            format!(
                "deployment {} of version {version}",
                d.id.get(..8).unwrap_or(&d.id)
            ),
        );
        let up = &self.cfg.deploy.update;
        let limit = up.progress_deadline.max(up.healthy_deadline) + WATCH_MARGIN;
        let mut seen_counts: Vec<AllocCounts> = Vec::new();
        let result = {
            let mut on_counts = |c: &AllocCounts| seen_counts.push(c.clone());
            watch::follow(&client, d, limit, cancel.reached(stop_at), &mut on_counts).await
        };
        for c in seen_counts {
            self.event(DeployEvent::Allocs {
                metro: metro.to_string(),
                counts: c,
            });
        }
        match result {
            Ok(d) => {
                let c = d.counts();
                self.phase(
                    metro,
                    if revert {
                        MetroPhase::Reverting
                    } else {
                        MetroPhase::Healthy
                    },
                    format!("{} of {} healthy: {}", c.healthy, c.desired, c.description),
                );
                StepOutcome::Ok
            }
            Err(e) => StepOutcome::Failed(e),
        }
    }

    async fn verify(&mut self, metro: &str, revert: bool) -> StepOutcome {
        let want = if revert {
            let previous = self.facts(metro).previous.clone();
            match previous
                .and_then(|(_, r)| r)
                .and_then(|r| AppRef::parse(&r).ok())
            {
                Some(r) => r.version().to_string(),
                None => {
                    self.facts(metro)
                        .notes
                        .push("the previous version is not known: not verified".into());
                    return StepOutcome::Ok;
                }
            }
        } else {
            self.app.version().to_string()
        };
        let Some(addr) = self.cfg.metro(metro).and_then(|m| m.address) else {
            self.facts(metro)
                .notes
                .push("no `address` to verify at: not verified".into());
            return StepOutcome::Ok;
        };
        let url = self
            .cfg
            .anycast
            .url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok());
        let target = verify::Target {
            addr,
            host: url.as_ref().and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_string(),
                })
            }),
            header: self.cfg.deploy.verify_header.clone(),
            path: url
                .as_ref()
                .map(|u| u.path().to_string())
                .unwrap_or_else(|| "/".into()),
        };
        let cancel = self.run.cancel.clone();
        let stop_at = if revert { u8::MAX } else { 2 };
        let mut seen: Vec<String> = Vec::new();
        let result = {
            let mut on_seen = |v: &str| seen.push(v.to_string());
            verify::until_version(
                &target,
                &want,
                self.cfg.deploy.verify_deadline,
                cancel.reached(stop_at),
                &mut on_seen,
            )
            .await
        };
        for v in &seen {
            self.event(DeployEvent::Version {
                metro: metro.to_string(),
                version: v.clone(),
            });
        }
        if let Some(v) = seen.last() {
            self.facts(metro).seen = Some(v.clone());
        }
        match result {
            Ok(took) => {
                self.log(
                    metro,
                    format!("{want} answers at {addr} after {:.0} ms", ms(took)),
                );
                StepOutcome::Ok
            }
            Err(e) => StepOutcome::Failed(e),
        }
    }

    async fn revert(&mut self, metro: &str) -> StepOutcome {
        let client = match self.client(metro) {
            Ok(c) => c,
            Err(e) => return StepOutcome::Failed(e),
        };
        let job_id = self.prepared.job.clone();
        let f = self.facts(metro).clone();
        let Some((prev_version, prev_ref)) = f.previous.clone() else {
            return StepOutcome::Failed(format!(
                "{job_id} had no earlier version on {metro} to go back to"
            ));
        };
        let ours = f.version.unwrap_or(prev_version);
        // Nomad's auto_revert registers the last stable version itself.
        let auto = |versions: &[crate::nomad::JobVersion]| {
            versions
                .first()
                .filter(|v| v.version > ours && prev_ref.is_some() && v.app_ref() == prev_ref)
                .map(|v| v.version)
        };
        let versions = match client.job_versions(&job_id).await {
            Ok(v) => v.unwrap_or_default(),
            Err(e) => return StepOutcome::Failed(format!("reading {job_id}'s versions: {e}")),
        };
        if let Some(v) = auto(&versions) {
            self.log(
                metro,
                format!("Nomad reverted {job_id} itself: version {v}"),
            );
            self.facts(metro).revert_version = Some(v);
            return StepOutcome::Ok;
        }
        if ours == prev_version {
            // Nothing new was registered: the previous version still runs.
            return StepOutcome::Unchanged;
        }
        match client.revert(&job_id, prev_version, Some(ours)).await {
            Ok(_) => {}
            Err(e) => {
                // Nomad may have reverted it meanwhile.
                if let Ok(Some(v)) = client.job_versions(&job_id).await {
                    if let Some(v) = auto(&v) {
                        self.facts(metro).revert_version = Some(v);
                        return StepOutcome::Ok;
                    }
                }
                return StepOutcome::Failed(format!(
                    "revert {job_id} to version {prev_version}: {e}"
                ));
            }
        }
        let after = match client.job_versions(&job_id).await {
            Ok(v) => v.unwrap_or_default(),
            Err(e) => return StepOutcome::Failed(format!("reading {job_id}'s versions: {e}")),
        };
        match after.first() {
            Some(v) if v.version > ours => {
                self.log(
                    metro,
                    format!(
                        "reverted {job_id} to version {prev_version} (as version {})",
                        v.version
                    ),
                );
                self.facts(metro).revert_version = Some(v.version);
                StepOutcome::Ok
            }
            _ => StepOutcome::Unchanged,
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
