//! The signals that end a process or interrupt an action — SIGINT, SIGTERM and, where a
//! hang-up should stop it too, SIGHUP — as one thing to wait for, named by what arrived.

use tokio::signal::unix::{signal, Signal, SignalKind};

/// Listens for SIGINT, SIGTERM and SIGHUP from its creation on. SIGHUP is always caught
/// (its default would end the process), and stops only when asked to.
pub struct Stop {
    int: Signal,
    term: Signal,
    hup: Signal,
    hangup_stops: bool,
}

impl Stop {
    /// Starts listening; `hangup_stops`: a hang-up stops too (a foreground command),
    /// else it is ignored (a detached supervisor). Errors when a handler cannot be set.
    pub fn new(hangup_stops: bool) -> std::io::Result<Stop> {
        Ok(Stop {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            hangup_stops,
        })
    }

    /// Waits for the next stopping signal: "SIGINT", "SIGTERM" or "SIGHUP".
    pub async fn recv(&mut self) -> &'static str {
        loop {
            tokio::select! {
                _ = self.int.recv() => return "SIGINT",
                _ = self.term.recv() => return "SIGTERM",
                _ = self.hup.recv() => if self.hangup_stops { return "SIGHUP" },
            }
        }
    }
}
