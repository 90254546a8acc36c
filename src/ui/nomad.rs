//! The Nomad pane: per metro a summary line (leader, nodes, allocations by what they
//! amount to; `?` where a piece could not be read, with the endpoint's error), then the
//! jobs and allocations of one metro or of all together (with a metro column), filtered
//! and sorted (the sort column marked); an opened allocation's task states and recent
//! events; a followed log stream that scrolls back.
//!
//! ```text
//!  metro all  sort status  filter /web
//!  am   leader yes  nodes ?  allocs 1 running · 0 failed · 2 replaced
//!      GET /v1/nodes: 403 Permission denied (3s)
//! ┌ jobs ─────────────────────────────────────────────┐
//! ├ allocations (3) · Enter detail · l logs ──────────┤
//! └───────────────────────────────────────────────────┘
//! ```

use std::time::UNIX_EPOCH;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use super::style;
use crate::app::nomad::{alloc_row, job_rows, Detail, Logs, ShownJob, SortKey};
use crate::app::State;
use crate::config::keymap::Command;
use crate::config::theme::Theme;
use crate::domain::age;
use crate::domain::nomad::{AllocCounts, AllocState};
use crate::domain::time::age_of_nanos;
use crate::world::MetroState;

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    if !state.metros.iter().any(|m| m.has_nomad) {
        let text = "no Nomad endpoints: add a [metro.nomad] table to the config";
        frame.render_widget(
            Paragraph::new(Span::styled(text, style::dim(t)))
                .block(Block::bordered().title(" nomad ")),
            area,
        );
        return;
    }
    let summary = summary_lines(state, area.width);
    // Long lines wrap (an 80-column terminal still sees every count).
    let width = usize::from(area.width.max(1));
    let wrapped: usize = summary
        .iter()
        .map(|l| l.width().max(1).div_ceil(width))
        .sum();
    let summary_height = (wrapped as u16).clamp(1, (area.height / 3).max(1));
    let [bar, summary_area, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(summary_height),
        Constraint::Min(3),
    ])
    .areas(area);
    filter_bar(state, frame, bar);
    frame.render_widget(
        Paragraph::new(summary).wrap(Wrap { trim: false }),
        summary_area,
    );
    let view = &state.nomad_view;
    if let Some(logs) = &view.logs {
        return draw_logs(state, logs, frame, body);
    }
    if let Some(detail) = &view.detail {
        return draw_detail(state, detail, frame, body);
    }
    let jobs = job_rows(state);
    let jobs_height = (jobs.len() as u16 + 3).min(body.height / 3).max(3);
    // Only what fits is built into rows; the title says how many there are.
    let total_jobs = jobs.len();
    let jobs: Vec<ShownJob> = jobs
        .into_iter()
        .take(jobs_height.saturating_sub(3) as usize)
        .collect();
    let [jobs_area, allocs_area] =
        Layout::vertical([Constraint::Length(jobs_height), Constraint::Min(3)]).areas(body);
    draw_jobs(state, jobs, total_jobs, frame, jobs_area);
    draw_allocs(state, frame, allocs_area);
}

/// The first key bound to an action, for the hints in titles.
fn key(state: &State, action: Command) -> String {
    state
        .keymap
        .keys(action)
        .first()
        .map(ToString::to_string)
        .unwrap_or_else(|| action.name().to_string())
}

fn filter_bar(state: &State, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let view = &state.nomad_view;
    let metro = view.metro.clone().unwrap_or_else(|| "all".into());
    let mut spans = vec![
        Span::styled(" metro ", style::dim(t)),
        Span::styled(metro, style::accent(t)),
        Span::styled("  sort ", style::dim(t)),
        Span::styled(view.sort.name(), style::accent(t)),
        Span::styled("  filter ", style::dim(t)),
    ];
    let value = view.filter.value();
    if view.editing {
        spans.push(Span::styled(format!("/{value}▏"), style::selected(t)));
        spans.push(Span::styled("  Enter keep · Esc clear", style::dim(t)));
    } else if value.is_empty() {
        spans.push(Span::styled("none", style::dim(t)));
    } else {
        spans.push(Span::styled(format!("/{value}"), style::warn(t)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The metros the pane shows: the chosen one, or all (those with a Nomad endpoint).
fn shown_metros(state: &State) -> impl Iterator<Item = &MetroState> {
    let chosen = state.nomad_view.metro.as_deref();
    state
        .metros
        .iter()
        .filter(move |m| m.has_nomad && chosen.is_none_or(|v| v == m.name))
}

/// `n word`, in `st` when `n > 0`, dim otherwise.
fn count<'a>(t: &Theme, n: u64, word: &str, st: Style) -> Span<'a> {
    Span::styled(
        format!("{n} {word}"),
        if n > 0 { st } else { style::dim(t) },
    )
}

/// Allocation counts: running and the failures that need attention always; pending,
/// lost, unknown and replaced (history) when there are any.
fn count_spans<'a>(t: &Theme, a: &AllocCounts) -> Vec<Span<'a>> {
    let sep = || Span::styled(SEP, style::dim(t));
    let mut spans = vec![
        count(t, a.running, "running", style::ok(t)),
        sep(),
        count(t, a.failed, "failed", style::error(t)),
    ];
    for (n, word, st) in [
        (a.pending, "pending", style::warn(t)),
        (a.lost, "lost", style::error(t)),
        (a.unknown, "unknown", style::warn(t)),
        (a.replaced, "replaced", style::dim(t)),
    ] {
        if n > 0 {
            spans.push(sep());
            spans.push(Span::styled(format!("{n} {word}"), st));
        }
    }
    spans
}

const SEP: &str = " · ";
const INDENT: &str = "       ";

/// Spans on as many lines of `width` as they need, broken only before a `SEP` (never
/// inside "2 replaced"); continuation lines are indented.
fn fill(spans: Vec<Span<'static>>, width: u16) -> Vec<Line<'static>> {
    let mut groups: Vec<Vec<Span>> = Vec::new();
    for s in spans {
        match groups.last_mut() {
            Some(g) if s.content != SEP => g.push(s),
            _ => groups.push(vec![s]),
        }
    }
    let width = usize::from(width);
    let mut lines: Vec<Vec<Span>> = Vec::new();
    let mut used = 0;
    for mut g in groups {
        let w: usize = g.iter().map(Span::width).sum();
        if !lines.is_empty() && used + w > width {
            g[0] = Span::raw(INDENT);
            used = 0;
            lines.push(Vec::new());
        }
        if lines.is_empty() {
            lines.push(Vec::new());
        }
        used += g.iter().map(Span::width).sum::<usize>();
        if let Some(l) = lines.last_mut() {
            l.extend(g);
        }
    }
    lines.into_iter().map(Line::from).collect()
}

/// One line per shown metro (more when it does not fit), and one under it for its
/// error.
fn summary_lines(state: &State, width: u16) -> Vec<Line<'static>> {
    let t = &state.theme;
    let mut lines = Vec::new();
    for m in shown_metros(state) {
        let mut spans = vec![Span::styled(format!(" {:<5}", m.name), style::accent(t))];
        let Some(n) = &m.nomad else {
            spans.push(Span::styled("…", style::dim(t)));
            lines.push(Line::from(spans));
            continue;
        };
        let s = n.summary();
        let unknown = || Span::styled("?", style::warn(t));
        spans.push(Span::styled("leader ", style::dim(t)));
        spans.push(match s.leader {
            Some(true) => Span::styled("yes", style::ok(t)),
            Some(false) => Span::styled("none", style::error(t)),
            None => unknown(),
        });
        spans.push(Span::styled("  nodes ", style::dim(t)));
        spans.push(match (s.nodes_ready, s.nodes_total) {
            (Some(r), Some(total)) => Span::styled(
                format!("{r}/{total}"),
                if r < total {
                    style::warn(t)
                } else {
                    style::ok(t)
                },
            ),
            _ => unknown(),
        });
        spans.push(Span::styled("  allocs ", style::dim(t)));
        match &s.allocs {
            Some(a) => spans.extend(count_spans(t, a)),
            None => spans.push(unknown()),
        }
        lines.extend(fill(spans, width));
        if let Some(e) = &n.error {
            let since = m
                .nomad_error_since
                .and_then(|s| state.now.duration_since(s).ok())
                .map(|d| d.as_secs());
            lines.push(Line::from(vec![
                Span::raw(INDENT),
                Span::styled(
                    format!("{e} ({})", age(since.unwrap_or(0))),
                    style::error(t),
                ),
            ]));
        }
    }
    lines
}

/// A job's allocations in words: from the allocation list when it was read (so
/// replaced failures are told apart), else from Nomad's job summary, whose `failed`
/// counts every failure ever.
fn job_allocs(state: &State, metro: &str, j: &crate::domain::nomad::JobRow) -> (String, bool) {
    let list = state
        .metros
        .iter()
        .find(|m| m.name == metro)
        .and_then(|m| m.nomad.as_ref())
        .and_then(|n| n.allocs.value.as_ref());
    let (running, parts, bad) = match (list, &j.summary) {
        (Some(l), _) => {
            let c = l.of_job(j);
            let parts = [
                (c.failed, "failed"),
                (c.lost, "lost"),
                (c.unknown, "unknown"),
                (c.pending, "pending"),
                (c.replaced, "replaced"),
                (c.complete, "complete"),
            ];
            (c.running, parts, c.attention() > 0)
        }
        (None, Some(g)) => {
            let parts = [
                (g.failed, "failed"),
                (g.lost, "lost"),
                (g.unknown, "unknown"),
                (g.queued + g.starting, "queued"),
                (0, ""),
                (g.complete, "complete"),
            ];
            (g.running, parts, g.failed + g.lost > 0)
        }
        (None, None) => return ("?".into(), false),
    };
    let mut text = format!("{running} running");
    for (n, what) in parts {
        if n > 0 {
            text.push_str(&format!(", {n} {what}"));
        }
    }
    (text, bad)
}

fn draw_jobs(state: &State, jobs: Vec<ShownJob>, total: usize, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let rows = jobs.iter().map(|(metro, j)| {
        let (allocs, bad) = job_allocs(state, metro, j);
        let st = if bad { style::warn(t) } else { style::ok(t) };
        Row::new([
            Cell::from(metro.to_string()),
            Cell::from(j.id.to_string()),
            Cell::from(j.kind.to_string()),
            Cell::from(Span::styled(j.status.to_string(), st)),
            Cell::from(Span::styled(allocs, st)),
        ])
    });
    let head = if total > jobs.len() {
        format!(" jobs ({} of {total}) ", jobs.len())
    } else {
        " jobs ".to_string()
    };
    let table = Table::new(
        rows,
        [
            Constraint::Length(5),
            Constraint::Length(16),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(["METRO", "JOB", "TYPE", "STATUS", "ALLOCATIONS"]).style(style::dim(t)))
    .column_spacing(1)
    .block(Block::bordered().title(head));
    frame.render_widget(table, area);
}

fn state_style(t: &Theme, s: AllocState) -> Style {
    match s {
        AllocState::Failed | AllocState::Lost | AllocState::Unhealthy => style::error(t),
        AllocState::Running => style::ok(t),
        AllocState::Replaced | AllocState::Complete => style::dim(t),
        AllocState::Unknown | AllocState::Pending | AllocState::Other => style::warn(t),
    }
}

/// The allocation table's header, the sort column marked `▾` and highlighted.
fn alloc_header(state: &State) -> Row<'static> {
    let t = &state.theme;
    let sorted = match state.nomad_view.sort {
        SortKey::Metro => "METRO",
        SortKey::Job => "JOB",
        SortKey::Status => "STATUS",
        SortKey::Age => "AGE",
        SortKey::Restarts => "RST",
    };
    Row::new(
        [
            "", "METRO", "ID", "JOB", "GROUP", "STATUS", "DESIRED", "NODE", "RST", "AGE",
        ]
        .map(|h| {
            if h == sorted {
                Cell::from(Span::styled(format!("{h}▾"), style::accent(t)))
            } else {
                Cell::from(Span::styled(h, style::dim(t)))
            }
        }),
    )
}

fn draw_allocs(state: &State, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let total = state.nomad_view.rows.len();
    let visible = area.height.saturating_sub(3) as usize;
    let selected = state.nomad_view.selected.min(total.saturating_sub(1));
    // Keep the selection on screen in long lists.
    let first = selected.saturating_sub(visible.saturating_sub(1));
    let table_rows = (first..(first + visible.max(1)).min(total))
        .filter_map(|i| alloc_row(state, i).map(|r| (i, r)))
        .map(|(i, (metro, a))| {
            let st = a.state();
            let row = Row::new([
                Cell::from(if i == selected { "›" } else { " " }),
                Cell::from(metro.to_string()),
                Cell::from(a.short_id().to_string()),
                Cell::from(a.job.to_string()),
                Cell::from(a.group.to_string()),
                Cell::from(Span::styled(
                    match st {
                        AllocState::Other => a.client.as_str().to_string(),
                        _ => st.word().to_string(),
                    },
                    state_style(t, st),
                )),
                Cell::from(a.desired.as_str().to_string()),
                Cell::from(a.node.to_string()),
                // List stubs carry no task states (task_states=false); say so rather than 0.
                Cell::from(a.restarts.map_or_else(|| "-".into(), |r| r.to_string())),
                Cell::from(age_of_nanos(a.create_time, state.now)),
            ]);
            if i == selected {
                row.style(style::selected(t))
            } else {
                row
            }
        });
    let title = format!(
        " allocations ({total}) · {} detail · {} logs ",
        key(state, Command::Open),
        key(state, Command::Logs)
    );
    let table = Table::new(
        table_rows,
        [
            Constraint::Length(1),
            Constraint::Length(6),
            Constraint::Length(8),
            Constraint::Length(12),
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Length(9),
            Constraint::Length(4),
            Constraint::Min(4),
        ],
    )
    .header(alloc_header(state))
    .column_spacing(1)
    .block(Block::bordered().title(title));
    frame.render_widget(table, area);
}

fn draw_detail(state: &State, d: &Detail, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let mut lines = Vec::new();
    match &d.alloc {
        None => lines.push(Line::from(Span::styled("fetching…", style::dim(t)))),
        Some(Err(e)) => lines.push(Line::from(Span::styled(e.clone(), style::error(t)))),
        Some(Ok(a)) => {
            let st = if a.is_bad() {
                style::error(t)
            } else {
                style::ok(t)
            };
            lines.push(Line::from(vec![
                Span::styled("client ", style::dim(t)),
                Span::styled(format!("{} ({})", a.client, a.client_description), st),
                Span::styled("  desired ", style::dim(t)),
                Span::raw(a.desired.clone()),
                Span::styled("  node ", style::dim(t)),
                Span::raw(a.node.clone()),
            ]));
            lines.push(Line::from(vec![
                Span::styled("job ", style::dim(t)),
                Span::raw(format!("{} / {}", a.job, a.group)),
                Span::styled("  name ", style::dim(t)),
                Span::raw(a.name.clone()),
            ]));
            let mut history = Vec::new();
            if let Some(next) = &a.replaced_by {
                history.push(Span::styled("replaced by ", style::dim(t)));
                history.push(Span::raw(crate::domain::nomad::short_id(next).to_string()));
                history.push(Span::raw("  "));
            }
            if let Some(prev) = &a.replaces {
                history.push(Span::styled("replaces ", style::dim(t)));
                history.push(Span::raw(crate::domain::nomad::short_id(prev).to_string()));
            }
            if !history.is_empty() {
                lines.push(Line::from(history));
            }
            for ts in &a.tasks {
                lines.push(Line::from(""));
                let tst = if ts.failed {
                    style::error(t)
                } else {
                    style::ok(t)
                };
                let clock = |s: &Option<String>| {
                    s.as_deref()
                        .and_then(|s| s.get(11..19))
                        .unwrap_or("-")
                        .to_string()
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("task {} ", ts.name), style::header(t)),
                    Span::styled(
                        format!("{}{}", ts.state, if ts.failed { " (failed)" } else { "" }),
                        tst,
                    ),
                    Span::styled(format!("  restarts {}", ts.restarts), style::dim(t)),
                    Span::styled(
                        format!("  started {}", clock(&ts.started_at)),
                        style::dim(t),
                    ),
                    Span::styled(
                        format!("  finished {}", clock(&ts.finished_at)),
                        style::dim(t),
                    ),
                ]));
                for e in ts.events.iter().rev() {
                    let at = humantime::format_rfc3339_seconds(
                        UNIX_EPOCH + std::time::Duration::from_nanos(e.time.max(0) as u64),
                    )
                    .to_string();
                    lines.push(Line::from(vec![
                        Span::styled(
                            format!("  {} ", at.get(11..19).unwrap_or("")),
                            style::dim(t),
                        ),
                        Span::styled(format!("{:<12}", e.kind), style::accent(t)),
                        Span::raw(e.text.clone()),
                    ]));
                }
            }
        }
    }
    let title = format!(
        " allocation {} on {} · {} logs · {} back ",
        crate::domain::nomad::short_id(&d.alloc_id),
        d.metro,
        key(state, Command::Logs),
        key(state, Command::Back),
    );
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(title)),
        area,
    );
}

fn draw_logs(state: &State, l: &Logs, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let visible = area.height.saturating_sub(2) as usize;
    let len = l.lines.len();
    // Scrolled back at most to the first page.
    let scroll = l.scroll.min(len.saturating_sub(visible));
    let end = len - scroll;
    let mut lines: Vec<Line> = l
        .lines
        .range(end.saturating_sub(visible)..end)
        .map(|s| Line::from(s.clone()))
        .collect();
    if scroll == 0 {
        if let Some(e) = &l.error {
            lines.push(Line::from(Span::styled(e.clone(), style::error(t))));
        } else if l.lines.is_empty() {
            lines.push(Line::from(Span::styled(
                "waiting for log lines…",
                style::dim(t),
            )));
        }
    }
    let stream = if l.stderr { "stderr" } else { "stdout" };
    let back = if state.nomad_view.detail.is_some() {
        "detail"
    } else {
        "back"
    };
    let mut title = vec![Span::raw(format!(
        " logs {} {} {stream} · {} {} · {} {back} ",
        l.metro,
        crate::domain::nomad::short_id(&l.alloc_id),
        key(state, Command::LogStream),
        if l.stderr { "stdout" } else { "stderr" },
        key(state, Command::Back),
    ))];
    if scroll > 0 {
        title.push(Span::styled(
            format!(
                "↑ {scroll} lines back · {} follow ",
                key(state, Command::Follow)
            ),
            style::warn(t),
        ));
    } else {
        title.push(Span::styled(
            format!("{} scroll back ", key(state, Command::ScrollBack)),
            style::dim(t),
        ));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(Line::from(title))),
        area,
    );
}
