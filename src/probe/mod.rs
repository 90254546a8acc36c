//! HTTP latency probes: which metro served a request, and how fast.
//!
//! Owns everything between "probe this URL" and the numbers the console and the
//! `probe` command show, following `shared/reference/latency.md`:
//!
//! - [`target`]: what is probed (a URL, optionally pinned to an address).
//! - [`sample`]: the options of a probe and what it found (a loss is never a number).
//! - [`engine`]: one probe is a new TCP connection (or a kept-alive one), one `HEAD`
//!   or `GET` (a cold `HEAD` written and parsed by the prober itself, the others over
//!   hyper's low-level HTTP/1 client), timed on the monotonic clock from
//!   before name resolution to the response headers (TTFB) and to the end of the body;
//!   the served-by header names the site.
//! - [`schedule`]: [`spawn_schedule`] (or [`run_schedule`], in the caller's task) runs
//!   probes on a fixed clock, each with its own timeout so a slow probe never delays the
//!   next.
//! - [`stats`]: loss, min/avg/max, sample standard deviation, nearest-rank
//!   percentiles and mtr-style jitter over a sliding window and over the session.
//! - [`output`]: the exact text lines the CLI prints and scripts parse.
//!
//! Knows nothing about the terminal UI (never imports ratatui or crossterm).

pub mod engine;
pub mod output;
pub mod sample;
pub mod schedule;
pub mod stats;
pub mod target;

pub use engine::{probe_once, Prober, MAX_BODY};
pub use sample::{ErrorKind, Method, ProbeOptions, ProbeSample};
pub use schedule::{run_schedule, spawn_kickable_schedule, spawn_schedule, Kick};
pub use stats::{Stats, Summary};
pub use target::Target;
