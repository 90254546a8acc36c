//! The help overlay, generated from the keymap table (the same data the keys use).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use super::{centered, style};
use crate::app::State;

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let mut lines: Vec<Line> = state
        .keymap
        .bindings()
        .into_iter()
        .map(|(action, keys)| {
            Line::from(vec![
                Span::styled(format!(" {:<14}", keys.join(", ")), style::accent(t)),
                Span::raw(action.description().to_string()),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        " in a dialog: y/Enter confirm, n/Esc cancel, F force",
        style::dim(t),
    )));
    lines.push(Line::from(Span::styled(
        " keys are remappable in [console.keys]; any key closes",
        style::dim(t),
    )));
    let popup = centered(area, 76, lines.len() as u16 + 2);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" help ")),
        popup,
    );
}
