//! The provisioning pane: the installer and the metros variable, the run's state with a
//! progress gauge (resources done / changing), the resources (action, state, time, last
//! provisioner line) or terraform's raw log, diagnostics in their severity's colour, the
//! outputs (sensitive masked), the metros the run added or removed, and the history of
//! runs. Also the confirmation that repeats the plan before an apply.
//!
//! ```text
//! ┌ provisioning: /lab/installer (Terraform 1.11.4) ─────────────────────┐
//! │ metros = ["am","da","fr"]                                            │
//! │ applying  [████████░░░░░░░░] 1/2 resources  12s                      │
//! ├ resources: 1 to add, 0 to change, 0 to destroy ──────────────────────┤
//! │ +  terraform_data.metro["fr"]   running  3s  fr (Frankfurt) added    │
//! ├ diagnostics ─────────────────────────────────────────────────────────┤
//! ├ outputs ─────────────────────────┬ metros ───────────────────────────┤
//! └ history ─────────────────────────────────────────────────────────────┘
//! ```

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::{history, style};
use crate::app::provision::{Phase, ProvisionConfirm, ProvisionView};
use crate::app::State;
use crate::config::keymap::Command;
use crate::domain::journal::Verdict;
use crate::domain::text::visible;
use crate::domain::time::{age, secs_between};
use crate::provision::stream::Severity;
use crate::provision::tracker::{seconds, sign, ResourceState};

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let v = &state.provision_view;
    let t = &state.theme;
    let Some(installer) = &v.installer else {
        let text = vec![
            Line::from(" No installer: the config has no [provision] table."),
            Line::from(""),
            Line::from(" Add one to plan and apply the metros from here:"),
            Line::from(Span::styled("   [provision]", style::accent(t))),
            Line::from(Span::styled(
                "   dir = \"path/to/installer\"   # a terraform or tofu module",
                style::accent(t),
            )),
            Line::from(""),
            Line::from(" `platform-tui config template` documents every key; the console picks up the change."),
        ];
        frame.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: false })
                .block(Block::bordered().title(" provisioning ")),
            area,
        );
        return;
    };
    let diag_rows = v.tracker.diagnostics.len().min(4) as u16;
    let history_rows = (v.history.len() as u16).clamp(1, 4);
    let lower = outputs_rows(v).max(diff_rows(v)).clamp(1, 5);
    let small = area.height < 24;
    let [top, table, diag, lower_area, history] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Min(3),
        Constraint::Length(if diag_rows > 0 { diag_rows + 2 } else { 0 }),
        Constraint::Length(lower + 2),
        Constraint::Length(if small { 0 } else { history_rows + 2 }),
    ])
    .areas(area);

    draw_top(state, v, installer, frame, top);
    if v.show_log {
        draw_log(state, v, frame, table);
    } else {
        draw_resources(state, v, frame, table);
    }
    if diag_rows > 0 {
        draw_diagnostics(state, v, frame, diag);
    }
    let [outputs_area, metros_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(lower_area);
    draw_outputs(state, v, frame, outputs_area);
    draw_metros(state, v, frame, metros_area);
    if !small {
        draw_history(state, v, frame, history);
    }
}

fn outputs_rows(v: &ProvisionView) -> u16 {
    match &v.outputs {
        Some(Ok(o)) => o.len().max(1) as u16,
        _ => 1,
    }
}

fn diff_rows(v: &ProvisionView) -> u16 {
    match &v.diff {
        Some(Ok(d)) => d.lines().len() as u16 + 1,
        _ => 1,
    }
}

fn draw_top(state: &State, v: &ProvisionView, installer: &str, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let km = &state.keymap;
    let version = v
        .tracker
        .version
        .as_deref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let metros = Line::from(vec![
        Span::styled(" metros = ", style::dim(t)),
        Span::styled(
            visible(v.metros.value()).into_owned(),
            if v.editing {
                style::selected(t)
            } else {
                Style::new()
            },
        ),
        Span::styled(
            if v.editing {
                "  (Enter keeps, Esc restores)".to_string()
            } else {
                format!("  {} edit", km.label(Command::ProvisionEdit))
            },
            style::dim(t),
        ),
    ]);
    let (word, word_style) = match (&v.phase, &v.result) {
        (Phase::Idle, _) => (
            format!("idle: {} plans", km.label(Command::ProvisionPlan)),
            style::dim(t),
        ),
        (Phase::Planning { destroy: true }, _) => ("planning destroy".into(), style::accent(t)),
        (Phase::Planning { .. }, _) => ("planning".into(), style::accent(t)),
        (
            Phase::Planned {
                has_changes: false, ..
            },
            _,
        ) => ("planned: no changes".into(), style::ok(t)),
        (Phase::Planned { destroy, .. }, _) => (
            format!(
                "planned: {} {}",
                km.label(Command::ProvisionApply),
                if *destroy { "destroys" } else { "applies" }
            ),
            style::warn(t),
        ),
        (Phase::Applying { destroy: true }, _) => ("destroying".into(), style::accent(t)),
        (Phase::Applying { .. }, _) => ("applying".into(), style::accent(t)),
        (Phase::Finished, Some((verdict, _))) => (
            verdict.word().to_string(),
            match verdict {
                Verdict::Ok => style::ok(t),
                Verdict::Failed => style::error(t),
                _ => style::warn(t),
            },
        ),
        (Phase::Finished, None) => ("done".into(), style::dim(t)),
    };
    let (done, of) = v.progress();
    let mut status = vec![
        Span::raw(" "),
        Span::styled(word, word_style),
        Span::raw("  "),
    ];
    if of > 0 {
        status.push(Span::styled(gauge(done, of, 16), style::accent(t)));
        status.push(Span::raw(format!(" {done}/{of} resources")));
    }
    if let Some(start) = v.started {
        let end = v.ended.unwrap_or(state.now);
        status.push(Span::styled(
            format!("  {}", age(secs_between(start, end))),
            style::dim(t),
        ));
    }
    if v.running() && v.cancels > 0 {
        status.push(Span::styled(
            format!(
                "  stopping ({} interrupt{})",
                v.cancels,
                if v.cancels == 1 { "" } else { "s" }
            ),
            style::warn(t),
        ));
    }
    let sentence = match (&v.result, &v.note) {
        (Some((_, m)), _) if !v.running() => Some(m.clone()),
        (_, Some(n)) => Some(n.clone()),
        _ => None,
    };
    if let Some(s) = sentence {
        status.push(Span::styled(format!("  {}", visible(&s)), style::dim(t)));
    }
    frame.render_widget(
        Paragraph::new(vec![metros, Line::from(status)])
            .block(Block::bordered().title(format!(" provisioning: {installer}{version} "))),
        area,
    );
}

/// `[██████░░░░]`: `done` of `of` in `width` cells.
fn gauge(done: usize, of: usize, width: usize) -> String {
    let filled = (done * width).checked_div(of).unwrap_or(0).min(width);
    format!("[{}{}]", "█".repeat(filled), "░".repeat(width - filled))
}

fn draw_resources(state: &State, v: &ProvisionView, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let title = match (&v.tracker.applied, &v.tracker.planned) {
        (Some(s), _) => format!(
            " resources: {} added, {} changed, {} destroyed ",
            s.add, s.change, s.remove
        ),
        (None, Some(s)) => format!(
            " resources: {} to add, {} to change, {} to destroy ",
            s.add, s.change, s.remove
        ),
        _ => " resources ".to_string(),
    };
    let width = area.width.saturating_sub(2) as usize;
    let addr_w = v
        .tracker
        .rows
        .iter()
        .map(|r| r.addr.chars().count())
        .max()
        .unwrap_or(8)
        .clamp(8, (width / 2).max(8));
    let rows = area.height.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    if v.tracker.rows.is_empty() {
        lines.push(Line::from(Span::styled(
            match v.phase {
                Phase::Idle => " nothing planned yet",
                Phase::Planning { .. } => " planning…",
                _ => " no resources change",
            },
            style::dim(t),
        )));
    }
    // The running and failed rows first when they do not all fit.
    let mut shown: Vec<&crate::provision::tracker::ResourceRow> = v.tracker.rows.iter().collect();
    if shown.len() > rows {
        shown.sort_by_key(|r| match r.state {
            ResourceState::Running => 0,
            ResourceState::Failed => 1,
            ResourceState::Planned => 2,
            ResourceState::Done => 3,
        });
    }
    for r in shown.into_iter().take(rows) {
        let (state_style, time) = match r.state {
            ResourceState::Done => (style::ok(t), r.elapsed.map(seconds)),
            ResourceState::Failed => (style::error(t), r.elapsed.map(seconds)),
            ResourceState::Running => (
                style::accent(t),
                r.started
                    .map(|s| age(secs_between(s, state.now)))
                    .or(r.elapsed.map(seconds)),
            ),
            ResourceState::Planned => (style::dim(t), None),
        };
        let addr: String = r.addr.chars().take(addr_w).collect();
        let mut spans = vec![
            Span::styled(
                format!(" {:<3} ", sign(&r.action)),
                action_style(state, &r.action),
            ),
            Span::raw(format!("{addr:<addr_w$} ")),
            Span::styled(format!("{:<8}", r.state.word()), state_style),
            Span::styled(format!("{:>6} ", time.unwrap_or_default()), style::dim(t)),
        ];
        let line = r
            .last_line
            .clone()
            .or_else(|| r.reason.as_ref().map(|x| format!("({x})")))
            .unwrap_or_default();
        spans.push(Span::styled(line, style::dim(t)));
        lines.push(Line::from(spans));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

fn action_style(state: &State, a: &crate::provision::stream::Action) -> Style {
    use crate::provision::stream::Action;
    let t = &state.theme;
    match a {
        Action::Create => style::ok(t),
        Action::Delete | Action::Remove | Action::Replace => style::error(t),
        Action::Update => style::warn(t),
        _ => style::dim(t),
    }
}

fn draw_log(state: &State, v: &ProvisionView, frame: &mut Frame, area: Rect) {
    let rows = area.height.saturating_sub(2) as usize;
    let log = &v.tracker.log;
    let end = log.len().saturating_sub(v.log_back);
    let start = end.saturating_sub(rows);
    let lines: Vec<Line> = log
        .iter()
        .skip(start)
        .take(end - start)
        .map(|l| Line::from(format!(" {l}")))
        .collect();
    let dropped = if v.tracker.log_dropped > 0 {
        format!(", {} older lines dropped", v.tracker.log_dropped)
    } else {
        String::new()
    };
    let title = format!(
        " raw log ({} lines{dropped}{}; {} back to resources) ",
        log.len(),
        if v.log_back > 0 {
            format!(", {} back", v.log_back)
        } else {
            String::new()
        },
        state.keymap.label(Command::Logs)
    );
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

fn draw_diagnostics(state: &State, v: &ProvisionView, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let lines: Vec<Line> = v
        .tracker
        .diagnostics
        .iter()
        .rev()
        .take(area.height.saturating_sub(2) as usize)
        .rev()
        .map(|d| {
            let s = match d.severity {
                Severity::Error => style::error(t),
                Severity::Warning => style::warn(t),
            };
            // One line each: the summary, its place, the first line of the detail.
            let text = d.to_string().replace('\n', " ");
            Line::from(Span::styled(format!(" {text}"), s))
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered().title(format!(" diagnostics ({}) ", v.tracker.diagnostics.len())),
        ),
        area,
    );
}

fn draw_outputs(state: &State, v: &ProvisionView, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let lines: Vec<Line> = match &v.outputs {
        None => vec![Line::from(Span::styled(" not read yet", style::dim(t)))],
        Some(Err(e)) => vec![Line::from(Span::styled(format!(" {e}"), style::error(t)))],
        Some(Ok(o)) if o.is_empty() => {
            vec![Line::from(Span::styled(
                " none (nothing applied yet)",
                style::dim(t),
            ))]
        }
        Some(Ok(o)) => o
            .iter()
            .map(|x| {
                Line::from(vec![
                    Span::raw(format!(" {} = ", x.name)),
                    Span::styled(
                        x.value.clone(),
                        if x.sensitive {
                            style::dim(t)
                        } else {
                            Style::new()
                        },
                    ),
                ])
            })
            .collect(),
    };
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" outputs ")),
        area,
    );
}

fn draw_metros(state: &State, v: &ProvisionView, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let mut lines: Vec<Line> = Vec::new();
    match &v.diff {
        None => lines.push(Line::from(Span::styled(
            " the config's metros match the last apply",
            style::dim(t),
        ))),
        Some(Err(e)) => lines.push(Line::from(Span::styled(format!(" {e}"), style::error(t)))),
        Some(Ok(d)) if d.is_empty() => lines.push(Line::from(Span::styled(
            " no change to the config",
            style::dim(t),
        ))),
        Some(Ok(d)) => {
            for l in d.lines() {
                let s = if l.starts_with('+') {
                    style::ok(t)
                } else if l.starts_with('-') {
                    style::error(t)
                } else {
                    style::warn(t)
                };
                lines.push(Line::from(Span::styled(format!(" {l}"), s)));
            }
            lines.push(match &v.written {
                None => Line::from(vec![
                    Span::styled(
                        format!(" {}", state.keymap.label(Command::ProvisionWrite)),
                        style::accent(t),
                    ),
                    Span::raw(" writes them into the config"),
                ]),
                Some(Ok(())) => Line::from(Span::styled(" written into the config", style::ok(t))),
                Some(Err(e)) => {
                    Line::from(Span::styled(format!(" not written: {e}"), style::error(t)))
                }
            });
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" metros (config) ")),
        area,
    );
}

fn draw_history(state: &State, v: &ProvisionView, frame: &mut Frame, area: Rect) {
    let runs = v.history.iter().map(|h| history::Run {
        time: &h.time,
        result: h.result,
        duration_ms: h.duration_ms,
        kind: vec![Span::raw(format!("{:<8}", h.op.word()))],
        what: vec![Span::raw(visible(&h.summary).into_owned())],
    });
    history::draw(state, frame, area, runs, "no runs yet");
}

/// The confirmation: what the plan does, again, and how to go ahead.
pub fn draw_confirm(state: &State, c: &ProvisionConfirm, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let km = &state.keymap;
    let v = &state.provision_view;
    let border = if c.destroy {
        style::error(t)
    } else {
        style::warn(t)
    };
    let title = if c.destroy {
        " Destroy everything the installer made? "
    } else {
        " Apply this plan? "
    };
    let mut text = vec![Line::from(Span::styled(
        format!(" Plan: {}", c.words),
        border,
    ))];
    let changing: Vec<_> = v.tracker.rows.iter().collect();
    for r in changing.iter().take(8) {
        let why = r
            .reason
            .as_deref()
            .map(|x| format!(" ({x})"))
            .unwrap_or_default();
        text.push(Line::from(vec![
            Span::styled(
                format!("  {:<3} ", sign(&r.action)),
                action_style(state, &r.action),
            ),
            Span::raw(format!("{}{why}", r.addr)),
        ]));
    }
    if changing.len() > 8 {
        text.push(Line::from(format!("  … and {} more", changing.len() - 8)));
    }
    text.push(Line::from(Span::styled(
        " Only this plan is applied: terraform refuses it if the state moved since.",
        style::dim(t),
    )));
    if let Some(note) = &c.note {
        text.push(Line::from(Span::styled(
            format!(" {note}"),
            style::error(t),
        )));
    }
    text.push(Line::from(""));
    if c.destroy {
        text.push(Line::from(vec![
            Span::raw(" Type "),
            Span::styled("destroy", style::error(t)),
            Span::raw(" and Enter: "),
            Span::styled(format!("{}_", c.typed), style::accent(t)),
            Span::raw("   Esc cancels"),
        ]));
    } else {
        text.push(Line::from(vec![
            Span::styled(
                format!(" {}", km.labels(Command::Confirm)),
                style::accent(t),
            ),
            Span::raw(" apply   "),
            Span::styled(km.labels(Command::Cancel), style::accent(t)),
            Span::raw(" cancel"),
        ]));
    }
    super::confirm::dialog(frame, area, text, 76, title, border);
}
