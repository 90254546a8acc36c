//! The events pane: timestamped withdrawals, restorations, state changes and errors,
//! newest at the bottom. Long events wrap under their text (a refusal's reason is the
//! part that matters), and the newest that fit are shown whole.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;
use unicode_width::UnicodeWidthChar;

use super::style;
use crate::app::State;
use crate::domain::clock;

/// `HH:MM:SS ` before each event.
const STAMP: usize = 9;

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let rows = area.height.saturating_sub(2) as usize;
    let width = (area.width.saturating_sub(2) as usize)
        .saturating_sub(STAMP)
        .max(8);
    // Newest first until the pane is full, then put back in time order.
    let mut lines: Vec<Line> = Vec::new();
    for e in state.events.iter().rev() {
        if lines.len() >= rows {
            break;
        }
        let pieces = wrap(&e.text, width);
        let room = rows - lines.len();
        let mut block: Vec<Line> = pieces
            .into_iter()
            .enumerate()
            .map(|(i, piece)| {
                let stamp = if i == 0 {
                    Span::styled(format!("{} ", clock(e.at)), style::dim(t))
                } else {
                    Span::raw(" ".repeat(STAMP))
                };
                Line::from(vec![stamp, Span::styled(piece, style::level(t, e.level))])
            })
            .collect();
        // An event taller than the room left shows its start.
        block.truncate(room);
        lines.extend(block.into_iter().rev());
    }
    lines.reverse();
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

/// Splits `text` into pieces of at most `width` columns, at spaces where it can.
pub(super) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    let mut cols = 0;
    for word in text.split_inclusive(' ') {
        let w: usize = word.chars().map(|c| c.width().unwrap_or(0)).sum();
        if cols + w.saturating_sub(usize::from(word.ends_with(' '))) > width && !line.is_empty() {
            out.push(std::mem::take(&mut line).trim_end().to_string());
            cols = 0;
        }
        if w > width {
            // A word longer than the line (a path): cut it.
            for c in word.chars() {
                let cw = c.width().unwrap_or(0);
                if cols + cw > width {
                    out.push(std::mem::take(&mut line));
                    cols = 0;
                }
                line.push(c);
                cols += cw;
            }
        } else {
            line.push_str(word);
            cols += w;
        }
    }
    if !line.trim_end().is_empty() || out.is_empty() {
        out.push(line.trim_end().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("short", 10), ["short"]);
        assert_eq!(wrap("one two three four", 9), ["one two", "three", "four"]);
        assert_eq!(
            wrap("/a/very/long/path x", 6),
            ["/a/ver", "y/long", "/path", "x"]
        );
        assert_eq!(wrap("", 5), [""]);
    }
}
