//! One rollout under the lock: what each metro's rollout learned (for its report), the
//! driver that asks the deployment state machine for the next step and records it, and
//! each metro's intent and outcome in the journal. Answers "where is the rollout, and
//! what does it record?"; the steps themselves are in `steps`.

use std::time::{Duration, Instant, SystemTime};

use crate::config::Config;
use crate::deploy::machine::{Machine, Outcome as StepOutcome, Step};
use crate::domain::deploy::{AppRef, DeployEvent, MetroPhase, MetroReport, Timings};
use crate::domain::journal::{AuditAction, AuditRecord, Phase, Verdict};
use crate::domain::{ActionKind, Request};
use crate::nomad::Client;
use crate::ops::journal::{self, StateDir};
use crate::ops::withdraw::{execute_locked, new_id, Caller};
use crate::ops::Interrupt;

use super::prepare::Prepared;
use super::Run;

/// What a metro's rollout learned on the way, for its report.
#[derive(Debug, Clone, Default)]
pub(super) struct MetroFacts {
    pub(super) started: Option<Instant>,
    /// When it was finished with: its total stops there.
    pub(super) ended: Option<Instant>,
    pub(super) timings: Timings,
    pub(super) previous: Option<(u64, Option<String>)>,
    pub(super) version: Option<u64>,
    pub(super) revert_version: Option<u64>,
    pub(super) deployment: Option<String>,
    pub(super) seen: Option<String>,
    pub(super) advertising: Option<bool>,
    pub(super) notes: Vec<String>,
    pub(super) step_started: Option<Instant>,
}

pub(super) struct Rollout<'c, 'r, 'a> {
    pub(super) cfg: &'c Config,
    pub(super) prepared: &'c Prepared,
    pub(super) app: AppRef,
    pub(super) state: &'c StateDir,
    pub(super) waited: Duration,
    pub(super) whole_id: String,
    /// The running metro's intent.
    pub(super) metro_id: Option<String>,
    pub(super) user: String,
    pub(super) run: &'r mut Run<'a>,
    pub(super) metros: std::collections::BTreeMap<String, MetroFacts>,
}

pub(super) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

impl Rollout<'_, '_, '_> {
    pub(super) fn event(&mut self, e: DeployEvent) {
        (self.run.on_event)(e);
    }

    pub(super) fn log(&mut self, metro: &str, message: String) {
        self.event(DeployEvent::Log {
            metro: Some(metro.to_string()),
            message,
        });
    }

    pub(super) fn phase(&mut self, metro: &str, phase: MetroPhase, detail: String) {
        self.event(DeployEvent::Phase {
            metro: metro.to_string(),
            phase,
            detail,
        });
    }

    pub(super) fn facts(&mut self, metro: &str) -> &mut MetroFacts {
        self.metros.entry(metro.to_string()).or_default()
    }

    pub(super) async fn drive(&mut self, mut machine: Machine) -> Machine {
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
    pub(super) fn report(&mut self, machine: &Machine, metro: &str) -> MetroReport {
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

    pub(super) fn client(&self, metro: &str) -> Result<Client, String> {
        let m = self
            .cfg
            .metro(metro)
            .ok_or_else(|| crate::config::no_metro(self.cfg, metro))?;
        let settings = crate::ops::nomad_settings(m)
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
    pub(super) async fn act(&mut self, metro: &str, action: ActionKind) -> crate::domain::Outcome {
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
}
