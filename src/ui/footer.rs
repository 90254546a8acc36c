//! Footer: the running action, else a recent message, else the key hints.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::style;
use crate::app::{State, View};
use crate::config::keymap::Command;

/// How long a message replaces the key hints.
const FLASH_SECS: u64 = 8;

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let line = if let Some(busy) = &state.busy {
        Line::from(Span::styled(format!(" ⟳ {busy}"), style::accent(t)))
    } else if let Some(f) = state.flash.as_ref().filter(|f| {
        state
            .now
            .duration_since(f.at)
            .map(|d| d.as_secs() < FLASH_SECS)
            .unwrap_or(true)
    }) {
        Line::from(Span::styled(
            format!(" {}", f.text),
            style::level(t, f.level),
        ))
    } else {
        hints(state)
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn hints(state: &State) -> Line<'static> {
    let t = &state.theme;
    let bindings = state.keymap.bindings();
    let first_key = |action: Command| {
        bindings
            .iter()
            .find(|(a, _)| *a == action)
            .and_then(|(_, keys)| keys.first().cloned())
    };
    let mut spans = Vec::new();
    let common: &[(&[Command], &str)] = &[
        (&[Command::SelectUp, Command::SelectDown], "select"),
        (&[Command::Withdraw], "withdraw"),
        (&[Command::Restore], "restore"),
    ];
    let latency: &[(&[Command], &str)] = &[
        (&[Command::Freeze], "freeze"),
        (&[Command::ZoomIn, Command::ZoomOut], "zoom"),
        (&[Command::ToggleAllMetros], "all"),
    ];
    let nomad: &[(&[Command], &str)] = &[
        (&[Command::SelectUp, Command::SelectDown], "select"),
        (&[Command::Filter], "filter"),
        (&[Command::Sort], "sort"),
        (&[Command::NextMetro], "metro"),
        (&[Command::Open], "detail"),
        (&[Command::Logs], "logs"),
    ];
    let logs: &[(&[Command], &str)] = &[
        (&[Command::ScrollBack, Command::ScrollForward], "scroll"),
        (&[Command::Follow], "follow"),
        (&[Command::LogStream], "stdout/stderr"),
        (&[Command::Back], "back"),
    ];
    let provision: &[(&[Command], &str)] = &[
        (&[Command::ProvisionPlan], "plan"),
        (&[Command::ProvisionApply], "apply"),
        (&[Command::ProvisionDestroy], "destroy"),
        (&[Command::ProvisionCancel], "stop"),
        (&[Command::ProvisionEdit], "metros"),
        (&[Command::Logs], "log"),
        (&[Command::ProvisionWrite], "write"),
    ];
    let deploy: &[(&[Command], &str)] = &[
        (&[Command::DeployEdit], "ref"),
        (&[Command::DeployDrain], "drain"),
        (&[Command::DeployCancel], "stop"),
    ];
    let tail: &[(&[Command], &str)] = &[
        (
            &[
                Command::ViewOverview,
                Command::ViewLatency,
                Command::ViewNomad,
                Command::ViewProvision,
                Command::ViewDeploy,
                Command::ViewAnycast,
            ],
            "view",
        ),
        (&[Command::Help], "help"),
        (&[Command::Quit], "quit"),
    ];
    let middle = match state.view {
        View::Overview => common,
        View::Latency | View::Anycast => latency,
        View::Nomad if state.nomad_view.logs.is_some() => logs,
        View::Nomad => nomad,
        View::Provision => provision,
        View::Deploy => deploy,
    };
    for (actions, label) in middle.iter().chain(tail) {
        let actions: &[Command] = actions;
        // A read-only console offers no action it would refuse.
        if state.read_only
            && actions.iter().any(|a| {
                matches!(
                    a,
                    Command::Withdraw
                        | Command::Restore
                        | Command::ProvisionApply
                        | Command::ProvisionDestroy
                        | Command::ProvisionWrite
                        | Command::DeployEdit
                )
            })
        {
            continue;
        }

        let keys: Vec<String> = actions.iter().filter_map(|a| first_key(*a)).collect();
        if !keys.is_empty() {
            spans.push(Span::styled(
                format!(" {}", keys.join("/")),
                style::accent(t),
            ));
            spans.push(Span::raw(format!(" {label} ")));
        }
    }
    Line::from(spans)
}
