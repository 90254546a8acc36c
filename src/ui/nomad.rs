//! The Nomad pane (filled in by the scheduler view).

use ratatui::layout::Rect;
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::app::State;

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let _ = state;
    frame.render_widget(
        Paragraph::new("").block(Block::bordered().title(" nomad ")),
        area,
    );
}
