//! BIRD's time formats (`timeformat protocol|route|base`, `lib/timer.h`): how long ago a
//! `since` BIRD printed was. Pure: the clocks come in as arguments.
//!
//! Formats: unix seconds (`"%s"`, the lab's choice), `hh:mm:ss[.sss[sss]]` (the `iso
//! short` formats, today for the last 20 hours), `YYYY-MM-DD` (`iso short` beyond 20
//! hours), `YYYY-MM-DD hh:mm:ss[.sss[sss]]` (`iso long`, `iso long ms`). Wall-clock
//! formats are the router's local time.

use std::time::{SystemTime, UNIX_EPOCH};

const DAY: i64 = 86_400;

/// One point in time as BIRD printed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stamp {
    /// Seconds since the epoch.
    Epoch(i64),
    /// A local wall-clock time: days since 1970-01-01 and, unless only the date was
    /// printed, seconds into that day.
    Local { days: i64, secs: Option<i64> },
    /// A local time of day, today or (when later than now) yesterday.
    TimeOfDay(i64),
}

/// Whether `since` is unix seconds, the one format that needs no router clock.
pub fn is_epoch(since: &str) -> bool {
    matches!(parse(since), Some(Stamp::Epoch(_)))
}

/// Seconds from `since` to `now`, or `None` for a format this does not know.
///
/// `router_now` is the router's own clock read at `now` (`show status`, "Current server
/// time"): local wall-clock times are measured against it, so neither the router's time
/// zone nor a skew of its clock matters. Without it (or when it is itself unix seconds)
/// wall-clock times are taken as UTC. A `since` in the future is 0 seconds ago.
pub fn age_secs(since: &str, router_now: Option<&str>, now: SystemTime) -> Option<u64> {
    let now_epoch = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let stamp = parse(since)?;
    // "Now" on the router's wall clock, in seconds since 1970-01-01 00:00 of that clock.
    let local_now = match router_now.and_then(parse) {
        Some(Stamp::Local {
            days,
            secs: Some(s),
        }) => days * DAY + s,
        _ => now_epoch,
    };
    let then = match stamp {
        Stamp::Epoch(e) => return Some(now_epoch.saturating_sub(e).max(0) as u64),
        Stamp::Local { days, secs } => days * DAY + secs.unwrap_or(0),
        Stamp::TimeOfDay(t) => {
            let today = local_now - local_now.rem_euclid(DAY) + t;
            if today > local_now {
                today - DAY
            } else {
                today
            }
        }
    };
    Some(local_now.saturating_sub(then).max(0) as u64)
}

fn parse(s: &str) -> Option<Stamp> {
    let s = s.trim();
    if !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok().map(Stamp::Epoch);
    }
    match s.split_once(' ') {
        Some((date, time)) => Some(Stamp::Local {
            days: parse_date(date)?,
            secs: Some(parse_time(time.trim())?),
        }),
        None if s.contains('-') => Some(Stamp::Local {
            days: parse_date(s)?,
            secs: None,
        }),
        None => parse_time(s).map(Stamp::TimeOfDay),
    }
}

/// Unsigned decimal of 1 to `max` digits.
fn num(s: &str, max: usize) -> Option<i64> {
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `YYYY-MM-DD` as days since 1970-01-01.
fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 {
        return None;
    }
    let (y, m, d) = (num(y, 4)?, num(m, 2)?, num(d, 2)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// `hh:mm:ss` with an optional fraction (dropped) as seconds into the day.
fn parse_time(s: &str) -> Option<i64> {
    let (hms, frac) = s.split_once('.').unwrap_or((s, "0"));
    num(frac, 9)?;
    let mut parts = hms.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (h, m, sec) = (num(h, 2)?, num(m, 2)?, num(sec, 2)?);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(h * 3600 + m * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// 2024-12-04 12:50:02 UTC.
    const NOW: u64 = 1_733_316_602;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(
            days_from_civil(2024, 12, 4) * DAY,
            (NOW - NOW % 86_400) as i64
        );
    }

    #[test]
    fn every_bird_time_format_has_an_age() {
        let age = |s: &str| age_secs(s, None, now());
        // unix seconds
        assert_eq!(age("1733316542"), Some(60));
        assert!(is_epoch("1733316542"));
        assert!(!is_epoch("12:48:02"));
        // iso long, iso long ms, iso long us: the date, a space, the time
        assert_eq!(age("2024-12-04 12:48:02"), Some(120));
        assert_eq!(age("2024-12-04 12:48:02.904"), Some(120));
        assert_eq!(age("2024-12-04 12:48:02.904123"), Some(120));
        assert_eq!(age("2024-12-01 12:50:02"), Some(3 * 86_400));
        // iso short (ms): today's time of day, or yesterday's when later than now
        assert_eq!(age("12:48:02"), Some(120));
        assert_eq!(age("09:20:11.904"), Some(3 * 3600 + 29 * 60 + 51));
        assert_eq!(age("12:50:03"), Some(86_399));
        // iso short beyond 20 hours: the date only, so at least this much
        assert_eq!(
            age("2024-12-01"),
            Some(3 * 86_400 + 12 * 3600 + 50 * 60 + 2)
        );
        // the future is now
        assert_eq!(age("1733316700"), Some(0));
        assert_eq!(age("2024-12-05 00:00:00"), Some(0));
    }

    #[test]
    fn wall_clock_times_are_measured_on_the_routers_clock() {
        // A router two hours ahead of UTC whose clock also runs 3 s fast.
        let router = Some("2024-12-04 14:50:05.120");
        assert_eq!(age_secs("14:48:05.000", router, now()), Some(120));
        assert_eq!(age_secs("2024-12-04 14:48:05", router, now()), Some(120));
        assert_eq!(age_secs("15:00:00", router, now()), Some(86_400 - 595));
        // Unix seconds need no router clock.
        assert_eq!(age_secs("1733316542", router, now()), Some(60));
        // A router whose base format is unix seconds: wall-clock times taken as UTC.
        assert_eq!(age_secs("12:48:02", Some("1733316602"), now()), Some(120));
    }

    #[test]
    fn unknown_formats_have_no_age() {
        for s in [
            "",
            "-",
            "yesterday",
            "12:48",
            "25:00:00",
            "2024-13-01",
            "2024-12-04T12:48:02",
            "04-12-2024",
            "12:48:02 PM",
            "2024-12-04 12:48",
            "12:48:02.x",
            "1:2:3:4",
        ] {
            assert_eq!(age_secs(s, None, now()), None, "{s:?}");
        }
    }
}
