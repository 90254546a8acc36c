//! The provisioning pane's state and what its keys and messages do: a plan of the
//! installer with the metros variable as edited here, a confirmation that repeats the
//! plan's summary (a destroy needs the word `destroy` typed), the live run folded by a
//! [`Tracker`], the outputs (sensitive masked) and the metros the run added or removed,
//! written into the config on `W`. Pure, like the rest of the state machine: terraform
//! runs in the runtime's provisioning executor.

use crossterm::event::{KeyCode, KeyEvent};
use tui_input::Input;

use super::{Effect, Level, Mode, State};
use crate::config::keymap::{Command, Layer};
use crate::domain::journal::Verdict;
use crate::domain::provision::HistoryEntry;
use crate::provision::{Event, MetroDiff, Tracker};

/// The variable the pane edits: the installer's list of metro codes.
pub const METROS_VAR: &str = "metros";
/// History rows kept in the pane.
const MAX_HISTORY: usize = 50;

/// Where the pane is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Phase {
    /// Nothing run yet in this console.
    #[default]
    Idle,
    /// terraform is planning (`destroy`: a destroy plan).
    Planning { destroy: bool },
    /// A plan is held, ready to apply when confirmed.
    Planned {
        destroy: bool,
        has_changes: bool,
        words: String,
    },
    /// An apply or destroy runs.
    Applying { destroy: bool },
    /// Finished; `verdict` and the sentence are in [`ProvisionView::result`].
    Finished,
}

/// An output as the pane shows it: its name, its value as text (`(sensitive)` for a
/// sensitive one) and whether it is sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownOutput {
    pub name: String,
    pub value: String,
    pub sensitive: bool,
}

/// What the provisioning executor tells the pane.
#[derive(Debug, Clone, PartialEq)]
pub enum ProvisionMsg {
    /// A line of terraform's stream.
    Event(Event),
    /// This program's own progress ("waiting for another action ...").
    Note(String),
    /// A plan ended.
    Planned {
        destroy: bool,
        ok: bool,
        has_changes: bool,
        words: String,
    },
    /// An apply or destroy ended.
    Applied {
        verdict: Verdict,
        message: String,
        diff: Option<Result<MetroDiff, String>>,
    },
    Outputs(Result<Vec<ShownOutput>, String>),
    History(Result<Vec<HistoryEntry>, String>),
    /// The metro diff was written into the config (or why not).
    Written(Result<(), String>),
}

/// The pane.
#[derive(Debug, Clone, Default)]
pub struct ProvisionView {
    /// `None`: the config has no `[provision]` table (the pane says how to add one).
    pub installer: Option<String>,
    pub phase: Phase,
    /// The metros variable as it goes to terraform (`["am","da"]`).
    pub metros: Input,
    pub editing: bool,
    /// The run on screen, folded.
    pub tracker: Tracker,
    /// The raw log instead of the resource table.
    pub show_log: bool,
    /// Lines scrolled back from the end of the raw log.
    pub log_back: usize,
    /// Our own notes ("waiting for the lock ...") and the latest result sentence.
    pub note: Option<String>,
    pub result: Option<(Verdict, String)>,
    pub outputs: Option<Result<Vec<ShownOutput>, String>>,
    /// The metros the last apply added or removed, and whether they are written.
    pub diff: Option<Result<MetroDiff, String>>,
    pub written: Option<Result<(), String>>,
    pub history: Vec<HistoryEntry>,
    /// Interrupts asked of the running operation (1: graceful, 2: cancel).
    pub cancels: u8,
    /// When the operation on screen started and ended (the console's clock).
    pub started: Option<std::time::SystemTime>,
    pub ended: Option<std::time::SystemTime>,
}

impl ProvisionView {
    /// The pane of a config: the installer's directory, and the metros variable as the
    /// config gives it (or the config's metros).
    pub fn new(cfg: &crate::config::Config) -> ProvisionView {
        let installer = cfg
            .provision
            .as_ref()
            .map(|p| crate::domain::text::visible(&p.dir.display().to_string()).into_owned());
        let metros = cfg
            .provision
            .as_ref()
            .and_then(|p| p.vars.iter().rev().find(|(k, _)| k == METROS_VAR))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| {
                let names: Vec<String> = cfg
                    .metros
                    .iter()
                    .map(|m| format!("\"{}\"", m.name))
                    .collect();
                format!("[{}]", names.join(","))
            });
        ProvisionView {
            installer,
            metros: Input::new(metros),
            ..ProvisionView::default()
        }
    }

    /// Whether terraform runs now.
    pub fn running(&self) -> bool {
        matches!(self.phase, Phase::Planning { .. } | Phase::Applying { .. })
    }

    /// The run's progress: (resources finished, resources changing).
    pub fn progress(&self) -> (usize, usize) {
        (self.tracker.finished(), self.tracker.changing())
    }
}

/// The confirmation of a held plan: the plan's words, and for a destroy the word typed
/// so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionConfirm {
    pub destroy: bool,
    pub words: String,
    pub typed: String,
    pub note: Option<String>,
}

/// A key in the provisioning pane; `None` falls through to the global meaning.
pub(super) fn on_action(state: &mut State, action: Command) -> Option<Vec<Effect>> {
    let now = state.now;
    let view = &mut state.provision_view;
    let effects = match action {
        Command::ProvisionPlan | Command::ProvisionDestroy => {
            let destroy = action == Command::ProvisionDestroy;
            if view.installer.is_none() {
                state.event(
                    Level::Warn,
                    "no [provision] table in the config: add one with `dir = \"PATH\"` to plan here",
                );
                return Some(Vec::new());
            }
            if view.running() {
                state.event(
                    Level::Warn,
                    "terraform is already running: wait, or c to stop it",
                );
                return Some(Vec::new());
            }
            let vars = vec![(METROS_VAR.to_string(), view.metros.value().to_string())];
            view.phase = Phase::Planning { destroy };
            view.tracker = Tracker::default();
            view.result = None;
            view.note = None;
            view.cancels = 0;
            view.log_back = 0;
            view.started = Some(now);
            view.ended = None;
            vec![Effect::ProvisionPlan {
                destroy,
                vars: if destroy { Vec::new() } else { vars },
            }]
        }
        Command::ProvisionApply => {
            let Phase::Planned {
                destroy,
                has_changes,
                words,
            } = view.phase.clone()
            else {
                state.event(Level::Warn, "nothing to apply: plan first (p)");
                return Some(Vec::new());
            };
            if !has_changes {
                state.event(Level::Info, "the plan has no changes: nothing to apply");
                return Some(Vec::new());
            }
            if state.read_only {
                state.event(
                    Level::Warn,
                    format!(
                        "read-only mode: {} refused",
                        if destroy { "destroy" } else { "apply" }
                    ),
                );
                return Some(Vec::new());
            }
            state.mode = Mode::ConfirmProvision(ProvisionConfirm {
                destroy,
                words,
                typed: String::new(),
                note: None,
            });
            Vec::new()
        }
        Command::ProvisionCancel => {
            if !view.running() {
                return Some(Vec::new());
            }
            view.cancels = view.cancels.saturating_add(1);
            let n = view.cancels;
            state.event(
                Level::Warn,
                if n == 1 {
                    "stopping terraform gracefully (c again cancels it)"
                } else {
                    "cancelling terraform"
                },
            );
            vec![Effect::ProvisionCancel]
        }
        Command::ProvisionEdit => {
            view.editing = true;
            Vec::new()
        }
        Command::ProvisionWrite => match (&view.diff, &view.written) {
            (Some(Ok(d)), None) if !d.is_empty() => {
                if state.read_only {
                    state.event(Level::Warn, "read-only mode: the config is not written");
                    return Some(Vec::new());
                }
                vec![Effect::ProvisionWrite(d.clone())]
            }
            _ => {
                state.event(Level::Info, "no metro changes to write into the config");
                Vec::new()
            }
        },
        Command::Logs => {
            view.show_log = !view.show_log;
            view.log_back = 0;
            Vec::new()
        }
        Command::SelectUp | Command::ScrollBack if view.show_log => {
            let n = if action == Command::SelectUp { 1 } else { 10 };
            view.log_back = (view.log_back + n).min(view.tracker.log.len().saturating_sub(1));
            Vec::new()
        }
        Command::SelectDown | Command::ScrollForward if view.show_log => {
            let n = if action == Command::SelectDown { 1 } else { 10 };
            view.log_back = view.log_back.saturating_sub(n);
            Vec::new()
        }
        Command::Follow if view.show_log => {
            view.log_back = 0;
            Vec::new()
        }
        Command::Refresh => vec![Effect::ProvisionRead, Effect::Refresh],
        _ => return None,
    };
    Some(effects)
}

/// Keys while the metros variable is edited: Enter keeps it, Esc restores it.
pub(super) fn on_edit_key(state: &mut State, key: KeyEvent, before: &str) -> Vec<Effect> {
    use tui_input::backend::crossterm::EventHandler as _;
    let view = &mut state.provision_view;
    match key.code {
        KeyCode::Enter => view.editing = false,
        KeyCode::Esc => {
            view.editing = false;
            view.metros = Input::new(before.to_string());
        }
        _ => {
            view.metros.handle_event(&crossterm::event::Event::Key(key));
        }
    }
    Vec::new()
}

/// Keys in the confirmation: apply on the confirm key; a destroy only once `destroy`
/// is typed and Enter pressed.
pub(super) fn on_confirm_key(state: &mut State, c: ProvisionConfirm, key: KeyEvent) -> Vec<Effect> {
    let dialog = state.keymap.command_in(Layer::Dialog, &key);
    if c.destroy {
        return match key.code {
            KeyCode::Enter if c.typed == "destroy" => go(state, true),
            KeyCode::Enter => {
                state.mode = Mode::ConfirmProvision(ProvisionConfirm {
                    note: Some("type the word destroy, then Enter (Esc cancels)".into()),
                    typed: String::new(),
                    ..c
                });
                Vec::new()
            }
            KeyCode::Esc => cancel(state),
            KeyCode::Backspace => {
                let mut typed = c.typed.clone();
                typed.pop();
                state.mode = Mode::ConfirmProvision(ProvisionConfirm { typed, ..c });
                Vec::new()
            }
            KeyCode::Char(ch) if c.typed.len() < 16 => {
                let typed = format!("{}{ch}", c.typed);
                state.mode = Mode::ConfirmProvision(ProvisionConfirm { typed, ..c });
                Vec::new()
            }
            _ if dialog == Some(Command::Cancel) => cancel(state),
            _ => Vec::new(),
        };
    }
    match dialog {
        Some(Command::Confirm) => go(state, false),
        Some(Command::Cancel) => cancel(state),
        _ => Vec::new(),
    }
}

fn go(state: &mut State, destroy: bool) -> Vec<Effect> {
    state.mode = Mode::Normal;
    let now = state.now;
    let view = &mut state.provision_view;
    view.started = Some(now);
    view.ended = None;
    view.phase = Phase::Applying { destroy };
    view.diff = None;
    view.written = None;
    view.cancels = 0;
    vec![Effect::ProvisionApply]
}

fn cancel(state: &mut State) -> Vec<Effect> {
    state.mode = Mode::Normal;
    state.event(Level::Info, "provisioning: the plan was not applied");
    Vec::new()
}

/// A message from the provisioning executor.
pub(super) fn on_msg(state: &mut State, msg: ProvisionMsg) -> Vec<Effect> {
    let now = state.now;
    let view = &mut state.provision_view;
    if matches!(
        msg,
        ProvisionMsg::Planned { .. } | ProvisionMsg::Applied { .. }
    ) {
        view.ended = Some(now);
    }
    match msg {
        ProvisionMsg::Event(e) => {
            view.tracker.take(&e);
            Vec::new()
        }
        ProvisionMsg::Note(n) => {
            view.note = Some(n);
            Vec::new()
        }
        ProvisionMsg::Planned {
            destroy,
            ok,
            has_changes,
            words,
        } => {
            if ok {
                view.phase = Phase::Planned {
                    destroy,
                    has_changes,
                    words: words.clone(),
                };
                let what = if destroy { "destroy plan" } else { "plan" };
                let next = if has_changes { "; A to apply" } else { "" };
                state.event(Level::Info, format!("provisioning {what}: {words}{next}"));
            } else {
                view.phase = Phase::Finished;
                view.result = Some((Verdict::Failed, format!("plan failed: {words}")));
                state.event(Level::Error, format!("provisioning plan failed: {words}"));
            }
            let mut effects = vec![Effect::ProvisionRead];
            if state.quitting {
                effects.push(Effect::Quit);
            }
            effects
        }
        ProvisionMsg::Applied {
            verdict,
            message,
            diff,
        } => {
            view.phase = Phase::Finished;
            view.result = Some((verdict, message.clone()));
            view.diff = diff;
            let level = match verdict {
                Verdict::Ok => Level::Good,
                Verdict::Refused | Verdict::Interrupted => Level::Warn,
                Verdict::Failed => Level::Error,
            };
            let hint = match &view.diff {
                Some(Ok(d)) if !d.is_empty() => {
                    format!(
                        "; metros {} (W writes them into the config)",
                        d.lines().join(", ")
                    )
                }
                _ => String::new(),
            };
            state.event(level, format!("provisioning: {message}{hint}"));
            let mut effects = vec![Effect::ProvisionRead];
            if state.quitting {
                effects.push(Effect::Quit);
            }
            effects
        }
        ProvisionMsg::Outputs(o) => {
            view.outputs = Some(o);
            Vec::new()
        }
        ProvisionMsg::History(h) => {
            match h {
                Ok(mut h) => {
                    let cut = h.len().saturating_sub(MAX_HISTORY);
                    h.drain(..cut);
                    view.history = h;
                }
                Err(e) => view.note = Some(format!("history: {e}")),
            }
            Vec::new()
        }
        ProvisionMsg::Written(r) => {
            match &r {
                Ok(()) => state.event(
                    Level::Good,
                    "provisioning: metros written into the config; the console follows it",
                ),
                Err(e) => state.event(
                    Level::Error,
                    format!("provisioning: config not written: {e}"),
                ),
            }
            state.provision_view.written = Some(r);
            Vec::new()
        }
    }
}

/// Quitting while terraform runs: it is stopped gracefully and the console quits once
/// its outcome is recorded.
pub(super) fn quit_while_running(state: &mut State) -> Vec<Effect> {
    state.quitting = true;
    state.provision_view.cancels = state.provision_view.cancels.saturating_add(1);
    state.event(
        Level::Warn,
        "quitting: stopping terraform gracefully first (its outcome goes to the audit log)",
    );
    vec![Effect::ProvisionCancel]
}

#[cfg(test)]
pub(crate) fn shown(name: &str, value: &str, sensitive: bool) -> ShownOutput {
    ShownOutput {
        name: name.into(),
        value: value.into(),
        sensitive,
    }
}
