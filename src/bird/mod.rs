//! BIRD control-socket backend.
//!
//! Owns everything between the console and a BIRD daemon's UNIX control
//! socket: reply framing ([`framing`]), parsing of `show status`,
//! `show protocols [all]`, `show route` and `enable`/`disable` output for
//! BIRD 2.x and 1.6 ([`parse`]), BIRD's time formats ([`time`]), and an async
//! client that keeps one connection with one request in flight ([`client`]). Knows nothing about
//! the terminal UI. Protocol notes: `shared/reference/bird.md`.

pub mod client;
pub mod framing;
pub mod parse;
pub mod time;

pub use client::{check_protocol_name, BirdClient};
pub use framing::{Framer, Reply, ReplyLine};
pub use parse::*;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong talking to BIRD, worded for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BirdError {
    /// Socket missing, refused or not permitted.
    Connect {
        path: PathBuf,
        message: String,
    },
    Io(String),
    Timeout(Duration),
    /// EOF in the middle of a reply.
    Closed,
    /// Framing garbage: a line not matching the grammar, or a reply too large.
    Protocol(String),
    /// An 8xxx (run-time) or 9xxx (parse) reply.
    Daemon {
        code: u16,
        message: String,
    },
    /// Reply well framed but not the expected shape.
    Parse(String),
    /// A protocol name or prefix we refuse to send.
    InvalidName(String),
}

impl fmt::Display for BirdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BirdError::Connect { path, message } => {
                write!(f, "router unreachable: {}: {message}", path.display())
            }
            BirdError::Io(m) => write!(f, "router i/o error: {m}"),
            BirdError::Timeout(d) => write!(f, "no reply within {}", human_duration(*d)),
            BirdError::Closed => f.write_str("router closed the connection mid-reply"),
            BirdError::Protocol(m) => write!(f, "garbled reply from router: {m}"),
            BirdError::Daemon { code, message } => write!(f, "BIRD {code:04}: {message}"),
            BirdError::Parse(m) => write!(f, "unexpected reply from router: {m}"),
            BirdError::InvalidName(n) => write!(f, "refusing to send {n:?} to the router"),
        }
    }
}

impl std::error::Error for BirdError {}

/// "2s", "300ms", "1.5s": the shortest exact spelling an operator reads at a glance.
fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_short_operator_text() {
        let e = BirdError::Connect {
            path: "/x/am.ctl".into(),
            message: "No such file or directory".into(),
        };
        assert_eq!(
            e.to_string(),
            "router unreachable: /x/am.ctl: No such file or directory"
        );
        assert_eq!(
            BirdError::Timeout(Duration::from_secs(2)).to_string(),
            "no reply within 2s"
        );
        assert_eq!(
            BirdError::Timeout(Duration::from_millis(300)).to_string(),
            "no reply within 300ms"
        );
        assert_eq!(
            BirdError::Timeout(Duration::from_millis(1500)).to_string(),
            "no reply within 1.5s"
        );
        assert_eq!(
            BirdError::Daemon {
                code: 8003,
                message: "No protocols match".into()
            }
            .to_string(),
            "BIRD 8003: No protocols match"
        );
    }
}
