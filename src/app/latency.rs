//! The latency view's own state: the chart's window, freeze and markers. The latency
//! figures themselves are the world's (`world::latency`).

use std::time::SystemTime;

use super::State;
use crate::domain::Level;

pub use crate::world::latency::{infer_served_by, Health, LatencyRow, FAILING_AFTER, HISTORY};
pub const MIN_WINDOW_SECS: u64 = 30;
pub const MAX_WINDOW_SECS: u64 = 600;

pub use crate::domain::ANYCAST;

/// The chart's view: its time window and whether it is frozen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartView {
    pub window_secs: u64,
    /// When frozen, the chart ends here instead of now.
    pub frozen_at: Option<SystemTime>,
    /// Chart every metro, not only the anycast target.
    pub all_metros: bool,
}

impl Default for ChartView {
    fn default() -> Self {
        ChartView {
            window_secs: 120,
            frozen_at: None,
            all_metros: false,
        }
    }
}

/// The chart's windows, in seconds: zooming steps along these, so zooming in and back
/// out returns to where it started.
pub const ZOOM_STEPS: [u64; 5] = [MIN_WINDOW_SECS, 60, 120, 300, MAX_WINDOW_SECS];

impl ChartView {
    pub fn zoom_in(&mut self) {
        self.window_secs = ZOOM_STEPS
            .iter()
            .rev()
            .find(|w| **w < self.window_secs)
            .copied()
            .unwrap_or(MIN_WINDOW_SECS);
    }
    pub fn zoom_out(&mut self) {
        self.window_secs = ZOOM_STEPS
            .iter()
            .find(|w| **w > self.window_secs)
            .copied()
            .unwrap_or(MAX_WINDOW_SECS);
    }
}

/// A vertical marker on the chart: a withdraw/restore or a change of served-by metro.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub at: SystemTime,
    pub label: String,
}

pub(super) fn on_probe(state: &mut State, target: &str, sample: crate::probe::ProbeSample) {
    let Some(news) = state.world.record_probe(target, &sample) else {
        return;
    };
    if target != ANYCAST {
        return;
    }
    match news.turned {
        Some(true) => {
            let lost = state.latency_row(target).map_or(0, |r| r.trailing_losses());
            let last = news
                .last_answer
                .map(|a| format!("; last answer {a}"))
                .unwrap_or_default();
            state.marker("lost".to_string());
            state.event(
                Level::Error,
                format!("anycast address failing: the last {lost} probes were lost{last}"),
            );
        }
        Some(false) => {
            let ms = sample
                .ttfb_ms()
                .map(|v| format!("{v:.0} ms"))
                .unwrap_or_default();
            let by = news
                .served
                .as_deref()
                .map(|b| format!(" via {b}"))
                .unwrap_or_default();
            let took = news
                .failing_since
                .and_then(|t| sample.at.duration_since(t).ok())
                .map(|d| format!(" (failed for {})", crate::domain::age(d.as_secs())))
                .unwrap_or_default();
            state.event(
                Level::Good,
                format!("anycast address answering again: {ms}{by}{took}"),
            );
        }
        None => {}
    }
    if let (Some(prev), Some(now)) = (news.previous, news.served) {
        if prev != now {
            let after = sample
                .ttfb_ms()
                .map(|v| format!("{v:.0} ms"))
                .unwrap_or_else(|| "-".into());
            let text = format!(
                "anycast now served by {now} (was {prev}): {} → {after}",
                news.before
            );
            state.marker(format!("served by {now}"));
            state.event(Level::Info, text);
        }
    }
}

/// After the route moved, an anycast answer from another metro than the new best path
/// (a probe already in flight, or a data plane a moment behind BGP) asks for one more
/// probe at once, up to [`super::REPROBES`] times; an answer from the new best ends it.
pub(super) fn reprobe(state: &mut State, target: &str) -> Vec<super::Effect> {
    if target != ANYCAST {
        return Vec::new();
    }
    let Some((best, left)) = state.awaiting.take() else {
        return Vec::new();
    };
    let served = state.latency_row(ANYCAST).and_then(|r| {
        r.stats
            .last_sample()
            .filter(|s| s.ok())
            .and(r.served_by.as_deref())
    });
    match served {
        Some(by) if by == best => Vec::new(),
        _ if left > 0 => {
            state.awaiting = Some((best, left - 1));
            vec![super::Effect::ProbeNow]
        }
        _ => Vec::new(),
    }
}
