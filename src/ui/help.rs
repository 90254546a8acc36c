//! The help overlay: every key (generated from the keymap table, the same data the keys
//! use), the dialog keys, and what every column and symbol means. It scrolls when the
//! terminal is shorter than the text.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{centered, style};
use crate::app::State;

/// Column and symbol meanings, by pane: (name, meaning).
const COLUMNS: &[(&str, &[(&str, &str)])] = &[
    (
        "overview",
        &[
            (
                "anycast",
                "who serves the address now, its latest figure, window p50, loss",
            ),
            ("METRO", "the metro's code; NAME its display name"),
            (
                "BGP",
                "session to the peer (BIRD's word), or unreachable/silent/error",
            ),
            ("SINCE", "how long the session has been in that state"),
            ("ORIGIN", "the origin protocols: up, down, partial, missing"),
            (
                "ADVERTISED",
                "the metro exports the prefix; ?(was …): router unknown now",
            ),
            (
                "EXP",
                "routes exported on the session (for the prefix's family)",
            ),
            (
                "NOW",
                "median TTFB of the latest probes of the metro's own address",
            ),
            (
                "TREND",
                "the latest probes, lowest to highest; × a lost probe",
            ),
            (
                "NOMAD",
                "allocations running/total; n✗ failures needing attention",
            ),
            ("NOTE", "DRIFT, an unfinished action, problems, BIRD's info"),
        ],
    ),
    (
        "latency",
        &[
            (
                "SERVED",
                "who answered (x-served-by); ? when guessed from latency",
            ),
            ("LAST", "the latest probe's TTFB in ms"),
            ("P50 P95 MIN MAX", "over the window of the latest probes"),
            (
                "LOSS JTR",
                "lost probes in the window; jitter (mean change)",
            ),
        ],
    ),
    (
        "symbols",
        &[
            (
                "★",
                "the observer's best path: the metro serving the address",
            ),
            ("›", "the selected row"),
            (
                "×",
                "a lost probe (timeout or error), never drawn as a value",
            ),
            ("⟳", "an action running"),
            ("DRIFT", "the router differs from what was last asked"),
            ("LOST", "the latest anycast probes were all lost"),
            ("NO ROUTE", "the observer holds no route: black-holed"),
        ],
    ),
];

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let heading = |s: &str| Line::from(Span::styled(format!(" {s}"), style::header(t)));
    let mut lines: Vec<Line> = vec![heading("keys")];
    lines.extend(state.keymap.bindings().into_iter().map(|(action, keys)| {
        Line::from(vec![
            Span::styled(format!(" {:<16}", keys.join(", ")), style::accent(t)),
            Span::raw(action.description().to_string()),
        ])
    }));
    lines.push(Line::from(vec![
        Span::styled(format!(" {:<16}", "y/Enter n/Esc"), style::accent(t)),
        Span::raw("in a dialog: confirm, cancel; F force (twice)"),
    ]));
    for (pane, entries) in COLUMNS {
        lines.push(Line::from(""));
        lines.push(heading(pane));
        for (name, meaning) in *entries {
            lines.push(Line::from(vec![
                Span::styled(format!(" {name:<16}"), style::accent(t)),
                Span::raw(*meaning),
            ]));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        " keys are remappable in [console.keys]",
        style::dim(t),
    )));
    let height = (lines.len() as u16 + 2).min(area.height);
    let room = height.saturating_sub(2);
    let max_scroll = (lines.len() as u16).saturating_sub(room);
    let scroll = state.help_scroll.min(max_scroll);
    let title = if max_scroll > 0 {
        format!(
            " help ({}-{} of {}; up/down scroll, any other key closes) ",
            scroll + 1,
            (scroll + room).min(lines.len() as u16),
            lines.len()
        )
    } else {
        " help (any key closes) ".to_string()
    };
    let popup = centered(area, area.width.saturating_sub(2).min(80), height);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(Block::bordered().title(title)),
        popup,
    );
}
