//! The steps of one metro's rollout against the world: drain and restore (through the
//! verified withdraw), register the new version, watch its Nomad deployment, verify the
//! metro's own address answers it, and revert on failure. Answers "what does each step
//! do, and when has it failed?".

use crate::deploy::machine::Outcome as StepOutcome;
use crate::deploy::{job, verify, watch};
use crate::domain::deploy::{AllocCounts, AppRef, DeployEvent, MetroPhase};
use crate::domain::text::visible;
use crate::domain::ActionKind;
use crate::ops::Poller;

use super::rollout::{ms, Rollout};
use super::{FIND_LIMIT, POLL_TIMEOUT, WATCH_MARGIN};

impl Rollout<'_, '_, '_> {
    pub(super) async fn drain(&mut self, metro: &str) -> StepOutcome {
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

    pub(super) async fn restore(&mut self, metro: &str) -> StepOutcome {
        let outcome = self.act(metro, ActionKind::Restore).await;
        if outcome.ok() {
            self.facts(metro).advertising = Some(true);
            StepOutcome::Ok
        } else {
            StepOutcome::Failed(outcome.message)
        }
    }

    pub(super) async fn register(&mut self, metro: &str) -> StepOutcome {
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

    pub(super) async fn watch(&mut self, metro: &str, revert: bool) -> StepOutcome {
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

    pub(super) async fn verify(&mut self, metro: &str, revert: bool) -> StepOutcome {
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

    pub(super) async fn revert(&mut self, metro: &str) -> StepOutcome {
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
