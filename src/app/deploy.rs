//! The deployment pane's state and what its keys and messages do: the app reference
//! typed here (tui-input), the plan it would make on what the console sees now (metros
//! in order, drained or not), a confirmation that repeats the plan, then one row per
//! metro following the rollout (phase, allocations, the version its address answers,
//! elapsed), a log of steps, and the history of deployments. Pure, like the rest of the
//! state machine: the rollout runs in the runtime's deployment executor (`ops::deploy`,
//! which decides the plan again under the lock).

use std::collections::VecDeque;
use std::time::SystemTime;

use crossterm::event::{KeyCode, KeyEvent};
use tui_input::Input;

use super::{Effect, Level, Mode, State};
use crate::config::keymap::{Command, Layer};
use crate::domain::deploy::{
    AllocCounts, AppRef, DeployEvent, Drain, HistoryEntry, MetroPhase, MetroReport, Plan,
};
use crate::domain::journal::Verdict;
use crate::domain::text::visible;

/// Log lines kept in the pane.
const MAX_LOG: usize = 300;
/// History rows kept in the pane.
const MAX_HISTORY: usize = 50;

/// Where the pane is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    Idle,
    Running,
    Finished,
}

/// One metro of the deployment on screen.
#[derive(Debug, Clone, PartialEq)]
pub struct MetroRow {
    pub metro: String,
    pub drain: Drain,
    pub phase: MetroPhase,
    pub counts: Option<AllocCounts>,
    /// What its own address answered last.
    pub seen: Option<String>,
    /// The last step's words, or the outcome's sentence.
    pub detail: String,
    pub started: Option<SystemTime>,
    pub ended: Option<SystemTime>,
}

/// What the deployment executor tells the pane.
#[derive(Debug, Clone, PartialEq)]
pub enum DeployMsg {
    Event(DeployEvent),
    /// The console's own progress ("waiting for another action ...").
    Note(String),
    /// The rollout ended.
    Finished {
        verdict: Verdict,
        message: String,
        metros: Vec<MetroReport>,
    },
    History(Result<Vec<HistoryEntry>, String>),
}

/// The pane.
#[derive(Debug, Clone, Default)]
pub struct DeployView {
    /// The app reference as typed.
    pub reference: Input,
    pub editing: bool,
    /// `--no-drain`: metros keep serving anycast while they change.
    pub no_drain: bool,
    pub phase: Phase,
    /// The job ID, as the config names it (`None`: the app's name).
    pub job: Option<String>,
    /// `[deploy] order`, when the config fixes one.
    pub order: Option<Vec<String>>,
    /// The plan the rollout runs (decided under the lock), once it started.
    pub plan: Option<Plan>,
    pub rows: Vec<MetroRow>,
    pub log: VecDeque<String>,
    pub note: Option<String>,
    pub result: Option<(Verdict, String)>,
    pub history: Vec<HistoryEntry>,
    /// Cancels asked of the running rollout (1: before the next step, 2: now).
    pub cancels: u8,
    pub started: Option<SystemTime>,
    pub ended: Option<SystemTime>,
}

impl DeployView {
    pub fn new(cfg: &crate::config::Config) -> DeployView {
        DeployView {
            job: cfg.deploy.job.clone(),
            order: cfg.deploy.order.clone(),
            ..DeployView::default()
        }
    }

    pub fn running(&self) -> bool {
        self.phase == Phase::Running
    }

    /// (metros finished with, metros in the rollout).
    pub fn progress(&self) -> (usize, usize) {
        (
            self.rows.iter().filter(|r| r.phase.settled()).count(),
            self.rows.len(),
        )
    }

    fn row(&mut self, metro: &str) -> Option<&mut MetroRow> {
        self.rows.iter_mut().find(|r| r.metro == metro)
    }

    fn log_line(&mut self, at: SystemTime, line: String) {
        let clock = crate::domain::clock(at);
        self.log.push_back(format!("{clock} {}", visible(&line)));
        while self.log.len() > MAX_LOG {
            self.log.pop_front();
        }
    }
}

/// The confirmation of a deployment: the plan as the console sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployConfirm {
    pub plan: Plan,
    pub no_drain: bool,
}

/// The plan of deploying `app` on the world as the console sees it: the metros with a
/// Nomad API, in the configured order or least anycast traffic first, each drained
/// unless it is the last advertising one (or `no_drain`).
pub fn preview(state: &State, app: &AppRef) -> Plan {
    let v = &state.deploy_view;
    let candidates: Vec<String> = state
        .metros
        .iter()
        .filter(|m| m.has_nomad)
        .map(|m| m.name.clone())
        .collect();
    let order = crate::deploy::order(&candidates, v.order.as_deref(), state.observer.as_ref());
    let job = v.job.clone().unwrap_or_else(|| app.name().to_string());
    crate::deploy::plan(app, &job, &order, &state.advertising(), v.no_drain)
}

/// A key in the deployment pane; `None` falls through to the global meaning.
pub(super) fn on_action(state: &mut State, action: Command) -> Option<Vec<Effect>> {
    let effects = match action {
        Command::DeployEdit => {
            if state.deploy_view.running() {
                state.event(
                    Level::Warn,
                    "a deployment is running: wait, or x to stop it before its next step",
                );
                return Some(Vec::new());
            }
            state.deploy_view.editing = true;
            Vec::new()
        }
        Command::DeployDrain => {
            if state.deploy_view.running() {
                return Some(Vec::new());
            }
            let v = &mut state.deploy_view;
            v.no_drain = !v.no_drain;
            let text = if v.no_drain {
                "deployment: metros will NOT be drained (they serve anycast while they change)"
            } else {
                "deployment: metros are drained from anycast while they change"
            };
            state.event(Level::Info, text);
            Vec::new()
        }
        Command::DeployCancel => {
            if !state.deploy_view.running() {
                return Some(Vec::new());
            }
            let v = &mut state.deploy_view;
            v.cancels = v.cancels.saturating_add(1);
            let text = if v.cancels == 1 {
                "deployment: stopping before the next step (x again reverts the metro in progress now)"
            } else {
                "deployment: interrupting the step in progress"
            };
            state.event(Level::Warn, text);
            vec![Effect::DeployCancel]
        }
        Command::Refresh => vec![Effect::DeployRead, Effect::Refresh],
        _ => return None,
    };
    Some(effects)
}

/// Keys while the reference is typed: Enter asks to deploy it, Esc stops typing.
pub(super) fn on_edit_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    use tui_input::backend::crossterm::EventHandler as _;
    match key.code {
        KeyCode::Enter => {
            state.deploy_view.editing = false;
            ask(state)
        }
        KeyCode::Esc => {
            state.deploy_view.editing = false;
            Vec::new()
        }
        _ => {
            state
                .deploy_view
                .reference
                .handle_event(&crossterm::event::Event::Key(key));
            Vec::new()
        }
    }
}

/// Enter on a reference: the confirmation, or why not.
fn ask(state: &mut State) -> Vec<Effect> {
    let text = state.deploy_view.reference.value().trim().to_string();
    if text.is_empty() {
        return Vec::new();
    }
    let app = match AppRef::parse(&text) {
        Ok(a) => a,
        Err(e) => {
            state.event(Level::Warn, format!("deployment: {e}"));
            return Vec::new();
        }
    };
    if state.read_only {
        state.event(Level::Warn, "read-only mode: deployment refused");
        return Vec::new();
    }
    if let Some(busy) = &state.busy {
        let text = format!("busy ({busy}): deployment not started");
        state.event(Level::Warn, text);
        return Vec::new();
    }
    let plan = preview(state, &app);
    if plan.steps.is_empty() {
        state.event(
            Level::Warn,
            "deployment: no metro has a [metro.nomad] table (or none is in [deploy] order)",
        );
        return Vec::new();
    }
    state.mode = Mode::ConfirmDeploy(DeployConfirm {
        plan,
        no_drain: state.deploy_view.no_drain,
    });
    Vec::new()
}

/// Keys in the confirmation.
pub(super) fn on_confirm_key(state: &mut State, c: DeployConfirm, key: KeyEvent) -> Vec<Effect> {
    match state.keymap.command_in(Layer::Dialog, &key) {
        Some(Command::Confirm) => {
            state.mode = Mode::Normal;
            start(state, c)
        }
        Some(Command::Cancel) => {
            state.mode = Mode::Normal;
            state.event(Level::Info, "deployment: not started");
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn start(state: &mut State, c: DeployConfirm) -> Vec<Effect> {
    let now = state.now;
    let v = &mut state.deploy_view;
    v.phase = Phase::Running;
    v.started = Some(now);
    v.ended = None;
    v.result = None;
    v.note = None;
    v.cancels = 0;
    v.log.clear();
    v.rows = rows_of(&c.plan);
    v.plan = Some(c.plan.clone());
    let reference = c.plan.app.full.clone();
    v.log_line(
        now,
        format!("deploying {reference}: {}", c.plan.order_words()),
    );
    state.marker(format!("deploy {}", c.plan.app.version()));
    vec![Effect::Deploy {
        reference,
        no_drain: c.no_drain,
    }]
}

fn rows_of(plan: &Plan) -> Vec<MetroRow> {
    plan.steps
        .iter()
        .map(|s| MetroRow {
            metro: s.metro.clone(),
            drain: s.drain,
            phase: MetroPhase::Queued,
            counts: None,
            seen: None,
            detail: String::new(),
            started: None,
            ended: None,
        })
        .collect()
}

/// The chart's word for a metro entering a phase (`None`: no marker).
fn marker_word(phase: MetroPhase) -> Option<&'static str> {
    match phase {
        MetroPhase::Draining => Some("drain"),
        MetroPhase::Placing => Some("place"),
        MetroPhase::Verifying => Some("verify"),
        MetroPhase::Restoring => Some("restore"),
        MetroPhase::Done => Some("done"),
        MetroPhase::Reverting => Some("revert"),
        MetroPhase::Reverted => Some("reverted"),
        MetroPhase::Failed => Some("FAILED"),
        _ => None,
    }
}

/// A message from the deployment executor.
pub(super) fn on_msg(state: &mut State, msg: DeployMsg) -> Vec<Effect> {
    let now = state.now;
    match msg {
        DeployMsg::Event(e) => {
            on_event(state, e);
            Vec::new()
        }
        DeployMsg::Note(n) => {
            state.deploy_view.log_line(now, n.clone());
            state.deploy_view.note = Some(n);
            Vec::new()
        }
        DeployMsg::Finished {
            verdict,
            message,
            metros,
        } => {
            let v = &mut state.deploy_view;
            v.phase = Phase::Finished;
            v.ended = Some(now);
            for r in &metros {
                if let Some(row) = v.row(&r.metro) {
                    row.phase = r.phase;
                    row.detail = r.detail.clone();
                    row.ended.get_or_insert(now);
                }
            }
            v.result = Some((verdict, message.clone()));
            v.log_line(now, message.clone());
            let level = match verdict {
                Verdict::Ok => Level::Good,
                Verdict::Refused | Verdict::Interrupted => Level::Warn,
                Verdict::Failed => Level::Error,
            };
            state.event(level, format!("deployment: {}", visible(&message)));
            let mut effects = vec![Effect::DeployRead, Effect::Refresh];
            if state.quitting {
                effects.push(Effect::Quit);
            }
            effects
        }
        DeployMsg::History(h) => {
            match h {
                Ok(mut h) => {
                    let cut = h.len().saturating_sub(MAX_HISTORY);
                    h.drain(..cut);
                    state.deploy_view.history = h;
                }
                Err(e) => state.deploy_view.note = Some(format!("history: {e}")),
            }
            Vec::new()
        }
    }
}

fn on_event(state: &mut State, e: DeployEvent) {
    let now = state.now;
    match e {
        DeployEvent::Plan { plan } => {
            let v = &mut state.deploy_view;
            // The plan as decided under the lock may differ from the preview.
            let old = std::mem::take(&mut v.rows);
            v.rows = rows_of(&plan);
            for r in &mut v.rows {
                if let Some(o) = old.iter().find(|o| o.metro == r.metro) {
                    r.started = o.started;
                }
            }
            for w in &plan.warnings {
                v.log_line(now, format!("warning: {w}"));
            }
            v.plan = Some(plan);
        }
        DeployEvent::Phase {
            metro,
            phase,
            detail,
        } => {
            let v = &mut state.deploy_view;
            let mut moved = false;
            if let Some(row) = v.row(&metro) {
                moved = row.phase != phase;
                row.phase = phase;
                row.started.get_or_insert(now);
                if phase.settled() {
                    row.ended = Some(now);
                }
                row.detail = detail.clone();
            }
            if moved {
                v.log_line(now, format!("{metro} {}: {detail}", phase.word()));
                if let Some(w) = marker_word(phase) {
                    state.marker(format!("{metro} {w}"));
                }
                match phase {
                    MetroPhase::Done => state.event(
                        Level::Good,
                        format!("deployment: {metro} done ({})", visible(&detail)),
                    ),
                    MetroPhase::Failed => state.event(
                        Level::Error,
                        format!("deployment: {metro} FAILED: {}", visible(&detail)),
                    ),
                    MetroPhase::Reverted => state.event(
                        Level::Warn,
                        format!("deployment: {metro} reverted: {}", visible(&detail)),
                    ),
                    _ => {}
                }
            }
        }
        DeployEvent::Allocs { metro, counts } => {
            if let Some(row) = state.deploy_view.row(&metro) {
                row.counts = Some(counts);
            }
        }
        DeployEvent::Version { metro, version } => {
            if let Some(row) = state.deploy_view.row(&metro) {
                row.seen = Some(version);
            }
        }
        DeployEvent::Log { metro, message } => {
            let line = match metro {
                // "da withdrawn, ..." already names its metro.
                Some(m) if message.starts_with(&format!("{m} ")) => message,
                Some(m) => format!("{m} {message}"),
                None => message,
            };
            state.deploy_view.log_line(now, line);
        }
        DeployEvent::Metro { report } => {
            let v = &mut state.deploy_view;
            if let Some(row) = v.row(&report.metro) {
                row.phase = report.phase;
                row.detail = report.detail;
                if report.seen_version.is_some() {
                    row.seen = report.seen_version;
                }
                if row.phase.settled() {
                    row.ended.get_or_insert(now);
                }
            }
        }
    }
}

/// Quitting while a deployment runs: it stops before its next step (every metro left
/// advertising and consistent), and the console quits once it is recorded.
pub(super) fn quit_while_running(state: &mut State) -> Vec<Effect> {
    state.quitting = true;
    let v = &mut state.deploy_view;
    v.cancels = v.cancels.saturating_add(1);
    state.event(
        Level::Warn,
        "quitting: the deployment stops before its next step first (quit again: now)",
    );
    vec![Effect::DeployCancel]
}
