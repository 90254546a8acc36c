//! Operations that span backends: snapshots of every metro, withdraw/restore with
//! verification under one cross-process interlock, the remembered desired state, and the
//! write-ahead audit log. No UI.

pub mod collect;
pub mod command;
pub mod deploy;
pub mod interlock;
pub mod journal;
pub mod provision;
pub mod wiring;
pub mod withdraw;

pub use crate::domain::Request;
pub use collect::Poller;
pub use wiring::{
    nomad_settings, probe_all, probe_options, probe_targets, spawn_probes, spawn_probes_kickable,
};
pub use withdraw::{execute, Caller};

use tokio::sync::watch;

/// Asks a running action to stop (quit, hang-up, SIGTERM): the action stops what it
/// runs, records `interrupted` with what it then sees, and returns. The value is the
/// reason, e.g. `SIGTERM`.
#[derive(Clone)]
pub struct Interrupt(watch::Receiver<Option<String>>);

impl Interrupt {
    /// An interrupt that never fires.
    pub fn never() -> Interrupt {
        let (tx, rx) = watch::channel(None);
        // Keep the sender alive forever so `wait` pends instead of seeing a closed channel.
        std::mem::forget(tx);
        Interrupt(rx)
    }

    /// The sender (send `Some(reason)` to interrupt) and the interrupt.
    pub fn pair() -> (watch::Sender<Option<String>>, Interrupt) {
        let (tx, rx) = watch::channel(None);
        (tx, Interrupt(rx))
    }

    /// The reason, once interrupted.
    pub fn reason(&self) -> Option<String> {
        self.0.borrow().clone()
    }

    /// Resolves with the reason once interrupted; pends forever if the sender is gone
    /// without interrupting.
    pub async fn wait(&mut self) -> String {
        loop {
            if let Some(why) = self.0.borrow_and_update().clone() {
                return why;
            }
            if self.0.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}
