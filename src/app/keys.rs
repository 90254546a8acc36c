//! What a key does: in a dialog, in the help, while typing a filter, in the Nomad pane,
//! and everywhere else — resolved through the keymap, so every key is remappable.

use crossterm::event::{KeyCode, KeyEvent};

use super::{deploy, nomad, provision, Effect, Event, Level, Mode, Pending, State, View};
use crate::config::keymap::{Command, Layer};
use crate::domain::{ActionKind, Request};

pub(super) fn on_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    match state.mode.clone() {
        Mode::Help => {
            // The help scrolls (it is longer than an 80x24 terminal); other keys close it.
            match (state.keymap.command_for(&key), key.code) {
                (Some(Command::SelectDown), _) => state.help_scroll += 1,
                (Some(Command::SelectUp), _) => {
                    state.help_scroll = state.help_scroll.saturating_sub(1)
                }
                (Some(Command::ScrollForward), _) | (_, KeyCode::Char(' ')) => {
                    state.help_scroll += 10
                }
                (Some(Command::ScrollBack), _) => {
                    state.help_scroll = state.help_scroll.saturating_sub(10)
                }
                (_, KeyCode::Home) => state.help_scroll = 0,
                _ => state.mode = Mode::Normal,
            }
            Vec::new()
        }
        Mode::Confirm(p) => on_confirm_key(state, p, key),
        Mode::ConfirmProvision(c) => provision::on_confirm_key(state, c, key),
        Mode::ConfirmDeploy(c) => deploy::on_confirm_key(state, c, key),
        Mode::Normal if state.view == View::Nomad && state.nomad_view.editing => {
            on_filter_key(state, key)
        }
        Mode::Normal if state.view == View::Provision && state.provision_view.editing => {
            let before = state.provision_view.metros.value().to_string();
            provision::on_edit_key(state, key, &before)
        }
        Mode::Normal if state.view == View::Deploy && state.deploy_view.editing => {
            deploy::on_edit_key(state, key)
        }
        Mode::Normal => match state.keymap.command_for(&key) {
            Some(action) if state.view == View::Nomad => match on_nomad_action(state, action) {
                Some(effects) => effects,
                None => on_action(state, action),
            },
            Some(action) if state.view == View::Provision => {
                match provision::on_action(state, action) {
                    Some(effects) => effects,
                    None => on_action(state, action),
                }
            }
            Some(action) if state.view == View::Deploy => match deploy::on_action(state, action) {
                Some(effects) => effects,
                None => on_action(state, action),
            },
            Some(action) => on_action(state, action),
            None => Vec::new(),
        },
    }
}

pub(super) fn on_confirm_key(state: &mut State, p: Pending, key: KeyEvent) -> Vec<Effect> {
    let km = &state.keymap;
    let (confirm, force, cancel) = (
        km.label(Command::Confirm),
        km.label(Command::Force),
        km.label(Command::Cancel),
    );
    match state.keymap.command_in(Layer::Dialog, &key) {
        Some(Command::Confirm) if !p.needs_force => {
            state.mode = Mode::Normal;
            start(state, p.request)
        }
        Some(Command::Confirm) => {
            state.mode = Mode::Confirm(Pending {
                note: Some(format!(
                    "{confirm} does not proceed: this black-holes {}. Only {force} (twice) does; {cancel} cancels.",
                    state.prefix
                )),
                ..p
            });
            Vec::new()
        }
        Some(Command::Force) if p.needs_force && !p.forced_once => {
            state.mode = Mode::Confirm(Pending {
                forced_once: true,
                note: Some(format!(
                    "Sure? {} will not answer anywhere. {force} again to withdraw {} anyway.",
                    state.prefix, p.request.metro
                )),
                ..p
            });
            Vec::new()
        }
        Some(Command::Force) if p.needs_force => {
            state.mode = Mode::Normal;
            start(
                state,
                Request {
                    force: true,
                    ..p.request
                },
            )
        }
        Some(Command::Cancel) => {
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
        _ => Vec::new(),
    }
}

pub(super) fn start(state: &mut State, request: Request) -> Vec<Effect> {
    state.busy = Some(format!("{} {}…", request.action.verb(), request.metro));
    state.acting_on = Some(request.metro.clone());
    vec![Effect::Execute(request)]
}

pub(super) fn on_action(state: &mut State, action: Command) -> Vec<Effect> {
    match action {
        Command::SelectUp => {
            state.selected = state.selected.saturating_sub(1);
            Vec::new()
        }
        Command::SelectDown => {
            if state.selected + 1 < state.metros.len() {
                state.selected += 1;
            }
            Vec::new()
        }
        Command::Help => {
            state.mode = Mode::Help;
            state.help_scroll = 0;
            Vec::new()
        }
        Command::Quit if state.provision_view.running() && !state.quitting => {
            provision::quit_while_running(state)
        }
        Command::Quit if state.deploy_view.running() && !state.quitting => {
            deploy::quit_while_running(state)
        }
        Command::Quit if state.deploy_view.running() => {
            state.deploy_view.cancels = state.deploy_view.cancels.saturating_add(1);
            state.event(
                Level::Warn,
                "interrupting the deployment's step in progress, then quitting",
            );
            vec![Effect::DeployCancel]
        }
        Command::Quit => match state.busy.clone() {
            None if state.provision_view.running() => {
                state.event(Level::Warn, "cancelling terraform, then quitting");
                vec![Effect::ProvisionCancel]
            }
            None => match state
                .demo
                .as_mut()
                .and_then(super::demo::Demo::restore_before_quitting)
            {
                // The demo puts back what it withdrew, then the console goes.
                Some(request) => {
                    state.quitting = true;
                    state.event(
                        Level::Info,
                        format!(
                            "the demo restores {} before quitting; quit again to leave it withdrawn",
                            request.metro
                        ),
                    );
                    start(state, request)
                }
                None => vec![Effect::Quit],
            },
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
        Command::Refresh => vec![Effect::Refresh],
        Command::Withdraw => ask(state, ActionKind::Withdraw),
        Command::Restore => ask(state, ActionKind::Restore),
        Command::ViewOverview => set_view(state, View::Overview),
        Command::ViewLatency => set_view(state, View::Latency),
        Command::ViewNomad => set_view(state, View::Nomad),
        Command::ViewProvision => set_view(state, View::Provision),
        Command::ViewDeploy => set_view(state, View::Deploy),
        Command::ViewAnycast => set_view(state, View::Anycast),
        Command::DemoNext => demo_next(state),
        Command::NextView => set_view(state, state.view.next()),
        Command::Freeze => {
            state.chart.frozen_at = match state.chart.frozen_at {
                Some(_) => None,
                None => Some(state.now),
            };
            Vec::new()
        }
        Command::ZoomIn => {
            state.chart.zoom_in();
            Vec::new()
        }
        Command::ZoomOut => {
            state.chart.zoom_out();
            Vec::new()
        }
        Command::ToggleAllMetros => {
            state.chart.all_metros = !state.chart.all_metros;
            Vec::new()
        }
        _ => Vec::new(),
    }
}

pub(super) fn ask(state: &mut State, kind: ActionKind) -> Vec<Effect> {
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
    if state.deploy_view.running() {
        let text = format!(
            "a deployment is running (it holds the lock): {} of {metro} not started",
            kind.verb()
        );
        state.flash = Some(Event {
            at: state.now,
            level: Level::Warn,
            text,
        });
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
pub(super) fn on_filter_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
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
pub(super) fn on_nomad_action(state: &mut State, action: Command) -> Option<Vec<Effect>> {
    let rows = state.nomad_view.rows.len();
    let selected_alloc = nomad::alloc_row(state, state.nomad_view.selected)
        .map(|(m, a)| (m.to_string(), a.id.to_string()));
    let logs_open = state.nomad_view.logs.is_some();
    let view_open = state.nomad_view.detail.is_some() || logs_open;
    let view = &mut state.nomad_view;
    let effects = match action {
        // In the logs, the selection keys and the page keys scroll.
        Command::SelectUp | Command::SelectDown | Command::ScrollBack | Command::ScrollForward
            if logs_open =>
        {
            if let Some(l) = view.logs.as_mut() {
                match action {
                    Command::SelectUp => l.scroll_back(1),
                    Command::SelectDown => l.scroll_forward(1),
                    Command::ScrollBack => l.scroll_back(nomad::PAGE),
                    _ => l.scroll_forward(nomad::PAGE),
                }
            }
            Vec::new()
        }
        Command::Follow if logs_open => {
            if let Some(l) = view.logs.as_mut() {
                l.follow();
            }
            Vec::new()
        }
        Command::SelectUp | Command::ScrollBack if !view_open => {
            let step = if action == Command::SelectUp {
                1
            } else {
                nomad::PAGE
            };
            view.selected = view.selected.saturating_sub(step);
            Vec::new()
        }
        Command::SelectDown | Command::ScrollForward if !view_open => {
            let step = if action == Command::SelectDown {
                1
            } else {
                nomad::PAGE
            };
            view.selected = (view.selected + step).min(rows.saturating_sub(1));
            Vec::new()
        }
        Command::Follow if !view_open => {
            view.selected = rows.saturating_sub(1);
            Vec::new()
        }
        Command::NextMetro => {
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
        Command::Filter => {
            view.editing = true;
            Vec::new()
        }
        Command::Sort => {
            view.sort = view.sort.next();
            nomad::refresh_rows(state);
            Vec::new()
        }
        Command::Open => match selected_alloc {
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
        Command::Logs => {
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
                    // Without task states in the list, ask for the task of the console's
                    // own Spin job (one task per group, as the platform's jobs have).
                    let task = task.unwrap_or_else(|| crate::deploy::job::TASK.to_string());
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
        Command::LogStream => match view.logs.as_ref() {
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
        Command::Back if logs_open => {
            view.logs = None;
            vec![Effect::StopLogs]
        }
        Command::Back if view_open => {
            view.detail = None;
            Vec::new()
        }
        _ => return None,
    };
    Some(effects)
}

pub(super) fn set_view(state: &mut State, view: View) -> Vec<Effect> {
    state.view = view;
    if view == View::Nomad {
        nomad::refresh_rows(state);
    }
    match view {
        // The installer's outputs and the history, as they are now.
        View::Provision => vec![Effect::ProvisionRead],
        View::Deploy => vec![Effect::DeployRead],
        _ => Vec::new(),
    }
}

/// The space bar in the demo: the next step of the story, or why not yet.
fn demo_next(state: &mut State) -> Vec<Effect> {
    let facts = state.demo_facts();
    let now = state.now;
    let Some(d) = state.demo.as_mut() else {
        return Vec::new();
    };
    match d.next(&facts, now) {
        Ok(Some(request)) => start(state, request),
        Ok(None) => Vec::new(),
        Err(why) => {
            state.flash = Some(Event {
                at: now,
                level: Level::Info,
                text: why,
            });
            Vec::new()
        }
    }
}
