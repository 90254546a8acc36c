//! The events pane: timestamped withdrawals, restorations, state changes and errors,
//! newest at the bottom.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::style;
use crate::app::State;
use crate::domain::clock;

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let visible = area.height.saturating_sub(2) as usize;
    let skip = state.events.len().saturating_sub(visible);
    let lines: Vec<Line> = state
        .events
        .iter()
        .skip(skip)
        .map(|e| {
            Line::from(vec![
                Span::styled(format!("{} ", clock(e.at)), style::dim(t)),
                Span::styled(e.text.clone(), style::level(t, e.level)),
            ])
        })
        .collect();
    let body = if lines.is_empty() {
        vec![Line::from(Span::styled("no events yet", style::dim(t)))]
    } else {
        lines
    };
    frame.render_widget(
        Paragraph::new(body).block(Block::bordered().title(" events (UTC) ")),
        area,
    );
}
