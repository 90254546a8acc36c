//! The demo's caption: which step of the story is on screen, what it shows, and what the
//! space bar does next (or when `--auto` moves on).

use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::style;
use crate::app::demo::{Demo, Phase};
use crate::app::State;
use crate::config::keymap::Command;

/// Rows the caption takes: its borders and two lines of text.
pub const HEIGHT: u16 = 4;

pub fn draw(state: &State, demo: &Demo, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let facts = state.demo_facts();
    let c = demo.caption(&facts);
    let text_style = match demo.phase {
        Phase::Failed { .. } => style::error(t),
        _ => style::header(t),
    };
    let km = &state.keymap;
    let mut hint = Vec::new();
    if let Some(next) = &c.next {
        let when = demo
            .auto_in(state.now)
            .map(|s| format!(" (in {s}s)"))
            .unwrap_or_default();
        hint.push(Span::styled(
            format!(" {}", km.label(Command::DemoNext)),
            style::accent(t),
        ));
        hint.push(Span::raw(format!(" {next}{when} ")));
    }
    hint.push(Span::styled(
        format!(" {}", km.label(Command::Quit)),
        style::accent(t),
    ));
    hint.push(Span::raw(" quit "));
    let block = Block::bordered()
        .border_style(style::accent(t))
        .title(Span::styled(
            format!(" demo · {} ", c.heading),
            style::accent(t).add_modifier(Modifier::BOLD),
        ))
        .title_bottom(Line::from(hint));
    frame.render_widget(
        Paragraph::new(Span::styled(
            c.text,
            text_style.add_modifier(Modifier::BOLD),
        ))
        .wrap(Wrap { trim: true })
        .block(block),
        area,
    );
}
