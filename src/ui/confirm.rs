//! The confirmation dialog every destructive action goes through.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{centered, style};
use crate::app::{Pending, State};
use crate::config::keymap::Command;
use crate::domain::ActionKind;

pub fn draw(state: &State, p: &Pending, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let r = &p.request;
    let display = state
        .metros
        .iter()
        .find(|m| m.name == r.metro)
        .map(|m| m.display_name.clone())
        .unwrap_or_default();
    let (title, what) = match r.action {
        ActionKind::Withdraw => (
            format!(" Withdraw {} ({display})? ", r.metro),
            format!("Stop advertising {} from {}.", state.prefix, r.metro),
        ),
        ActionKind::Restore => (
            format!(" Restore {} ({display})? ", r.metro),
            format!("Advertise {} from {} again.", state.prefix, r.metro),
        ),
    };
    let consequence_style = if p.needs_force {
        style::error(t)
    } else {
        style::warn(t)
    };
    // The keys as the keymap has them: a remapped key shows as remapped.
    let km = &state.keymap;
    let keys = if p.needs_force {
        Line::from(vec![
            Span::styled(format!(" {}", km.labels(Command::Force)), style::error(t)),
            Span::raw(if p.forced_once {
                " again: black-hole it   "
            } else {
                " force (asks once more)   "
            }),
            Span::styled(km.labels(Command::Cancel), style::accent(t)),
            Span::raw(" cancel"),
        ])
    } else {
        Line::from(vec![
            Span::styled(
                format!(" {}", km.labels(Command::Confirm)),
                style::accent(t),
            ),
            Span::raw(" confirm   "),
            Span::styled(km.labels(Command::Cancel), style::accent(t)),
            Span::raw(" cancel"),
        ])
    };
    let mut text = vec![
        Line::from(format!(" {what}")),
        Line::from(Span::styled(
            format!(" {}", p.consequence),
            consequence_style,
        )),
        Line::from(Span::styled(
            format!(" method: {}", method_of(state, &r.metro)),
            style::dim(t),
        )),
    ];
    if let Some(note) = &p.note {
        text.push(Line::from(Span::styled(
            format!(" {note}"),
            style::error(t),
        )));
    }
    text.push(Line::from(""));
    text.push(keys);
    dialog(frame, area, text, 64, title, consequence_style);
}

/// A dialog over `area`: at most `max_width` columns (less on a narrow terminal), as tall
/// as `text` wrapped, bordered with `title` in `border`.
pub(super) fn dialog(
    frame: &mut Frame,
    area: Rect,
    text: Vec<Line<'_>>,
    max_width: u16,
    title: impl Into<Line<'static>>,
    border: Style,
) {
    let width = area.width.saturating_sub(4).min(max_width);
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = text.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let popup = centered(area, width, (rows as u16 + 2).min(area.height));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(title).border_style(border)),
        popup,
    );
}

fn method_of(state: &State, metro: &str) -> String {
    state
        .metros
        .iter()
        .find(|m| m.name == metro)
        .map(|m| m.method.clone())
        .unwrap_or_default()
}
