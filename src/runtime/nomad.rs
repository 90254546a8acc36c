//! The Nomad executor: one watcher per metro with a `[metro.nomad]` table, the clients the
//! Nomad pane's effects use, and the one log follower. Carries out `FetchAllocation`,
//! `FollowLogs` and `StopLogs`.

use std::time::Duration;

use tokio::sync::mpsc::{self, UnboundedSender};

use super::workers::{supervise, Supervised};
use crate::app::{Effect, Msg, Worker};
use crate::config::Config;
use crate::ops;

pub struct Nomad {
    tx: UnboundedSender<Msg>,
    clients: Vec<(String, crate::nomad::Client)>,
    _watchers: Vec<Supervised>,
    logs: Option<Supervised>,
}

impl Nomad {
    /// Starts a watcher per metro (blocking queries, no hammering); each update reaches
    /// the state machine as a message. A client that cannot be built (bad address, bad
    /// CA file) is reported as that metro's Nomad error.
    pub fn start(cfg: &Config, tx: &UnboundedSender<Msg>) -> Nomad {
        let mut clients = Vec::new();
        let mut watchers = Vec::new();
        for m in &cfg.metros {
            let Some(settings) = ops::nomad_settings(m) else {
                continue;
            };
            let name = m.name.clone();
            match crate::nomad::Client::new(settings) {
                Ok(client) => {
                    let (ntx, mut nrx) = mpsc::unbounded_channel();
                    let watch =
                        crate::nomad::spawn_watch(client.clone(), Duration::from_secs(300), ntx);
                    watchers.push(supervise(Worker::Nomad(name.clone()), watch, true, tx));
                    clients.push((name.clone(), client));
                    let to_app = tx.clone();
                    let metro = name.clone();
                    let forward = tokio::spawn(async move {
                        while let Some(snapshot) = nrx.recv().await {
                            let msg = Msg::Nomad {
                                metro: metro.clone(),
                                snapshot,
                            };
                            if to_app.send(msg).is_err() {
                                return;
                            }
                        }
                    });
                    watchers.push(supervise(Worker::Nomad(name), forward, false, tx));
                }
                Err(e) => {
                    let snapshot = crate::nomad::NomadSnapshot::failed(e.to_string());
                    let _ = tx.send(Msg::Nomad {
                        metro: name,
                        snapshot,
                    });
                }
            }
        }
        Nomad {
            tx: tx.clone(),
            clients,
            _watchers: watchers,
            logs: None,
        }
    }

    fn client(&self, metro: &str) -> Option<crate::nomad::Client> {
        self.clients
            .iter()
            .find(|(m, _)| m == metro)
            .map(|(_, c)| c.clone())
    }

    pub fn handle(&mut self, effect: Effect) {
        match effect {
            Effect::FetchAllocation { metro, id } => {
                let Some(client) = self.client(&metro) else {
                    return;
                };
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let result = client.allocation(&id).await.map_err(|e| e.to_string());
                    let _ = tx.send(Msg::Allocation { metro, id, result });
                });
            }
            Effect::StopLogs => self.logs = None,
            Effect::FollowLogs {
                metro,
                alloc_id,
                task,
                stderr,
            } => {
                self.logs = None;
                let Some(client) = self.client(&metro) else {
                    return;
                };
                let tx = self.tx.clone();
                let kind = if stderr {
                    crate::nomad::logs::LogKind::Stderr
                } else {
                    crate::nomad::logs::LogKind::Stdout
                };
                let follow = tokio::spawn(async move {
                    let mut rx = client.logs(&alloc_id, &task, kind, true, Some(50_000));
                    while let Some(chunk) = rx.recv().await {
                        let chunk = chunk.map_err(|e| e.to_string());
                        let msg = Msg::Log {
                            alloc_id: alloc_id.clone(),
                            stderr,
                            chunk,
                        };
                        if tx.send(msg).is_err() {
                            return;
                        }
                    }
                });
                self.logs = Some(supervise(Worker::Logs, follow, false, &self.tx));
            }
            _ => {}
        }
    }
}
