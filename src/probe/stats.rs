//! Latency statistics over a sliding window and over the whole session.
//!
//! All values are TTFB in milliseconds. Conventions (mtr/trippy, see
//! `shared/reference/latency.md` §4):
//!
//! - **Loss**: a failed probe is a loss, never a value. `loss_pct = lost / sent * 100`
//!   (0 when nothing was sent).
//! - **last**: the value of the most recent sample, `None` when that sample was lost
//!   (a stale number is never shown as current).
//! - **min/avg/max**: over received samples; **stddev** is the sample standard deviation
//!   (n - 1, Welford's running `mean`/`m2`) as mtr and trippy; 0 with one sample.
//! - **Percentiles** in the window: nearest rank, the value at index `ceil(q * n) - 1` of
//!   the sorted received values (computed in integer per-mille, so exact). In the session:
//!   an HdrHistogram of microseconds (3 significant figures, bounds 1..60,000,000 µs,
//!   `value_at_quantile`, also nearest rank, reported as the middle of its bucket),
//!   clamped to the exact min/max so that `min <= p50 <= p95 <= p99 <= max` always
//!   holds; error under 0.1 %.
//! - **Jitter**: `jitter_n = |x_n - x_(n-1)|` between consecutive *received* samples in
//!   order of arrival (losses in between are skipped, not counted as values);
//!   `jitter_last` the latest, `jitter_avg` the mean, `jitter_max` the largest. The
//!   window computes them over its received samples, the session keeps them running.
//!
//! Samples are taken in order of arrival; with overlapping probes that can differ from
//! `seq` order.

use std::collections::VecDeque;

use hdrhistogram::Histogram;

use super::sample::ProbeSample;

/// Histogram bounds in microseconds: 1 µs to 60 s.
const HIST_LOW_US: u64 = 1;
const HIST_HIGH_US: u64 = 60_000_000;
const HIST_SIGFIG: u8 = 3;

/// Percentiles reported, in per-mille.
const P50: u64 = 500;
const P95: u64 = 950;
const P99: u64 = 990;

/// Loss, latency and jitter figures, all in milliseconds (TTFB).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    pub sent: u64,
    pub received: u64,
    pub loss_pct: f64,
    pub last: Option<f64>,
    pub min: Option<f64>,
    pub avg: Option<f64>,
    pub max: Option<f64>,
    pub stddev: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub jitter_last: Option<f64>,
    pub jitter_avg: Option<f64>,
    pub jitter_max: Option<f64>,
}

/// Running mean and variance (Welford) with exact min and max.
#[derive(Debug, Clone, Copy, Default)]
struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
    min: Option<f64>,
    max: Option<f64>,
}

impl Moments {
    fn add(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
        self.min = Some(self.min.map_or(x, |m| m.min(x)));
        self.max = Some(self.max.map_or(x, |m| m.max(x)));
    }

    fn avg(&self) -> Option<f64> {
        (self.n > 0).then_some(self.mean)
    }

    /// Sample standard deviation; 0 with a single value.
    fn stddev(&self) -> Option<f64> {
        match self.n {
            0 => None,
            1 => Some(0.0),
            n => Some((self.m2 / (n - 1) as f64).sqrt()),
        }
    }
}

/// Running jitter between consecutive received values.
#[derive(Debug, Clone, Copy, Default)]
struct Jitter {
    prev: Option<f64>,
    last: Option<f64>,
    sum: f64,
    count: u64,
    max: Option<f64>,
}

impl Jitter {
    fn add(&mut self, x: f64) {
        if let Some(p) = self.prev {
            let j = (x - p).abs();
            self.last = Some(j);
            self.sum += j;
            self.count += 1;
            self.max = Some(self.max.map_or(j, |m| m.max(j)));
        }
        self.prev = Some(x);
    }

    fn avg(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

fn loss_pct(sent: u64, received: u64) -> f64 {
    if sent == 0 {
        0.0
    } else {
        (sent - received) as f64 / sent as f64 * 100.0
    }
}

/// Nearest-rank percentile of sorted values: index `ceil(q * n) - 1`, q in per-mille.
fn nearest_rank(sorted: &[f64], per_mille: u64) -> Option<f64> {
    let n = sorted.len() as u64;
    if n == 0 {
        return None;
    }
    let rank = (per_mille * n).div_ceil(1000).clamp(1, n);
    sorted.get((rank - 1) as usize).copied()
}

/// Probe results of one target: a window of recent samples and session totals.
#[derive(Debug, Clone)]
pub struct Stats {
    window: usize,
    recent: VecDeque<Option<f64>>,
    last: Option<ProbeSample>,
    sent: u64,
    received: u64,
    last_value: Option<f64>,
    moments: Moments,
    jitter: Jitter,
    /// Session TTFB in microseconds; `None` only if the histogram could not be built.
    hist: Option<Histogram<u64>>,
}

impl Stats {
    /// Keeps the last `window` samples (at least 1) for [`Stats::window`] and
    /// [`Stats::history`].
    pub fn new(window: usize) -> Stats {
        let window = window.max(1);
        Stats {
            window,
            recent: VecDeque::with_capacity(window),
            last: None,
            sent: 0,
            received: 0,
            last_value: None,
            moments: Moments::default(),
            jitter: Jitter::default(),
            hist: Histogram::new_with_bounds(HIST_LOW_US, HIST_HIGH_US, HIST_SIGFIG).ok(),
        }
    }

    /// Adds a sample (in order of arrival); a failed probe counts as a loss.
    pub fn record(&mut self, s: &ProbeSample) {
        let value = if s.ok() { s.ttfb_ms() } else { None };
        if self.recent.len() == self.window {
            self.recent.pop_front();
        }
        self.recent.push_back(value);
        self.sent += 1;
        self.last_value = value;
        if let Some(x) = value {
            self.received += 1;
            self.moments.add(x);
            self.jitter.add(x);
            if let Some(h) = self.hist.as_mut() {
                h.saturating_record((x * 1000.0).round().max(0.0) as u64);
            }
        }
        self.last = Some(s.clone());
    }

    /// Figures over the last `window` samples; percentiles by sorting.
    pub fn window(&self) -> Summary {
        let mut moments = Moments::default();
        let mut jitter = Jitter::default();
        let mut sorted = Vec::with_capacity(self.recent.len());
        for x in self.recent.iter().flatten() {
            moments.add(*x);
            jitter.add(*x);
            sorted.push(*x);
        }
        sorted.sort_by(f64::total_cmp);
        let sent = self.recent.len() as u64;
        let received = sorted.len() as u64;
        Summary {
            sent,
            received,
            loss_pct: loss_pct(sent, received),
            last: self.recent.back().copied().flatten(),
            min: moments.min,
            avg: moments.avg(),
            max: moments.max,
            stddev: moments.stddev(),
            p50: nearest_rank(&sorted, P50),
            p95: nearest_rank(&sorted, P95),
            p99: nearest_rank(&sorted, P99),
            jitter_last: jitter.last,
            jitter_avg: jitter.avg(),
            jitter_max: jitter.max,
        }
    }

    /// Figures over every sample recorded; percentiles from the histogram.
    pub fn session(&self) -> Summary {
        let m = &self.moments;
        let pct = |q: f64| -> Option<f64> {
            let h = self.hist.as_ref()?;
            let (min, max) = (m.min?, m.max?);
            let us = h.median_equivalent(h.value_at_quantile(q));
            Some((us as f64 / 1000.0).clamp(min, max))
        };
        Summary {
            sent: self.sent,
            received: self.received,
            loss_pct: loss_pct(self.sent, self.received),
            last: self.last_value,
            min: m.min,
            avg: m.avg(),
            max: m.max,
            stddev: m.stddev(),
            p50: pct(0.50),
            p95: pct(0.95),
            p99: pct(0.99),
            jitter_last: self.jitter.last,
            jitter_avg: self.jitter.avg(),
            jitter_max: self.jitter.max,
        }
    }

    /// The window, oldest first; `None` marks a lost sample.
    pub fn history(&self) -> Vec<Option<f64>> {
        self.recent.iter().copied().collect()
    }

    /// The most recently recorded sample.
    pub fn last_sample(&self) -> Option<&ProbeSample> {
        self.last.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use proptest::prelude::*;

    use super::*;
    use crate::probe::ErrorKind;

    fn sample(seq: u64, ms: Option<f64>) -> ProbeSample {
        ProbeSample {
            seq,
            at: SystemTime::UNIX_EPOCH,
            connect: ms.map(|_| Duration::from_micros(100)),
            ttfb: ms.map(dur),
            total: ms.map(dur),
            status: ms.map(|_| 200),
            peer: None,
            served_by: None,
            error: if ms.is_some() {
                None
            } else {
                Some(ErrorKind::Timeout)
            },
            reconnected: false,
        }
    }

    fn dur(ms: f64) -> Duration {
        Duration::from_nanos((ms * 1e6).round() as u64)
    }

    fn stats_of(window: usize, values: &[Option<f64>]) -> Stats {
        let mut st = Stats::new(window);
        for (i, v) in values.iter().enumerate() {
            st.record(&sample(i as u64, *v));
        }
        st
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-6)
    }

    #[track_caller]
    fn assert_close(a: Option<f64>, b: f64) {
        assert!(close(a, b), "{a:?} != {b}");
    }

    #[test]
    fn probe_stats_empty() {
        let st = Stats::new(60);
        for s in [st.window(), st.session()] {
            assert_eq!(s, Summary::default());
        }
        assert!(st.history().is_empty());
        assert!(st.last_sample().is_none());
    }

    #[test]
    fn probe_stats_nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(nearest_rank(&v, P50), Some(10.0));
        assert_eq!(nearest_rank(&v, P95), Some(19.0));
        assert_eq!(nearest_rank(&v, P99), Some(20.0));
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(nearest_rank(&v, P50), Some(50.0));
        assert_eq!(nearest_rank(&v, P95), Some(95.0));
        assert_eq!(nearest_rank(&v, P99), Some(99.0));
        assert_eq!(nearest_rank(&[1.0, 2.0, 3.0], P50), Some(2.0));
        assert_eq!(nearest_rank(&[1.0, 2.0, 3.0], P95), Some(3.0));
        assert_eq!(nearest_rank(&[1.0, 2.0], P50), Some(1.0));
        assert_eq!(nearest_rank(&[7.0], P99), Some(7.0));
        assert_eq!(nearest_rank(&[], P50), None);

        // Through Stats, unsorted input, with a loss that must not count as a value.
        let st = stats_of(60, &[Some(3.0), None, Some(1.0), Some(2.0)]);
        let w = st.window();
        assert_eq!((w.p50, w.p95, w.p99), (Some(2.0), Some(3.0), Some(3.0)));
        let list: Vec<Option<f64>> = (1..=20).rev().map(|x| Some(f64::from(x))).collect();
        let w = stats_of(60, &list).window();
        assert_eq!((w.p50, w.p95, w.p99), (Some(10.0), Some(19.0), Some(20.0)));
    }

    #[test]
    fn probe_stats_sample_stddev() {
        let vals = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let list: Vec<Option<f64>> = vals.iter().map(|x| Some(*x)).collect();
        let st = stats_of(60, &list);
        // Population sd is 2; sample sd is sqrt(32 / 7).
        let want = (32.0f64 / 7.0).sqrt();
        assert_close(st.window().stddev, want);
        assert_close(st.session().stddev, want);
        assert_close(st.window().avg, 5.0);
        assert_close(st.session().avg, 5.0);
        assert_eq!(stats_of(60, &[Some(4.0)]).window().stddev, Some(0.0));
        assert_eq!(stats_of(60, &[None]).window().stddev, None);
    }

    #[test]
    fn probe_stats_jitter_and_loss_with_gaps() {
        let st = stats_of(
            60,
            &[
                Some(10.0),
                None,
                Some(14.0),
                Some(11.0),
                None,
                None,
                Some(20.0),
            ],
        );
        for s in [st.window(), st.session()] {
            assert_eq!((s.sent, s.received), (7, 4));
            assert_close(Some(s.loss_pct), 3.0 / 7.0 * 100.0);
            // |14-10|, |11-14|, |20-11|: losses are skipped, not zeros.
            assert_close(s.jitter_last, 9.0);
            assert_close(s.jitter_avg, 16.0 / 3.0);
            assert_close(s.jitter_max, 9.0);
            assert_eq!((s.min, s.max, s.last), (Some(10.0), Some(20.0), Some(20.0)));
        }
        // Ends with a loss: last is None, the loss shows.
        let st = stats_of(60, &[Some(10.0), Some(12.0), None]);
        assert_eq!(st.window().last, None);
        assert_eq!(st.session().last, None);
        assert_close(Some(st.window().loss_pct), 100.0 / 3.0);
        // A single received sample has no jitter.
        let w = stats_of(60, &[None, Some(5.0), None]).window();
        assert_eq!(
            (w.jitter_last, w.jitter_avg, w.jitter_max),
            (None, None, None)
        );
        // Everything lost.
        let w = stats_of(60, &[None, None]).window();
        assert_eq!((w.sent, w.received, w.loss_pct), (2, 0, 100.0));
        assert_eq!((w.min, w.avg, w.p50), (None, None, None));
    }

    #[test]
    fn probe_stats_window_slides() {
        let mut st = Stats::new(3);
        st.record(&sample(0, Some(10.0)));
        st.record(&sample(1, Some(20.0)));
        assert_eq!(st.history(), vec![Some(10.0), Some(20.0)]);
        st.record(&sample(2, None));
        st.record(&sample(3, Some(40.0)));
        assert_eq!(st.history(), vec![Some(20.0), None, Some(40.0)]);
        assert_eq!(st.last_sample().map(|s| s.seq), Some(3));

        let w = st.window();
        assert_eq!((w.sent, w.received), (3, 2));
        assert_close(Some(w.loss_pct), 100.0 / 3.0);
        assert_eq!((w.min, w.max, w.last), (Some(20.0), Some(40.0), Some(40.0)));
        assert_close(w.avg, 30.0);
        assert_close(w.stddev, 200.0f64.sqrt());
        assert_eq!((w.p50, w.p95, w.p99), (Some(20.0), Some(40.0), Some(40.0)));
        assert_close(w.jitter_last, 20.0);
        assert_close(w.jitter_avg, 20.0);

        // The session still has the sample that slid out.
        let s = st.session();
        assert_eq!((s.sent, s.received), (4, 3));
        assert_close(Some(s.loss_pct), 25.0);
        assert_eq!((s.min, s.max), (Some(10.0), Some(40.0)));
        assert_close(s.avg, 70.0 / 3.0);
        assert_close(s.stddev, (700.0f64 / 3.0).sqrt());
        assert_close(s.jitter_last, 20.0);
        assert_close(s.jitter_avg, 15.0);
        assert_close(s.jitter_max, 20.0);
        // Histogram buckets: within 0.1 %.
        assert!((s.p50.unwrap() - 20.0).abs() <= 0.02, "{s:?}");
        assert_close(s.p99, 40.0); // clamped to the exact max

        st.record(&sample(4, Some(50.0)));
        st.record(&sample(5, Some(60.0)));
        assert_eq!(st.history(), vec![Some(40.0), Some(50.0), Some(60.0)]);
        assert_eq!(st.window().loss_pct, 0.0);
    }

    #[test]
    fn probe_stats_session_percentiles_from_histogram() {
        // 1..=1000 ms: nearest rank gives 500, 950, 990 within HdrHistogram's 0.1 %.
        let list: Vec<Option<f64>> = (1..=1000).map(|x| Some(f64::from(x))).collect();
        let st = stats_of(60, &list);
        let s = st.session();
        for (got, want) in [(s.p50, 500.0), (s.p95, 950.0), (s.p99, 990.0)] {
            let got = got.unwrap();
            assert!((got - want).abs() <= want * 0.001, "{got} vs {want}");
        }
        assert_eq!((s.min, s.max), (Some(1.0), Some(1000.0)));
        // The window only holds the last 60: 941..=1000.
        let w = st.window();
        assert_eq!((w.sent, w.min, w.p50), (60, Some(941.0), Some(970.0)));
        // Sub-microsecond and over-range values stay inside min..max.
        let s = stats_of(60, &[Some(0.0001), Some(90_000.0)]).session();
        assert!(s.p50.unwrap() >= 0.0001 && s.p99.unwrap() <= 90_000.0);
    }

    #[test]
    fn probe_stats_window_zero_is_one() {
        let st = stats_of(0, &[Some(1.0), Some(2.0)]);
        assert_eq!(st.history(), vec![Some(2.0)]);
    }

    fn check_order(s: &Summary) -> Result<(), TestCaseError> {
        prop_assert!(s.received <= s.sent);
        prop_assert!((0.0..=100.0).contains(&s.loss_pct));
        if s.received == 0 {
            prop_assert!(s.min.is_none() && s.p50.is_none() && s.max.is_none());
            return Ok(());
        }
        let chain = [s.min, s.p50, s.p95, s.p99, s.max];
        prop_assert!(chain.iter().all(Option::is_some), "{s:?}");
        let chain: Vec<f64> = chain.iter().flatten().copied().collect();
        prop_assert!(chain.windows(2).all(|w| w[0] <= w[1]), "{s:?}");
        let (min, max, avg) = (chain[0], chain[4], s.avg.unwrap_or(f64::NAN));
        let eps = 1e-9 * max.max(1.0);
        prop_assert!(avg >= min - eps && avg <= max + eps, "{s:?}");
        prop_assert!(s.stddev.is_some_and(|sd| sd >= 0.0));
        if let Some(j) = s.jitter_max {
            prop_assert!(j <= max - min + eps);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn probe_stats_never_panic_and_stay_ordered(
            window in 0usize..12,
            values in proptest::collection::vec(proptest::option::of(0.0f64..100_000.0), 0..200),
        ) {
            let mut st = Stats::new(window);
            for (i, v) in values.iter().enumerate() {
                st.record(&sample(i as u64, *v));
                check_order(&st.window())?;
                if i % 16 == 0 {
                    check_order(&st.session())?;
                }
            }
            check_order(&st.session())?;
            prop_assert_eq!(st.session().sent, values.len() as u64);
            prop_assert!(st.history().len() <= window.max(1));
        }
    }
}
