//! The text lines the `probe` command prints. Scripts parse them, so the format is exact:
//!
//! ```text
//! seq=3 peer=127.0.0.1:8080 served-by=am connect=0.12 ms ttfb=70.45 ms
//! seq=4 peer=127.0.0.1:8080 served-by=- connect=- ttfb=70.45 ms status=503 reconnected
//! seq=5 error=timeout
//! 5 probes, 4 ok, 20.0% loss
//! round-trip min/avg/max/sd = 70.12/70.50/71.01/0.31 ms
//! p50/p95/p99 = 70.41/70.93/71.01 ms
//! ```
//!
//! Times are milliseconds with 2 decimals, loss % with 1. `-` stands for an absent value
//! (no served-by header, `connect` on a reused connection). `status=` is appended only
//! when the status is not 2xx, `reconnected` only when a kept-alive probe had to open a
//! new connection. Whitespace inside a served-by value is printed as `_` so that every
//! field stays one word. When nothing was received the summary is only its first line.

use super::sample::ProbeSample;
use super::stats::Summary;

fn ms2(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"))
}

/// Appends `s` as one word: whitespace inside it becomes `_`.
fn push_word(line: &mut String, s: &str) {
    line.extend(s.chars().map(|c| if c.is_whitespace() { '_' } else { c }));
}

/// One line per probe.
pub fn sample_line(s: &ProbeSample) -> String {
    use std::fmt::Write as _;

    if let Some(e) = &s.error {
        return format!("seq={} error={}", s.seq, e.as_str());
    }
    // One string written in place: this runs once per probe.
    let mut line = String::with_capacity(96);
    let _ = write!(line, "seq={} peer=", s.seq);
    match s.peer {
        Some(p) => {
            let _ = write!(line, "{p}");
        }
        None => line.push('-'),
    }
    line.push_str(" served-by=");
    match s.served_by.as_deref() {
        Some(v) => push_word(&mut line, v),
        None => line.push('-'),
    }
    for (name, v) in [(" connect=", s.connect_ms()), (" ttfb=", s.ttfb_ms())] {
        line.push_str(name);
        match v {
            Some(v) => {
                let _ = write!(line, "{v:.2} ms");
            }
            None => line.push('-'),
        }
    }
    if let Some(code) = s.status.filter(|c| !(200..300).contains(c)) {
        let _ = write!(line, " status={code}");
    }
    if s.reconnected {
        line.push_str(" reconnected");
    }
    line
}

/// The closing summary: counts and loss, then round-trip figures when anything was
/// received.
pub fn summary_lines(s: &Summary) -> Vec<String> {
    let mut lines = vec![format!(
        "{} probes, {} ok, {:.1}% loss",
        s.sent, s.received, s.loss_pct
    )];
    if s.received == 0 {
        return lines;
    }
    lines.push(format!(
        "round-trip min/avg/max/sd = {}/{}/{}/{} ms",
        ms2(s.min),
        ms2(s.avg),
        ms2(s.max),
        ms2(s.stddev)
    ));
    lines.push(format!(
        "p50/p95/p99 = {}/{}/{} ms",
        ms2(s.p50),
        ms2(s.p95),
        ms2(s.p99)
    ));
    lines
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::probe::ErrorKind;

    fn ok_sample() -> ProbeSample {
        ProbeSample {
            seq: 3,
            at: SystemTime::UNIX_EPOCH,
            connect: Some(Duration::from_micros(120)),
            ttfb: Some(Duration::from_micros(70_450)),
            total: Some(Duration::from_micros(70_500)),
            status: Some(200),
            peer: Some("127.0.0.1:8080".parse().unwrap()),
            served_by: Some("am".to_string()),
            error: None,
            reconnected: false,
        }
    }

    #[test]
    fn probe_output_sample_line_ok() {
        assert_eq!(
            sample_line(&ok_sample()),
            "seq=3 peer=127.0.0.1:8080 served-by=am connect=0.12 ms ttfb=70.45 ms"
        );
    }

    #[test]
    fn probe_output_sample_line_variants() {
        let mut s = ok_sample();
        s.served_by = None;
        s.connect = None;
        s.status = Some(503);
        s.reconnected = true;
        assert_eq!(
            sample_line(&s),
            "seq=3 peer=127.0.0.1:8080 served-by=- connect=- ttfb=70.45 ms status=503 reconnected"
        );
        s.status = Some(204);
        s.served_by = Some("cache fra".to_string());
        s.reconnected = false;
        assert_eq!(
            sample_line(&s),
            "seq=3 peer=127.0.0.1:8080 served-by=cache_fra connect=- ttfb=70.45 ms"
        );
        s.error = Some(ErrorKind::Timeout);
        assert_eq!(sample_line(&s), "seq=3 error=timeout");
    }

    #[test]
    fn probe_output_summary() {
        let s = Summary {
            sent: 5,
            received: 5,
            loss_pct: 0.0,
            min: Some(70.123),
            avg: Some(70.5),
            max: Some(71.006),
            stddev: Some(0.314),
            p50: Some(70.41),
            p95: Some(70.93),
            p99: Some(71.006),
            ..Summary::default()
        };
        assert_eq!(
            summary_lines(&s),
            vec![
                "5 probes, 5 ok, 0.0% loss",
                "round-trip min/avg/max/sd = 70.12/70.50/71.01/0.31 ms",
                "p50/p95/p99 = 70.41/70.93/71.01 ms",
            ]
        );
    }

    #[test]
    fn probe_output_summary_nothing_received() {
        let s = Summary {
            sent: 3,
            received: 0,
            loss_pct: 100.0,
            ..Summary::default()
        };
        assert_eq!(summary_lines(&s), vec!["3 probes, 0 ok, 100.0% loss"]);
    }
}
