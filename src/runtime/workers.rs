//! Every long-lived task the console starts is supervised: if it panics, or ends while it
//! should run on, the state machine hears about it as a message and shows it in the cell
//! that task fed ("probe worker for am stopped: …") — never a silent, stale number.

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::{AbortHandle, JoinHandle};

use crate::app::{Msg, Worker};

/// A supervised task; dropping it (or `abort`) stops the task and its supervisor.
pub struct Supervised {
    task: AbortHandle,
    watcher: AbortHandle,
    ended: tokio::sync::watch::Receiver<bool>,
}

impl Supervised {
    pub fn abort(&self) {
        self.task.abort();
        self.watcher.abort();
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits until the task has ended (however it ended).
    pub async fn ended(&mut self) {
        let _ = self.ended.wait_for(|e| *e).await;
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Watches `handle`: a panic becomes `Msg::WorkerStopped` with the panic's message; so
/// does a normal end when `runs_forever` (a poller, a probe schedule, a watcher).
pub fn supervise(
    worker: Worker,
    handle: JoinHandle<()>,
    runs_forever: bool,
    tx: &UnboundedSender<Msg>,
) -> Supervised {
    let task = handle.abort_handle();
    let tx = tx.clone();
    let (ended_tx, ended) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(async move {
        let joined = handle.await;
        let _ = ended_tx.send(true);
        let error = match joined {
            Ok(()) if runs_forever => "it ended unexpectedly".to_string(),
            Ok(()) => return,
            Err(e) if e.is_panic() => format!("it panicked: {}", panic_message(e.into_panic())),
            // Aborted: the console is stopping it on purpose.
            Err(_) => return,
        };
        let _ = tx.send(Msg::WorkerStopped { worker, error });
    })
    .abort_handle();
    Supervised {
        task,
        watcher,
        ended,
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string());
    crate::domain::text::visible(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_and_an_early_end_become_messages_and_an_abort_does_not() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _a = supervise(
            Worker::Probe("am".into()),
            tokio::spawn(async { panic!("boom \x1b[2J") }),
            true,
            &tx,
        );
        match rx.recv().await {
            Some(Msg::WorkerStopped { worker, error }) => {
                assert_eq!(worker, Worker::Probe("am".into()));
                assert_eq!(error, "it panicked: boom \\x1b[2J");
            }
            other => panic!("{other:?}"),
        }
        let _b = supervise(Worker::Poller, tokio::spawn(async {}), true, &tx);
        match rx.recv().await {
            Some(Msg::WorkerStopped { worker, error }) => {
                assert_eq!(worker, Worker::Poller);
                assert_eq!(error, "it ended unexpectedly");
            }
            other => panic!("{other:?}"),
        }
        let c = supervise(
            Worker::Logs,
            tokio::spawn(std::future::pending::<()>()),
            true,
            &tx,
        );
        c.abort();
        let _done = supervise(Worker::Logs, tokio::spawn(async {}), false, &tx);
        drop(tx);
        // Every supervisor has ended (dropping its sender) without another message.
        assert!(
            rx.recv().await.is_none(),
            "aborts and normal ends say nothing"
        );
    }
}
