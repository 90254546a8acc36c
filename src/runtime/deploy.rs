//! The deployment executor: one rollout at a time for the deployment pane
//! (`ops::deploy`, which takes the lock, audits and keeps the history), its events
//! forwarded as messages, cancels passed on, the history read on demand. At exit a
//! running rollout stops before its next step and is waited for, so no metro is left
//! half-changed and its outcome is recorded.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::workers::{supervise, Supervised};
use crate::app::deploy::DeployMsg;
use crate::app::{Effect, Msg, Worker};
use crate::config::Config;
use crate::domain::deploy::DeployEvent;
use crate::domain::journal::{Verdict, Via};
use crate::ops::deploy::{self as ops, Run};
use crate::provision::Cancel;

/// How long a rollout may take to reach its next step at exit before a second cancel
/// (which reverts the metro in progress).
const GRACEFUL: Duration = Duration::from_secs(120);
/// And after the second one (a revert waits for its own deployment).
const INTERRUPTED: Duration = Duration::from_secs(120);

pub struct Deploy {
    cfg: Arc<Config>,
    tx: UnboundedSender<Msg>,
    cancel: Cancel,
    running: Option<Supervised>,
}

fn send(tx: &UnboundedSender<Msg>, m: DeployMsg) {
    let _ = tx.send(Msg::Deploy(m));
}

impl Deploy {
    pub fn new(cfg: Arc<Config>, tx: &UnboundedSender<Msg>) -> Deploy {
        Deploy {
            cfg,
            tx: tx.clone(),
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
            Effect::Deploy {
                reference,
                no_drain,
            } => {
                if self.busy() {
                    send(
                        &self.tx,
                        DeployMsg::Note("a deployment is already running".into()),
                    );
                } else {
                    self.start(reference, no_drain);
                }
            }
            Effect::DeployCancel => {
                self.cancel.cancel();
            }
            Effect::DeployRead => {
                let (cfg, tx) = (self.cfg.clone(), self.tx.clone());
                tokio::spawn(async move {
                    send(&tx, DeployMsg::History(ops::read_history(&cfg)));
                });
            }
            _ => {}
        }
    }

    fn start(&mut self, reference: String, no_drain: bool) {
        let (cfg, tx) = (self.cfg.clone(), self.tx.clone());
        self.cancel = Cancel::new();
        let cancel = self.cancel.clone();
        let task = tokio::spawn(async move {
            let prepared = match ops::prepare(&cfg, &reference, None) {
                Ok(p) => p,
                Err(e) => {
                    return send(
                        &tx,
                        DeployMsg::Finished {
                            verdict: Verdict::Refused,
                            message: e,
                            metros: Vec::new(),
                        },
                    )
                }
            };
            let (etx, ptx) = (tx.clone(), tx.clone());
            let mut on_event = move |e: DeployEvent| send(&etx, DeployMsg::Event(e));
            let mut progress = move |l: &str| send(&ptx, DeployMsg::Note(l.into()));
            let mut run = Run {
                via: Via::Console,
                cancel,
                on_event: &mut on_event,
                progress: &mut progress,
            };
            let done = ops::deploy(&cfg, &prepared, no_drain, &mut run).await;
            send(
                &tx,
                DeployMsg::Finished {
                    verdict: done.verdict,
                    message: done.message,
                    metros: done.metros,
                },
            );
        });
        self.running = Some(supervise(Worker::Deploy, task, false, &self.tx));
    }

    /// At exit: a running rollout stops before its next step (a second cancel after two
    /// minutes) and is waited for.
    pub async fn stop(&mut self) {
        let Some(mut task) = self.running.take() else {
            return;
        };
        if task.is_finished() {
            return;
        }
        if self.cancel.requested() == 0 {
            self.cancel.cancel();
        }
        if tokio::time::timeout(GRACEFUL, task.ended()).await.is_err() {
            self.cancel.cancel();
            let _ = tokio::time::timeout(INTERRUPTED, task.ended()).await;
        }
    }
}
