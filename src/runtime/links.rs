//! Remote metros' SSH links into the console: one supervised follower per metro sends
//! `Msg::Link` with the link's state whenever it changes (the links themselves are the
//! `ssh` transport's tasks; a follower ends only when its link is gone, which its
//! supervisor reports).

use tokio::sync::mpsc::UnboundedSender;

use super::workers::{supervise, Supervised};
use crate::app::{Msg, Worker};
use crate::ssh::Transport;

pub fn follow(transport: &Transport, tx: &UnboundedSender<Msg>) -> Vec<Supervised> {
    transport
        .subscribe()
        .into_iter()
        .map(|(metro, mut rx)| {
            let to_app = tx.clone();
            let name = metro.clone();
            let task = tokio::spawn(async move {
                loop {
                    let status = rx.borrow_and_update().clone();
                    let msg = Msg::Link {
                        metro: name.clone(),
                        status,
                    };
                    if to_app.send(msg).is_err() || rx.changed().await.is_err() {
                        return;
                    }
                }
            });
            supervise(Worker::Link(metro), task, true, tx)
        })
        .collect()
}
