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

mod config_watch;
mod deploy;
mod links;
mod nomad;
mod provision;
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

/// Runs the interactive console until the operator quits or a signal arrives. Remote
/// metros are reached through SSH links kept (and reconnected) while it runs, and
/// closed when it ends — however it ends (a panic unwinds through the transport's drop).
pub async fn run_console(cfg: Config, source: String) -> color_eyre::Result<()> {
    run_console_with(cfg, source, Start::default()).await
}

/// [`run_console`], as `start` says.
pub async fn run_console_with(cfg: Config, source: String, start: Start) -> color_eyre::Result<()> {
    // Listening before any ssh master starts: a signal then ends the console cleanly.
    let mut stop = crate::signals::Stop::new(true)?;
    let mut transport = crate::ssh::Transport::start(&cfg, crate::ssh::Mode::Supervised)
        .map_err(|e| color_eyre::eyre::eyre!(e))?;
    // The config as written (remote paths), which the config follower compares with.
    let written = Arc::new(cfg);
    let cfg = Arc::new(transport.local_config(&written));
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
    let mut probes = start_probes(&cfg, &tx, &kick);
    let mut nomad = nomad::Nomad::start(&cfg, &tx);
    let mut provision = provision::Provision::new(cfg.clone(), &tx);
    let mut deploy = deploy::Deploy::new(cfg.clone(), &tx);
    // The config file is followed: a change (from the provisioning pane, the command
    // line or an editor) reaches the state machine, which answers with `Reconfigure`.
    let _config_watch = cfg.source.clone().map(|path| {
        let watch = config_watch::watch(path, written.clone(), cfg.console.read_only, tx.clone());
        workers::supervise(Worker::Config, tokio::spawn(watch), true, &tx)
    });
    let mut cfg = cfg;
    let mut routes = ssh_routes(&written);
    let mut links = links::follow(&transport, &tx);

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
            let msg = through_links(msg, &mut transport, &mut routes, &mut links, &tx).await;
            let mut effects = update(&mut state, msg);
            // Batch whatever else is queued before drawing.
            while let Ok(m) = rx.try_recv() {
                let m = through_links(m, &mut transport, &mut routes, &mut links, &tx).await;
                effects.extend(update(&mut state, m));
            }
            dirty = true;
            for effect in effects {
                match effect {
                    Effect::Quit => return Ok(None),
                    Effect::ProbeNow => kick.now(),
                    Effect::Reconfigure(new) => {
                        // Only what the change touches restarts: a Nomad pane's open
                        // logs survive a new metro.
                        if new.metros != cfg.metros
                            || new.anycast != cfg.anycast
                            || new.console.refresh != cfg.console.refresh
                            || new.console.state_dir != cfg.console.state_dir
                        {
                            routing.reconfigure(new.clone());
                        }
                        if new.probe != cfg.probe
                            || new.probed().ne(cfg.probed())
                            || new.anycast.url != cfg.anycast.url
                        {
                            probes = start_probes(&new, &tx, &kick);
                        }
                        let nomads = |c: &Config| {
                            c.metros
                                .iter()
                                .map(|m| (m.name.clone(), m.nomad.clone()))
                                .filter(|(_, n)| n.is_some())
                                .collect::<Vec<_>>()
                        };
                        if nomads(&new) != nomads(&cfg) {
                            nomad = nomad::Nomad::start(&new, &tx);
                        }
                        provision.reconfigure(new.clone());
                        deploy.reconfigure(new.clone());
                        cfg = new;
                    }
                    e @ (Effect::Execute(_) | Effect::Interrupt | Effect::Refresh) => {
                        routing.handle(e)
                    }
                    e @ (Effect::FetchAllocation { .. }
                    | Effect::FollowLogs { .. }
                    | Effect::StopLogs) => nomad.handle(e),
                    e @ (Effect::ProvisionPlan { .. }
                    | Effect::ProvisionApply
                    | Effect::ProvisionCancel
                    | Effect::ProvisionWrite(_)
                    | Effect::ProvisionRead) => provision.handle(e),
                    e @ (Effect::Deploy { .. } | Effect::DeployCancel | Effect::DeployRead) => {
                        deploy.handle(e)
                    }
                }
            }
        }
    }
    .await;
    if let Ok(Some(reason)) = &result {
        routing.interrupt_running(reason).await;
    }
    // A running apply stops gracefully and records its outcome (quit asked for it
    // already; a signal or a lost terminal asks here).
    provision.stop().await;
    // A running rollout stops before its next step, every metro consistent.
    deploy.stop().await;
    tui::restore();
    if terminal.show_cursor().is_err() {
        // The terminal hung up. ratatui's Drop would retry and eprintln! the failure,
        // which panics on a dead stderr and aborts before the lab is torn down.
        std::mem::forget(terminal);
    }
    // Every master asked to exit and its sockets removed; dropping the executors and the
    // probes stops every worker.
    drop(probes);
    transport.close().await;
    result.map(|_| ())
}

/// One supervised probe schedule per target; the anycast one also probes when kicked.
fn start_probes(
    cfg: &Config,
    tx: &mpsc::UnboundedSender<Msg>,
    kick: &Arc<crate::probe::Kick>,
) -> Vec<workers::Supervised> {
    ops::spawn_probes_kickable(
        cfg,
        cfg.probe.interval,
        None,
        tx,
        |target, sample| Msg::Probe { target, sample },
        Some(kick.clone()),
    )
    .into_iter()
    .map(|(target, h)| workers::supervise(Worker::Probe(target), h, true, tx))
    .collect()
}

/// What the SSH links depend on: each remote metro's route and far ends.
type Routes = Vec<(
    String,
    crate::config::SshRoute,
    std::path::PathBuf,
    Option<String>,
)>;

fn ssh_routes(cfg: &Config) -> Routes {
    cfg.metros
        .iter()
        .filter_map(|m| {
            let route = m.ssh.clone()?;
            let nomad = m.nomad.as_ref().and_then(|n| n.address.clone());
            Some((m.name.clone(), route, m.bird_socket.clone(), nomad))
        })
        .collect()
}

/// A changed config file as this process sees it: its remote metros' sockets at their
/// tunnels' local ends. When the remote metros changed, the links are started anew for
/// the new config (the old ones closed); if that cannot be done the change is refused and
/// the console keeps the config it has.
async fn through_links(
    msg: Msg,
    transport: &mut crate::ssh::Transport,
    routes: &mut Routes,
    followers: &mut Vec<workers::Supervised>,
    tx: &mpsc::UnboundedSender<Msg>,
) -> Msg {
    let Msg::ConfigChanged(written) = msg else {
        return msg;
    };
    let new_routes = ssh_routes(&written);
    if new_routes != *routes {
        match crate::ssh::Transport::start(&written, crate::ssh::Mode::Supervised) {
            Ok(t) => {
                // The old followers go first: their links ending is no news.
                followers.clear();
                let old = std::mem::replace(transport, t);
                old.close().await;
                *followers = links::follow(transport, tx);
                *routes = new_routes;
            }
            Err(e) => {
                return Msg::ConfigInvalid(format!("the remote metros' ssh links: {e}"));
            }
        }
    }
    Msg::ConfigChanged(Arc::new(transport.local_config(&written)))
}
