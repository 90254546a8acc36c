//! Turns effects into tasks and runs the one event loop: terminal events, messages from
//! workers, a clock tick and signals. Draws only when something changed, at most ~30 times
//! a second. No UI code lives here beyond calling `ui::draw`; no I/O is awaited while
//! drawing.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use tokio::sync::{mpsc, Notify};

use crate::app::{update, Effect, Msg, State};
use crate::config::Config;
use crate::domain::Via;
use crate::ops::{self, journal::StateDir, Interrupt, Poller};
use crate::{tui, ui};

const FRAME: Duration = Duration::from_millis(33);
/// How long an interrupted action may take to stop and record its outcome at exit.
const ACTION_STOP: Duration = Duration::from_secs(10);

/// The action being executed: how to interrupt it, and its task.
struct Running {
    interrupt: tokio::sync::watch::Sender<Option<String>>,
    task: tokio::task::JoinHandle<()>,
}

/// Runs the interactive console until the operator quits or a signal arrives.
pub async fn run_console(cfg: Config, source: String) -> color_eyre::Result<()> {
    let cfg = Arc::new(cfg);
    let desired = StateDir::of(&cfg).desired().unwrap_or_default();
    let mut state = State::new(&cfg, desired, source, SystemTime::now());
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let refresh = Arc::new(Notify::new());
    let poller = tokio::spawn(poll_loop(cfg.clone(), tx.clone(), refresh.clone()));
    let probes = spawn_probes(&cfg, &tx);
    let (nomad_clients, watchers) = spawn_nomad(&cfg, &tx);
    let mut logs: Option<tokio::task::JoinHandle<()>> = None;
    let mut action: Option<Running> = None;

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
                    Effect::Interrupt => {
                        if let Some(a) = &action {
                            let _ = a.interrupt.send(Some("quit".into()));
                        }
                    }
                    Effect::Refresh => refresh.notify_one(),
                    Effect::FetchAllocation { metro, id } => {
                        if let Some(client) = nomad_clients
                            .iter()
                            .find(|(m, _)| *m == metro)
                            .map(|(_, c)| c.clone())
                        {
                            let tx = tx.clone();
                            tokio::spawn(async move {
                                let result =
                                    client.allocation(&id).await.map_err(|e| e.to_string());
                                let _ = tx.send(Msg::Allocation { metro, id, result });
                            });
                        }
                    }
                    Effect::StopLogs => {
                        if let Some(h) = logs.take() {
                            h.abort();
                        }
                    }
                    Effect::FollowLogs {
                        metro,
                        alloc_id,
                        task,
                        stderr,
                    } => {
                        if let Some(h) = logs.take() {
                            h.abort();
                        }
                        if let Some(client) = nomad_clients
                            .iter()
                            .find(|(m, _)| *m == metro)
                            .map(|(_, c)| c.clone())
                        {
                            let tx = tx.clone();
                            let kind = if stderr {
                                crate::nomad::logs::LogKind::Stderr
                            } else {
                                crate::nomad::logs::LogKind::Stdout
                            };
                            logs = Some(tokio::spawn(async move {
                                let mut rx =
                                    client.logs(&alloc_id, &task, kind, true, Some(50_000));
                                while let Some(chunk) = rx.recv().await {
                                    let chunk = chunk.map_err(|e| e.to_string());
                                    if tx
                                        .send(Msg::Log {
                                            alloc_id: alloc_id.clone(),
                                            stderr,
                                            chunk,
                                        })
                                        .is_err()
                                    {
                                        return;
                                    }
                                }
                            }));
                        }
                    }
                    Effect::Execute(req) => {
                        let (cfg, tx) = (cfg.clone(), tx.clone());
                        let (stop, interrupt) = Interrupt::pair();
                        let task = tokio::spawn(async move {
                            let progress_tx = tx.clone();
                            let mut progress = move |line: &str| {
                                let _ = progress_tx.send(Msg::Progress(line.to_string()));
                            };
                            let mut caller = ops::Caller {
                                via: Via::Console,
                                interrupt,
                                progress: &mut progress,
                            };
                            let outcome = ops::execute(&cfg, &req, &mut caller).await;
                            let _ = tx.send(Msg::Done(outcome));
                        });
                        action = Some(Running {
                            interrupt: stop,
                            task,
                        });
                    }
                }
            }
        }
    }
    .await;
    // An action still running when a signal or a lost terminal ends the console is
    // interrupted, and its outcome recorded, before anything is torn down.
    if let (Ok(Some(reason)), Some(a)) = (&result, action.take()) {
        if !a.task.is_finished() {
            let _ = a.interrupt.send(Some((*reason).to_string()));
            let _ = tokio::time::timeout(ACTION_STOP, a.task).await;
        }
    }
    let result = result.map(|_| ());
    tui::restore();
    if terminal.show_cursor().is_err() {
        // The terminal hung up. ratatui's Drop would retry and eprintln! the failure,
        // which panics on a dead stderr and aborts before the lab is torn down.
        std::mem::forget(terminal);
    }
    poller.abort();
    for p in probes.into_iter().chain(watchers).chain(logs) {
        p.abort();
    }
    result
}

/// Polls every metro once per refresh interval, and at once when asked.
async fn poll_loop(cfg: Arc<Config>, tx: mpsc::UnboundedSender<Msg>, refresh: Arc<Notify>) {
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

/// Every probe target on its own clock (`ops::spawn_probes`); samples reach the state
/// machine as messages.
fn spawn_probes(cfg: &Config, tx: &mpsc::UnboundedSender<Msg>) -> Vec<tokio::task::JoinHandle<()>> {
    let (mut handles, mut rx) = ops::spawn_probes(cfg, cfg.probe.interval, None);
    let tx = tx.clone();
    handles.push(tokio::spawn(async move {
        while let Some((target, sample)) = rx.recv().await {
            if tx.send(Msg::Probe { target, sample }).is_err() {
                return;
            }
        }
    }));
    handles
}

/// One Nomad watcher per metro with a `[metro.nomad]` table (blocking queries, no
/// hammering); each update reaches the state machine as a message. A client that cannot
/// be built (bad address, bad CA file) is reported as that metro's Nomad error.
#[allow(clippy::type_complexity)]
fn spawn_nomad(
    cfg: &Config,
    tx: &mpsc::UnboundedSender<Msg>,
) -> (
    Vec<(String, crate::nomad::Client)>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    let mut clients = Vec::new();
    let mut handles = Vec::new();
    for m in &cfg.metros {
        let Some(settings) = ops::nomad_settings(m) else {
            continue;
        };
        let name = m.name.clone();
        match crate::nomad::Client::new(settings) {
            Ok(client) => {
                let (ntx, mut nrx) = mpsc::unbounded_channel();
                handles.push(crate::nomad::spawn_watch(
                    client.clone(),
                    Duration::from_secs(300),
                    ntx,
                ));
                clients.push((name.clone(), client));
                let tx = tx.clone();
                handles.push(tokio::spawn(async move {
                    while let Some(snapshot) = nrx.recv().await {
                        if tx
                            .send(Msg::Nomad {
                                metro: name.clone(),
                                snapshot,
                            })
                            .is_err()
                        {
                            return;
                        }
                    }
                }));
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
    (clients, handles)
}
