//! Before the lock: what was asked, checked before anything is confirmed (the ref, the
//! job template, the metros), the plan a confirmation shows, and the build and publish
//! that change no metro. Answers "can this deployment start, and what would it do?";
//! nothing here takes the lock or touches a metro.

use std::path::Path;

use crate::config::Config;
use crate::domain::deploy::{AppRef, DeployEvent, Plan};
use crate::domain::journal::Verdict;
use crate::domain::text::visible;
use crate::ops::{Interrupt, Poller};

use super::{Run, POLL_TIMEOUT};

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

pub(super) fn plan_on(
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

/// Build and publish, before the lock: they change no metro. The app to roll out
/// (pinned to the digest a publish printed).
pub(super) async fn build_and_publish(
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
            crate::ops::command::run_in(&line, dir, d.command_timeout, &d.pass_env, &mut interrupt)
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
            Err(crate::ops::command::CommandError::Interrupted(why)) => {
                return Err((Verdict::Interrupted, format!("{what} interrupted: {why}")))
            }
            Err(crate::ops::command::CommandError::Failed(why)) => {
                return Err((Verdict::Failed, format!("{what} failed: {why}")))
            }
        }
    }
    Ok(app)
}
