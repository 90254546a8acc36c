//! The help overlay, generated from the keymap table (the same data the keys use).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use super::{centered, style};
use crate::app::State;
use crate::config::keymap::Action;

/// Actions shown on one line, as the directions or choices of one thing, so that the
/// whole table fits an 80x24 terminal.
const GROUPS: [(&[Action], &str); 3] = [
    (
        &[Action::ViewOverview, Action::ViewLatency, Action::ViewNomad],
        "show the overview / latency / Nomad pane",
    ),
    (
        &[Action::ZoomIn, Action::ZoomOut],
        "shorten / lengthen the chart's time window",
    ),
    (
        &[Action::ScrollBack, Action::ScrollForward],
        "logs: scroll back / forward a page (list: a page)",
    ),
];

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let bindings = state.keymap.bindings();
    let keys_of = |a: &Action| {
        bindings
            .iter()
            .find(|(b, _)| b == a)
            .map(|(_, k)| k.join(", "))
            .unwrap_or_default()
    };
    let rows: Vec<(String, &str)> = bindings
        .iter()
        .filter(|(a, _)| !GROUPS.iter().any(|(g, _)| g[1..].contains(a)))
        .map(|(a, keys)| match GROUPS.iter().find(|(g, _)| g[0] == *a) {
            Some((group, text)) => (
                group.iter().map(keys_of).collect::<Vec<_>>().join(" / "),
                *text,
            ),
            None => (keys.join(", "), a.description()),
        })
        .collect();
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count() + 2)
        .max()
        .unwrap_or(0)
        .clamp(14, 20);
    let mut lines: Vec<Line> = rows
        .into_iter()
        .map(|(keys, text)| {
            Line::from(vec![
                Span::styled(format!(" {keys:<width$}"), style::accent(t)),
                Span::raw(text.to_string()),
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
