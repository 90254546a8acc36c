//! The Nomad pane: jobs and allocations of one metro or of all together (with a metro
//! column), filtered and sorted; an opened allocation's task states and recent events;
//! a followed log stream.

use std::time::{SystemTime, UNIX_EPOCH};

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use super::style;
use crate::app::nomad::{alloc_row, Detail, Logs};
use crate::app::State;
use crate::domain::age;

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
    let [bar, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
    filter_bar(state, frame, bar);
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
    let jobs: Vec<JobRow> = jobs
        .into_iter()
        .take(jobs_height.saturating_sub(3) as usize)
        .collect();
    let [jobs_area, allocs_area] =
        Layout::vertical([Constraint::Length(jobs_height), Constraint::Min(3)]).areas(body);
    draw_jobs(state, jobs, total_jobs, frame, jobs_area);
    draw_allocs(state, frame, allocs_area);
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

/// The metros the pane shows: the chosen one, or all.
fn shown_metros(state: &State) -> impl Iterator<Item = &crate::app::MetroRow> {
    let chosen = state.nomad_view.metro.as_deref();
    state
        .metros
        .iter()
        .filter(move |m| chosen.is_none_or(|v| v == m.name))
}

type JobRow<'a> = (&'a str, &'a crate::nomad::JobStub);

fn job_rows(state: &State) -> Vec<JobRow<'_>> {
    shown_metros(state)
        .flat_map(|m| {
            m.nomad
                .iter()
                .flat_map(|n| n.jobs.iter())
                .map(move |j| (m.name.as_str(), j))
        })
        .collect()
}

fn draw_jobs(state: &State, jobs: Vec<JobRow>, total: usize, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let errors: Vec<String> = shown_metros(state)
        .filter_map(|m| {
            let e = m.nomad.as_ref()?.error.as_ref()?;
            let since = m
                .nomad_error_since
                .and_then(|s| state.now.duration_since(s).ok())
                .map(|d| d.as_secs());
            Some(format!("{}: {e} ({})", m.name, age(since.unwrap_or(0))))
        })
        .collect();
    let rows = jobs.iter().map(|(metro, j)| {
        let (mut run, mut fail, mut queued, mut other) = (0, 0, 0, 0);
        for g in j
            .job_summary
            .as_ref()
            .map(|s| s.summary.values().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            run += g.running;
            fail += g.failed + g.lost;
            queued += g.queued + g.starting;
            other += g.complete;
        }
        let mut summary = format!("{run} running");
        for (n, what) in [(fail, "failed"), (queued, "queued"), (other, "complete")] {
            if n > 0 {
                summary.push_str(&format!(", {n} {what}"));
            }
        }
        let st = if fail > 0 {
            style::warn(t)
        } else {
            style::ok(t)
        };
        Row::new([
            Cell::from(metro.to_string()),
            Cell::from(j.id.clone()),
            Cell::from(j.r#type.clone()),
            Cell::from(Span::styled(j.status.clone(), st)),
            Cell::from(Span::styled(summary, st)),
        ])
    });
    let head = if total > jobs.len() {
        format!(" jobs ({} of {total}) ", jobs.len())
    } else {
        " jobs ".to_string()
    };
    let title = if errors.is_empty() {
        Line::from(head)
    } else {
        Line::from(vec![
            Span::raw(head),
            Span::styled(format!("{} ", errors.join(" · ")), style::error(t)),
        ])
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
    .header(Row::new(["METRO", "JOB", "TYPE", "STATUS", "GROUPS"]).style(style::dim(t)))
    .column_spacing(1)
    .block(Block::bordered().title(title));
    frame.render_widget(table, area);
}

fn nanos_age(now: SystemTime, nanos: i64) -> String {
    let now_ns = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    if nanos <= 0 {
        return "-".into();
    }
    age(((now_ns - nanos).max(0) / 1_000_000_000) as u64)
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
            let status_style = if a.is_bad() {
                style::error(t)
            } else if a.client_status == "running" {
                style::ok(t)
            } else {
                style::warn(t)
            };
            let row = Row::new([
                Cell::from(if i == selected { "›" } else { " " }),
                Cell::from(metro.to_string()),
                Cell::from(a.short_id().to_string()),
                Cell::from(a.job_id.clone()),
                Cell::from(a.task_group.clone()),
                Cell::from(Span::styled(a.client_status.clone(), status_style)),
                Cell::from(a.desired_status.clone()),
                Cell::from(a.node_name.clone()),
                // List stubs carry no task states (task_states=false); say so rather than 0.
                Cell::from(if a.task_states.is_some() {
                    a.restarts().to_string()
                } else {
                    "-".into()
                }),
                Cell::from(nanos_age(state.now, a.create_time)),
            ]);
            if i == selected {
                row.style(style::selected(t))
            } else {
                row
            }
        });
    let title = format!(" allocations ({total}) · Enter detail · l logs ");
    let table = Table::new(
        table_rows,
        [
            Constraint::Length(1),
            Constraint::Length(5),
            Constraint::Length(8),
            Constraint::Length(14),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Length(10),
            Constraint::Length(3),
            Constraint::Min(4),
        ],
    )
    .header(
        Row::new([
            "", "METRO", "ID", "JOB", "GROUP", "CLIENT", "DESIRED", "NODE", "RST", "AGE",
        ])
        .style(style::dim(t)),
    )
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
                Span::styled(
                    format!("{} ({})", a.client_status, a.client_description),
                    st,
                ),
                Span::styled("  desired ", style::dim(t)),
                Span::raw(a.desired_status.clone()),
                Span::styled("  node ", style::dim(t)),
                Span::raw(a.node_name.clone()),
            ]));
            lines.push(Line::from(vec![
                Span::styled("job ", style::dim(t)),
                Span::raw(format!("{} / {}", a.job_id, a.task_group)),
                Span::styled("  name ", style::dim(t)),
                Span::raw(a.name.clone()),
            ]));
            for (task, ts) in a.task_states.iter().flatten() {
                lines.push(Line::from(""));
                let tst = if ts.failed {
                    style::error(t)
                } else {
                    style::ok(t)
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("task {task} "), style::header(t)),
                    Span::styled(
                        format!("{}{}", ts.state, if ts.failed { " (failed)" } else { "" }),
                        tst,
                    ),
                    Span::styled(format!("  restarts {}", ts.restarts), style::dim(t)),
                    Span::styled(
                        format!("  started {}", clock_of(&ts.started_at)),
                        style::dim(t),
                    ),
                    Span::styled(
                        format!("  finished {}", clock_of(&ts.finished_at)),
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
                        Span::styled(format!("{:<12}", e.r#type), style::accent(t)),
                        Span::raw(e.text().to_string()),
                    ]));
                }
            }
        }
    }
    let title = format!(
        " allocation {} on {} · l logs · Esc back ",
        &d.alloc_id[..d.alloc_id.len().min(8)],
        d.metro
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
    let mut lines: Vec<Line> = l
        .lines
        .iter()
        .skip(l.lines.len().saturating_sub(visible))
        .map(|s| Line::from(s.clone()))
        .collect();
    if let Some(e) = &l.error {
        lines.push(Line::from(Span::styled(e.clone(), style::error(t))));
    } else if l.lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "waiting for log lines…",
            style::dim(t),
        )));
    }
    let stream = if l.stderr { "stderr" } else { "stdout" };
    let title = format!(
        " logs {} {} {stream} · o {} · Esc back ",
        l.metro,
        &l.alloc_id[..l.alloc_id.len().min(8)],
        if l.stderr { "stdout" } else { "stderr" }
    );
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

/// `HH:MM:SS` of a Nomad RFC 3339 time; `-` for Go's zero time.
fn clock_of(rfc3339: &str) -> &str {
    crate::nomad::go_time(rfc3339)
        .and_then(|t| t.get(11..19))
        .unwrap_or("-")
}
