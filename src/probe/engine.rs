//! One HTTP probe, kept-alive probers and the fixed-clock schedule.
//!
//! A probe (`shared/reference/latency.md` §3) starts a monotonic clock, resolves the host
//! (unless it is an IP literal or the target pins an address with
//! [`Target::connect_to`]), opens a TCP connection (`connect`), sends one `HEAD` or `GET`
//! over hyper's low-level HTTP/1 client and stops the clock when the response headers are
//! parsed (`ttfb`, like curl's `time_starttransfer` and httping's `time=`) and when the
//! body has been read to its end (`total`). Every phase is measured from the probe's
//! start, so `connect <= ttfb <= total`. The whole probe runs under
//! [`ProbeOptions::timeout`].
//!
//! Cold probes (the default) open a new connection each time and send
//! `Connection: close`, so the server closes first and keeps the TIME_WAIT. Kept-alive
//! probes ([`Prober`], or [`spawn_schedule`] with [`ProbeOptions::keep_alive`]) reuse one
//! connection; when it is gone (or busy with an overlapping probe) they open another and
//! mark the sample `reconnected`, like httping's `C`. A request that fails on a reused
//! connection before any response arrived is retried once on a new connection, timed
//! from the original start.
//!
//! A failed probe is a loss: its `error` is set and `ttfb`/`total` are `None`, never a
//! number. `connect`, `peer`, `status` and `served_by` keep whatever was learnt before
//! the failure, for diagnostics.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{HeaderMap, CONNECTION, HOST, USER_AGENT};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::{JoinHandle, JoinSet};

/// The `User-Agent` every probe sends.
const USER_AGENT_VALUE: &str = "platform-tui";
/// Addresses tried, in resolver order, when a name resolves to several.
const MAX_ADDRS: usize = 8;
/// Extra time a finished cold connection may take to close.
const COLD_LINGER: Duration = Duration::from_secs(1);
/// Shortest interval [`spawn_schedule`] accepts (a zero interval would spin).
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// What to probe: a URL, optionally pinned to an address like `curl --resolve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// "anycast", a metro name, or the URL.
    pub name: String,
    /// `http://host[:port]/path`; the path is `/` when the URL had none.
    pub uri: hyper::Uri,
    /// Connect here instead of resolving the URL's host; `Host` still comes from `uri`.
    pub connect_to: Option<SocketAddr>,
    /// Response header that names the site that answered (lower case).
    pub served_by_header: String,
}

impl Target {
    /// Parses an `http://` URL, with the rule the config's anycast URL is checked by
    /// ([`crate::domain::url::http_url`]). An empty `name` names the target after the URL.
    pub fn from_url(name: &str, url: &str) -> Result<Target, String> {
        use crate::domain::url::{http_url, shown, UrlError};
        let url = url.trim();
        let bad = |why: String| format!("invalid URL `{}`: {why}", shown(url));
        let parsed = http_url(url, false).map_err(|e| {
            bad(match e {
                UrlError::MissingScheme => format!("{e} (expected http://host[:port]/path)"),
                UrlError::UnsupportedScheme(_) => format!("{e} (only http:// is supported)"),
                e => e.to_string(),
            })
        })?;
        // The parser's normal form: lower-case scheme and host, `/` for an empty path,
        // no `:80`.
        let uri: Uri = parsed.as_str().parse().map_err(|e| bad(format!("{e}")))?;
        Ok(Target {
            name: if name.is_empty() { url } else { name }.to_string(),
            uri,
            connect_to: None,
            served_by_header: "x-served-by".to_string(),
        })
    }

    /// Connects to `addr` instead of resolving the host (like `curl --resolve`); the
    /// `Host` header still comes from the URL.
    pub fn connect_to(mut self, addr: SocketAddr) -> Target {
        self.connect_to = Some(addr);
        self
    }

    /// Reads the site from response header `h` instead of `x-served-by`.
    pub fn with_served_by_header(mut self, h: &str) -> Target {
        self.served_by_header = h.trim().to_ascii_lowercase();
        self
    }

    /// The URL's host, without the brackets of an IPv6 literal.
    fn host(&self) -> &str {
        let h = self.uri.host().unwrap_or("");
        h.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(h)
    }

    fn port(&self) -> u16 {
        self.uri.port_u16().unwrap_or(80)
    }

    /// `Host` header value: the URL's host, with the port when it is not 80.
    fn host_header(&self) -> String {
        let host = self.uri.host().unwrap_or("");
        match self.uri.port_u16() {
            Some(p) if p != 80 => format!("{host}:{p}"),
            _ => host.to_string(),
        }
    }
}

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
    fn start(seq: u64) -> ProbeSample {
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

    fn fail(&mut self, kind: ErrorKind) {
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
fn ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1_000_000.0
}

/// Aborts the task driving a connection when dropped, unless detached.
struct ConnTask(Option<JoinHandle<()>>);

impl ConnTask {
    /// Lets the task finish on its own (it is bounded by its own timeout).
    fn detach(mut self) {
        self.0 = None;
    }
}

impl Drop for ConnTask {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

/// An open HTTP/1 connection.
struct Conn {
    sender: http1::SendRequest<Empty<Bytes>>,
    task: ConnTask,
    peer: SocketAddr,
}

/// A failed exchange; `answered` when response headers had arrived.
struct Failure {
    kind: ErrorKind,
    answered: bool,
}

/// Probes `target` once on a new connection (`Connection: close`), whatever
/// `opts.keep_alive` says.
pub async fn probe_once(target: &Target, opts: &ProbeOptions, seq: u64) -> ProbeSample {
    probe_with(target, opts, seq, false, None, true).await.0
}

/// The connection a kept-alive prober holds between probes.
#[derive(Default)]
struct Slot {
    conn: Option<Conn>,
    opened: bool,
}

impl Slot {
    /// Takes the idle connection, if any, and whether this is the first probe.
    fn take(&mut self) -> (Option<Conn>, bool) {
        let first = !self.opened;
        self.opened = true;
        (self.conn.take(), first)
    }

    /// Keeps `conn` for the next probe unless another one is already kept.
    fn put(&mut self, conn: Option<Conn>) {
        if self.conn.is_none() {
            self.conn = conn;
        }
    }
}

/// Probes one target repeatedly; holds the connection between probes when
/// `opts.keep_alive`.
pub struct Prober {
    target: Target,
    opts: ProbeOptions,
    slot: Slot,
}

impl fmt::Debug for Prober {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prober")
            .field("target", &self.target)
            .field("opts", &self.opts)
            .field("connected", &self.slot.conn.is_some())
            .finish()
    }
}

impl Prober {
    pub fn new(target: Target, opts: ProbeOptions) -> Self {
        Prober {
            target,
            opts,
            slot: Slot::default(),
        }
    }

    /// One probe: cold, or on the kept connection (opening one when needed).
    pub async fn probe(&mut self, seq: u64) -> ProbeSample {
        if !self.opts.keep_alive {
            return probe_once(&self.target, &self.opts, seq).await;
        }
        let (reuse, first) = self.slot.take();
        let (sample, conn) = probe_with(&self.target, &self.opts, seq, true, reuse, first).await;
        self.slot.put(conn);
        sample
    }
}

/// Probes `target` every `interval` on its own clock (seq 0, 1, 2, ...). Each probe is
/// spawned with its own timeout, so a slow probe neither delays nor drops the next; in
/// keep-alive mode a probe that finds the connection busy opens another, marked
/// `reconnected`. Each sample is sent as it completes (so possibly out of `seq` order).
///
/// Stops after `count` probes have completed (`None`: runs until the receiver is dropped
/// or the handle aborted; aborting also cancels probes in flight). If the runtime stalls
/// for more than an interval, the clock resumes from now rather than bursting the
/// missed probes. An interval under 1 ms is taken as 1 ms. Must be called from within a
/// Tokio runtime (a multi-thread one keeps probes off the UI thread).
/// Each sample goes to `tx` as `tag(sample)` — the receiver's own message type, so no
/// task stands between the prober and whoever reads (a console passes `Msg::Probe`).
pub fn spawn_schedule<M: Send + 'static>(
    target: Target,
    opts: ProbeOptions,
    interval: Duration,
    count: Option<u64>,
    tx: UnboundedSender<M>,
    tag: impl Fn(ProbeSample) -> M + Send + Sync + 'static,
) -> JoinHandle<()> {
    tokio::spawn(schedule(target, opts, interval, count, tx, Arc::new(tag)))
}

async fn schedule<M: Send + 'static>(
    target: Target,
    opts: ProbeOptions,
    interval: Duration,
    count: Option<u64>,
    tx: UnboundedSender<M>,
    tag: Arc<dyn Fn(ProbeSample) -> M + Send + Sync>,
) {
    let interval = interval.max(MIN_INTERVAL);
    let target = Arc::new(target);
    let opts = Arc::new(opts);
    let slot = Arc::new(Mutex::new(Slot::default()));
    let mut inflight = JoinSet::new();
    let mut next = tokio::time::Instant::now();
    let mut seq: u64 = 0;
    while count.is_none_or(|c| seq < c) {
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = tx.closed() => return,
        }
        let (target, opts, slot, tx, tag) = (
            target.clone(),
            opts.clone(),
            slot.clone(),
            tx.clone(),
            tag.clone(),
        );
        inflight.spawn(async move {
            let sample = if opts.keep_alive {
                let (reuse, first) = lock(&slot).take();
                let (sample, conn) = probe_with(&target, &opts, seq, true, reuse, first).await;
                lock(&slot).put(conn);
                sample
            } else {
                probe_once(&target, &opts, seq).await
            };
            // A dropped receiver is noticed by the schedule loop.
            let _ = tx.send(tag(sample));
        });
        while inflight.try_join_next().is_some() {}
        seq += 1;
        next += interval;
        let now = tokio::time::Instant::now();
        if now > next + interval {
            next = now;
        }
    }
    // Probes in flight are each bounded by their timeout.
    loop {
        tokio::select! {
            r = inflight.join_next() => if r.is_none() { return },
            () = tx.closed() => return,
        }
    }
}

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One timed probe; returns the connection to keep (keep-alive mode only).
async fn probe_with(
    target: &Target,
    opts: &ProbeOptions,
    seq: u64,
    keep_alive: bool,
    reuse: Option<Conn>,
    first: bool,
) -> (ProbeSample, Option<Conn>) {
    let mut sample = ProbeSample::start(seq);
    let t0 = Instant::now();
    let run = run(target, opts, keep_alive, reuse, first, t0, &mut sample);
    let kept = match tokio::time::timeout(opts.timeout, run).await {
        Ok(Ok(kept)) => kept,
        Ok(Err(kind)) => {
            sample.fail(kind);
            None
        }
        // The head arrived in time and only the body was still coming: an answer.
        Err(_) if sample.ttfb.is_some() => None,
        Err(_) => {
            sample.fail(ErrorKind::Timeout);
            None
        }
    };
    (sample, kept)
}

async fn run(
    target: &Target,
    opts: &ProbeOptions,
    keep_alive: bool,
    reuse: Option<Conn>,
    first: bool,
    t0: Instant,
    sample: &mut ProbeSample,
) -> Result<Option<Conn>, ErrorKind> {
    let mut conn = reuse.filter(|c| !c.sender.is_closed());
    let mut reused = conn.is_some();
    let mut last = ErrorKind::Closed;
    // At most one retry, and only after a reused connection failed before answering.
    for attempt in 0..2 {
        let mut c = match conn.take() {
            Some(c) => c,
            None => {
                // A cold connection's task outlives the probe only to finish closing; it
                // must not end first, or a timeout would show as a dispatch error.
                let limit = (!keep_alive).then(|| opts.timeout.saturating_mul(2) + COLD_LINGER);
                let c = connect(target, limit, t0, sample).await?;
                sample.reconnected = keep_alive && (!first || attempt > 0);
                c
            }
        };
        sample.peer = Some(c.peer);
        match exchange(&mut c, target, opts.method, keep_alive, t0, sample).await {
            Ok(complete) => {
                if keep_alive {
                    return Ok((complete && !c.sender.is_closed()).then_some(c));
                }
                c.task.detach();
                return Ok(None);
            }
            Err(f)
                if reused
                    && !f.answered
                    && matches!(f.kind, ErrorKind::Closed | ErrorKind::Reset) =>
            {
                reused = false;
                last = f.kind;
                sample.peer = None;
            }
            Err(f) => return Err(f.kind),
        }
    }
    Err(last)
}

/// Resolves (inside the timed region), connects and starts an HTTP/1 connection.
async fn connect(
    target: &Target,
    limit: Option<Duration>,
    t0: Instant,
    sample: &mut ProbeSample,
) -> Result<Conn, ErrorKind> {
    let addrs = resolve(target).await?;
    let mut last = ErrorKind::Dns;
    let mut connected = None;
    for addr in addrs.into_iter().take(MAX_ADDRS) {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                connected = Some((s, addr));
                break;
            }
            Err(e) => last = map_io(&e),
        }
    }
    let (stream, peer) = connected.ok_or(last)?;
    sample.connect = Some(t0.elapsed());
    // Only affects latency; a socket that refuses it still works.
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| map_hyper(&e))?;
    let task = match limit {
        Some(limit) => tokio::spawn(async move {
            let _ = tokio::time::timeout(limit, conn).await;
        }),
        None => tokio::spawn(async move {
            let _ = conn.await;
        }),
    };
    Ok(Conn {
        sender,
        task: ConnTask(Some(task)),
        peer,
    })
}

async fn resolve(target: &Target) -> Result<Vec<SocketAddr>, ErrorKind> {
    if let Some(addr) = target.connect_to {
        return Ok(vec![addr]);
    }
    let (host, port) = (target.host(), target.port());
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| ErrorKind::Dns)?
        .collect();
    if addrs.is_empty() {
        return Err(ErrorKind::Dns);
    }
    Ok(addrs)
}

/// How much of a GET body a probe reads; the rest is not waited for (the connection is
/// then not reused).
pub const MAX_BODY: usize = 1024 * 1024;

/// Sends the request, times the headers and reads the body, bounded by [`MAX_BODY`] (and
/// by the probe's timeout, around it).
async fn exchange(
    c: &mut Conn,
    target: &Target,
    method: Method,
    keep_alive: bool,
    t0: Instant,
    sample: &mut ProbeSample,
) -> Result<bool, Failure> {
    let before = |e: hyper::Error| Failure {
        kind: map_hyper(&e),
        answered: false,
    };
    c.sender.ready().await.map_err(before)?;
    let req = request(target, method, keep_alive).map_err(|_| Failure {
        kind: ErrorKind::Http,
        answered: false,
    })?;
    let resp = c.sender.send_request(req).await.map_err(before)?;
    // Time to first byte: the head, as httping -G times it. Recorded before the body so
    // that a body still streaming at the timeout leaves an answered probe.
    sample.ttfb = Some(t0.elapsed());
    sample.status = Some(resp.status().as_u16());
    sample.served_by = served_by(resp.headers(), &target.served_by_header);
    let mut body = resp.into_body();
    let mut read = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Failure {
            kind: map_hyper(&e),
            answered: true,
        })?;
        if let Some(data) = frame.data_ref() {
            read += data.len();
            if read > MAX_BODY {
                // Not read to its end: this connection cannot carry another request.
                return Ok(false);
            }
        }
    }
    sample.total = Some(t0.elapsed());
    Ok(true)
}

fn request(
    target: &Target,
    method: Method,
    keep_alive: bool,
) -> Result<Request<Empty<Bytes>>, hyper::http::Error> {
    let path = target.uri.path_and_query().map_or("/", |p| p.as_str());
    let method = match method {
        Method::Head => hyper::Method::HEAD,
        Method::Get => hyper::Method::GET,
    };
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, target.host_header())
        .header(USER_AGENT, USER_AGENT_VALUE);
    if !keep_alive {
        b = b.header(CONNECTION, "close");
    }
    b.body(Empty::new())
}

fn served_by(headers: &HeaderMap, name: &str) -> Option<String> {
    let v = headers.get(name)?;
    let s = String::from_utf8_lossy(v.as_bytes()).trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn map_io(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ErrorKind::Refused,
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => ErrorKind::Reset,
        io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe | io::ErrorKind::NotConnected => {
            ErrorKind::Closed
        }
        io::ErrorKind::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::Io,
    }
}

fn map_hyper(e: &hyper::Error) -> ErrorKind {
    // An I/O error underneath says most (refused, reset, ...).
    let mut cause = e.source();
    for _ in 0..8 {
        let Some(inner) = cause else { break };
        if let Some(io) = inner.downcast_ref::<io::Error>() {
            return map_io(io);
        }
        cause = inner.source();
    }
    if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        ErrorKind::Closed
    } else if e.is_parse() || e.is_parse_status() || e.is_parse_too_large() || e.is_user() {
        ErrorKind::Http
    } else {
        ErrorKind::Io
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_target_from_url_accepts_http() {
        let t = Target::from_url("x", "http://127.0.0.1:8080").unwrap();
        assert_eq!(t.uri.path(), "/");
        assert_eq!(t.host_header(), "127.0.0.1:8080");
        assert_eq!(t.served_by_header, "x-served-by");
        assert_eq!(t.connect_to, None);
        let t = Target::from_url("", "http://example.test/health?x=1").unwrap();
        assert_eq!(t.name, "http://example.test/health?x=1");
        assert_eq!(t.host_header(), "example.test");
        assert_eq!(t.port(), 80);
        assert_eq!(t.uri.path_and_query().unwrap().as_str(), "/health?x=1");
        let t = Target::from_url("v6", "http://[::1]:9000/").unwrap();
        assert_eq!(t.host(), "::1");
        assert_eq!(t.host_header(), "[::1]:9000");
        let t = Target::from_url("p80", "http://example.test:80/").unwrap();
        assert_eq!(t.host_header(), "example.test");
    }

    #[test]
    fn probe_target_from_url_errors_are_clear() {
        let e = Target::from_url("x", "https://example.test/").unwrap_err();
        assert!(e.contains("https is not supported yet"), "{e}");
        let e = Target::from_url("x", "ftp://example.test/").unwrap_err();
        assert!(e.contains("unsupported scheme `ftp`"), "{e}");
        let e = Target::from_url("x", "example.test:80").unwrap_err();
        assert!(e.contains("missing scheme"), "{e}");
        let e = Target::from_url("x", "http://exa mple/").unwrap_err();
        assert!(e.starts_with("invalid URL `http://exa mple/`: "), "{e}");
        for url in ["http:///path", "http://", "http://:80/"] {
            let e = Target::from_url("x", url).unwrap_err();
            assert_eq!(e, format!("invalid URL `{url}`: missing host"));
        }
        let e = Target::from_url("x", "").unwrap_err();
        assert!(e.starts_with("invalid URL ``: "), "{e}");
        let e = Target::from_url("x", "HTTPS://x.test").unwrap_err();
        assert!(e.contains("https is not supported yet"), "{e}");
        let e = Target::from_url("x", "http://u:p@example.test/").unwrap_err();
        assert!(e.contains("credentials"), "{e}");
    }

    #[test]
    fn probe_target_builders() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let t = Target::from_url("am", "http://anycast.test/")
            .unwrap()
            .connect_to(addr)
            .with_served_by_header("X-Site");
        assert_eq!(t.connect_to, Some(addr));
        assert_eq!(t.served_by_header, "x-site");
    }

    #[test]
    fn probe_request_headers() {
        let t = Target::from_url("x", "http://site.test:8080/p?q").unwrap();
        let r = request(&t, Method::Head, false).unwrap();
        assert_eq!(r.method(), hyper::Method::HEAD);
        assert_eq!(r.uri(), "/p?q");
        assert_eq!(r.headers()[HOST], "site.test:8080");
        assert_eq!(r.headers()[CONNECTION], "close");
        assert_eq!(r.headers()[USER_AGENT], "platform-tui");
        let r = request(&t, Method::Get, true).unwrap();
        assert_eq!(r.method(), hyper::Method::GET);
        assert!(r.headers().get(CONNECTION).is_none());
    }

    #[test]
    fn probe_error_kind_strings() {
        let all = [
            (ErrorKind::Timeout, "timeout"),
            (ErrorKind::Refused, "refused"),
            (ErrorKind::Reset, "reset"),
            (ErrorKind::Closed, "closed"),
            (ErrorKind::Dns, "dns"),
            (ErrorKind::Http, "http"),
            (ErrorKind::Io, "io"),
        ];
        for (k, s) in all {
            assert_eq!(k.as_str(), s);
            assert_eq!(k.to_string(), s);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{s}\""));
        }
    }

    #[test]
    fn probe_sample_loss_has_no_value() {
        let mut s = ProbeSample::start(1);
        s.ttfb = Some(Duration::from_millis(5));
        s.connect = Some(Duration::from_micros(120));
        assert!(s.ok());
        assert_eq!(s.ttfb_ms(), Some(5.0));
        assert_eq!(s.connect_ms(), Some(0.12));
        s.fail(ErrorKind::Reset);
        assert!(!s.ok());
        assert_eq!(s.ttfb_ms(), None);
        assert_eq!(s.total, None);
    }
}
