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
//! `Connection: close`, so the server closes first and keeps the TIME_WAIT. They are
//! driven in the caller's task (no connection task): a cold `HEAD` is written in one
//! piece and its answer's head parsed with `httparse` (bounded in size, interim 1xx heads
//! skipped); a cold `GET` goes through hyper's connection polled alongside the request.
//! The sample is ready when the head (or the body) is in; the wait for the server's
//! close comes after, bounded. Kept-alive
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
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{HeaderMap, CONNECTION, HOST, USER_AGENT};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::{ErrorKind, Method, ProbeOptions, ProbeSample, Target};

/// The `User-Agent` every probe sends.
const USER_AGENT_VALUE: &str = "platform-tui";
/// Addresses tried, in resolver order, when a name resolves to several.
const MAX_ADDRS: usize = 8;
/// Extra time a finished cold connection may take to close.
const COLD_LINGER: Duration = Duration::from_secs(1);

/// Aborts the task driving a kept-alive connection when dropped.
struct ConnTask(JoinHandle<()>);

impl Drop for ConnTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An open, kept-alive HTTP/1 connection.
pub(super) struct Conn {
    sender: http1::SendRequest<Empty<Bytes>>,
    _task: ConnTask,
    peer: SocketAddr,
}

/// A failed exchange; `answered` when response headers had arrived.
struct Failure {
    kind: ErrorKind,
    answered: bool,
}

/// Probes `target` once on a new connection (`Connection: close`), whatever
/// `opts.keep_alive` says. What is left of the connection closes in the background.
pub async fn probe_once(target: &Target, opts: &ProbeOptions, seq: u64) -> ProbeSample {
    let (sample, closing) = probe_cold(target, opts, seq, &cold_request(target)).await;
    if closing.0.is_some() {
        tokio::spawn(closing.finish());
    }
    sample
}

/// A cold connection once its answer is in, until the server closes it: the caller
/// drives it after delivering the sample, in its own task (so a probe costs no task of
/// its own). Dropping it closes the socket at once.
pub(super) struct Closing(Option<(Open, Duration)>);

/// The connection a finished cold probe leaves.
enum Open {
    /// A HEAD's socket: its answer is complete, only the server's close is to come.
    Socket(TcpStream),
    /// A GET's connection, driven by hyper (boxed: it is most of a probe's size).
    Hyper(Box<http1::Connection<TokioIo<TcpStream>, Empty<Bytes>>>),
}

impl Closing {
    /// Reads until the server has closed (it was asked to, so that TIME_WAIT stays on its
    /// side), at most the linger; then closes the socket, without a `shutdown` of its own.
    pub(super) async fn finish(self) {
        let Some((open, limit)) = self.0 else {
            return;
        };
        let mut rest = [0u8; 512];
        if let Open::Socket(stream) = &open {
            // Most servers have closed by now: then no timer is needed to wait for it. A
            // few reads at most here; a server that keeps sending is waited for below,
            // under the limit.
            for _ in 0..4 {
                match stream.try_read(&mut rest) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => return,
                }
            }
        }
        let _ = tokio::time::timeout(limit, async move {
            match open {
                Open::Socket(mut stream) => {
                    // Anything more (a body a HEAD should not have) is read and dropped.
                    while matches!(stream.read(&mut rest).await, Ok(n) if n > 0) {}
                }
                Open::Hyper(mut conn) => {
                    let _ = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)).await;
                }
            }
        })
        .await;
    }
}

/// One cold probe: the sample as soon as it is complete, and the connection's closing.
/// `request` is [`cold_request`]'s for `target` (used by a `HEAD`).
pub(super) async fn probe_cold(
    target: &Target,
    opts: &ProbeOptions,
    seq: u64,
    request: &[u8],
) -> (ProbeSample, Closing) {
    let mut sample = ProbeSample::start(seq);
    let t0 = Instant::now();
    let mut closing = Closing(None);
    let run = cold(target, opts, request, t0, &mut sample, &mut closing);
    match tokio::time::timeout(opts.timeout, run).await {
        Ok(Ok(())) => {}
        Ok(Err(kind)) => sample.fail(kind),
        // The head arrived in time and only the body was still coming: an answer.
        Err(_) if sample.ttfb.is_some() => {}
        Err(_) => sample.fail(ErrorKind::Timeout),
    }
    (sample, closing)
}

/// Connects and exchanges one request, driving the connection in this task (no task is
/// spawned for it); leaves the connection in `closing` when the server has not closed it
/// yet.
async fn cold(
    target: &Target,
    opts: &ProbeOptions,
    request: &[u8],
    t0: Instant,
    sample: &mut ProbeSample,
    closing: &mut Closing,
) -> Result<(), ErrorKind> {
    let (stream, peer) = open(target, t0, sample).await?;
    sample.peer = Some(peer);
    let linger = opts.timeout.saturating_mul(2) + COLD_LINGER;
    if opts.method == Method::Head {
        let stream = head(stream, target, request, t0, sample).await?;
        closing.0 = Some((Open::Socket(stream), linger));
        return Ok(());
    }
    let (mut sender, mut conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| map_hyper(&e))?;
    let mut ended = false;
    let mut failed = None;
    let exchange = send(&mut sender, target, opts.method, false, t0, sample);
    let mut exchange = std::pin::pin!(exchange);
    std::future::poll_fn(|cx| {
        if !ended {
            match conn.poll_without_shutdown(cx) {
                Poll::Ready(Ok(())) => ended = true,
                Poll::Ready(Err(e)) => {
                    ended = true;
                    failed = Some(map_hyper(&e));
                }
                Poll::Pending => {}
            }
        }
        match std::future::Future::poll(exchange.as_mut(), cx) {
            Poll::Ready(r) => Poll::Ready(r.map(|_| ()).map_err(|f| f.kind)),
            // The connection failed and took the exchange with it.
            Poll::Pending => match failed.take() {
                Some(kind) => Poll::Ready(Err(kind)),
                None => Poll::Pending,
            },
        }
    })
    .await?;
    if !ended {
        closing.0 = Some((Open::Hyper(Box::new(conn)), linger));
    }
    Ok(())
}

/// Longest response head a HEAD probe reads (hyper's default limit is of this order).
const MAX_HEAD: usize = 64 * 1024;
/// Most header fields a response head may have.
const MAX_HEADERS: usize = 100;

/// A HEAD on a new connection, without an HTTP client: the request written in one piece,
/// the answer's head parsed as it arrives (by `httparse`, hyper's own parser). A HEAD's
/// answer has no body (RFC 9110 9.3.2), so the head is the whole answer; interim 1xx
/// heads are skipped as hyper skips them. No channel, task or header map per probe: this
/// is the default probe, and what keeps its CPU cost at httping's.
async fn head(
    mut stream: TcpStream,
    target: &Target,
    request: &[u8],
    t0: Instant,
    sample: &mut ProbeSample,
) -> Result<TcpStream, ErrorKind> {
    stream.write_all(request).await.map_err(|e| map_io(&e))?;
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    loop {
        if buf.capacity() == buf.len() {
            buf.reserve(buf.len().max(1024));
        }
        let n = stream.read_buf(&mut buf).await.map_err(|e| map_io(&e))?;
        if n == 0 {
            // Closed before a whole head: as hyper reports an incomplete message.
            return Err(ErrorKind::Closed);
        }
        loop {
            let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut fields);
            match resp.parse(&buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let status = resp.code.unwrap_or(0);
                    if (100..200).contains(&status) && status != 101 {
                        // An interim answer (103 Early Hints): the final one follows.
                        buf.drain(..len);
                        continue;
                    }
                    sample.ttfb = Some(t0.elapsed());
                    sample.status = Some(status);
                    sample.served_by = resp
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(&target.served_by_header))
                        .and_then(|h| site(h.value));
                    sample.total = sample.ttfb;
                    return Ok(stream);
                }
                Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => break,
                Ok(httparse::Status::Partial) | Err(_) => return Err(ErrorKind::Http),
            }
        }
    }
}

/// The bytes of a cold HEAD request: what [`request`] builds for hyper, in one piece.
pub(super) fn cold_request(target: &Target) -> Vec<u8> {
    let path = target.uri.path_and_query().map_or("/", |p| p.as_str());
    format!(
        "HEAD {path} HTTP/1.1\r\nhost: {}\r\nuser-agent: {USER_AGENT_VALUE}\r\nconnection: close\r\n\r\n",
        target.host_header()
    )
    .into_bytes()
}

/// The connection a kept-alive prober holds between probes.
#[derive(Default)]
pub(super) struct Slot {
    conn: Option<Conn>,
    opened: bool,
}

impl Slot {
    /// Takes the idle connection, if any, and whether this is the first probe.
    pub(super) fn take(&mut self) -> (Option<Conn>, bool) {
        let first = !self.opened;
        self.opened = true;
        (self.conn.take(), first)
    }

    /// Keeps `conn` for the next probe unless another one is already kept.
    pub(super) fn put(&mut self, conn: Option<Conn>) {
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
            let request = cold_request(&self.target);
            let (sample, closing) = probe_cold(&self.target, &self.opts, seq, &request).await;
            closing.finish().await;
            return sample;
        }
        let (reuse, first) = self.slot.take();
        let (sample, conn) = probe_kept(&self.target, &self.opts, seq, reuse, first).await;
        self.slot.put(conn);
        sample
    }
}

pub(super) fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One timed kept-alive probe, on `reuse` when it is still open; returns the connection
/// to keep.
pub(super) async fn probe_kept(
    target: &Target,
    opts: &ProbeOptions,
    seq: u64,
    reuse: Option<Conn>,
    first: bool,
) -> (ProbeSample, Option<Conn>) {
    let mut sample = ProbeSample::start(seq);
    let t0 = Instant::now();
    let run = run(target, opts, reuse, first, t0, &mut sample);
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
                let c = connect(target, t0, sample).await?;
                sample.reconnected = !first || attempt > 0;
                c
            }
        };
        sample.peer = Some(c.peer);
        match send(&mut c.sender, target, opts.method, true, t0, sample).await {
            Ok(complete) => return Ok((complete && !c.sender.is_closed()).then_some(c)),
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

/// Resolves (inside the timed region) and opens the TCP connection; times `connect`.
async fn open(
    target: &Target,
    t0: Instant,
    sample: &mut ProbeSample,
) -> Result<(TcpStream, SocketAddr), ErrorKind> {
    let addrs = resolve(target).await?;
    let mut last = ErrorKind::Dns;
    for addr in addrs.into_iter().take(MAX_ADDRS) {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                sample.connect = Some(t0.elapsed());
                return Ok((s, addr));
            }
            Err(e) => last = map_io(&e),
        }
    }
    Err(last)
}

/// Resolves, connects and starts an HTTP/1 connection driven by a task of its own (a
/// kept-alive connection outlives its probe).
async fn connect(
    target: &Target,
    t0: Instant,
    sample: &mut ProbeSample,
) -> Result<Conn, ErrorKind> {
    let (stream, peer) = open(target, t0, sample).await?;
    // Requests follow each other on this connection: none may wait for an ACK (Nagle).
    // (A cold probe writes once, so it does without the system call.)
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| map_hyper(&e))?;
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(Conn {
        sender,
        _task: ConnTask(task),
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

/// Sends the request on a connection driven elsewhere, times the headers and reads the
/// body, bounded by [`MAX_BODY`] (and by the probe's timeout, around it). Whether the
/// answer was read to its end.
async fn send(
    sender: &mut http1::SendRequest<Empty<Bytes>>,
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
    sender.ready().await.map_err(before)?;
    let req = request(target, method, keep_alive).map_err(|_| Failure {
        kind: ErrorKind::Http,
        answered: false,
    })?;
    let resp = sender.send_request(req).await.map_err(before)?;
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
    site(headers.get(name)?.as_bytes())
}

/// A served-by header's value: trimmed, `None` when empty.
fn site(value: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(value).trim().to_string();
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
