//! Footer: the running action, else a recent message, else the key hints.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::style;
use crate::app::{State, View};
use crate::config::keymap::Action;

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
    let first_key = |action: Action| {
        bindings
            .iter()
            .find(|(a, _)| *a == action)
            .and_then(|(_, keys)| keys.first().cloned())
    };
    let mut spans = Vec::new();
    let common: &[(&[Action], &str)] = &[
        (&[Action::SelectUp, Action::SelectDown], "select"),
        (&[Action::Withdraw], "withdraw"),
        (&[Action::Restore], "restore"),
    ];
    let latency: &[(&[Action], &str)] = &[
        (&[Action::Freeze], "freeze"),
        (&[Action::ZoomIn, Action::ZoomOut], "zoom"),
        (&[Action::ToggleAllMetros], "all"),
    ];
    let nomad: &[(&[Action], &str)] = &[
        (&[Action::SelectUp, Action::SelectDown], "select"),
        (&[Action::Filter], "filter"),
        (&[Action::Sort], "sort"),
        (&[Action::NextMetro], "metro"),
        (&[Action::Open], "detail"),
        (&[Action::Logs], "logs"),
    ];
    let logs: &[(&[Action], &str)] = &[
        (&[Action::ScrollBack, Action::ScrollForward], "scroll"),
        (&[Action::Follow], "follow"),
        (&[Action::LogStream], "stdout/stderr"),
        (&[Action::Back], "back"),
    ];
    let tail: &[(&[Action], &str)] = &[
        (
            &[Action::ViewOverview, Action::ViewLatency, Action::ViewNomad],
            "view",
        ),
        (&[Action::Help], "help"),
        (&[Action::Quit], "quit"),
    ];
    let middle = match state.view {
        View::Overview => common,
        View::Latency => latency,
        View::Nomad if state.nomad_view.logs.is_some() => logs,
        View::Nomad => nomad,
    };
    for (actions, label) in middle.iter().chain(tail) {
        let actions: &[Action] = actions;
        // A read-only console offers no action it would refuse.
        if state.read_only
            && actions
                .iter()
                .any(|a| matches!(a, Action::Withdraw | Action::Restore))
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
