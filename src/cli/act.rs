//! `platform-tui withdraw|restore METRO`: the prompt (what will happen, judged on a fresh
//! poll like the console's dialog), then the one interlocked path (`ops::execute`); a
//! signal interrupts the action, which records it.

use std::io::{IsTerminal, Write as _};

use super::status::snapshot;
use super::{failed, progress_to_stderr, usage, Failure};
use crate::config::{self, Config};
use crate::domain::{Request, Via};
use crate::ops::{self, journal::StateDir, Interrupt};
use crate::world::World;

/// Remote metros through their SSH links (the action interrupts itself on a signal and
/// records it, so it is never cut short), then the prompt and the action.
pub async fn run(cfg: &Config, req: Request, yes: bool) -> Result<(), Failure> {
    if cfg.metro(&req.metro).is_none() {
        return Err(usage(config::no_metro(cfg, &req.metro)));
    }
    super::remote::with_links(cfg, true, |cfg, _| async move { act(&cfg, req, yes).await }).await
}

async fn act(cfg: &Config, req: Request, yes: bool) -> Result<(), Failure> {
    if !yes && !cfg.console.read_only {
        let desired = StateDir::of(cfg).desired().unwrap_or_default();
        let world = World::from_poll(cfg, desired, snapshot(cfg).await, Vec::new(), Vec::new());
        let (consequence, needs_force) = world.consequence(&req);
        if needs_force && !req.force {
            // Let ops refuse it with the full explanation (and an audit record).
        } else if !std::io::stdin().is_terminal() {
            return Err(usage(format!(
                "{} needs --yes when not run from a terminal",
                req.action.verb()
            )));
        } else {
            eprint!("{} {}? {consequence} [y/N] ", req.action.verb(), req.metro);
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            let _ = std::io::stdin().read_line(&mut answer);
            if !matches!(answer.trim(), "y" | "Y" | "yes") {
                return Err(failed("cancelled"));
            }
        }
    }
    // A signal interrupts the action, which stops what it runs and records it.
    let (stop, interrupt) = Interrupt::pair();
    let signals = tokio::spawn(async move {
        let Ok(mut stop_signals) = crate::signals::Stop::new(true) else {
            return;
        };
        let why = stop_signals.recv().await;
        let _ = stop.send(Some(why.to_string()));
    });
    let mut progress = progress_to_stderr;
    let mut caller = ops::Caller {
        via: Via::Cli,
        interrupt,
        progress: &mut progress,
    };
    let outcome = ops::execute(cfg, &req, &mut caller).await;
    signals.abort();
    if outcome.ok() {
        println!("{}", outcome.message);
        Ok(())
    } else {
        Err(failed(outcome.message))
    }
}
