//! The console's state machine: `State`, `Msg`, and `update(&mut State, Msg) -> Vec<Effect>`.
//! `update` is synchronous and pure: it never does I/O and takes the time from the
//! messages, so every keypress and poll result can be tested without a terminal.

use std::collections::{BTreeMap, VecDeque};
use std::time::SystemTime;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::config::keymap::{Action, Keymap};
use crate::config::theme::Theme;
use crate::config::Config;
use crate::domain::journal::{AuditRecord, Journal, Phase, Verdict};
use crate::domain::{ActionKind, BestPath, Desired, Event, Level, Outcome, Request, Snapshot};
pub use crate::world::{MetroState, World};

pub mod latency;
pub mod nomad;

use latency::{ChartView, Marker, ANYCAST};

const MAX_EVENTS: usize = 500;
/// How long an action's outcome explains the changes polls then see.
const EXPLAINED_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// What a finished action changed, as its outcome event already said.
#[derive(Debug, Clone, PartialEq)]
pub struct Explained {
    pub metro: String,
    pub advertised: bool,
    /// The best path after it (`None`: no route), when known.
    pub best: Option<Option<String>>,
    pub at: SystemTime,
}
const MAX_MARKERS: usize = 200;

/// The console's screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    #[default]
    Overview,
    Latency,
    Nomad,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    Snapshot(Snapshot),
    /// A metro's Nomad state, as its watcher last saw it.
    Nomad {
        metro: String,
        snapshot: crate::nomad::NomadSnapshot,
    },
    /// The allocation opened in the Nomad pane, fetched.
    Allocation {
        metro: String,
        id: String,
        result: Result<crate::domain::nomad::AllocDetail, String>,
    },
    /// A piece of the followed log stream.
    Log {
        alloc_id: String,
        stderr: bool,
        chunk: Result<crate::nomad::logs::LogChunk, String>,
    },
    /// One latency probe of a target (`anycast` or a metro's name).
    Probe {
        target: String,
        sample: crate::probe::ProbeSample,
    },
    /// A line of progress from a running action.
    Progress(String),
    Done(Outcome),
    /// The clock moved; ages on screen follow it.
    Tick(SystemTime),
    Resize,
    /// A worker panicked or ended while it should run on.
    WorkerStopped {
        worker: Worker,
        error: String,
    },
}

/// The console's long-lived workers, named by what they feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Worker {
    /// Polls every metro's BIRD and the observer.
    Poller,
    /// Probes one target (`anycast` or a metro).
    Probe(String),
    /// Watches one metro's Nomad API.
    Nomad(String),
    /// Follows the open allocation's logs.
    Logs,
    /// Runs a withdraw or restore.
    Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Execute(Request),
    /// Stop the running action: it records `interrupted` with what it then sees.
    Interrupt,
    Refresh,
    Quit,
    FetchAllocation {
        metro: String,
        id: String,
    },
    FollowLogs {
        metro: String,
        alloc_id: String,
        task: String,
        stderr: bool,
    },
    StopLogs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Help,
    Confirm(Pending),
}

/// A destructive action waiting for the operator's yes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub request: Request,
    /// What will happen, in the operator's words ("anycast will be served from da").
    pub consequence: String,
    /// Withdrawing the last advertising metro: only a forced confirmation proceeds.
    pub needs_force: bool,
    /// A forced action was confirmed once with `F`; one more `F` proceeds.
    pub forced_once: bool,
    /// Why a key did nothing ("only F proceeds…"), shown in the dialog.
    pub note: Option<String>,
}

/// The console's state: what is known of the platform (the [`World`], reached through
/// `Deref`), and what only the console has — selection, mode, events, views, keys.
#[derive(Debug, Clone)]
pub struct State {
    pub world: World,
    pub selected: usize,
    pub mode: Mode,
    pub events: VecDeque<Event>,
    pub read_only: bool,
    pub keymap: Keymap,
    pub theme: Theme,
    /// The action being executed, shown in the footer.
    pub busy: Option<String>,
    /// The latest one-line message for the footer.
    pub flash: Option<Event>,
    /// Where the state came from, e.g. "embedded lab (/run/user/0/platform-tui/...)".
    pub source: String,
    /// Quit was asked while an action ran: the console quits once it is recorded.
    pub quitting: bool,
    /// First line of the help overlay shown (the view clamps it to the text).
    pub help_scroll: u16,
    /// The metro of this console's running action: its changes are that action's news.
    pub acting_on: Option<String>,
    /// Changes an action's outcome already reported (its own event says them), so a
    /// poll that sees them adds no second event. Dropped after `EXPLAINED_FOR`.
    pub explained: Vec<Explained>,
    /// This console's process id: its own audit records are not news from elsewhere.
    pub own_pid: u32,
    pub view: View,
    pub chart: ChartView,
    pub markers: Vec<Marker>,
    pub nomad_view: nomad::NomadView,
}

impl std::ops::Deref for State {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

impl std::ops::DerefMut for State {
    fn deref_mut(&mut self) -> &mut World {
        &mut self.world
    }
}

impl State {
    pub fn new(
        cfg: &Config,
        desired: BTreeMap<String, Desired>,
        source: String,
        now: SystemTime,
    ) -> State {
        State {
            world: World::new(cfg, desired, now),
            selected: 0,
            mode: Mode::Normal,
            events: VecDeque::new(),
            read_only: cfg.console.read_only,
            keymap: cfg.console.keymap.clone(),
            theme: cfg.console.theme.clone(),
            busy: None,
            flash: None,
            source,
            quitting: false,
            help_scroll: 0,
            acting_on: None,
            explained: Vec::new(),
            own_pid: std::process::id(),
            view: View::Overview,
            chart: ChartView::default(),
            markers: Vec::new(),
            nomad_view: nomad::NomadView::default(),
        }
    }

    fn marker(&mut self, label: String) {
        self.markers.push(Marker {
            at: self.now,
            label,
        });
        if self.markers.len() > MAX_MARKERS {
            self.markers.remove(0);
        }
    }

    pub fn selected_metro(&self) -> Option<&MetroState> {
        self.metros.get(self.selected)
    }

    /// Whether an action in flight on `metro` (ours or another process's), or one just
    /// finished, accounts for its advertisement becoming `advertised`.
    fn action_explains(&self, metro: &str, advertised: Option<bool>) -> bool {
        self.acting_on.as_deref() == Some(metro)
            || self
                .unfinished
                .as_ref()
                .is_some_and(|u| u.running && u.intent.metro == metro)
            || self
                .explained
                .iter()
                .any(|e| e.metro == metro && Some(e.advertised) == advertised)
    }

    /// Whether an action in flight or just finished accounts for this best path.
    fn action_explains_path(&self, path: &BestPath) -> bool {
        let after = match path {
            BestPath::Metro(m) => Some(m.as_str()),
            BestPath::NoRoute => None,
            _ => return false,
        };
        self.acting_on.is_some()
            || self.unfinished.as_ref().is_some_and(|u| u.running)
            || self
                .explained
                .iter()
                .any(|e| e.best.as_ref().is_some_and(|b| b.as_deref() == after))
    }

    fn event(&mut self, level: Level, text: impl Into<String>) {
        let e = Event {
            at: self.now,
            level,
            text: text.into(),
        };
        self.flash = Some(e.clone());
        self.events.push_back(e);
        while self.events.len() > MAX_EVENTS {
            self.events.pop_front();
        }
    }
}

/// The state machine. Returns the effects for the runtime to carry out.
pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => on_key(state, key),
        Msg::Snapshot(snap) => {
            on_snapshot(state, snap);
            Vec::new()
        }
        Msg::Probe { target, sample } => {
            on_probe(state, &target, sample);
            Vec::new()
        }
        Msg::Nomad { metro, snapshot } => {
            on_nomad(state, &metro, snapshot);
            Vec::new()
        }
        Msg::Allocation { metro, id, result } => {
            if let Some(d) = state.nomad_view.detail.as_mut() {
                if d.metro == metro && d.alloc_id == id {
                    d.alloc = Some(result);
                }
            }
            Vec::new()
        }
        Msg::Log {
            alloc_id,
            stderr,
            chunk,
        } => {
            if let Some(l) = state.nomad_view.logs.as_mut() {
                if l.alloc_id == alloc_id && l.stderr == stderr {
                    match chunk {
                        Ok(crate::nomad::logs::LogChunk::Data(bytes)) => l.push(&bytes),
                        Ok(crate::nomad::logs::LogChunk::Reset(why)) => l.reset(&why),
                        Err(e) => l.error = Some(e),
                    }
                }
            }
            Vec::new()
        }
        Msg::Progress(line) => {
            state.busy = Some(line);
            Vec::new()
        }
        Msg::Done(outcome) => {
            on_done(state, outcome);
            if state.quitting {
                vec![Effect::Quit]
            } else {
                vec![Effect::Refresh]
            }
        }
        Msg::Tick(now) => {
            state.now = now;
            Vec::new()
        }
        Msg::Resize => Vec::new(),
        Msg::WorkerStopped { worker, error } => on_worker_stopped(state, worker, error),
    }
}

fn on_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    match state.mode.clone() {
        Mode::Help => {
            // The help scrolls (it is longer than an 80x24 terminal); other keys close it.
            match (state.keymap.action_for(&key), key.code) {
                (Some(Action::SelectDown), _) => state.help_scroll += 1,
                (Some(Action::SelectUp), _) => {
                    state.help_scroll = state.help_scroll.saturating_sub(1)
                }
                (Some(Action::ScrollForward), _) | (_, KeyCode::Char(' ')) => {
                    state.help_scroll += 10
                }
                (Some(Action::ScrollBack), _) => {
                    state.help_scroll = state.help_scroll.saturating_sub(10)
                }
                (_, KeyCode::Home) => state.help_scroll = 0,
                _ => state.mode = Mode::Normal,
            }
            Vec::new()
        }
        Mode::Confirm(p) => on_confirm_key(state, p, key),
        Mode::Normal if state.view == View::Nomad && state.nomad_view.editing => {
            on_filter_key(state, key)
        }
        Mode::Normal => match state.keymap.action_for(&key) {
            Some(action) if state.view == View::Nomad => match on_nomad_action(state, action) {
                Some(effects) => effects,
                None => on_action(state, action),
            },
            Some(action) => on_action(state, action),
            None => Vec::new(),
        },
    }
}

fn on_confirm_key(state: &mut State, p: Pending, key: KeyEvent) -> Vec<Effect> {
    let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('y') | KeyCode::Enter if !p.needs_force && !ctrl_c => {
            state.mode = Mode::Normal;
            start(state, p.request)
        }
        KeyCode::Char('y') | KeyCode::Enter if !ctrl_c => {
            state.mode = Mode::Confirm(Pending {
                note: Some(format!(
                    "y does not proceed: this black-holes {}. Only F (twice) does; n cancels.",
                    state.prefix
                )),
                ..p
            });
            Vec::new()
        }
        KeyCode::Char('F') if p.needs_force && !p.forced_once => {
            state.mode = Mode::Confirm(Pending {
                forced_once: true,
                note: Some(format!(
                    "Sure? {} will not answer anywhere. F again to withdraw {} anyway.",
                    state.prefix, p.request.metro
                )),
                ..p
            });
            Vec::new()
        }
        KeyCode::Char('F') if p.needs_force => {
            state.mode = Mode::Normal;
            start(
                state,
                Request {
                    force: true,
                    ..p.request
                },
            )
        }
        KeyCode::Char('n') | KeyCode::Esc | KeyCode::Char('q') => {
            state.mode = Mode::Normal;
            state.flash = Some(Event {
                at: state.now,
                level: Level::Info,
                text: format!(
                    "{} of {} cancelled",
                    p.request.action.verb(),
                    p.request.metro
                ),
            });
            Vec::new()
        }
        _ if ctrl_c => {
            state.mode = Mode::Normal;
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn start(state: &mut State, request: Request) -> Vec<Effect> {
    state.busy = Some(format!("{} {}…", request.action.verb(), request.metro));
    state.acting_on = Some(request.metro.clone());
    vec![Effect::Execute(request)]
}

fn on_action(state: &mut State, action: Action) -> Vec<Effect> {
    match action {
        Action::SelectUp => {
            state.selected = state.selected.saturating_sub(1);
            Vec::new()
        }
        Action::SelectDown => {
            if state.selected + 1 < state.metros.len() {
                state.selected += 1;
            }
            Vec::new()
        }
        Action::Help => {
            state.mode = Mode::Help;
            state.help_scroll = 0;
            Vec::new()
        }
        Action::Quit => match state.busy.clone() {
            None => vec![Effect::Quit],
            // A confirmed action finishes and is recorded before the console goes.
            Some(busy) if !state.quitting => {
                state.quitting = true;
                state.event(
                    Level::Warn,
                    format!("finishing {busy} before quitting; quit again to interrupt it"),
                );
                Vec::new()
            }
            Some(_) => {
                state.event(
                    Level::Warn,
                    "interrupting the running action, then quitting",
                );
                vec![Effect::Interrupt]
            }
        },
        Action::Refresh => vec![Effect::Refresh],
        Action::Withdraw => ask(state, ActionKind::Withdraw),
        Action::Restore => ask(state, ActionKind::Restore),
        Action::ViewOverview => set_view(state, View::Overview),
        Action::ViewLatency => set_view(state, View::Latency),
        Action::ViewNomad => set_view(state, View::Nomad),
        Action::NextView => {
            let next = match state.view {
                View::Overview => View::Latency,
                View::Latency => View::Nomad,
                View::Nomad => View::Overview,
            };
            set_view(state, next)
        }
        Action::Freeze => {
            state.chart.frozen_at = match state.chart.frozen_at {
                Some(_) => None,
                None => Some(state.now),
            };
            Vec::new()
        }
        Action::ZoomIn => {
            state.chart.zoom_in();
            Vec::new()
        }
        Action::ZoomOut => {
            state.chart.zoom_out();
            Vec::new()
        }
        Action::ToggleAllMetros => {
            state.chart.all_metros = !state.chart.all_metros;
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn ask(state: &mut State, kind: ActionKind) -> Vec<Effect> {
    let Some(metro) = state.selected_metro().map(|m| m.name.clone()) else {
        return Vec::new();
    };
    if state.read_only {
        state.event(
            Level::Warn,
            format!("read-only mode: {} of {metro} refused", kind.verb()),
        );
        return Vec::new();
    }
    if let Some(busy) = &state.busy {
        let text = format!("busy ({busy}): {} of {metro} not started", kind.verb());
        state.flash = Some(Event {
            at: state.now,
            level: Level::Warn,
            text,
        });
        return Vec::new();
    }
    let request = Request {
        metro,
        action: kind,
        force: false,
    };
    let (consequence, needs_force) = state.consequence(&request);
    state.mode = Mode::Confirm(Pending {
        request,
        consequence,
        needs_force,
        forced_once: false,
        note: None,
    });
    Vec::new()
}

/// Keys while the Nomad filter is being typed: Enter keeps it, Esc clears it.
fn on_filter_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    use tui_input::backend::crossterm::EventHandler as _;
    let view = &mut state.nomad_view;
    match key.code {
        KeyCode::Enter => view.editing = false,
        KeyCode::Esc => {
            view.editing = false;
            view.filter.reset();
        }
        _ => {
            view.filter.handle_event(&crossterm::event::Event::Key(key));
        }
    }
    view.selected = 0;
    nomad::refresh_rows(state);
    Vec::new()
}

/// Actions that mean something else in the Nomad pane; `None` falls through to the
/// global meaning.
fn on_nomad_action(state: &mut State, action: Action) -> Option<Vec<Effect>> {
    let rows = state.nomad_view.rows.len();
    let selected_alloc = nomad::alloc_row(state, state.nomad_view.selected)
        .map(|(m, a)| (m.to_string(), a.id.to_string()));
    let logs_open = state.nomad_view.logs.is_some();
    let view_open = state.nomad_view.detail.is_some() || logs_open;
    let view = &mut state.nomad_view;
    let effects = match action {
        // In the logs, the selection keys and the page keys scroll.
        Action::SelectUp | Action::SelectDown | Action::ScrollBack | Action::ScrollForward
            if logs_open =>
        {
            if let Some(l) = view.logs.as_mut() {
                match action {
                    Action::SelectUp => l.scroll_back(1),
                    Action::SelectDown => l.scroll_forward(1),
                    Action::ScrollBack => l.scroll_back(nomad::PAGE),
                    _ => l.scroll_forward(nomad::PAGE),
                }
            }
            Vec::new()
        }
        Action::Follow if logs_open => {
            if let Some(l) = view.logs.as_mut() {
                l.follow();
            }
            Vec::new()
        }
        Action::SelectUp | Action::ScrollBack if !view_open => {
            let step = if action == Action::SelectUp {
                1
            } else {
                nomad::PAGE
            };
            view.selected = view.selected.saturating_sub(step);
            Vec::new()
        }
        Action::SelectDown | Action::ScrollForward if !view_open => {
            let step = if action == Action::SelectDown {
                1
            } else {
                nomad::PAGE
            };
            view.selected = (view.selected + step).min(rows.saturating_sub(1));
            Vec::new()
        }
        Action::Follow if !view_open => {
            view.selected = rows.saturating_sub(1);
            Vec::new()
        }
        Action::NextMetro => {
            let metros = nomad::nomad_metros(state);
            let next = match &state.nomad_view.metro {
                None => metros.first().map(|m| m.to_string()),
                Some(cur) => metros
                    .iter()
                    .position(|m| m == cur)
                    .and_then(|i| metros.get(i + 1))
                    .map(|m| m.to_string()),
            };
            state.nomad_view.metro = next;
            state.nomad_view.selected = 0;
            nomad::refresh_rows(state);
            Vec::new()
        }
        Action::Filter => {
            view.editing = true;
            Vec::new()
        }
        Action::Sort => {
            view.sort = view.sort.next();
            nomad::refresh_rows(state);
            Vec::new()
        }
        Action::Open => match selected_alloc {
            Some((metro, id)) => {
                state.nomad_view.logs = None;
                state.nomad_view.detail = Some(nomad::Detail {
                    metro: metro.clone(),
                    alloc_id: id.clone(),
                    alloc: None,
                });
                vec![Effect::StopLogs, Effect::FetchAllocation { metro, id }]
            }
            None => Vec::new(),
        },
        Action::Logs => {
            let chosen = match &state.nomad_view.detail {
                Some(d) => {
                    let task = d
                        .alloc
                        .as_ref()
                        .and_then(|r| r.as_ref().ok())
                        .and_then(|a| a.tasks().first().map(|t| t.to_string()));
                    Some((d.metro.clone(), d.alloc_id.clone(), task))
                }
                None => selected_alloc.map(|(m, id)| (m, id, None)),
            };
            match chosen {
                Some((metro, alloc_id, task)) => {
                    // Without task states in the list, ask the allocation's first task by
                    // the lab's and Hippo's convention of one task per group.
                    let task = task.unwrap_or_else(|| crate::lab::nomad_api::TASK.to_string());
                    // The detail (if open) stays underneath: Esc returns to it.
                    state.nomad_view.logs = Some(nomad::Logs::new(&metro, &alloc_id, &task, false));
                    vec![
                        Effect::StopLogs,
                        Effect::FollowLogs {
                            metro,
                            alloc_id,
                            task,
                            stderr: false,
                        },
                    ]
                }
                None => Vec::new(),
            }
        }
        Action::LogStream => match view.logs.as_ref() {
            Some(l) => {
                let (metro, alloc_id, task, stderr) = (
                    l.metro.clone(),
                    l.alloc_id.clone(),
                    l.task.clone(),
                    !l.stderr,
                );
                view.logs = Some(nomad::Logs::new(&metro, &alloc_id, &task, stderr));
                vec![
                    Effect::StopLogs,
                    Effect::FollowLogs {
                        metro,
                        alloc_id,
                        task,
                        stderr,
                    },
                ]
            }
            None => Vec::new(),
        },
        // Logs close first, back to the detail they were opened from (if any).
        Action::Back if logs_open => {
            view.logs = None;
            vec![Effect::StopLogs]
        }
        Action::Back if view_open => {
            view.detail = None;
            Vec::new()
        }
        _ => return None,
    };
    Some(effects)
}

fn on_nomad(state: &mut State, metro: &str, snap: crate::nomad::NomadSnapshot) {
    let Some(idx) = state.metros.iter().position(|m| m.name == metro) else {
        return;
    };
    let old = state.metros[idx]
        .nomad
        .as_ref()
        .map(|n| (n.summary(), n.error.clone()));
    let new_summary = snap.summary();
    let mut events = Vec::new();
    match (&old, &snap.error) {
        (Some((_, None)) | None, Some(e)) => {
            events.push((Level::Error, format!("{metro}: nomad: {e}")))
        }
        (Some((_, Some(_))), None) => {
            events.push((Level::Good, format!("{metro}: nomad reachable again")))
        }
        _ => {}
    }
    // Failures that need attention; replaced ones are history and no news.
    if let Some((Some(was), Some(now))) = old.as_ref().map(|(o, _)| (o.allocs, new_summary.allocs))
    {
        if now.failed > was.failed {
            events.push((
                Level::Error,
                format!("{metro}: {} allocation(s) failed", now.failed),
            ));
        }
        if now.lost > was.lost {
            events.push((
                Level::Error,
                format!("{metro}: {} allocation(s) lost", now.lost),
            ));
        }
        if now.attention() < was.attention() {
            events.push((
                Level::Good,
                format!("{metro}: allocations recovered ({} running)", now.running),
            ));
        }
    }
    if let Some((old_summary, _)) = &old {
        if old_summary.leader == Some(true)
            && new_summary.leader == Some(false)
            && snap.error.is_none()
        {
            events.push((Level::Error, format!("{metro}: nomad has no leader")));
        }
    }
    state.world.store_nomad(metro, snap);
    for (level, text) in events {
        state.event(level, text);
    }
    nomad::refresh_rows(state);
}

fn set_view(state: &mut State, view: View) -> Vec<Effect> {
    state.view = view;
    Vec::new()
}

fn on_probe(state: &mut State, target: &str, sample: crate::probe::ProbeSample) {
    let Some(news) = state.world.record_probe(target, &sample) else {
        return;
    };
    if target != ANYCAST {
        return;
    }
    match news.turned {
        Some(true) => {
            let lost = state.latency_row(target).map_or(0, |r| r.trailing_losses());
            let last = news
                .last_answer
                .map(|a| format!("; last answer {a}"))
                .unwrap_or_default();
            state.marker("lost".to_string());
            state.event(
                Level::Error,
                format!("anycast address failing: the last {lost} probes were lost{last}"),
            );
        }
        Some(false) => {
            let ms = sample
                .ttfb_ms()
                .map(|v| format!("{v:.0} ms"))
                .unwrap_or_default();
            let by = news
                .served
                .as_deref()
                .map(|b| format!(" via {b}"))
                .unwrap_or_default();
            let took = news
                .failing_since
                .and_then(|t| sample.at.duration_since(t).ok())
                .map(|d| format!(" (failed for {})", crate::domain::age(d.as_secs())))
                .unwrap_or_default();
            state.event(
                Level::Good,
                format!("anycast address answering again: {ms}{by}{took}"),
            );
        }
        None => {}
    }
    if let (Some(prev), Some(now)) = (news.previous, news.served) {
        if prev != now {
            let after = sample
                .ttfb_ms()
                .map(|v| format!("{v:.0} ms"))
                .unwrap_or_else(|| "-".into());
            let text = format!(
                "anycast now served by {now} (was {prev}): {} → {after}",
                news.before
            );
            state.marker(format!("served by {now}"));
            state.event(Level::Info, text);
        }
    }
}

/// A worker is gone: what it fed says so, with an event; nothing is left looking fresh.
fn on_worker_stopped(state: &mut State, worker: Worker, error: String) -> Vec<Effect> {
    match worker {
        Worker::Poller => {
            state.poller_error = Some(error.clone());
            state.event(
                Level::Error,
                format!("routing poller stopped: {error}; routers and the observer are no longer polled"),
            );
        }
        Worker::Probe(target) => {
            if let Some(row) = state.latency.iter_mut().find(|r| r.target == target) {
                row.worker_error = Some(error.clone());
            }
            state.event(
                Level::Error,
                format!("probe worker for {target} stopped: {error}"),
            );
        }
        Worker::Nomad(metro) => {
            state.event(
                Level::Error,
                format!("nomad watcher for {metro} stopped: {error}"),
            );
            on_nomad(
                state,
                &metro,
                crate::nomad::NomadSnapshot::failed(format!("watcher stopped: {error}")),
            );
        }
        Worker::Logs => {
            if let Some(l) = state.nomad_view.logs.as_mut() {
                l.error = Some(format!("log follower stopped: {error}"));
            }
        }
        Worker::Action => {
            // Its outcome never came: say so, and free the console for another action.
            let what = state.busy.take().unwrap_or_else(|| "the action".into());
            state.acting_on = None;
            state.event(
                Level::Error,
                format!("{what} stopped: {error}; its outcome is unknown (see the audit log and status)"),
            );
            if state.quitting {
                return vec![Effect::Quit];
            }
            return vec![Effect::Refresh];
        }
    }
    Vec::new()
}

fn on_done(state: &mut State, o: Outcome) {
    state.busy = None;
    state.acting_on = None;
    if o.ok() {
        let label = format!("{} {}", o.action.verb(), o.metro);
        state.marker(label);
        state.desired.insert(o.metro.clone(), o.action.desired());
        state.explained.push(Explained {
            metro: o.metro.clone(),
            advertised: o.action == ActionKind::Restore,
            best: Some(o.best_after.clone()),
            at: state.now,
        });
    }
    let level = match o.verdict {
        Verdict::Ok => Level::Good,
        Verdict::Refused | Verdict::Interrupted => Level::Warn,
        Verdict::Failed => Level::Error,
    };
    state.event(level, o.message);
}

/// The state directory as read with this poll: the desired state from every process,
/// and other processes' actions as events, so a withdraw from the command line is news
/// here, never drift. Returns whether a newly abandoned action is to be reported, once
/// the routers are read so that the note can say what state was found.
fn on_journal(state: &mut State, j: Journal) -> bool {
    match (&j.desired, state.journal_error.clone()) {
        (Ok(_), Some(_)) => state.event(Level::Good, "state directory readable again"),
        (Err(e), was) if was.as_deref() != Some(e.as_str()) => {
            state.event(Level::Error, format!("desired state unknown: {e}"))
        }
        _ => {}
    }
    let was = state
        .unfinished
        .as_ref()
        .map(|u| (u.intent.id.clone(), u.running));
    state.world.store_journal(&j);
    for r in j.records {
        if r.pid != state.own_pid {
            foreign_record(state, &r);
        }
    }
    let now = state
        .unfinished
        .as_ref()
        .map(|u| (u.intent.id.clone(), u.running));
    matches!(now, Some((_, false))) && was != now
}

/// Reports a newly abandoned action, with the state the routers show now.
fn report_abandoned(state: &mut State) {
    let Some(u) = state.unfinished.clone() else {
        return;
    };
    let advertised = state
        .metros
        .iter()
        .find(|m| m.name == u.intent.metro)
        .and_then(MetroState::advertised);
    state.event(Level::Error, u.note(advertised));
}

/// An audit record written by another process.
fn foreign_record(state: &mut State, r: &AuditRecord) {
    let via = r.via.map(|v| v.phrase()).unwrap_or("elsewhere");
    match (r.phase, r.verdict()) {
        (Phase::Intent, _) => state.event(
            Level::Info,
            format!(
                "{} of {} started by {} {via} (pid {})",
                r.action.verb(),
                r.metro,
                r.user,
                r.pid
            ),
        ),
        (Phase::Outcome, Some(Verdict::Ok)) => {
            let past = match r.action {
                ActionKind::Withdraw => "withdrawn",
                ActionKind::Restore => "restored",
            };
            let took = r
                .convergence_ms
                .map(|ms| format!(", verified in {ms:.1} ms"))
                .unwrap_or_default();
            state.marker(format!("{} {}", r.action.verb(), r.metro));
            state.explained.push(Explained {
                metro: r.metro.clone(),
                advertised: r.action == ActionKind::Restore,
                best: Some(r.best_after.clone()),
                at: state.now,
            });
            let now = r
                .best_after
                .as_deref()
                .map(|b| format!("; anycast now via {b}"))
                .unwrap_or_default();
            state.event(
                Level::Good,
                format!("{} {past} by {} {via}{took}{now}", r.metro, r.user),
            );
        }
        (Phase::Outcome, v) => {
            // The detail says what happened ("refused: …"); the word only without one.
            let what = match &r.detail {
                Some(d) => crate::domain::text::visible(d).into_owned(),
                None => v.map(Verdict::word).unwrap_or("failed").to_string(),
            };
            state.event(
                Level::Warn,
                format!(
                    "{} of {} by {} {via}: {what}",
                    r.action.verb(),
                    r.metro,
                    r.user,
                ),
            );
        }
    }
}

fn on_snapshot(state: &mut State, snap: Snapshot) {
    state.now = snap.taken;
    let abandoned = snap.journal.is_some_and(|j| on_journal(state, j));
    let first = state.last_poll.is_none();
    state.last_poll = Some(snap.taken);
    let path_before = crate::domain::best_path(state.observer.as_ref());
    let had_observer = state.observer.is_some();
    let now = state.now;
    state
        .explained
        .retain(|e| now.duration_since(e.at).unwrap_or_default() < EXPLAINED_FOR);
    for m in snap.metros {
        let Some(idx) = state.metros.iter().position(|r| r.name == m.name) else {
            continue;
        };
        let old = state.metros[idx].status.clone();
        let mut events = Vec::new();
        match (&old, &m.router) {
            (_, Err(e)) => {
                if !matches!(old, Some(Err(_))) {
                    events.push((Level::Error, format!("{}: {e}", m.name)));
                }
            }
            (Some(Err(_)), Ok(_)) => {
                events.push((Level::Good, format!("{}: router reachable again", m.name)))
            }
            (Some(Ok(a)), Ok(b)) => {
                let sa = a.bgp.as_ref().map(|s| s.session.as_str());
                let sb = b.bgp.as_ref().map(|s| s.session.as_str());
                if sa != sb {
                    events.push((
                        Level::Info,
                        format!(
                            "{}: BGP {} → {}",
                            m.name,
                            sa.unwrap_or("-"),
                            sb.unwrap_or("-")
                        ),
                    ));
                }
                if a.advertised != b.advertised && !state.action_explains(&m.name, b.advertised) {
                    let text = match b.advertised {
                        Some(true) => "now advertising",
                        Some(false) => "no longer advertising",
                        None => "unknown whether it advertises",
                    };
                    events.push((Level::Info, format!("{}: {text} {}", m.name, state.prefix)));
                }
            }
            (None, Ok(_)) => {}
        }
        // Each new problem once, in full: the metro's cell may be too narrow for it.
        if let Ok(b) = &m.router {
            let before: &[String] = match &old {
                Some(Ok(a)) => &a.problems,
                _ => &[],
            };
            for p in b.problems.iter().filter(|p| !before.contains(p)) {
                events.push((Level::Warn, format!("{}: {p}", m.name)));
            }
        }
        let drift_before = state.drift(&state.metros[idx]);
        state.world.store_router(idx, m.router, snap.taken);
        let drift_after = state.drift(&state.metros[idx]);
        if let (None, Some(d)) = (drift_before, drift_after) {
            events.push((Level::Warn, format!("{}: drift: {d}", m.name)));
        }
        for (level, text) in events {
            state.event(level, text);
        }
    }
    if let Some(obs) = snap.observer {
        match (&state.observer, &obs) {
            (Some(Err(_)), Err(_)) => {}
            (_, Err(e)) => state.event(Level::Error, format!("observer: {e}")),
            (Some(Err(_)), Ok(_)) => state.event(Level::Good, "observer reachable again"),
            _ => {}
        }
        state.world.store_observer(obs, snap.taken);
    }
    // Only what an answering observer says, before and after, is news: its silence is
    // no change of path (and never a black hole).
    let path_after = crate::domain::best_path(state.observer.as_ref());
    let known = |p: &BestPath| *p != BestPath::Unknown;
    if !first
        && had_observer
        && path_before != path_after
        && known(&path_before)
        && known(&path_after)
        && !state.action_explains_path(&path_after)
    {
        let was = path_before.words();
        let (level, text) = match &path_after {
            BestPath::Metro(b) => (Level::Info, format!("anycast now via {b} (was {was})")),
            BestPath::Peer(p) => (
                Level::Warn,
                format!("anycast now via peer {p}, not a configured metro (was {was})"),
            ),
            BestPath::NoRoute => (
                Level::Error,
                format!("anycast black-holed: no route (was via {was})"),
            ),
            BestPath::NoBest | BestPath::Unknown => (
                Level::Warn,
                format!("anycast: routes, but no best path (was {was})"),
            ),
        };
        state.event(level, text);
    }
    if abandoned {
        report_abandoned(state);
    }
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
