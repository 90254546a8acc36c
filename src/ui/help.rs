//! The help overlay: every key (generated from the keymap table, the same data the keys
//! use), the dialog keys, and what every column and symbol means. It scrolls when the
//! terminal is shorter than the text.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{centered, style};
use crate::app::State;
use crate::config::keymap::Command;

/// Actions shown on one line, as the directions or choices of one thing, so that the
/// whole table fits an 80x24 terminal.
const GROUPS: [(&[Command], &str); 3] = [
    (
        &[
            Command::ViewOverview,
            Command::ViewLatency,
            Command::ViewNomad,
            Command::ViewAnycast,
        ],
        "show the overview / latency / Nomad / anycast pane",
    ),
    (
        &[Command::ZoomIn, Command::ZoomOut],
        "shorten / lengthen the chart's time window",
    ),
    (
        &[Command::ScrollBack, Command::ScrollForward],
        "logs: scroll back / forward a page (list: a page)",
    ),
];

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
            (
                "NOW",
                "median TTFB of the latest answers from the serving metro",
            ),
            ("P50 P95 MIN MAX", "over the window of the latest probes"),
            (
                "LOSS JTR",
                "lost probes in the window; jitter (mean change)",
            ),
        ],
    ),
    (
        "nomad",
        &[
            (
                "leader nodes",
                "per metro; ? when the agent refused or did not answer",
            ),
            (
                "ALLOCATIONS",
                "per job: running, failed (needing attention), replaced",
            ),
            (
                "STATUS",
                "running, pending, failed, lost, unknown (client gone), replaced",
            ),
            ("▾", "the column the list is sorted by (s cycles)"),
            (
                "RST",
                "restarts; - when the list does not carry task states",
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
    let bindings = state.keymap.bindings();
    let keys_of = |a: &Command| {
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
        .clamp(16, 20);
    let heading = |s: &str| Line::from(Span::styled(format!(" {s}"), style::header(t)));
    let entry = |k: &str, text: &str| {
        Line::from(vec![
            Span::styled(format!(" {k:<width$}"), style::accent(t)),
            Span::raw(text.to_string()),
        ])
    };
    let mut lines: Vec<Line> = vec![heading("keys")];
    lines.extend(rows.iter().map(|(k, text)| entry(k, text)));
    for (pane, entries) in COLUMNS {
        lines.push(Line::from(""));
        lines.push(heading(pane));
        for (name, meaning) in *entries {
            lines.push(entry(name, meaning));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        " keys are remappable in [console.keys]",
        style::dim(t),
    )));
    let popup_width = area.width.saturating_sub(2).min(80);
    let inner = usize::from(popup_width.saturating_sub(2)).max(1);
    // Rows once wrapped, so scrolling reaches the last one.
    let total: u16 = lines
        .iter()
        .map(|l| l.width().div_ceil(inner).max(1) as u16)
        .sum();
    let height = (total + 2).min(area.height);
    let room = height.saturating_sub(2);
    let max_scroll = total.saturating_sub(room);
    let scroll = state.help_scroll.min(max_scroll);
    let title = if max_scroll > 0 {
        format!(
            " help ({}-{} of {}; up/down scroll, any other key closes) ",
            scroll + 1,
            (scroll + room).min(total),
            total
        )
    } else {
        " help (any key closes) ".to_string()
    };
    let popup = centered(area, popup_width, height);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(Block::bordered().title(title)),
        popup,
    );
}
