//! The routing executor: the poller that reads every metro's BIRD, the observer and the
//! state directory once per refresh (and at once when asked), and the one withdraw or
//! restore that may run at a time. Carries out `Execute`, `Interrupt` and `Refresh`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::{watch, Notify};

use super::workers::{supervise, Supervised};
use crate::app::{Effect, Msg, Worker};
use crate::config::Config;
use crate::domain::{Request, Via};
use crate::ops::{self, Interrupt, Poller};

/// How long an interrupted action may take to stop and record its outcome at exit.
const ACTION_STOP: Duration = Duration::from_secs(10);

pub struct Routing {
    cfg: Arc<Config>,
    tx: UnboundedSender<Msg>,
    refresh: Arc<Notify>,
    /// Who the audit log names for this console's actions.
    via: Via,
    _poller: Supervised,
    action: Option<(watch::Sender<Option<String>>, Supervised)>,
}

impl Routing {
    pub fn start(cfg: Arc<Config>, tx: &UnboundedSender<Msg>, via: Via) -> Routing {
        let refresh = Arc::new(Notify::new());
        let poller = supervise(
            Worker::Poller,
            tokio::spawn(poll_loop(cfg.clone(), tx.clone(), refresh.clone())),
            true,
            tx,
        );
        Routing {
            cfg,
            tx: tx.clone(),
            refresh,
            via,
            _poller: poller,
            action: None,
        }
    }

    /// Polls with `cfg` from now on (a new poller; a running action finishes on the
    /// config it started with).
    pub fn reconfigure(&mut self, cfg: Arc<Config>) {
        self.cfg = cfg.clone();
        self._poller = supervise(
            Worker::Poller,
            tokio::spawn(poll_loop(cfg, self.tx.clone(), self.refresh.clone())),
            true,
            &self.tx,
        );
    }

    pub fn handle(&mut self, effect: Effect) {
        match effect {
            Effect::Refresh => self.refresh.notify_one(),
            Effect::Interrupt => {
                if let Some((stop, _)) = &self.action {
                    let _ = stop.send(Some("quit".into()));
                }
            }
            Effect::Execute(req) => self.execute(req),
            _ => {}
        }
    }

    fn execute(&mut self, req: Request) {
        let (cfg, tx, via) = (self.cfg.clone(), self.tx.clone(), self.via);
        let (stop, interrupt) = Interrupt::pair();
        let task = tokio::spawn(async move {
            let progress_tx = tx.clone();
            let mut progress = move |line: &str| {
                let _ = progress_tx.send(Msg::Progress(line.to_string()));
            };
            let mut caller = ops::Caller {
                via,
                interrupt,
                progress: &mut progress,
            };
            let outcome = ops::execute(&cfg, &req, &mut caller).await;
            // The state machine answers `Done` with a refresh.
            let _ = tx.send(Msg::Done(outcome));
        });
        self.action = Some((stop, supervise(Worker::Action, task, false, &self.tx)));
    }

    /// A signal or a lost terminal ends the console: a running action is interrupted and
    /// its outcome recorded before anything is torn down.
    pub async fn interrupt_running(&mut self, reason: &str) {
        if let Some((stop, mut task)) = self.action.take() {
            if !task.is_finished() {
                let _ = stop.send(Some(reason.to_string()));
                let _ = tokio::time::timeout(ACTION_STOP, task.ended()).await;
            }
        }
    }
}

/// Polls every metro once per refresh interval, and at once when asked.
async fn poll_loop(cfg: Arc<Config>, tx: UnboundedSender<Msg>, refresh: Arc<Notify>) {
    let timeout = cfg.console.refresh.max(Duration::from_millis(500));
    let mut poller = Poller::new(&cfg, timeout).with_journal(&cfg);
    loop {
        let snap = poller.snapshot().await;
        if tx.send(Msg::Snapshot(snap)).is_err() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(cfg.console.refresh) => {}
            _ = refresh.notified() => {}
        }
    }
}
