//! What a probe is asked to do and what it found: the method, the options, why it
//! failed, and the sample — every duration from the probe's own start, a loss never a
//! number.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

/// Request method of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// Time to headers of a `HEAD` (httping's default).
    #[default]
    Head,
    /// `GET`, body read to its end (`total`).
    Get,
}

/// How to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOptions {
    pub method: Method,
    /// Limit for the whole probe, resolution to end of body. Default 5 s.
    pub timeout: Duration,
    /// Reuse one connection between probes. Default `false`: a new connection per probe.
    pub keep_alive: bool,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            method: Method::Head,
            timeout: Duration::from_secs(5),
            keep_alive: false,
        }
    }
}

/// Why a probe failed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// No complete answer within [`ProbeOptions::timeout`].
    Timeout,
    /// Connection refused.
    Refused,
    /// Connection reset (or aborted) by the peer.
    Reset,
    /// The peer closed the connection before the response was complete.
    Closed,
    /// The host name did not resolve.
    Dns,
    /// Not an HTTP response (protocol error).
    Http,
    /// Any other I/O error.
    Io,
}

impl ErrorKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Refused => "refused",
            ErrorKind::Reset => "reset",
            ErrorKind::Closed => "closed",
            ErrorKind::Dns => "dns",
            ErrorKind::Http => "http",
            ErrorKind::Io => "io",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one probe. Durations are measured from the probe's start.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProbeSample {
    pub seq: u64,
    /// Wall clock at the start, for display only (timings use the monotonic clock).
    pub at: SystemTime,
    /// Start (including name resolution) to TCP connected; `None` when a kept-alive
    /// connection was reused or the probe failed before connecting.
    pub connect: Option<Duration>,
    /// Start to response headers parsed. `None` when the probe failed.
    pub ttfb: Option<Duration>,
    /// Start to body fully read. `None` when the probe failed, or when the body was not
    /// read to its end (longer than the probe's timeout or than [`MAX_BODY`]): time to
    /// first byte is what a probe measures, so such a probe still counts.
    pub total: Option<Duration>,
    pub status: Option<u16>,
    pub peer: Option<SocketAddr>,
    /// Value of the target's served-by header.
    pub served_by: Option<String>,
    /// `Some` means a loss, never a value.
    pub error: Option<ErrorKind>,
    /// Keep-alive mode: had to open a new connection (not counting the first one).
    pub reconnected: bool,
}

impl ProbeSample {
    pub(super) fn start(seq: u64) -> ProbeSample {
        ProbeSample {
            seq,
            at: SystemTime::now(),
            connect: None,
            ttfb: None,
            total: None,
            status: None,
            peer: None,
            served_by: None,
            error: None,
            reconnected: false,
        }
    }

    pub(super) fn fail(&mut self, kind: ErrorKind) {
        self.error = Some(kind);
        self.ttfb = None;
        self.total = None;
    }

    /// The response's head arrived (whatever its status).
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.ttfb.is_some()
    }

    /// Time to headers in milliseconds; `None` for a loss.
    pub fn ttfb_ms(&self) -> Option<f64> {
        if self.error.is_some() {
            return None;
        }
        self.ttfb.map(ms)
    }

    /// Connect time in milliseconds; `None` when reused or never connected.
    pub fn connect_ms(&self) -> Option<f64> {
        self.connect.map(ms)
    }
}

/// Milliseconds, exact for whole microseconds.
pub(super) fn ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1_000_000.0
}
