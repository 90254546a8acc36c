//! The metros table: one row per metro with its BGP session, origin and advertisement.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, HighlightSpacing, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::spark::sparkline;
use super::style;
use crate::app::State;
use crate::domain::time::secs_between;
use crate::domain::{age, failure_word};
use crate::world::MetroState;

/// A column of the metros table, in display order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Best,
    Metro,
    Name,
    Bgp,
    Since,
    Origin,
    Advertised,
    Exported,
    Now,
    Trend,
    Nomad,
    Note,
}

impl Col {
    fn head(self) -> &'static str {
        match self {
            Col::Best => "",
            Col::Metro => "METRO",
            Col::Name => "NAME",
            Col::Bgp => "BGP",
            Col::Since => "SINCE",
            Col::Origin => "ORIGIN",
            Col::Advertised => "ADVERTISED",
            Col::Exported => "EXP",
            Col::Now => "NOW",
            Col::Trend => "TREND",
            Col::Nomad => "NOMAD",
            Col::Note => "NOTE",
        }
    }
}

/// Columns that fit `width`: the essentials always; then SINCE, TREND and NAME as room
/// allows. METRO is as wide as the longest name (up to 16); NOTE gets the rest, and at
/// least "DRIFT".
fn columns(state: &State, width: u16) -> Vec<(Col, u16)> {
    let metro_w = state
        .metros
        .iter()
        .map(|m| m.name.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, crate::config::MAX_METRO_NAME) as u16;
    let name_w = state
        .metros
        .iter()
        .map(|m| m.display_name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 12) as u16;
    let mut cols = vec![
        (Col::Best, 1),
        (Col::Metro, metro_w),
        (Col::Bgp, 11),
        (Col::Origin, 6),
        (Col::Advertised, 10),
        (Col::Exported, 3),
        (Col::Now, 6),
        (Col::Nomad, 9),
        (Col::Note, 5),
    ];
    let used = |cols: &[(Col, u16)]| cols.iter().map(|(_, w)| w + 1).sum::<u16>() + 2;
    let inner = width;
    for (col, w, after) in [
        (Col::Since, 5, Col::Bgp),
        (Col::Trend, 10, Col::Now),
        (Col::Name, name_w, Col::Metro),
    ] {
        // Keep 12 columns for notes before adding more.
        if used(&cols) + w + 1 + 12 <= inner {
            let at = cols
                .iter()
                .position(|(c, _)| *c == after)
                .map_or(0, |i| i + 1);
            cols.insert(at, (col, w));
        }
    }
    cols
}

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let cols = columns(state, area.width);
    let head = Row::new(cols.iter().map(|(c, _)| c.head())).style(style::dim(t));
    let best = state.best();
    // The anycast row, then only the metro rows that fit, scrolled so the selection
    // stays on screen.
    let block = Block::bordered();
    let inner = block.inner(area);
    let anycast = anycast_line(state);
    let table_area = if anycast.is_some() && inner.height > 2 {
        Rect {
            y: inner.y + 1,
            height: inner.height - 1,
            ..inner
        }
    } else {
        inner
    };
    let rows = state.metros.iter().map(|m| {
        let all = cells(state, m, best == Some(m.name.as_str()));
        Row::new(cols.iter().map(|(c, _)| {
            all.iter()
                .find(|(k, _)| k == c)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        }))
    });
    let mut widths: Vec<Constraint> = cols.iter().map(|(_, w)| Constraint::Length(*w)).collect();
    if let Some(last) = widths.last_mut() {
        *last = Constraint::Min(5);
    }
    // The selection is also a character, not only a colour: plain terminals and screen
    // readers see it too. The table scrolls to keep it in view.
    let table = Table::new(rows, widths)
        .header(head)
        .column_spacing(1)
        .highlight_symbol("› ")
        .highlight_spacing(HighlightSpacing::Always)
        .row_highlight_style(style::selected(t));
    let mut view = TableState::default().with_selected(Some(state.selected));
    frame.render_stateful_widget(table, table_area, &mut view);
    let fits = (table_area.height.saturating_sub(1) as usize).max(1);
    let title = if state.metros.len() > fits {
        let first = view.offset();
        format!(
            " metros ({}-{} of {}) ",
            first + 1,
            (first + fits).min(state.metros.len()),
            state.metros.len()
        )
    } else {
        " metros ".to_string()
    };
    frame.render_widget(block.title(title), area);
    if let (Some(line), true) = (anycast, table_area != inner) {
        frame.render_widget(Paragraph::new(line), Rect { height: 1, ..inner });
    }
}

/// "anycast  served by am · now 73 ms · p50 72 ms over 60 probes · loss 0%", or what
/// is wrong with it; `None` when the anycast URL is not probed.
fn anycast_line(state: &State) -> Option<Line<'static>> {
    use crate::app::latency::Health;
    let t = &state.theme;
    let health = state.anycast_health()?;
    let row = state.latency_row(crate::domain::ANYCAST)?;
    let w = row.stats.window();
    let mut spans = vec![Span::styled(" anycast  ", style::accent(t))];
    let st = match health {
        Health::Probing => style::dim(t),
        _ => style::level(t, health.level()),
    };
    spans.push(Span::styled(health.words(state.now), st));
    if let Some(p50) = w.p50 {
        spans.push(Span::styled(
            format!(" · window of {}: p50 {p50:.0} ms", w.sent),
            style::dim(t),
        ));
    }
    if w.sent > 0 {
        let loss_style = if w.loss_pct > 0.0 {
            style::warn(t)
        } else {
            style::dim(t)
        };
        spans.push(Span::styled(
            format!(", loss {:.0}%", w.loss_pct),
            loss_style,
        ));
    }
    Some(Line::from(spans))
}

/// Every column's cell for one metro; `columns` picks the ones shown.
fn cells<'a>(state: &'a State, m: &'a MetroState, is_best: bool) -> Vec<(Col, Cell<'a>)> {
    let t = &state.theme;
    let mut out = vec![
        (
            Col::Best,
            if is_best {
                Cell::from(Span::styled("★", style::ok(t)))
            } else {
                Cell::from(" ")
            },
        ),
        (Col::Metro, Cell::from(m.name.as_str())),
        (Col::Name, Cell::from(m.display_name.as_str())),
    ];
    match &m.status {
        None => out.push((
            Col::Bgp,
            Cell::from(Span::styled("polling…", style::dim(t))),
        )),
        Some(Err(e)) => {
            let since = m
                .error_since
                .map(|s| secs_between(s, state.now))
                .unwrap_or(0);
            // Unreachable, silent or error: never "unreachable" for a router that answers.
            // A remote metro's first connection is not a failure yet.
            let word = failure_word(e);
            let st = if word == "connecting" {
                style::dim(t)
            } else {
                style::error(t)
            };
            out.push((Col::Bgp, Cell::from(Span::styled(word, st))));
            out.push((Col::Since, Cell::from(age(since))));
            let last =
                m.last_good
                    .as_ref()
                    .and_then(|g| g.advertised)
                    .map(|a| if a { "yes" } else { "no" });
            out.push((Col::Origin, Cell::from("?")));
            out.push((
                Col::Advertised,
                Cell::from(Span::styled(
                    format!("?(was {})", last.unwrap_or("?")),
                    style::dim(t),
                )),
            ));
            // The cause and its age; the full text is in the events pane.
            let cause = e.rsplit(": ").next().unwrap_or(e);
            out.push((
                Col::Note,
                Cell::from(Span::styled(
                    format!("{cause} ({})", age(since)),
                    style::error(t),
                )),
            ));
        }
        Some(Ok(r)) => {
            if let Some(b) = &r.bgp {
                let st = if b.session == "Established" {
                    style::ok(t)
                } else {
                    style::warn(t)
                };
                out.push((Col::Bgp, Cell::from(Span::styled(b.session.clone(), st))));
                out.push((Col::Since, Cell::from(since_text(b, state))));
            } else {
                out.push((Col::Bgp, Cell::from(Span::styled("-", style::dim(t)))));
            }
            let origin = r.origin_state();
            out.push((
                Col::Origin,
                Cell::from(Span::styled(
                    origin,
                    if origin == "up" {
                        style::ok(t)
                    } else {
                        style::warn(t)
                    },
                )),
            ));
            out.push((
                Col::Advertised,
                match r.advertised {
                    Some(true) => Cell::from(Span::styled("yes", style::ok(t))),
                    Some(false) => Cell::from(Span::styled("withdrawn", style::warn(t))),
                    None => Cell::from(Span::styled("?", style::warn(t))),
                },
            ));
            out.push((
                Col::Exported,
                Cell::from(
                    r.exported
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| "-".into()),
                ),
            ));
            out.push((Col::Note, Cell::from(note(state, m, r))));
        }
    }
    let row = state.latency_row(&m.name);
    // The latest figure (median of the last few answers); window statistics are in the
    // latency view, labelled as such.
    let now = match row {
        Some(r) if r.worker_error.is_some() => Span::styled("stopped", style::error(t)),
        Some(r) if r.stats.last_sample().is_some_and(|s| !s.ok()) => {
            Span::styled("lost", style::lost(t))
        }
        Some(r) => Span::raw(
            r.headline()
                .map(|p| format!("{p:.0}ms"))
                .unwrap_or_else(|| "…".into()),
        ),
        None => Span::styled("-", style::dim(t)),
    };
    out.push((Col::Now, Cell::from(now)));
    out.push((
        Col::Trend,
        Cell::from(
            row.map(|r| sparkline(&r.stats.history(), 10, t))
                .unwrap_or_default(),
        ),
    ));
    out.push((Col::Nomad, Cell::from(nomad_cell(state, m))));
    out
}

/// Leader ok or missing, allocations running/total, failures that need attention
/// highlighted. Allocations that cannot be read say why ("down", "denied"); another
/// endpoint failing (nodes refused to the token) leaves the counts, marked `?`.
fn nomad_cell(state: &State, m: &MetroState) -> Line<'static> {
    let t = &state.theme;
    if !m.has_nomad {
        return Line::from(Span::styled("-", style::dim(t)));
    }
    let Some(n) = &m.nomad else {
        return Line::from(Span::styled("…", style::dim(t)));
    };
    if let Some(e) = n
        .allocs
        .error
        .as_ref()
        .or(n.error.as_ref().filter(|_| n.allocs.value.is_none()))
    {
        let since = m
            .nomad_error_since
            .map(|s| secs_between(s, state.now))
            .unwrap_or(0);
        let what = if e.contains("403") || e.contains("ACL") {
            "denied"
        } else {
            "down"
        };
        return Line::from(Span::styled(
            format!("{what} {}", age(since)),
            style::error(t),
        ));
    }
    let s = n.summary();
    if s.leader == Some(false) {
        return Line::from(Span::styled("no leader", style::error(t)));
    }
    let Some(a) = s.allocs else {
        return Line::from(Span::styled("?", style::dim(t)));
    };
    let text = format!("{}/{}", a.running, a.total);
    let mut spans = if a.attention() > 0 {
        vec![Span::styled(text, style::warn(t))]
    } else {
        vec![Span::styled(text, style::ok(t))]
    };
    if a.failed > 0 {
        spans.push(Span::styled(format!(" {}✗", a.failed), style::error(t)));
    }
    if a.lost > 0 {
        spans.push(Span::styled(format!(" {} lost", a.lost), style::error(t)));
    }
    if n.error.is_some() {
        spans.push(Span::styled(" ?", style::warn(t)));
    }
    Line::from(spans)
}

fn note<'a>(state: &State, m: &MetroState, r: &crate::domain::RouterStatus) -> Line<'a> {
    let t = &state.theme;
    if let Some(d) = state.drift(m) {
        // The word first: however narrow the column, DRIFT shows.
        return Line::from(Span::styled(format!("DRIFT: {d}"), style::warn(t)));
    }
    if !r.problems.is_empty() {
        return Line::from(Span::styled(r.problems.join("; "), style::warn(t)));
    }
    if let Some(n) = state.unfinished_note(m) {
        return Line::from(Span::styled(n, style::error(t)));
    }
    let info = r.bgp.as_ref().map(|b| b.info.clone()).unwrap_or_default();
    // Nothing to note, nothing shown.
    Line::from(Span::styled(info, style::warn(t)))
}

/// How long the session has been in its state, whatever BIRD's time format (the raw
/// text is in `status --json`); the first characters of a format not understood.
fn since_text(b: &crate::domain::BgpSession, state: &State) -> String {
    match b.since_at {
        Some(at) => age(secs_between(at, state.now)),
        None => b.since.chars().take(5).collect(),
    }
}
