//! Latency of each probe target: its statistics, who served it, its recent history, and
//! what the anycast address is doing now ([`Health`]). Plain data and judgements, fed by
//! probe samples; no I/O, no UI.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use crate::probe::{ProbeSample, Stats};

/// How much history a target keeps (the chart can show all of it).
pub const HISTORY: Duration = Duration::from_secs(600);

pub use crate::domain::ANYCAST;

/// One probed target.
#[derive(Debug, Clone)]
pub struct LatencyRow {
    /// `anycast`, or the metro's name.
    pub target: String,
    pub stats: Stats,
    /// Who served the latest successful probe.
    pub served_by: Option<String>,
    /// The served-by value was guessed from latency (no header in the response).
    pub inferred: bool,
    /// (time, TTFB ms or None when lost), oldest first, at most `HISTORY` long.
    pub series: VecDeque<(SystemTime, Option<f64>)>,
    /// TTFB of the latest answers from the current serving metro (at most `HEADLINE`):
    /// the headline moves with the first probe after a change of metro, yet one noisy
    /// sample does not make it jump.
    pub recent: VecDeque<f64>,
    /// When the current run of lost probes began, once it counts as failing.
    pub failing_since: Option<SystemTime>,
    /// The probe worker for this target stopped (it panicked or ended).
    pub worker_error: Option<String>,
    /// When the latest answer counted as who serves now began: a probe that began
    /// before it (a slow one from before a move of the route) is history.
    pub newest: Option<SystemTime>,
    /// Who served the target, one entry per change of serving metro, oldest first; the
    /// first entry may begin before `HISTORY` (it says who served from the window's start).
    pub runs: VecDeque<ServedRun>,
}

/// A stretch of time during which one metro served a target: from its first answer
/// until the next run's.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedRun {
    pub since: SystemTime,
    pub by: String,
    /// Guessed from latency (no served-by header).
    pub inferred: bool,
    /// TTFB of its first answer.
    pub first_ms: f64,
    /// Who served before, and the headline figure then: what this run changed.
    pub before_by: Option<String>,
    pub before_ms: Option<f64>,
}

impl ServedRun {
    /// The headline `now_ms` against the figure before this run: "+230 ms, 4.2x" when
    /// slower, "-230 ms, 4.2x faster" when faster; `None` without a figure before.
    pub fn change(&self, now_ms: f64) -> Option<String> {
        let before = self.before_ms.filter(|b| *b > 0.0)?;
        let delta = now_ms - before;
        let (sign, ratio, faster) = if delta >= 0.0 {
            ('+', now_ms / before, "")
        } else {
            ('-', before / now_ms.max(0.001), " faster")
        };
        Some(format!("{sign}{:.0} ms, {ratio:.1}x{faster}", delta.abs()))
    }
}

/// Runs kept beyond those inside `HISTORY` (a flapping target stays bounded).
const MAX_RUNS: usize = 256;

/// What the anycast address is doing now, in the operator's terms: the header, the
/// overview's anycast row and `status` all say this, so none shows a healthy figure for
/// a dead address.
#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    /// No probe has finished yet.
    Probing,
    /// Answering: the median of the latest answers from the serving metro, and how many
    /// of the latest probes were lost (fewer than [`FAILING_AFTER`]).
    Answering {
        ms: f64,
        served_by: Option<String>,
        inferred: bool,
        lost: usize,
    },
    /// The latest probes were all lost, since then.
    Failing { since: SystemTime, lost: usize },
    /// Nothing advertises the address: the observer holds no route.
    NoRoute,
}

impl Health {
    /// The anycast address in a few words, the same in the header, the overview and
    /// `status`: "73 ms via am", "73 ms via am, last probe lost", "LOST (4 probes, 5s)",
    /// "NO ROUTE", "probing…". `now` gives the age of a failure.
    pub fn words(&self, now: SystemTime) -> String {
        match self {
            Health::Answering {
                ms,
                served_by,
                inferred,
                lost,
            } => {
                let by = match served_by {
                    Some(b) if *inferred => format!(" via {b}?"),
                    Some(b) => format!(" via {b}"),
                    None => String::new(),
                };
                let lost = if *lost > 0 { ", last probe lost" } else { "" };
                format!("{ms:.0} ms{by}{lost}")
            }
            Health::Failing { since, lost } => {
                let secs = now.duration_since(*since).map(|d| d.as_secs()).unwrap_or(0);
                format!("LOST ({lost} probes, {})", crate::domain::age(secs))
            }
            Health::NoRoute => "NO ROUTE".to_string(),
            Health::Probing => "probing…".to_string(),
        }
    }

    /// How it should look: good, a warning (a probe lost), an error, or neutral.
    pub fn level(&self) -> crate::domain::Level {
        use crate::domain::Level;
        match self {
            Health::Answering { lost: 0, .. } => Level::Good,
            Health::Answering { .. } => Level::Warn,
            Health::Failing { .. } | Health::NoRoute => Level::Error,
            Health::Probing => Level::Info,
        }
    }
}

/// Consecutive lost probes after which an address counts as failing.
pub const FAILING_AFTER: usize = 2;

/// Samples behind the headline figure.
const HEADLINE: usize = 5;

impl LatencyRow {
    pub fn new(target: &str, window: usize) -> LatencyRow {
        LatencyRow {
            target: target.to_string(),
            stats: Stats::new(window),
            served_by: None,
            inferred: false,
            series: VecDeque::new(),
            recent: VecDeque::new(),
            failing_since: None,
            worker_error: None,
            newest: None,
            runs: VecDeque::new(),
        }
    }

    /// The run the latest answer belongs to.
    pub fn current_run(&self) -> Option<&ServedRun> {
        self.runs.back()
    }

    /// Who served at `at`, by the runs (`None` before the first answer).
    pub fn served_at(&self, at: SystemTime) -> Option<&ServedRun> {
        self.runs.iter().rev().find(|r| r.since <= at)
    }

    /// Notes an answer served by `by`: a new run when the serving metro changed. Call it
    /// before [`LatencyRow::note_answer`], so the figure before is the previous metro's.
    pub fn note_served(&mut self, at: SystemTime, by: &str, inferred: bool, ttfb: f64) {
        if self.runs.back().is_some_and(|r| r.by == by) {
            return;
        }
        let before_by = self.runs.back().map(|r| r.by.clone());
        let before_ms = before_by.as_ref().and(self.headline());
        self.runs.push_back(ServedRun {
            since: at,
            by: by.to_string(),
            inferred,
            first_ms: ttfb,
            before_by,
            before_ms,
        });
        // Keep the run that covers the start of the history, and no more than MAX_RUNS.
        while self.runs.len() > MAX_RUNS
            || self
                .runs
                .get(1)
                .is_some_and(|next| at.duration_since(next.since).unwrap_or_default() > HISTORY)
        {
            self.runs.pop_front();
        }
    }

    /// How many of the latest probes were lost in a row.
    pub fn trailing_losses(&self) -> usize {
        self.series
            .iter()
            .rev()
            .take_while(|(_, v)| v.is_none())
            .count()
    }

    /// See [`Health`]. `routed`: false when the observer answered and holds no route.
    pub fn health(&self, routed: bool) -> Health {
        if !routed {
            return Health::NoRoute;
        }
        let lost = self.trailing_losses();
        match (self.failing_since, self.headline()) {
            (Some(since), _) => Health::Failing { since, lost },
            (None, Some(ms)) => Health::Answering {
                ms,
                served_by: self.served_by.clone(),
                inferred: self.inferred,
                lost,
            },
            // Only losses so far, not yet enough to call it failing.
            (None, None) if lost > 0 => Health::Failing {
                since: self
                    .series
                    .front()
                    .map_or(SystemTime::UNIX_EPOCH, |(t, _)| *t),
                lost,
            },
            (None, None) => Health::Probing,
        }
    }

    /// "73 ms", the latest probe's answer, or "lost" when it was lost: what the address
    /// did just before a change of serving metro.
    pub fn before_figure(&self) -> String {
        match self.series.back() {
            Some((_, Some(ms))) => format!("{ms:.0} ms"),
            Some((_, None)) => "lost".to_string(),
            None => "-".to_string(),
        }
    }

    /// Median TTFB of the latest answers from the current serving metro.
    pub fn headline(&self) -> Option<f64> {
        let mut v: Vec<f64> = self.recent.iter().copied().collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(v[(v.len() - 1) / 2])
    }

    /// Keeps `recent` to answers from `served_by`.
    pub fn note_answer(&mut self, served_by_changed: bool, ttfb: f64) {
        if served_by_changed {
            self.recent.clear();
        }
        self.recent.push_back(ttfb);
        while self.recent.len() > HEADLINE {
            self.recent.pop_front();
        }
    }

    pub fn p50(&self) -> Option<f64> {
        self.stats.window().p50
    }

    /// Records a sample; returns whether the row started (`Some(true)`) or stopped
    /// (`Some(false)`) failing with it.
    pub fn record(&mut self, s: &ProbeSample) -> Option<bool> {
        self.stats.record(s);
        self.series.push_back((s.at, s.ttfb_ms()));
        while let Some((t, _)) = self.series.front() {
            if s.at.duration_since(*t).unwrap_or_default() > HISTORY {
                self.series.pop_front();
            } else {
                break;
            }
        }
        let lost = self.trailing_losses();
        match (self.failing_since, lost) {
            (None, n) if n >= FAILING_AFTER => {
                let first = self.series.len() - n;
                self.failing_since = self.series.get(first).map(|(t, _)| *t);
                Some(true)
            }
            (Some(_), 0) => {
                self.failing_since = None;
                Some(false)
            }
            _ => None,
        }
    }
}

/// Guesses who served a probe without a served-by header: the metro whose direct
/// latency (window p50) is nearest to this sample's TTFB.
pub fn infer_served_by(rows: &[LatencyRow], ttfb: f64) -> Option<&str> {
    rows.iter()
        .filter(|r| r.target != ANYCAST)
        .filter_map(|r| r.p50().map(|p| (r.target.as_str(), (p - ttfb).abs())))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(t, _)| t)
}
