//! The metros table: one row per metro with its BGP session, origin and advertisement.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table};
use ratatui::Frame;

use super::header::secs_between;
use super::spark::sparkline;
use super::style;
use crate::app::{MetroRow, State};
use crate::domain::age;

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    // 80 columns hold the essentials; wider terminals also get SINCE and a trend.
    let wide = area.width >= 100;
    let mut cols: Vec<(&str, Constraint)> = vec![
        ("", Constraint::Length(1)),
        ("", Constraint::Length(1)),
        ("METRO", Constraint::Length(5)),
        ("NAME", Constraint::Length(if wide { 10 } else { 9 })),
        ("BGP", Constraint::Length(11)),
    ];
    if wide {
        cols.push(("SINCE", Constraint::Length(5)));
    }
    cols.extend([
        ("ORIGIN", Constraint::Length(6)),
        ("ADVERTISED", Constraint::Length(10)),
        ("EXP", Constraint::Length(3)),
        ("P50", Constraint::Length(6)),
    ]);
    if wide {
        cols.push(("TREND", Constraint::Length(10)));
    }
    cols.extend([
        ("NOMAD", Constraint::Length(9)),
        ("NOTE", Constraint::Min(6)),
    ]);
    let head = Row::new(cols.iter().map(|(h, _)| *h)).style(style::dim(t));
    let best = state.best();
    // Only the rows that fit are built, scrolled so the selection stays on screen.
    let fits = (area.height.saturating_sub(3) as usize).max(1);
    let first = state.selected.saturating_sub(fits - 1);
    let rows = state
        .metros
        .iter()
        .enumerate()
        .skip(first)
        .take(fits)
        .map(|(i, m)| {
            let row = Row::new(cells(
                state,
                m,
                i == state.selected,
                best == Some(m.name.as_str()),
                wide,
            ));
            if i == state.selected {
                row.style(style::selected(t))
            } else {
                row
            }
        });
    let table = Table::new(rows, cols.iter().map(|(_, w)| *w))
        .header(head)
        .column_spacing(1)
        .block(Block::bordered().title(if state.metros.len() > fits {
            format!(
                " metros ({}-{} of {}) ",
                first + 1,
                (first + fits).min(state.metros.len()),
                state.metros.len()
            )
        } else {
            " metros ".to_string()
        }));
    frame.render_widget(table, area);
}

fn cells<'a>(
    state: &'a State,
    m: &'a MetroRow,
    selected: bool,
    is_best: bool,
    wide: bool,
) -> Vec<Cell<'a>> {
    let t = &state.theme;
    let marker = if is_best {
        Cell::from(Span::styled("★", style::ok(t)))
    } else {
        Cell::from(" ")
    };
    // The selection is also a character, not only a colour: plain terminals and
    // screen readers see it too.
    let mut out = vec![
        Cell::from(if selected { "›" } else { " " }),
        marker,
        Cell::from(m.name.as_str()),
        Cell::from(m.display_name.as_str()),
    ];
    let mut note_cell = Cell::from("");
    match &m.status {
        None => {
            out.push(Cell::from(Span::styled("polling…", style::dim(t))));
            if wide {
                out.push(Cell::from(""));
            }
            out.extend([Cell::from(""), Cell::from(""), Cell::from("")]);
        }
        Some(Err(e)) => {
            let since = m
                .error_since
                .map(|s| secs_between(s, state.now))
                .unwrap_or(0);
            out.push(Cell::from(Span::styled("unreachable", style::error(t))));
            if wide {
                out.push(Cell::from(age(since)));
            }
            let last = m
                .last_good
                .as_ref()
                .map(|g| if g.advertised { "yes" } else { "no" });
            out.push(Cell::from("?"));
            out.push(Cell::from(Span::styled(
                format!("?(was {})", last.unwrap_or("?")),
                style::dim(t),
            )));
            out.push(Cell::from(""));
            // The cause and its age; the full text is in the events pane.
            let cause = e.rsplit(": ").next().unwrap_or(e);
            note_cell = Cell::from(Span::styled(
                format!("{cause} ({})", age(since)),
                style::error(t),
            ));
        }
        Some(Ok(r)) => {
            let (session, since, session_style) = match &r.bgp {
                Some(b) => {
                    let st = if b.session == "Established" {
                        style::ok(t)
                    } else {
                        style::warn(t)
                    };
                    (b.session.clone(), since_text(&b.since, state), st)
                }
                None => ("-".to_string(), String::new(), style::dim(t)),
            };
            out.push(Cell::from(Span::styled(session, session_style)));
            if wide {
                out.push(Cell::from(since));
            }
            let origin = r.origin_state();
            out.push(Cell::from(Span::styled(
                origin,
                if origin == "up" {
                    style::ok(t)
                } else {
                    style::warn(t)
                },
            )));
            out.push(if r.advertised {
                Cell::from(Span::styled("yes", style::ok(t)))
            } else {
                Cell::from(Span::styled("withdrawn", style::warn(t)))
            });
            out.push(Cell::from(
                r.exported
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "-".into()),
            ));
            note_cell = Cell::from(note(state, m, r));
        }
    }
    let row = state.latency_row(&m.name);
    let p50 = match row {
        Some(r) if r.stats.last_sample().is_some_and(|s| !s.ok()) => {
            Span::styled("lost", style::lost(t))
        }
        Some(r) => Span::raw(
            r.p50()
                .map(|p| format!("{p:.0}ms"))
                .unwrap_or_else(|| "…".into()),
        ),
        None => Span::styled("-", style::dim(t)),
    };
    out.push(Cell::from(p50));
    if wide {
        out.push(Cell::from(
            row.map(|r| sparkline(&r.stats.history(), 10, t))
                .unwrap_or_default(),
        ));
    }
    out.push(Cell::from(nomad_cell(state, m)));
    out.push(note_cell);
    out
}

/// Leader ok or missing, allocations running/total, failures that need attention
/// highlighted. Allocations that cannot be read say why ("down", "denied"); another
/// endpoint failing (nodes refused to the token) leaves the counts, marked `?`.
fn nomad_cell(state: &State, m: &MetroRow) -> Line<'static> {
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

fn note<'a>(state: &State, m: &MetroRow, r: &crate::domain::RouterStatus) -> Line<'a> {
    let t = &state.theme;
    if let Some(d) = state.drift(m) {
        return Line::from(Span::styled(format!("DRIFT: {d}"), style::warn(t)));
    }
    let info = r.bgp.as_ref().map(|b| b.info.clone()).unwrap_or_default();
    if !info.is_empty() {
        return Line::from(Span::styled(info, style::warn(t)));
    }
    Line::from(Span::styled(
        format!("method {}", m.method),
        Style::new().fg(t.dim),
    ))
}

/// BIRD prints `since` as epoch seconds when the lab's timeformat is set; show an age.
fn since_text(since: &str, state: &State) -> String {
    match since.parse::<u64>() {
        Ok(epoch) => {
            let now = state
                .now
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            age(now.saturating_sub(epoch))
        }
        Err(_) => since.chars().take(5).collect(),
    }
}
