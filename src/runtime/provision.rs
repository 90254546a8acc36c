//! The provisioning executor: one terraform run at a time for the provisioning pane
//! (plan, then the confirmed apply of exactly that plan), its events forwarded as
//! messages, the held plan kept here (a secret: never in the state machine), outputs and
//! history read on demand, the metro diff written under the lock. At exit a running
//! apply is stopped gracefully and its outcome recorded before the console goes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::workers::{supervise, Supervised};
use crate::app::provision::{ProvisionMsg, ShownOutput};
use crate::app::{Effect, Msg, Worker};
use crate::config::Config;
use crate::domain::journal::{Verdict, Via};
use crate::ops::journal::StateDir;
use crate::ops::provision::{self as ops, Run};
use crate::provision::{Cancel, Event, Outputs, PlanFile};

/// How long terraform may take to stop gracefully at exit before a second interrupt.
const GRACEFUL: Duration = Duration::from_secs(60);
/// And after the second one.
const CANCELLED: Duration = Duration::from_secs(15);

pub struct Provision {
    cfg: Arc<Config>,
    tx: UnboundedSender<Msg>,
    /// The last successful plan, until it is applied or replaced.
    plan: Arc<Mutex<Option<PlanFile>>>,
    cancel: Cancel,
    running: Option<Supervised>,
}

fn send(tx: &UnboundedSender<Msg>, m: ProvisionMsg) {
    let _ = tx.send(Msg::Provision(m));
}

impl Provision {
    pub fn new(cfg: Arc<Config>, tx: &UnboundedSender<Msg>) -> Provision {
        Provision {
            cfg,
            tx: tx.clone(),
            plan: Arc::new(Mutex::new(None)),
            cancel: Cancel::new(),
            running: None,
        }
    }

    pub fn reconfigure(&mut self, cfg: Arc<Config>) {
        self.cfg = cfg;
    }

    fn busy(&self) -> bool {
        self.running.as_ref().is_some_and(|r| !r.is_finished())
    }

    pub fn handle(&mut self, effect: Effect) {
        match effect {
            Effect::ProvisionPlan { destroy, vars } if !self.busy() => self.plan(destroy, vars),
            Effect::ProvisionApply if !self.busy() => self.apply(),
            Effect::ProvisionCancel => {
                self.cancel.cancel();
            }
            Effect::ProvisionWrite(diff) => {
                let (cfg, tx) = (self.cfg.clone(), self.tx.clone());
                tokio::spawn(async move {
                    let progress_tx = tx.clone();
                    let mut progress =
                        move |l: &str| send(&progress_tx, ProvisionMsg::Note(l.into()));
                    let r =
                        ops::write_metros_locked(&cfg, &diff, Via::Console, &mut progress).await;
                    send(&tx, ProvisionMsg::Written(r));
                });
            }
            Effect::ProvisionRead => self.read(),
            _ => {}
        }
    }

    fn plan(&mut self, destroy: bool, vars: Vec<(String, String)>) {
        let (cfg, tx, slot) = (self.cfg.clone(), self.tx.clone(), self.plan.clone());
        self.cancel = Cancel::new();
        let cancel = self.cancel.clone();
        // A new plan replaces the held one (deleted now: it holds secrets).
        if let Ok(mut p) = slot.lock() {
            *p = None;
        }
        let task = tokio::spawn(async move {
            let settings = match ops::settings(&cfg, &vars) {
                Ok(s) => s,
                Err(e) => {
                    return send(
                        &tx,
                        ProvisionMsg::Planned {
                            destroy,
                            ok: false,
                            has_changes: false,
                            words: e,
                        },
                    )
                }
            };
            let (mut on_event, mut progress) = forwarders(&tx);
            let mut run = Run {
                via: Via::Console,
                cancel,
                on_event: &mut on_event,
                progress: &mut progress,
            };
            let msg = match ops::plan(&cfg, &settings, destroy, &mut run).await {
                Ok(p) => {
                    let words = ops::plan_words(&p);
                    let ok = p.finish.succeeded();
                    let has_changes = p.has_changes;
                    if let (Some(file), Ok(mut held)) = (p.plan, slot.lock()) {
                        *held = Some(file);
                    }
                    ProvisionMsg::Planned {
                        destroy,
                        ok,
                        has_changes,
                        words,
                    }
                }
                Err(e) => ProvisionMsg::Planned {
                    destroy,
                    ok: false,
                    has_changes: false,
                    words: e,
                },
            };
            send(&tx, msg);
        });
        self.running = Some(supervise(Worker::Provision, task, false, &self.tx));
    }

    fn apply(&mut self) {
        let held = self.plan.lock().ok().and_then(|mut p| p.take());
        let Some(file) = held else {
            send(
                &self.tx,
                ProvisionMsg::Applied {
                    verdict: Verdict::Refused,
                    message: "no plan is held: plan again (p)".into(),
                    diff: None,
                },
            );
            return;
        };
        let (cfg, tx) = (self.cfg.clone(), self.tx.clone());
        self.cancel = Cancel::new();
        let cancel = self.cancel.clone();
        let task = tokio::spawn(async move {
            // The plan carries its variables: these settings only locate the installer.
            let settings = match ops::settings(&cfg, &[]) {
                Ok(s) => s,
                Err(e) => {
                    return send(
                        &tx,
                        ProvisionMsg::Applied {
                            verdict: Verdict::Refused,
                            message: e,
                            diff: None,
                        },
                    )
                }
            };
            let (mut on_event, mut progress) = forwarders(&tx);
            let mut run = Run {
                via: Via::Console,
                cancel,
                on_event: &mut on_event,
                progress: &mut progress,
            };
            let applied = ops::apply(&cfg, &settings, file, false, &mut run).await;
            if let Some(o) = &applied.outputs {
                send(
                    &tx,
                    ProvisionMsg::Outputs(o.as_ref().map(shown).map_err(Clone::clone)),
                );
            }
            send(
                &tx,
                ProvisionMsg::Applied {
                    verdict: applied.verdict,
                    message: applied.message,
                    diff: applied.diff,
                },
            );
        });
        self.running = Some(supervise(Worker::Provision, task, false, &self.tx));
    }

    /// Outputs and history, read in the background (terraform output takes a moment).
    fn read(&self) {
        let (cfg, tx) = (self.cfg.clone(), self.tx.clone());
        let busy = self.busy();
        tokio::spawn(async move {
            let state = StateDir::of(&cfg);
            send(&tx, ProvisionMsg::History(state.history()));
            // While terraform runs it holds the state; its outputs come with the run.
            if busy || cfg.provision.is_none() {
                return;
            }
            let Ok(settings) = ops::settings(&cfg, &[]) else {
                return;
            };
            let o = crate::provision::outputs(&settings, &Cancel::new(), &mut |_| {})
                .await
                .map_err(|e| e.0);
            send(
                &tx,
                ProvisionMsg::Outputs(o.as_ref().map(shown).map_err(Clone::clone)),
            );
        });
    }

    /// At exit: a running operation is interrupted gracefully (a second interrupt after
    /// a minute) and waited for, so its outcome is in the audit log.
    pub async fn stop(&mut self) {
        let Some(mut task) = self.running.take() else {
            return;
        };
        if task.is_finished() {
            return;
        }
        self.cancel.cancel();
        if tokio::time::timeout(GRACEFUL, task.ended()).await.is_err() {
            self.cancel.cancel();
            let _ = tokio::time::timeout(CANCELLED, task.ended()).await;
        }
    }
}

/// Where a run's events and notes go: to the pane, as messages.
fn forwarders(tx: &UnboundedSender<Msg>) -> (impl FnMut(Event) + Send, impl FnMut(&str) + Send) {
    let (etx, ptx) = (tx.clone(), tx.clone());
    (
        move |e: Event| send(&etx, ProvisionMsg::Event(e)),
        move |l: &str| send(&ptx, ProvisionMsg::Note(l.into())),
    )
}

fn shown(o: &Outputs) -> Vec<ShownOutput> {
    o.0.iter()
        .map(|(name, out)| ShownOutput {
            name: name.clone(),
            // Display is visible text (JSON, controls escaped) or `(sensitive)`.
            value: out.value.to_string(),
            sensitive: out.value.is_sensitive(),
        })
        .collect()
}
