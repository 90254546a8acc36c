//! The deployment pane: the app reference and whether metros are drained, the rollout's
//! state with a gauge (metros finished / in the rollout), one row per metro (phase,
//! allocations healthy/desired, the version its own address answers, drain, elapsed,
//! what it does), the log of steps, and the history of deployments. Before a rollout
//! the rows are the plan on what the console sees now. Also the confirmation that
//! repeats the plan.
//!
//! ```text
//! ┌ deployment: job spin-app ────────────────────────────────────────────┐
//! │ ref = registry.example/hello:v2   d edit   N drain: yes              │
//! │ running  [████████░░░░░░░░] 1/2 metros  4s                           │
//! ├ metros (in order) ───────────────────────────────────────────────────┤
//! │ METRO  PHASE      ALLOCS  VERSION  DRAIN  TIME   STEP                │
//! │ da     done       1/1     v2       yes    2.1s   v2 answers; restored│
//! │ am     verifying  1/1     v1       yes    0.4s   asking am for v2    │
//! ├ log (UTC) ───────────────────────────────────────────────────────────┤
//! └ history (UTC) ───────────────────────────────────────────────────────┘
//! ```

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::{history, style};
use crate::app::deploy::{DeployConfirm, DeployView, MetroRow, Phase};
use crate::app::State;
use crate::config::keymap::Command;
use crate::domain::deploy::{AppRef, Drain, MetroPhase};
use crate::domain::journal::Verdict;
use crate::domain::text::visible;
use crate::domain::time::{age, secs_between};

/// Rows of log kept before the history is shown.
const LOG_MIN: u16 = 7;

/// `text` cut to `width` columns, with `…` when it was longer.
fn clip(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar as _;
    let total: usize = text.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut cols = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if cols + w + 1 > width {
            break;
        }
        out.push(c);
        cols += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let v = &state.deploy_view;
    let rows = if v.rows.is_empty() {
        planned_rows(state).len()
    } else {
        v.rows.len()
    };
    let table_height = (rows.max(1) as u16 + 3).min(area.height.saturating_sub(8).max(4));
    let history_rows = (v.history.len() as u16).clamp(1, 4);
    // The history only where the log keeps room for a few steps (an 80x24 terminal has
    // it; a smaller one gives it to the log).
    let small = area.height < 4 + table_height + LOG_MIN + history_rows + 2;
    let [top, table, log, history] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Length(table_height),
        Constraint::Min(3),
        Constraint::Length(if small { 0 } else { history_rows + 2 }),
    ])
    .areas(area);
    draw_top(state, v, frame, top);
    draw_metros(state, v, frame, table);
    draw_log(state, v, frame, log);
    if !small {
        draw_history(state, v, frame, history);
    }
}

/// The plan's rows on what the console sees now, before any rollout.
fn planned_rows(state: &State) -> Vec<MetroRow> {
    let v = &state.deploy_view;
    let app = AppRef::parse(v.reference.value().trim())
        .or_else(|_| AppRef::parse("app"))
        .ok();
    let Some(app) = app else {
        return Vec::new();
    };
    crate::app::deploy::preview(state, &app)
        .steps
        .into_iter()
        .map(|s| MetroRow {
            metro: s.metro,
            drain: s.drain,
            phase: MetroPhase::Queued,
            counts: None,
            seen: None,
            detail: s.drain.words().to_string(),
            started: None,
            ended: None,
        })
        .collect()
}

fn draw_top(state: &State, v: &DeployView, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let km = &state.keymap;
    let job = v
        .plan
        .as_ref()
        .map(|p| p.job.clone())
        .or_else(|| v.job.clone())
        .or_else(|| {
            AppRef::parse(v.reference.value().trim())
                .ok()
                .map(|a| a.name().to_string())
        })
        .unwrap_or_else(|| "named after the app".into());
    let reference = v.reference.value();
    let mut first = vec![
        Span::styled(" ref = ", style::dim(t)),
        Span::styled(
            if reference.is_empty() && !v.editing {
                "(none)".to_string()
            } else {
                visible(reference).into_owned()
            },
            if v.editing {
                style::selected(t)
            } else {
                Style::new()
            },
        ),
    ];
    if v.editing {
        first.push(Span::styled(
            "  (Enter asks to deploy it, Esc stops typing)",
            style::dim(t),
        ));
    } else {
        first.push(Span::styled(
            format!("  {} edit", km.label(Command::DeployEdit)),
            style::dim(t),
        ));
    }
    first.push(Span::styled(
        format!("  {} drain: ", km.label(Command::DeployDrain)),
        style::dim(t),
    ));
    first.push(if v.no_drain {
        Span::styled("no (anycast may lose requests)", style::warn(t))
    } else {
        Span::styled("yes", style::ok(t))
    });
    let (word, word_style) = match (&v.phase, &v.result) {
        (Phase::Idle, _) => (
            format!(
                "idle: {} types a ref, Enter asks",
                km.label(Command::DeployEdit)
            ),
            style::dim(t),
        ),
        (Phase::Running, _) if v.cancels > 0 => ("stopping".to_string(), style::warn(t)),
        (Phase::Running, _) => ("running".to_string(), style::accent(t)),
        (Phase::Finished, Some((verdict, _))) => (
            verdict.word().to_string(),
            match verdict {
                Verdict::Ok => style::ok(t),
                Verdict::Failed => style::error(t),
                _ => style::warn(t),
            },
        ),
        (Phase::Finished, None) => ("done".to_string(), style::dim(t)),
    };
    let mut status = vec![
        Span::raw(" "),
        Span::styled(word, word_style),
        Span::raw("  "),
    ];
    let (done, of) = v.progress();
    if of > 0 && v.phase != Phase::Idle {
        status.push(Span::styled(gauge(v, 16), style::accent(t)));
        status.push(Span::raw(format!(" {done}/{of} metros")));
    }
    if let Some(start) = v.started {
        let end = v.ended.unwrap_or(state.now);
        status.push(Span::styled(
            format!("  {}", age(secs_between(start, end))),
            style::dim(t),
        ));
    }
    let sentence = match (&v.result, &v.note) {
        (Some((_, m)), _) if !v.running() => Some(m.clone()),
        (_, Some(n)) if v.running() => Some(n.clone()),
        _ => None,
    };
    if let Some(s) = sentence {
        // Whole in the log below; here as much as fits.
        let used: usize = status.iter().map(|s| s.width()).sum();
        let room = usize::from(area.width.saturating_sub(2)).saturating_sub(used + 2);
        status.push(Span::styled(
            format!("  {}", clip(&visible(&s), room)),
            style::dim(t),
        ));
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(status)])
            .block(Block::bordered().title(format!(" deployment: job {} ", visible(&job)))),
        area,
    );
}

/// `[██████░░░░]`: every metro's steps done, out of all of them.
fn gauge(v: &DeployView, width: usize) -> String {
    let total = v.rows.len() * usize::from(MetroPhase::STEPS);
    let done: usize = v
        .rows
        .iter()
        .map(|r| match r.phase {
            MetroPhase::Untouched => usize::from(MetroPhase::STEPS),
            p => usize::from(p.progress()),
        })
        .sum();
    let filled = (done * width).checked_div(total).unwrap_or(0).min(width);
    format!("[{}{}]", "█".repeat(filled), "░".repeat(width - filled))
}

fn phase_style(state: &State, p: MetroPhase) -> Style {
    let t = &state.theme;
    match p {
        MetroPhase::Done => style::ok(t),
        MetroPhase::Failed => style::error(t),
        MetroPhase::Reverted | MetroPhase::Reverting | MetroPhase::Untouched => style::warn(t),
        MetroPhase::Queued => style::dim(t),
        _ => style::accent(t),
    }
}

fn draw_metros(state: &State, v: &DeployView, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let planned;
    let (rows, title): (&[MetroRow], &str) = if v.rows.is_empty() {
        planned = planned_rows(state);
        (&planned, " metros: the plan, in order ")
    } else {
        (&v.rows, " metros, in order ")
    };
    let mut lines = vec![Line::from(Span::styled(
        format!(
            " {:<8} {:<11} {:<7} {:<8} {:<6} {:>6}  STEP",
            "METRO", "PHASE", "ALLOCS", "VERSION", "DRAIN", "TIME"
        ),
        style::dim(t),
    ))];
    if rows.is_empty() {
        lines.push(Line::from(Span::styled(
            " no metro has a [metro.nomad] table: nothing to deploy to",
            style::dim(t),
        )));
    }
    // Border, then ` METRO(8) PHASE(11) ALLOCS(7) VERSION(8) DRAIN(6) TIME(6)  `.
    let step_width = usize::from(area.width.saturating_sub(2)).saturating_sub(55);
    for r in rows.iter().take(area.height.saturating_sub(3) as usize) {
        let allocs = r
            .counts
            .as_ref()
            .map(|c| format!("{}/{}", c.healthy, c.desired))
            .unwrap_or_else(|| "-".into());
        let seen = r.seen.as_deref().map(visible).unwrap_or("-".into());
        let drain = match r.drain {
            Drain::Yes => "yes",
            _ => "no",
        };
        let time = r
            .started
            .map(|s| age(secs_between(s, r.ended.unwrap_or(state.now))))
            .unwrap_or_default();
        let metro: String = r.metro.chars().take(8).collect();
        let seen: String = seen.chars().take(8).collect();
        lines.push(Line::from(vec![
            Span::raw(format!(" {metro:<8} ")),
            Span::styled(
                format!("{:<11} ", r.phase.word()),
                phase_style(state, r.phase),
            ),
            Span::raw(format!("{allocs:<7} {seen:<8} ")),
            Span::styled(
                format!("{drain:<6} "),
                if r.drain == Drain::Yes {
                    Style::new()
                } else {
                    style::warn(t)
                },
            ),
            Span::styled(format!("{time:>6}  "), style::dim(t)),
            Span::styled(clip(&visible(&r.detail), step_width), style::dim(t)),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

/// `HH:MM:SS ` before each log line.
const STAMP: usize = 9;

fn draw_log(state: &State, v: &DeployView, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let rows = area.height.saturating_sub(2) as usize;
    // Newest last; a long step (a Nomad error, why a metro failed) wraps under its text.
    let width = usize::from(area.width.saturating_sub(2))
        .saturating_sub(1 + STAMP)
        .max(8);
    let mut lines: Vec<Line> = Vec::new();
    for l in v.log.iter().rev() {
        if lines.len() >= rows {
            break;
        }
        let (stamp, text) = match l.split_at_checked(STAMP) {
            Some((s, t)) if s.ends_with(' ') => (s, t),
            _ => ("", l.as_str()),
        };
        let mut block: Vec<Line> = super::events::wrap(text, width)
            .into_iter()
            .enumerate()
            .map(|(i, piece)| {
                let lead = if i == 0 {
                    Span::styled(format!(" {stamp}"), style::dim(t))
                } else {
                    Span::raw(" ".repeat(1 + stamp.len()))
                };
                Line::from(vec![lead, Span::raw(piece)])
            })
            .collect();
        // The newest step keeps its start when it is taller than the room left.
        block.truncate(rows - lines.len());
        lines.extend(block.into_iter().rev());
    }
    lines.reverse();
    if lines.is_empty() {
        let hint = match &v.plan {
            None => " the steps of a rollout show here".to_string(),
            Some(p) => format!(" {}", p.order_words()),
        };
        lines.push(Line::from(Span::styled(hint, style::dim(t))));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" log (UTC) ")),
        area,
    );
}

fn draw_history(state: &State, v: &DeployView, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let runs = v.history.iter().map(|h| {
        let metros: Vec<String> = h
            .metros
            .iter()
            .map(|m| format!("{} {}", m.metro, m.phase.word()))
            .collect();
        history::Run {
            time: &h.time,
            result: h.result,
            duration_ms: h.duration_ms,
            kind: Vec::new(),
            what: vec![
                Span::raw(format!("{}  ", visible(&h.reference))),
                Span::styled(metros.join(", "), style::dim(t)),
            ],
        }
    });
    history::draw(state, frame, area, runs, "no deployments yet");
}

/// The confirmation: the ref, the job, the metros in order and which are drained.
pub fn draw_confirm(state: &State, c: &DeployConfirm, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let km = &state.keymap;
    let p = &c.plan;
    let mut text = vec![
        Line::from(vec![
            Span::raw(" Deploy "),
            Span::styled(visible(&p.app.full).into_owned(), style::accent(t)),
            Span::raw(format!(" (job {}), one metro at a time:", visible(&p.job))),
        ]),
        Line::from(""),
    ];
    for (i, s) in p.steps.iter().enumerate() {
        text.push(Line::from(vec![
            Span::raw(format!("  {}. {:<8} ", i + 1, s.metro)),
            Span::styled(
                s.drain.words().to_string(),
                if s.drain.yes() {
                    style::ok(t)
                } else {
                    style::warn(t)
                },
            ),
        ]));
    }
    text.push(Line::from(""));
    for l in [
        " Each in turn: drain, register, wait for Nomad's deployment,".to_string(),
        format!(
            " verify {} on its own address, restore.",
            visible(p.app.version())
        ),
        " A failure reverts that metro and stops; later metros are untouched.".to_string(),
    ] {
        text.push(Line::from(Span::styled(l, style::dim(t))));
    }
    for w in &p.warnings {
        text.push(Line::from(Span::styled(format!(" {w}"), style::warn(t))));
    }
    text.push(Line::from(""));
    text.push(Line::from(vec![
        Span::styled(
            format!(" {}", km.labels(Command::Confirm)),
            style::accent(t),
        ),
        Span::raw(" deploy   "),
        Span::styled(km.labels(Command::Cancel), style::accent(t)),
        Span::raw(" cancel"),
    ]));
    super::confirm::dialog(
        frame,
        area,
        text,
        78,
        " Deploy to every metro? ",
        style::warn(t),
    );
}
