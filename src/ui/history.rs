//! The history box the provisioning and deployment panes share: one line per past run,
//! newest first — time (UTC), verdict, duration, then what the pane says of the run.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::style;
use crate::app::State;
use crate::domain::journal::Verdict;

/// One past run: `time` as the state dir records it (RFC 3339), `what` after the figures.
pub struct Run<'a> {
    pub time: &'a str,
    pub result: Verdict,
    pub duration_ms: u64,
    /// Spans between the clock and the verdict (e.g. the operation), may be empty.
    pub kind: Vec<Span<'static>>,
    pub what: Vec<Span<'static>>,
}

/// Draws `runs` (oldest first) newest first in a bordered box; `empty` when there are none.
pub fn draw<'a>(
    state: &State,
    frame: &mut Frame,
    area: Rect,
    runs: impl DoubleEndedIterator<Item = Run<'a>>,
    empty: &str,
) {
    let t = &state.theme;
    let rows = area.height.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = runs
        .rev()
        .take(rows)
        .map(|r| {
            let clock = r.time.get(11..19).unwrap_or(r.time).to_string();
            let verdict = match r.result {
                Verdict::Ok => style::ok(t),
                Verdict::Failed => style::error(t),
                _ => style::warn(t),
            };
            let mut spans = vec![Span::styled(format!(" {clock} "), style::dim(t))];
            spans.extend(r.kind);
            spans.push(Span::styled(format!("{:<12}", r.result.word()), verdict));
            spans.push(Span::styled(
                format!("{:>7} ", format!("{:.1}s", r.duration_ms as f64 / 1000.0)),
                style::dim(t),
            ));
            spans.extend(r.what);
            Line::from(spans)
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(format!(" {empty}"), style::dim(t))));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" history (UTC) ")),
        area,
    );
}
