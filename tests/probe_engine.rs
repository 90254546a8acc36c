//! Probe engine against real HTTP servers on 127.0.0.1 (port 0), hand-rolled on a
//! `TcpListener` so that each response is exactly one write. Every test is bounded.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use platform_tui::probe::{
    probe_once, spawn_schedule, ErrorKind, Method, ProbeOptions, ProbeSample, Prober, Target,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const LIMIT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Answers requests.
    Http,
    /// Reads the request and never answers.
    Silent,
    /// Answers with something that is not HTTP, then closes.
    Garbage,
    /// Closes as soon as the connection is accepted.
    CloseAtOnce,
    /// Answers the head at once, then streams a chunked body, a chunk every 100 ms, for
    /// 10 s (an event feed, a long download).
    Stream,
}

#[derive(Clone)]
struct Cfg {
    mode: Mode,
    status: u16,
    delay: Duration,
    /// Delay of the first request the server reads (instead of `delay`).
    first_delay: Option<Duration>,
    served_by: Option<&'static str>,
    /// Answer 400 unless the Host header is this.
    expect_host: Option<String>,
    /// Body of GET responses (HEAD responses announce its length only).
    body: Vec<u8>,
    /// Close the connection right after this many responses.
    per_conn: Option<usize>,
    /// After this many responses, read the next request and close without answering.
    hang_up_after: Option<usize>,
}

impl Default for Cfg {
    fn default() -> Self {
        Cfg {
            mode: Mode::Http,
            status: 200,
            delay: Duration::ZERO,
            first_delay: None,
            served_by: Some("test"),
            expect_host: None,
            body: b"ok\n".to_vec(),
            per_conn: None,
            hang_up_after: None,
        }
    }
}

struct Server {
    addr: SocketAddr,
    /// Request heads as received, in order.
    requests: Arc<Mutex<Vec<String>>>,
    conns: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    async fn start(cfg: Cfg) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let conns = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(AtomicUsize::new(0));
        let cfg = Arc::new(cfg);
        let (r, c) = (requests.clone(), conns.clone());
        let task = tokio::spawn(async move {
            let mut handlers = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                handlers.spawn(serve(stream, cfg.clone(), r.clone(), seen.clone()));
                while handlers.try_join_next().is_some() {}
            }
        });
        Server {
            addr,
            requests,
            conns,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn target(&self) -> Target {
        Target::from_url("test", &self.url()).unwrap()
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Reads one request head; `None` on EOF or an oversized head.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn serve(
    mut stream: TcpStream,
    cfg: Arc<Cfg>,
    requests: Arc<Mutex<Vec<String>>>,
    seen: Arc<AtomicUsize>,
) {
    match cfg.mode {
        Mode::CloseAtOnce => return,
        Mode::Garbage => {
            let _ = read_head(&mut stream).await;
            let _ = stream.write_all(b"hello, this is not http\r\n\r\n").await;
            return;
        }
        Mode::Silent => {
            let _ = read_head(&mut stream).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        Mode::Stream => {
            let Some(head) = read_head(&mut stream).await else {
                return;
            };
            requests.lock().unwrap().push(head);
            let h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nx-served-by: metro1\r\n\r\n";
            if stream.write_all(h.as_bytes()).await.is_err() {
                return;
            }
            for _ in 0..100 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if stream.write_all(b"6\r\nevent\n\r\n").await.is_err() {
                    return;
                }
            }
            return;
        }
        Mode::Http => {}
    }
    for answered in 0..1000usize {
        let Some(head) = read_head(&mut stream).await else {
            return;
        };
        requests.lock().unwrap().push(head.clone());
        if cfg.hang_up_after == Some(answered) {
            return;
        }
        let delay = match (seen.fetch_add(1, Ordering::SeqCst), cfg.first_delay) {
            (0, Some(d)) => d,
            _ => cfg.delay,
        };
        tokio::time::sleep(delay).await;
        let host_ok = cfg
            .expect_host
            .as_deref()
            .is_none_or(|h| header(&head, "host") == Some(h));
        let status = if host_ok { cfg.status } else { 400 };
        let client_close = header(&head, "connection").is_some_and(|v| v == "close");
        let last = client_close || cfg.per_conn == Some(answered + 1);
        let mut resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n{}{}\r\n",
            cfg.body.len(),
            cfg.served_by
                .map(|s| format!("x-served-by: {s}\r\n"))
                .unwrap_or_default(),
            if client_close {
                "Connection: close\r\n"
            } else {
                ""
            },
        )
        .into_bytes();
        if head.starts_with("GET ") {
            resp.extend_from_slice(&cfg.body);
        }
        if stream.write_all(&resp).await.is_err() || last {
            return;
        }
    }
}

fn opts(timeout_ms: u64) -> ProbeOptions {
    ProbeOptions {
        timeout: Duration::from_millis(timeout_ms),
        ..ProbeOptions::default()
    }
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("test took too long")
}

#[tokio::test]
async fn probe_once_measures_a_cold_head() {
    bounded(async {
        let srv = Server::start(Cfg {
            delay: Duration::from_millis(50),
            ..Cfg::default()
        })
        .await;
        let s = probe_once(&srv.target(), &opts(2000), 7).await;
        assert!(s.ok(), "{s:?}");
        assert_eq!(s.seq, 7);
        assert_eq!(s.status, Some(200));
        assert_eq!(s.served_by.as_deref(), Some("test"));
        assert_eq!(s.peer, Some(srv.addr));
        assert!(!s.reconnected);
        let (connect, ttfb, total) = (s.connect.unwrap(), s.ttfb.unwrap(), s.total.unwrap());
        assert!(ttfb >= Duration::from_millis(50), "{s:?}");
        assert!(connect < ttfb && ttfb <= total, "{s:?}");
        assert!(s.ttfb_ms().unwrap() >= 50.0);
        let reqs = srv.requests();
        assert_eq!(reqs.len(), 1);
        let head = &reqs[0];
        assert!(head.starts_with("HEAD / HTTP/1.1\r\n"), "{head}");
        let host = srv.addr.to_string();
        assert_eq!(header(head, "host"), Some(host.as_str()));
        assert_eq!(header(head, "connection"), Some("close"));
        assert_eq!(header(head, "user-agent"), Some("platform-tui"));
    })
    .await;
}

#[tokio::test]
async fn probe_connect_to_keeps_the_host_header() {
    bounded(async {
        let srv = Server::start(Cfg {
            expect_host: Some("anycast.test:8080".to_string()),
            ..Cfg::default()
        })
        .await;
        // anycast.test is never resolved: the probe connects to the pinned address.
        let target = Target::from_url("anycast", "http://anycast.test:8080/health?x=1")
            .unwrap()
            .connect_to(srv.addr);
        let s = probe_once(&target, &opts(2000), 0).await;
        assert_eq!(s.status, Some(200), "{s:?}");
        assert_eq!(s.peer, Some(srv.addr));
        assert!(srv.requests()[0].starts_with("HEAD /health?x=1 HTTP/1.1\r\n"));
        // And a wrong Host is noticed by the server (non-2xx is still a sample).
        let target = Target::from_url("other", "http://other.test:8080/")
            .unwrap()
            .connect_to(srv.addr);
        let s = probe_once(&target, &opts(2000), 1).await;
        assert!(s.ok());
        assert_eq!(s.status, Some(400));
    })
    .await;
}

#[tokio::test]
async fn probe_non_2xx_is_a_sample_and_custom_header() {
    bounded(async {
        let srv = Server::start(Cfg {
            status: 503,
            served_by: None,
            ..Cfg::default()
        })
        .await;
        let s = probe_once(&srv.target(), &opts(2000), 0).await;
        assert!(s.ok(), "{s:?}");
        assert_eq!((s.status, s.served_by.as_deref()), (Some(503), None));

        let srv = Server::start(Cfg {
            served_by: Some("  am  "),
            ..Cfg::default()
        })
        .await;
        let s = probe_once(
            &srv.target().with_served_by_header("X-Served-By"),
            &opts(2000),
            0,
        )
        .await;
        assert_eq!(s.served_by.as_deref(), Some("am"));
        let s = probe_once(
            &srv.target().with_served_by_header("x-site"),
            &opts(2000),
            0,
        )
        .await;
        assert_eq!(s.served_by, None);
    })
    .await;
}

#[tokio::test]
async fn probe_get_drains_the_body() {
    bounded(async {
        let srv = Server::start(Cfg {
            delay: Duration::from_millis(20),
            body: vec![b'x'; 256 * 1024],
            ..Cfg::default()
        })
        .await;
        let o = ProbeOptions {
            method: Method::Get,
            ..opts(2000)
        };
        let s = probe_once(&srv.target(), &o, 0).await;
        assert!(s.ok(), "{s:?}");
        assert!(s.total.unwrap() >= s.ttfb.unwrap());
        assert!(s.ttfb.unwrap() >= Duration::from_millis(20));
        assert!(srv.requests()[0].starts_with("GET / HTTP/1.1\r\n"));
    })
    .await;
}

/// Field case 15: a GET whose body streams past the timeout is an answer timed to its
/// first byte, not a loss.
#[tokio::test]
async fn probe_get_times_the_head_of_a_streaming_body() {
    bounded(async {
        let srv = Server::start(Cfg {
            mode: Mode::Stream,
            ..Cfg::default()
        })
        .await;
        for keep_alive in [false, true] {
            let o = ProbeOptions {
                method: Method::Get,
                keep_alive,
                ..opts(1000)
            };
            let s = probe_once(&srv.target(), &o, 0).await;
            assert!(s.ok(), "{s:?}");
            assert_eq!(s.error, None);
            assert!(s.ttfb.unwrap() < Duration::from_millis(500), "{s:?}");
            assert_eq!(s.served_by.as_deref(), Some("metro1"));
            assert_eq!(s.total, None, "the body was not read to its end");
        }
    })
    .await;
}

#[tokio::test]
async fn probe_get_reads_at_most_max_body() {
    bounded(async {
        let srv = Server::start(Cfg {
            body: vec![b'x'; platform_tui::probe::MAX_BODY + 4096],
            ..Cfg::default()
        })
        .await;
        let o = ProbeOptions {
            method: Method::Get,
            ..opts(2000)
        };
        let s = probe_once(&srv.target(), &o, 0).await;
        assert!(s.ok(), "{s:?}");
        assert_eq!(s.total, None);
    })
    .await;
}

#[tokio::test]
async fn probe_localhost_resolves_inside_the_probe() {
    bounded(async {
        let srv = Server::start(Cfg::default()).await;
        // localhost may resolve to ::1 first (nothing listens there): the next address is
        // tried.
        let url = format!("http://localhost:{}/", srv.addr.port());
        let s = probe_once(&Target::from_url("lh", &url).unwrap(), &opts(2000), 0).await;
        assert!(s.ok(), "{s:?}");
        assert_eq!(s.peer, Some(srv.addr));
        let host = format!("localhost:{}", srv.addr.port());
        assert_eq!(header(&srv.requests()[0], "host"), Some(host.as_str()));
    })
    .await;
}

#[tokio::test]
async fn probe_keep_alive_reuses_then_reconnects() {
    bounded(async {
        // The server closes each connection after two responses.
        let srv = Server::start(Cfg {
            per_conn: Some(2),
            ..Cfg::default()
        })
        .await;
        let o = ProbeOptions {
            keep_alive: true,
            ..opts(2000)
        };
        let mut p = Prober::new(srv.target(), o);
        let s0 = p.probe(0).await;
        assert!(s0.ok() && s0.connect.is_some() && !s0.reconnected, "{s0:?}");
        let s1 = p.probe(1).await;
        assert!(s1.ok(), "{s1:?}");
        assert_eq!((s1.connect, s1.reconnected), (None, false), "{s1:?}");
        assert_eq!(s1.peer, Some(srv.addr));
        assert_eq!(srv.conns.load(Ordering::SeqCst), 1);
        // The server has closed, or is closing, the connection: whether the client sees
        // that before it sends or by the failure of the send (then it retries), the next
        // probe opens a new connection.
        let s2 = p.probe(2).await;
        assert!(s2.ok(), "{s2:?}");
        assert!(s2.connect.is_some() && s2.reconnected, "{s2:?}");
        assert_eq!(srv.conns.load(Ordering::SeqCst), 2);
        let reqs = srv.requests();
        assert!(reqs.iter().all(|r| header(r, "connection").is_none()));
    })
    .await;
}

#[tokio::test]
async fn probe_keep_alive_retries_once_on_a_stale_connection() {
    bounded(async {
        // Answers one request per connection, then reads the next and hangs up.
        let srv = Server::start(Cfg {
            hang_up_after: Some(1),
            ..Cfg::default()
        })
        .await;
        let o = ProbeOptions {
            keep_alive: true,
            ..opts(2000)
        };
        let mut p = Prober::new(srv.target(), o);
        let s0 = p.probe(0).await;
        assert!(s0.ok() && !s0.reconnected, "{s0:?}");
        let s1 = p.probe(1).await;
        assert!(s1.ok(), "{s1:?}");
        assert!(s1.reconnected && s1.connect.is_some(), "{s1:?}");
        assert_eq!(srv.conns.load(Ordering::SeqCst), 2);
        assert_eq!(srv.requests().len(), 3);
    })
    .await;
}

#[tokio::test]
async fn probe_prober_cold_mode_opens_a_connection_each_time() {
    bounded(async {
        let srv = Server::start(Cfg::default()).await;
        let mut p = Prober::new(srv.target(), opts(2000));
        for seq in 0..3 {
            let s = p.probe(seq).await;
            assert!(s.ok() && s.connect.is_some() && !s.reconnected, "{s:?}");
        }
        assert_eq!(srv.conns.load(Ordering::SeqCst), 3);
    })
    .await;
}

/// A probe that gets no answer is a loss that says why: no first byte, no sample.
#[tokio::test]
async fn probe_failures_are_losses_of_their_kind() {
    use ErrorKind::{Closed, Http, Refused, Reset, Timeout};
    // What the other end does (`None`: nothing listens), the probe's timeout, and what the
    // failure may be called (a garbage answer may be read or cut off by the close first).
    let cases: [(Option<Mode>, u64, &[ErrorKind]); 4] = [
        (Some(Mode::Silent), 300, &[Timeout]),
        (None, 2000, &[Refused]),
        (Some(Mode::Garbage), 2000, &[Http, Closed]),
        (Some(Mode::CloseAtOnce), 2000, &[Closed, Reset]),
    ];
    for (mode, timeout_ms, kinds) in cases {
        bounded(async {
            let srv = match mode {
                Some(mode) => Some(
                    Server::start(Cfg {
                        mode,
                        ..Cfg::default()
                    })
                    .await,
                ),
                None => None,
            };
            let target = match &srv {
                Some(srv) => srv.target(),
                None => {
                    let addr = {
                        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                        l.local_addr().unwrap()
                    };
                    Target::from_url("gone", &format!("http://{addr}/")).unwrap()
                }
            };
            let t = Instant::now();
            let s = probe_once(&target, &opts(timeout_ms), 0).await;
            let took = t.elapsed();
            assert!(
                s.error.as_ref().is_some_and(|e| kinds.contains(e)),
                "{mode:?}: {s:?}"
            );
            assert!(
                !s.ok() && s.ttfb.is_none() && s.ttfb_ms().is_none(),
                "{mode:?}: {s:?}"
            );
            match mode {
                None => assert_eq!((s.connect, s.total), (None, None), "{s:?}"),
                Some(Mode::Silent) => {
                    assert!(s.connect.is_some(), "connected before timing out: {s:?}");
                    assert!(
                        took >= Duration::from_millis(300) && took < Duration::from_millis(800),
                        "{took:?}"
                    );
                }
                Some(_) => {}
            }
        })
        .await;
    }
}

/// Collects samples with their arrival time since `t0` until the channel closes.
async fn collect(
    mut rx: mpsc::UnboundedReceiver<ProbeSample>,
    t0: Instant,
) -> Vec<(ProbeSample, Duration)> {
    let mut got = Vec::new();
    while let Some(s) = rx.recv().await {
        got.push((s, t0.elapsed()));
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_schedule_slow_probe_does_not_delay_the_next() {
    bounded(async {
        let srv = Server::start(Cfg {
            first_delay: Some(Duration::from_millis(500)),
            ..Cfg::default()
        })
        .await;
        let (tx, rx) = mpsc::unbounded_channel();
        let t0 = Instant::now();
        let h = spawn_schedule(
            srv.target(),
            opts(2000),
            Duration::from_millis(100),
            Some(5),
            tx,
            |s| s,
        );
        let got = collect(rx, t0).await;
        h.await.unwrap();
        let seqs: Vec<u64> = got.iter().map(|(s, _)| s.seq).collect();
        let mut sorted = seqs.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![0, 1, 2, 3, 4], "count respected: {seqs:?}");
        assert!(got.iter().all(|(s, _)| s.ok()), "{got:?}");
        let pos = |q: u64| seqs.iter().position(|s| *s == q).unwrap();
        assert!(
            pos(1) < pos(0),
            "seq 1 arrives before the slow seq 0: {seqs:?}"
        );
        for (s, at) in &got {
            if s.seq == 0 {
                assert!(*at >= Duration::from_millis(500), "{at:?}");
            } else {
                // Started on the clock (k * 100 ms), answered at once.
                let due = Duration::from_millis(100 * s.seq);
                assert!(
                    *at >= due && *at < due + Duration::from_millis(80),
                    "seq {} arrived at {at:?}",
                    s.seq
                );
            }
        }
        assert_eq!(srv.conns.load(Ordering::SeqCst), 5);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_schedule_keep_alive_busy_connection_opens_another() {
    bounded(async {
        let srv = Server::start(Cfg {
            first_delay: Some(Duration::from_millis(300)),
            ..Cfg::default()
        })
        .await;
        let (tx, rx) = mpsc::unbounded_channel();
        let o = ProbeOptions {
            keep_alive: true,
            ..opts(2000)
        };
        let h = spawn_schedule(
            srv.target(),
            o,
            Duration::from_millis(100),
            Some(3),
            tx,
            |s| s,
        );
        let mut got: Vec<ProbeSample> = collect(rx, Instant::now())
            .await
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        h.await.unwrap();
        got.sort_by_key(|s| s.seq);
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(ProbeSample::ok), "{got:?}");
        // seq 0 opens the first connection and is slow; seq 1 finds it busy.
        assert!(
            got[0].connect.is_some() && !got[0].reconnected,
            "{:?}",
            got[0]
        );
        assert!(
            got[1].connect.is_some() && got[1].reconnected,
            "{:?}",
            got[1]
        );
        // seq 2 reuses the connection seq 1 gave back.
        assert!(
            got[2].connect.is_none() && !got[2].reconnected,
            "{:?}",
            got[2]
        );
        assert_eq!(srv.conns.load(Ordering::SeqCst), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_schedule_unbounded_stops_when_the_receiver_goes() {
    bounded(async {
        let srv = Server::start(Cfg::default()).await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let h = spawn_schedule(
            srv.target(),
            opts(2000),
            Duration::from_millis(20),
            None,
            tx,
            |s| s,
        );
        for _ in 0..3 {
            assert!(rx.recv().await.unwrap().ok());
        }
        drop(rx);
        tokio::time::timeout(Duration::from_secs(1), h)
            .await
            .expect("schedule did not stop")
            .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_schedule_timeouts_are_losses_on_time() {
    bounded(async {
        let srv = Server::start(Cfg {
            mode: Mode::Silent,
            ..Cfg::default()
        })
        .await;
        let (tx, rx) = mpsc::unbounded_channel();
        let t0 = Instant::now();
        let h = spawn_schedule(
            srv.target(),
            opts(200),
            Duration::from_millis(50),
            Some(4),
            tx,
            |s| s,
        );
        let got = collect(rx, t0).await;
        h.await.unwrap();
        assert_eq!(got.len(), 4);
        for (s, at) in &got {
            assert_eq!(s.error, Some(ErrorKind::Timeout));
            let due = Duration::from_millis(50 * s.seq + 200);
            assert!(
                *at >= due && *at < due + Duration::from_millis(150),
                "{at:?}"
            );
        }
        // Aborting the schedule is also fine at any time.
        let (tx, _rx) = mpsc::unbounded_channel();
        let h = spawn_schedule(
            srv.target(),
            opts(200),
            Duration::from_millis(50),
            None,
            tx,
            |s| s,
        );
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
    })
    .await;
}

/// A server that answers every connection's request with `answer`, then, when `flood`,
/// keeps sending filler without closing. Its task ends with the test.
async fn answer_with(answer: &'static [u8], flood: bool) -> (Target, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = read_head(&mut stream).await;
                if stream.write_all(answer).await.is_err() {
                    return;
                }
                while flood && stream.write_all(&[b'x'; 4096]).await.is_ok() {}
            });
        }
    });
    (Target::from_url("raw", &url).unwrap(), task)
}

#[tokio::test]
async fn probe_head_skips_an_interim_answer() {
    bounded(async {
        let (target, task) = answer_with(
            b"HTTP/1.1 103 Early Hints\r\nx-served-by: hint\r\n\r\n\
              HTTP/1.1 200 OK\r\nx-served-by:  final \r\nConnection: close\r\n\r\n",
            false,
        )
        .await;
        let s = probe_once(&target, &opts(2000), 0).await;
        assert!(s.ok(), "{s:?}");
        assert_eq!(s.status, Some(200));
        assert_eq!(s.served_by.as_deref(), Some("final"));
        task.abort();
    })
    .await;
}

#[tokio::test]
async fn probe_head_endless_or_malformed_heads_are_protocol_errors() {
    bounded(async {
        // A head that never ends: refused once it passes the bound, long before the
        // timeout.
        let (target, task) = answer_with(b"HTTP/1.1 200 OK\r\n", true).await;
        let t = Instant::now();
        let s = probe_once(&target, &opts(5000), 0).await;
        assert_eq!(s.error, Some(ErrorKind::Http), "{s:?}");
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        task.abort();
        for bad in [
            &b"HTTP/1.1 2000 OK\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
            b"\xff\xfe\r\n\r\n",
        ] {
            let (target, task) = answer_with(bad, false).await;
            let s = probe_once(&target, &opts(2000), 0).await;
            assert_eq!(s.error, Some(ErrorKind::Http), "{bad:?}: {s:?}");
            assert!(s.ttfb.is_none());
            task.abort();
        }
    })
    .await;
}

#[tokio::test]
async fn probe_head_answer_is_delivered_while_the_server_keeps_sending() {
    bounded(async {
        let (target, task) = answer_with(b"HTTP/1.1 200 OK\r\nx-served-by: am\r\n\r\n", true).await;
        let t = Instant::now();
        let s = probe_once(&target, &opts(2000), 0).await;
        assert!(s.ok(), "{s:?}");
        assert_eq!(s.served_by.as_deref(), Some("am"));
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        task.abort();
    })
    .await;
}
