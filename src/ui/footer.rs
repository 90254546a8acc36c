//! Footer: the running action, else a recent message, else the key hints.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::style;
use crate::app::State;
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
    let mut spans = Vec::new();
    for (action, label) in [
        (Action::Withdraw, "withdraw"),
        (Action::Restore, "restore"),
        (Action::SelectDown, "down"),
        (Action::SelectUp, "up"),
        (Action::Help, "help"),
        (Action::Quit, "quit"),
    ] {
        let keys = state
            .keymap
            .bindings()
            .into_iter()
            .find(|(a, _)| *a == action)
            .map(|(_, k)| k);
        if let Some(key) = keys.and_then(|k| k.into_iter().next()) {
            spans.push(Span::styled(format!(" {key}"), style::accent(t)));
            spans.push(Span::raw(format!(" {label} ")));
        }
    }
    Line::from(spans)
}
