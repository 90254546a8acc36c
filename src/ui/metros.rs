//! The metros table: one row per metro with its BGP session, origin and advertisement.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table};
use ratatui::Frame;

use super::header::secs_between;
use super::style;
use crate::app::{MetroRow, State};
use crate::domain::age;

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let head = Row::new([
        "",
        "",
        "METRO",
        "NAME",
        "BGP",
        "SINCE",
        "ORIGIN",
        "ADVERTISED",
        "EXP",
        "NOTE",
    ])
    .style(style::dim(t));
    let best = state.best();
    let rows = state.metros.iter().enumerate().map(|(i, m)| {
        let row = Row::new(cells(
            state,
            m,
            i == state.selected,
            best == Some(m.name.as_str()),
        ));
        if i == state.selected {
            row.style(style::selected(t))
        } else {
            row
        }
    });
    let widths = [
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(5),
        Constraint::Length(10),
        Constraint::Length(11),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(11),
        Constraint::Length(3),
        Constraint::Min(10),
    ];
    let table = Table::new(rows, widths)
        .header(head)
        .column_spacing(1)
        .block(Block::bordered().title(" metros "));
    frame.render_widget(table, area);
}

fn cells<'a>(state: &'a State, m: &'a MetroRow, selected: bool, is_best: bool) -> Vec<Cell<'a>> {
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
    match &m.status {
        None => {
            out.push(Cell::from(Span::styled("polling…", style::dim(t))));
            out.extend([
                Cell::from(""),
                Cell::from(""),
                Cell::from(""),
                Cell::from(""),
                Cell::from(""),
            ]);
        }
        Some(Err(e)) => {
            let since = m
                .error_since
                .map(|s| secs_between(s, state.now))
                .unwrap_or(0);
            out.push(Cell::from(Span::styled("unreachable", style::error(t))));
            out.push(Cell::from(age(since)));
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
            // The cause only; the full text is in the events pane.
            let cause = e.rsplit(": ").next().unwrap_or(e);
            out.push(Cell::from(Span::styled(cause, style::error(t))));
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
            out.push(Cell::from(since));
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
            out.push(Cell::from(note(state, m, r)));
        }
    }
    out
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
