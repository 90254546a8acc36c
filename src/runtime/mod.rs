//! Turns effects into tasks and runs the one event loop: terminal events, messages from
//! workers, a clock tick and signals. Draws only when something changed, at most ~30 times
//! a second. No UI code lives here beyond calling `ui::draw`; no I/O is awaited while
//! drawing.
//!
//! ```text
//!   terminal keys ─┐                          ┌─> routing executor: poller, withdraw/restore
//!   worker msgs ───┼─> app::update(state, msg) ─> effects ─┤
//!   tick, signals ─┘        │                 ├─> latency: probe schedules (started once)
//!                           └─> ui::draw      └─> nomad executor: watchers, allocation, logs
//! ```
//!
//! Every worker is supervised (`workers`): a panic or an early end is a message, shown
//! where that worker's data was shown.

mod nomad;
mod routing;
pub mod workers;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::app::{update, Effect, Msg, State, Worker};
use crate::config::Config;
use crate::ops::{self, journal::StateDir};
use crate::{tui, ui};

const FRAME: Duration = Duration::from_millis(33);

/// How the console runs: as itself, or as the demo.
#[derive(Debug, Clone, Default)]
pub struct Start {
    /// `platform-tui demo`: the presenter's view and the story, stepped by the space bar
    /// or every `auto`; its actions are audited as the demo's.
    pub demo: Option<Option<Duration>>,
}

/// Runs the interactive console until the operator quits or a signal arrives.
pub async fn run_console(cfg: Config, source: String) -> color_eyre::Result<()> {
    run_console_with(cfg, source, Start::default()).await
}

/// [`run_console`], as `start` says.
pub async fn run_console_with(cfg: Config, source: String, start: Start) -> color_eyre::Result<()> {
    let cfg = Arc::new(cfg);
    let desired = StateDir::of(&cfg).desired().unwrap_or_default();
    let mut state = State::new(&cfg, desired, source, SystemTime::now());
    let via = match start.demo {
        Some(auto) => {
            state = state.with_demo(auto);
            crate::domain::Via::Demo
        }
        None => crate::domain::Via::Console,
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut routing = routing::Routing::start(cfg.clone(), &tx, via);
    // Every target on its own clock; samples reach the state machine as messages. The
    // anycast target also probes at once when asked (`Effect::ProbeNow`).
    let kick = Arc::new(crate::probe::Kick::default());
    let _probes: Vec<workers::Supervised> = ops::spawn_probes_kickable(
        &cfg,
        cfg.probe.interval,
        None,
        &tx,
        |target, sample| Msg::Probe { target, sample },
        Some(kick.clone()),
    )
    .into_iter()
    .map(|(target, h)| workers::supervise(Worker::Probe(target), h, true, &tx))
    .collect();
    let mut nomad = nomad::Nomad::start(&cfg, &tx);

    let mut stop = crate::signals::Stop::new(true)?;
    let mut terminal = tui::init()?;
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;
    // Ok(Some(reason)): ended by a signal or a lost terminal, not by the operator.
    let result: color_eyre::Result<Option<&'static str>> = async {
        loop {
            if dirty && last_draw.elapsed() >= FRAME {
                terminal.draw(|f| ui::draw(&state, f))?;
                dirty = false;
                last_draw = Instant::now();
            }
            let next_frame = tokio::time::Instant::from_std(last_draw + FRAME);
            let msg = tokio::select! {
                ev = events.next() => match ev {
                    Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => Msg::Key(k),
                    Some(Ok(TermEvent::Resize(..))) => Msg::Resize,
                    Some(Ok(_)) => continue,
                    // The terminal went away (e.g. the SSH link dropped).
                    Some(Err(_)) | None => return Ok(Some("terminal closed")),
                },
                Some(m) = rx.recv() => m,
                _ = tick.tick() => Msg::Tick(SystemTime::now()),
                _ = tokio::time::sleep_until(next_frame), if dirty => continue,
                why = stop.recv() => return Ok(Some(why)),
            };
            let mut effects = update(&mut state, msg);
            // Batch whatever else is queued before drawing.
            while let Ok(m) = rx.try_recv() {
                effects.extend(update(&mut state, m));
            }
            dirty = true;
            for effect in effects {
                match effect {
                    Effect::Quit => return Ok(None),
                    Effect::ProbeNow => kick.now(),
                    e @ (Effect::Execute(_) | Effect::Interrupt | Effect::Refresh) => {
                        routing.handle(e)
                    }
                    e @ (Effect::FetchAllocation { .. }
                    | Effect::FollowLogs { .. }
                    | Effect::StopLogs) => nomad.handle(e),
                }
            }
        }
    }
    .await;
    if let Ok(Some(reason)) = &result {
        routing.interrupt_running(reason).await;
    }
    tui::restore();
    if terminal.show_cursor().is_err() {
        // The terminal hung up. ratatui's Drop would retry and eprintln! the failure,
        // which panics on a dead stderr and aborts before the lab is torn down.
        std::mem::forget(terminal);
    }
    // Dropping the executors and the probes stops every worker.
    result.map(|_| ())
}
