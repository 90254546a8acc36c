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

mod anycast;
mod confirm;
mod demo;
mod deploy;
mod events;
mod footer;
mod header;
mod help;
mod history;
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
    // The demo's caption heads the body, whatever the view.
    let body = match &state.demo {
        Some(d) if body.height >= 12 => {
            let [caption, rest] =
                Layout::vertical([Constraint::Length(demo::HEIGHT), Constraint::Min(3)])
                    .areas(body);
            demo::draw(state, d, frame, caption);
            rest
        }
        _ => body,
    };
    match state.view {
        View::Overview => {
            // Borders, the anycast row when probed, the header, one line per metro.
            let anycast = u16::from(state.anycast_health().is_some());
            let table_height = (state.metros.len() as u16 + 3 + anycast)
                .min(body.height.saturating_sub(5))
                .max(4);
            // The anycast panel above the metros when it leaves the events 3 rows; its
            // big type at most 4 rows tall here.
            let panel = [
                anycast::wanted_height(state, body.width, anycast::Room::Compact),
                anycast::TEXT_ONLY_HEIGHT,
            ]
            .into_iter()
            .find(|p| anycast == 1 && body.height >= table_height + p + 5)
            .unwrap_or(0);
            let [panel_area, metros_area, events_area] = Layout::vertical([
                Constraint::Length(panel),
                Constraint::Length(table_height),
                Constraint::Min(3),
            ])
            .areas(body);
            if panel > 0 {
                anycast::draw(state, frame, panel_area, anycast::Room::Compact);
            }
            metros::draw(state, frame, metros_area);
            events::draw(state, frame, events_area);
        }
        View::Anycast => {
            // The presenter's view: the panel as large as fits over the chart, events
            // when there is room left.
            let panel = anycast::wanted_height(state, body.width, anycast::Room::Large)
                .min(body.height.saturating_sub(8).max(body.height / 2));
            let events_height = match body.height.saturating_sub(panel) {
                h if h >= 18 => 6,
                h if h >= 13 => 4,
                _ => 0,
            };
            let [panel_area, chart_area, events_area] = Layout::vertical([
                Constraint::Length(panel),
                Constraint::Min(0),
                Constraint::Length(events_height),
            ])
            .areas(body);
            anycast::draw(state, frame, panel_area, anycast::Room::Large);
            if chart_area.height >= 6 {
                latency::chart(state, frame, chart_area);
            }
            if events_height > 0 {
                events::draw(state, frame, events_area);
            }
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
