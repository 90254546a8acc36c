//! The anycast panel: which metro serves the viewer, in big type, with its latest figure
//! and the change against before the last switch; the route's state (who advertises,
//! the observer's best); a one-line timeline of the last switches. On the overview and
//! as its own view (the presenter's, and the demo's with its caption).
//!
//! ```text
//! ┌ anycast 198.18.0.10/32 · who serves the viewer ──────────────────┐
//! │ █▀▄ ▄▀█ █   █   ▄▀█ █▀   ▀▀█ █▀█ ▀▀█   █▀▄▀█ █▀                  │  big type, as
//! │ █▄▀ █▀█ █▄▄ █▄▄ █▀█ ▄█   ▄▄█ █▄█ ▄▄█   █ ▀ █ ▄█                  │  large as fits
//! │ Dallas (da) · 303 ms now · +230 ms, 4.2x against 73 ms via am    │
//! │ route: advertising da · observer's best da                       │
//! │ switches: 17:53:48 withdraw am · 17:53:49 → da 304 ms            │
//! └──────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Every size degrades: smaller glyphs, then the name alone in big type, then plain text
//! lines only, as the area allows.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;
use tui_big_text::{BigText, PixelSize};

use super::style;
use crate::app::latency::{Health, LatencyRow, ANYCAST};
use crate::app::State;
use crate::domain::clock;
use crate::domain::text::visible;

/// Plain text lines under the big type: the figure, the route, the timeline.
const TEXT_LINES: u16 = 3;
/// The panel without big type: borders and the text lines.
pub const TEXT_ONLY_HEIGHT: u16 = 2 + TEXT_LINES;

/// How large the big type may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// Up to 8 rows a glyph (the presenter's view).
    Large,
    /// Up to 4 rows a glyph (the overview).
    Compact,
}

/// How the big type is laid out: glyph size, rows per line, and whether the figure is
/// beside the name, under it, or left to the text lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arrangement {
    Beside,
    Under,
    NameOnly,
}

/// The layouts from the most readable: larger glyphs first, and at one size the name and
/// figure on one line before two. (size, cells wide per character, rows per line,
/// arrangement).
const LAYOUTS: [(PixelSize, u16, u16, Arrangement); 9] = [
    (PixelSize::Full, 8, 8, Arrangement::Beside),
    (PixelSize::HalfHeight, 8, 4, Arrangement::Beside),
    (PixelSize::HalfHeight, 8, 4, Arrangement::Under),
    (PixelSize::Quadrant, 4, 4, Arrangement::Beside),
    (PixelSize::Sextant, 4, 3, Arrangement::Beside),
    (PixelSize::HalfHeight, 8, 4, Arrangement::NameOnly),
    (PixelSize::Quadrant, 4, 4, Arrangement::Under),
    (PixelSize::Quadrant, 4, 4, Arrangement::NameOnly),
    (PixelSize::Sextant, 4, 3, Arrangement::NameOnly),
];

/// The rows the panel wants in `width` columns: borders, big type, text lines.
pub fn wanted_height(state: &State, width: u16, room: Room) -> u16 {
    let inner = width.saturating_sub(2);
    let big = big_layout(state, inner, u16::MAX, room).map_or(0, |l| l.rows);
    2 + big + TEXT_LINES
}

/// What the big type says: the serving metro's name and its figure, or what is wrong.
struct Headline {
    name: String,
    figure: Option<String>,
    style: Style,
}

fn headline(state: &State) -> Option<Headline> {
    let t = &state.theme;
    let health = state.anycast_health()?;
    Some(match health {
        Health::Answering { ms, served_by, .. } => {
            let name = served_by
                .as_deref()
                .map(|b| display_name(state, b).to_uppercase())
                .unwrap_or_else(|| "ANYCAST".to_string());
            Headline {
                name,
                figure: Some(format!("{ms:.0} ms")),
                style: served_by
                    .as_deref()
                    .map_or(style::accent(t), |b| metro_style(state, b)),
            }
        }
        Health::Failing { .. } => Headline {
            name: "LOST".into(),
            figure: None,
            style: style::error(t),
        },
        Health::NoRoute => Headline {
            name: "NO ROUTE".into(),
            figure: None,
            style: style::error(t),
        },
        Health::Probing => Headline {
            name: "PROBING".into(),
            figure: None,
            style: style::dim(t),
        },
    })
}

/// The big type's layout: glyph size, arrangement and rows.
struct Layout {
    size: PixelSize,
    arrangement: Arrangement,
    rows: u16,
}

/// The most readable layout that fits `width` x `height`, sized for the longest text it
/// may have to hold (the longest display name, a four-digit figure), so that it stays
/// the same when the serving metro changes. The overview allows glyphs 4 rows tall.
fn big_layout(state: &State, width: u16, height: u16, room: Room) -> Option<Layout> {
    const FIGURE: usize = "0000 ms".len();
    let name = state
        .metros
        .iter()
        .map(|m| m.display_name.chars().count())
        .max()
        .unwrap_or(0)
        .max("NO ROUTE".len());
    LAYOUTS
        .iter()
        .filter(|(_, _, h, a)| room == Room::Large || (*h <= 4 && *a != Arrangement::Under))
        .find_map(|(size, w, h, arrangement)| {
            let (chars, lines) = match arrangement {
                Arrangement::Beside => (name + 1 + FIGURE, 1),
                Arrangement::Under => (name.max(FIGURE), 2),
                Arrangement::NameOnly => (name, 1),
            };
            let rows = h * lines;
            (usize::from(*w) * chars <= usize::from(width) && rows <= height).then_some(Layout {
                size: *size,
                arrangement: *arrangement,
                rows,
            })
        })
}

pub fn draw(state: &State, frame: &mut Frame, area: Rect, room: Room) {
    let t = &state.theme;
    let title = Line::from(vec![
        Span::styled(format!(" anycast {}", state.prefix), style::header(t)),
        Span::styled(" · who serves the viewer ", style::dim(t)),
    ]);
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let Some(head) = headline(state) else {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "the anycast address is not probed: set [anycast] url in the config",
                style::dim(t),
            )),
            inner,
        );
        return;
    };
    let text_rows = TEXT_LINES.min(inner.height);
    let big_room = inner.height - text_rows;
    let mut y = inner.y;
    if let Some(layout) = big_layout(state, inner.width, big_room, room) {
        let name = Span::styled(head.name.clone(), head.style);
        let figure = head
            .figure
            .clone()
            .map(|f| Span::styled(f, style::header(t).add_modifier(Modifier::BOLD)));
        let lines = match (layout.arrangement, figure) {
            (Arrangement::Beside, Some(f)) => vec![Line::from(vec![name, Span::raw(" "), f])],
            (Arrangement::Under, Some(f)) => vec![Line::from(name), Line::from(f)],
            (_, _) => vec![Line::from(name)],
        };
        let big = BigText::builder()
            .pixel_size(layout.size)
            .lines(lines)
            .build();
        frame.render_widget(
            big,
            Rect {
                y,
                height: layout.rows,
                ..inner
            },
        );
        y += layout.rows;
    }
    let lines = [
        figure_line(state),
        route_line(state),
        timeline(state, usize::from(inner.width)),
    ];
    for line in lines
        .into_iter()
        .take(usize::from(inner.bottom().saturating_sub(y)))
    {
        frame.render_widget(
            Paragraph::new(line),
            Rect {
                y,
                height: 1,
                ..inner
            },
        );
        y += 1;
    }
}

/// "Dallas (da) · 303 ms now · +230 ms, 4.2x against 73 ms via am", or what the
/// anycast address is doing when it does not answer.
fn figure_line(state: &State) -> Line<'static> {
    let t = &state.theme;
    let Some(health) = state.anycast_health() else {
        return Line::default();
    };
    let row = state.latency_row(ANYCAST);
    match &health {
        Health::Answering {
            ms,
            served_by,
            inferred,
            lost,
        } => {
            let mut spans = Vec::new();
            if let Some(b) = served_by {
                let guessed = if *inferred { "?" } else { "" };
                spans.push(Span::styled(
                    format!("{} ({}{guessed})", display_name(state, b), visible(b)),
                    metro_style(state, b).add_modifier(Modifier::BOLD),
                ));
                spans.push(Span::raw(" · "));
            }
            spans.push(Span::styled(
                format!("{ms:.0} ms"),
                style::header(t).add_modifier(Modifier::BOLD),
            ));
            spans.push(Span::styled(" now", style::dim(t)));
            if let Some(run) = row.and_then(LatencyRow::current_run) {
                if let (Some(change), Some(before), Some(by)) =
                    (run.change(*ms), run.before_ms, run.before_by.as_deref())
                {
                    let st = if *ms > before {
                        style::warn(t)
                    } else {
                        style::ok(t)
                    };
                    spans.push(Span::raw(" · "));
                    spans.push(Span::styled(change, st.add_modifier(Modifier::BOLD)));
                    spans.push(Span::styled(
                        format!(" against {before:.0} ms via {}", visible(by)),
                        style::dim(t),
                    ));
                }
            }
            if *lost > 0 {
                spans.push(Span::styled(", last probe lost", style::warn(t)));
            }
            Line::from(spans)
        }
        other => Line::from(Span::styled(
            other.words(state.now),
            style::level(t, other.level()),
        )),
    }
}

/// "route: advertising am, da · observer's best am".
fn route_line(state: &State) -> Line<'static> {
    let t = &state.theme;
    let advertising = state.advertising();
    let (adv, adv_style) = if advertising.is_empty() {
        ("none".to_string(), style::error(t))
    } else {
        (advertising.join(", "), style::ok(t))
    };
    let (best, best_style) = match crate::domain::best_path(state.observer.as_ref()) {
        crate::domain::BestPath::Metro(m) => (m, style::ok(t)),
        crate::domain::BestPath::Peer(p) => (format!("peer {p}"), style::warn(t)),
        crate::domain::BestPath::NoRoute => ("no route".to_string(), style::error(t)),
        crate::domain::BestPath::NoBest => ("none".to_string(), style::warn(t)),
        crate::domain::BestPath::Unknown if state.has_observer => {
            ("unknown".to_string(), style::dim(t))
        }
        crate::domain::BestPath::Unknown => ("no observer".to_string(), style::dim(t)),
    };
    Line::from(vec![
        Span::styled("route: ", style::dim(t)),
        Span::raw("advertising "),
        Span::styled(adv, adv_style),
        Span::raw(" · observer's best "),
        Span::styled(best, best_style),
    ])
}

/// How soon after an action a change of serving metro reads as its result.
const FOLLOWS_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// The timeline's entries, oldest first: each action with the change of serving metro
/// that followed it ("17:53:48 withdraw am → da 304 ms"), and changes on their own
/// ("17:55:02 → da 301 ms").
fn timeline_entries(state: &State) -> Vec<Vec<Span<'static>>> {
    let t = &state.theme;
    let mut actions: Vec<(std::time::SystemTime, String)> = state
        .markers
        .iter()
        .filter(|m| m.label.starts_with("withdraw ") || m.label.starts_with("restore "))
        .map(|m| (m.at, m.label.clone()))
        .collect();
    actions.sort_by_key(|(at, _)| *at);
    // The first run is where the story starts, not a switch.
    let runs: Vec<&crate::world::ServedRun> = state
        .latency_row(ANYCAST)
        .map(|r| r.runs.iter().skip(1).collect())
        .unwrap_or_default();
    let switch = |r: &crate::world::ServedRun| {
        Span::styled(
            format!("→ {} {:.0} ms", visible(&r.by), r.first_ms),
            metro_style(state, &r.by),
        )
    };
    let mut entries: Vec<(std::time::SystemTime, Vec<Span<'static>>)> = Vec::new();
    let mut used = vec![false; runs.len()];
    for (i, (at, label)) in actions.iter().enumerate() {
        let next_action = actions.get(i + 1).map(|(a, _)| *a);
        let mut spans = vec![
            Span::styled(format!("{} ", clock(*at)), style::dim(t)),
            Span::raw(label.clone()),
        ];
        // The first change after it, before the next action, within a few seconds.
        if let Some(j) = runs.iter().position(|r| {
            r.since >= *at
                && next_action.is_none_or(|n| r.since < n)
                && r.since.duration_since(*at).unwrap_or_default() <= FOLLOWS_WITHIN
        }) {
            if !used[j] {
                used[j] = true;
                spans.push(Span::raw(" "));
                spans.push(switch(runs[j]));
            }
        }
        entries.push((*at, spans));
    }
    for (_, r) in runs.iter().enumerate().filter(|(j, _)| !used[*j]) {
        entries.push((
            r.since,
            vec![
                Span::styled(format!("{} ", clock(r.since)), style::dim(t)),
                switch(r),
            ],
        ));
    }
    entries.sort_by_key(|(at, _)| *at);
    entries.into_iter().map(|(_, spans)| spans).collect()
}

/// "switches: 17:53:48 withdraw am → da 304 ms · 17:54:10 restore am → am 73 ms", the
/// newest that fit.
fn timeline(state: &State, width: usize) -> Line<'static> {
    let t = &state.theme;
    let entries = timeline_entries(state);
    let lead = "switches: ";
    if entries.is_empty() {
        return Line::from(vec![
            Span::styled(lead, style::dim(t)),
            Span::styled("none yet", style::dim(t)),
        ]);
    }
    let mut room = width.saturating_sub(lead.len() + 2);
    let mut shown = Vec::new();
    for spans in entries.iter().rev() {
        let gap = if shown.is_empty() { 0 } else { 3 };
        let cost = spans.iter().map(|s| s.width()).sum::<usize>() + gap;
        if cost > room {
            break;
        }
        room -= cost;
        shown.push(spans.clone());
    }
    let mut out = vec![Span::styled(lead, style::dim(t))];
    if shown.len() < entries.len() {
        out.push(Span::styled("… ", style::dim(t)));
    }
    for (i, spans) in shown.into_iter().rev().enumerate() {
        if i > 0 {
            out.push(Span::styled(" · ", style::dim(t)));
        }
        out.extend(spans);
    }
    Line::from(out)
}

fn display_name(state: &State, code: &str) -> String {
    state
        .metros
        .iter()
        .find(|m| m.name == code)
        .map_or_else(|| visible(code).into_owned(), |m| m.display_name.clone())
}

/// A metro's colour: the same in the big type, the timeline and the chart's band.
pub fn metro_style(state: &State, code: &str) -> Style {
    let i = state.metros.iter().position(|m| m.name == code);
    style::metro(&state.theme, i)
}
