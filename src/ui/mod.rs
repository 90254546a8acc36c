//! Views: `fn(&State, &mut Frame)`, one file per pane. Views never do I/O and never
//! change state.
//!
//! ```text
//! ┌ header: prefix, advertising metros, best path, mode ───────────────┐
//! ├ metros: one row per metro (BGP session, origin, advertised, ...)   ┤
//! ├ events: timestamped withdrawals, restorations, state changes       ┤
//! └ footer: busy action / latest message / key hints ──────────────────┘
//!   overlays: confirm dialog, help
//! ```

mod confirm;
mod deploy;
mod events;
mod footer;
mod header;
mod help;
mod latency;
mod metros;
mod nomad;
mod provision;
mod spark;
pub mod style;
#[cfg(test)]
mod tests;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::{Mode, State, View};

/// Smallest terminal the console draws in; below it a message says so.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 14;

pub fn draw(state: &State, frame: &mut Frame) {
    draw_views(state, frame);
    scrub(frame.buffer_mut());
}

/// The last line of defence: text from outside is made visible where it enters
/// (`domain::text`), and whatever control character still reached a cell is replaced
/// here, so nothing drawn can retitle, recolour or repaint the operator's terminal.
fn scrub(buf: &mut ratatui::buffer::Buffer) {
    for cell in buf.content.iter_mut() {
        if cell.symbol().chars().any(char::is_control) {
            cell.set_symbol("\u{fffd}");
        }
    }
}

fn draw_views(state: &State, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area);
        return;
    }
    let [header_area, body, footer_area] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw(state, frame, header_area);
    match state.view {
        View::Overview => {
            // Borders, the anycast row when probed, the header, one line per metro.
            let anycast = u16::from(state.anycast_health().is_some());
            let table_height = (state.metros.len() as u16 + 3 + anycast)
                .min(body.height.saturating_sub(5))
                .max(4);
            let [metros_area, events_area] =
                Layout::vertical([Constraint::Length(table_height), Constraint::Min(3)])
                    .areas(body);
            metros::draw(state, frame, metros_area);
            events::draw(state, frame, events_area);
        }
        View::Latency => {
            let events_height = if body.height >= 24 { 6 } else { 4 };
            let [pane, events_area] =
                Layout::vertical([Constraint::Min(8), Constraint::Length(events_height)])
                    .areas(body);
            latency::draw(state, frame, pane);
            events::draw(state, frame, events_area);
        }
        View::Nomad => nomad::draw(state, frame, body),
        View::Provision => provision::draw(state, frame, body),
        View::Deploy => deploy::draw(state, frame, body),
    }
    footer::draw(state, frame, footer_area);
    match &state.mode {
        Mode::Normal => {}
        Mode::Help => help::draw(state, frame, area),
        Mode::Confirm(p) => confirm::draw(state, p, frame, area),
        Mode::ConfirmProvision(c) => provision::draw_confirm(state, c, frame, area),
        Mode::ConfirmDeploy(c) => deploy::draw_confirm(state, c, frame, area),
    }
}

fn too_small(frame: &mut Frame, area: Rect) {
    let text = vec![
        Line::from("terminal too small"),
        Line::from(format!(
            "{}x{}, need at least {MIN_WIDTH}x{MIN_HEIGHT}",
            area.width, area.height
        )),
    ];
    frame.render_widget(
        Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: true }),
        area,
    );
}

/// A rectangle of at most `w` x `h` centred in `area`.
pub(crate) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
