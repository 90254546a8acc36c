//! How times and ages read on screen and in reports — one place for every wording of a
//! time: "12:03:01" (UTC), "3s", "4m", "2h", "5d".

use std::time::{SystemTime, UNIX_EPOCH};

/// `HH:MM:SS` (UTC) of a wall-clock time, for events.
pub fn clock(t: SystemTime) -> String {
    let s = humantime::format_rfc3339_seconds(t).to_string();
    s.get(11..19).unwrap_or("--:--:--").to_string()
}

/// "3s", "4m", "2h", "5d": a compact age.
pub fn age(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// Whole seconds from `earlier` to `later`; 0 when `later` is not later.
pub fn secs_between(earlier: SystemTime, later: SystemTime) -> u64 {
    later
        .duration_since(earlier)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The compact age of `since` at `now`.
pub fn age_since(since: SystemTime, now: SystemTime) -> String {
    age(secs_between(since, now))
}

/// The compact age of a Unix time in nanoseconds (Nomad's clock); "-" for none.
pub fn age_of_nanos(nanos: i64, now: SystemTime) -> String {
    if nanos <= 0 {
        return "-".into();
    }
    let now_ns = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    age(((now_ns - nanos).max(0) / 1_000_000_000) as u64)
}

/// How long before `end` `t` was, as a negative number of seconds (a chart's x).
pub fn seconds_before(end: SystemTime, t: SystemTime) -> f64 {
    end.duration_since(t)
        .map(|d| -d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ages_are_compact() {
        assert_eq!(age(5), "5s");
        assert_eq!(age(125), "2m");
        assert_eq!(age(7300), "2h");
        assert_eq!(age(200_000), "2d");
    }

    #[test]
    fn clock_is_utc_hms() {
        let t = UNIX_EPOCH + Duration::from_secs(3661);
        assert_eq!(clock(t), "01:01:01");
    }

    #[test]
    fn ages_between_times() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1000);
        let t1 = t0 + Duration::from_secs(90);
        assert_eq!(age_since(t0, t1), "1m");
        assert_eq!(secs_between(t1, t0), 0, "never negative");
        assert_eq!(age_of_nanos(1000 * 1_000_000_000, t1), "1m");
        assert_eq!(age_of_nanos(0, t1), "-");
        assert_eq!(seconds_before(t1, t0), -90.0);
    }
}
