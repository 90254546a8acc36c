//! The Nomad client against an in-test HTTP/1.1 server on 127.0.0.1:0 that
//! speaks the reference's wire format: blocking queries, the NDJSON event
//! stream, framed logs, and the failure modes (403, 500, bad JSON, slow
//! server, refused connection). Every wait is bounded.
#![allow(clippy::unwrap_used)]

use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use platform_tui::domain::nomad::AllocState;
use platform_tui::nomad::events::{StreamItem, StreamOptions};
use platform_tui::nomad::logs::{LogChunk, LogKind};
use platform_tui::nomad::watch::{spawn_watch_with, WatchOptions};
use platform_tui::nomad::{
    snapshot, spawn_watch, Client, NomadError, NomadSnapshot, QueryOptions, Settings,
};
use serde_json::json;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = UnsyncBoxBody<Bytes, BoxError>;

const STEP: Duration = Duration::from_secs(5);

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: Vec<(String, String)>,
    token: Option<String>,
}

impl Seen {
    fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn qs(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn wait(&self) -> Option<Duration> {
        let w = self.q("wait")?;
        if let Some(ms) = w.strip_suffix("ms") {
            return Some(Duration::from_millis(ms.parse().ok()?));
        }
        Some(Duration::from_secs(w.strip_suffix('s')?.parse().ok()?))
    }

    fn index(&self) -> u64 {
        self.q("index").and_then(|i| i.parse().ok()).unwrap_or(0)
    }
}

struct TestServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestServer {
    async fn start<F, Fut>(handler: F) -> TestServer
    where
        F: Fn(Seen) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<Body>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let log = seen.clone();
        // The accept loop ends with the test's runtime.
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let handler = handler.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let handler = handler.clone();
                        let log = log.clone();
                        async move {
                            let url =
                                reqwest::Url::parse(&format!("http://t{}", req.uri())).unwrap();
                            let seen = Seen {
                                path: url.path().to_string(),
                                query: url
                                    .query_pairs()
                                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                                    .collect(),
                                token: req
                                    .headers()
                                    .get("x-nomad-token")
                                    .map(|v| v.to_str().unwrap().to_string()),
                            };
                            log.lock().unwrap().push(seen.clone());
                            Ok::<_, Infallible>(handler(seen).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        TestServer { addr, seen }
    }

    fn settings(&self) -> Settings {
        Settings {
            address: format!("http://{}", self.addr),
            timeout: Duration::from_secs(2),
            ..Settings::default()
        }
    }

    fn client(&self) -> Client {
        Client::new(self.settings()).unwrap()
    }

    fn requests(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

fn respond(status: u16, body: impl Into<Bytes>, index: Option<u64>) -> Response<Body> {
    let mut b = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(i) = index {
        b = b
            .header("X-Nomad-Index", i.to_string())
            .header("X-Nomad-KnownLeader", "true")
            .header("X-Nomad-LastContact", "0");
    }
    b.body(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed_unsync(),
    )
    .unwrap()
}

/// A body fed by the test through a channel; an `Err` aborts the connection.
fn streaming(rx: mpsc::Receiver<Result<Bytes, BoxError>>) -> Response<Body> {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item.map(Frame::data), rx))
    });
    Response::builder()
        .status(200)
        .body(BodyExt::boxed_unsync(StreamBody::new(stream)))
        .unwrap()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/nomad/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn alloc_json(id: &str, status: &str) -> serde_json::Value {
    json!({"ID": id, "Name": "app.app[0]", "Namespace": "default", "JobID": "app",
           "TaskGroup": "app", "DesiredStatus": "run", "ClientStatus": status,
           "NodeID": "n1", "NodeName": "fermyon", "CreateIndex": 1, "ModifyIndex": 1})
}

/// A tiny cluster: one global index and the three lists, with blocking
/// semantics (hold until the index passes the one sent, or `wait`).
#[derive(Clone)]
struct Cluster {
    index: u64,
    jobs: serde_json::Value,
    allocs: serde_json::Value,
    nodes: serde_json::Value,
    leader: String,
    fail_allocs: bool,
}

impl Cluster {
    fn new(index: u64, alloc_status: &str) -> Self {
        Cluster {
            index,
            jobs: json!([{"ID": "app", "Name": "app", "Type": "service", "Status": "running"}]),
            allocs: json!([alloc_json(
                "a1b2c3d4-0000-4000-8000-000000000001",
                alloc_status
            )]),
            nodes: json!([{"ID": "n1", "Name": "fermyon", "Status": "ready"}]),
            leader: "127.0.0.1:4647".into(),
            fail_allocs: false,
        }
    }
}

async fn cluster_server(state: watch::Receiver<Cluster>) -> TestServer {
    TestServer::start(move |req| {
        let mut rx = state.clone();
        async move {
            if req.path == "/v1/status/leader" {
                return respond(200, json!(rx.borrow().leader).to_string(), None);
            }
            if req.path == "/v1/agent/self" {
                return respond(200, fixture("agent_self.json"), None);
            }
            // An agent without an event stream (the watch then blocks on the lists).
            if !["/v1/jobs", "/v1/allocations", "/v1/nodes"].contains(&req.path.as_str()) {
                return respond(404, "Not Found", None);
            }
            let sent = req.index();
            if sent > 0 {
                let wait = req.wait().unwrap_or(Duration::from_secs(300));
                let _ = tokio::time::timeout(wait, rx.wait_for(|c| c.index > sent)).await;
            }
            let c = rx.borrow().clone();
            let body = match req.path.as_str() {
                "/v1/jobs" => &c.jobs,
                "/v1/allocations" if c.fail_allocs => {
                    return respond(500, "rpc error: boom", None);
                }
                "/v1/allocations" => &c.allocs,
                "/v1/nodes" => &c.nodes,
                _ => return respond(404, "Not Found", None),
            };
            respond(200, body.to_string(), Some(c.index))
        }
    })
    .await
}

fn job_ids(s: &NomadSnapshot) -> Vec<String> {
    s.jobs
        .value
        .iter()
        .flat_map(|j| j.iter())
        .map(|j| j.id.to_string())
        .collect()
}

fn alloc_rows(s: &NomadSnapshot) -> Vec<platform_tui::domain::nomad::AllocRow> {
    s.allocs
        .value
        .iter()
        .flat_map(|a| a.rows.iter().cloned())
        .collect()
}

fn running(s: &NomadSnapshot) -> Option<u64> {
    s.summary().allocs.map(|a| a.running)
}

async fn next<T>(rx: &mut mpsc::Receiver<T>) -> T {
    tokio::time::timeout(STEP, rx.recv())
        .await
        .expect("timed out waiting for an item")
        .expect("channel closed")
}

/// Receive snapshots until one satisfies `pred` (bounded by `within`).
async fn snapshot_where(
    rx: &mut mpsc::UnboundedReceiver<NomadSnapshot>,
    within: Duration,
    pred: impl Fn(&NomadSnapshot) -> bool,
) -> NomadSnapshot {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let s = tokio::time::timeout(left, rx.recv())
            .await
            .expect("no matching snapshot in time")
            .expect("watch ended");
        if pred(&s) {
            return s;
        }
    }
}

/// Poll `cond` until it holds (bounded by [`STEP`]).
async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + STEP;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------
// Blocking queries
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_query_holds_until_the_index_changes() {
    let (tx, rx) = watch::channel(Cluster::new(10, "running"));
    let server = cluster_server(rx).await;
    let client = server.client();

    let first = client.allocations(QueryOptions::default()).await.unwrap();
    assert_eq!(first.index, 10);
    assert_eq!(first.known_leader, Some(true));
    assert_eq!(first.last_contact_ms, Some(0));
    assert_eq!(first.value.rows[0].client.as_str(), "running");

    let c2 = client.clone();
    let pending = tokio::spawn(async move {
        c2.allocations(QueryOptions::blocking(10, Duration::from_secs(5)))
            .await
    });
    // The server holds the request: it was seen, and it has not been answered.
    wait_until("the blocking query reaches the server", || {
        server.requests("/v1/allocations").len() == 2
    })
    .await;
    assert!(!pending.is_finished(), "answered before the index moved");
    tx.send_modify(|c| {
        c.index = 11;
        c.allocs = json!([alloc_json("a1b2c3d4-0000-4000-8000-000000000001", "failed")]);
    });
    let second = tokio::time::timeout(STEP, pending)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(second.index, 11);
    assert_eq!(second.value.rows[0].client.as_str(), "failed");

    let reqs = server.requests("/v1/allocations");
    assert_eq!(reqs[0].q("index"), None, "first list is not blocking");
    assert_eq!(reqs[1].q("index"), Some("10"));
    assert_eq!(reqs[1].q("wait"), Some("5s"));
    assert_eq!(reqs[1].q("task_states"), Some("false"));
    assert_eq!(reqs[1].q("namespace"), Some("*"));

    // Nothing changes: the server returns after `wait` with the same index.
    let started = Instant::now();
    let same = client
        .allocations(QueryOptions::blocking(11, Duration::from_millis(300)))
        .await
        .unwrap();
    assert_eq!(same.index, 11);
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(
        server.requests("/v1/allocations")[2].q("wait"),
        Some("300ms")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_timeout_covers_wait_plus_jitter() {
    // The server answers after 450 ms: longer than `wait` (300 ms) and than the
    // ordinary timeout (300 ms), but within wait*17/16 + timeout.
    let server = TestServer::start(|_| async {
        tokio::time::sleep(Duration::from_millis(450)).await;
        respond(200, "[]", Some(3))
    })
    .await;
    let client = Client::new(Settings {
        timeout: Duration::from_millis(300),
        ..server.settings()
    })
    .unwrap();
    let r = client
        .nodes(QueryOptions::blocking(2, Duration::from_millis(300)))
        .await
        .unwrap();
    assert_eq!(r.index, 3);
    // The same delay on an ordinary request is a timeout.
    assert_eq!(
        client.nodes(QueryOptions::default()).await,
        Err(NomadError::Timeout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_going_backwards_is_reported_and_the_watch_resets() {
    let (tx, rx) = watch::channel(Cluster::new(50, "running"));
    let server = cluster_server(rx).await;
    let client = server.client();

    // The dev agent restarts: state wiped, index back to 3.
    tx.send_modify(|c| {
        c.index = 3;
        c.jobs = json!([{"ID": "fresh", "Name": "fresh", "Status": "pending"}]);
    });
    let r = client
        .jobs(QueryOptions::blocking(50, Duration::from_millis(200)))
        .await
        .unwrap();
    assert_eq!(r.index, 3, "the client reports the lower index as received");

    // The watch, started before the restart, must re-list from index 0.
    tx.send_modify(|c| {
        c.index = 50;
        c.jobs = json!([{"ID": "old", "Name": "old", "Status": "running"}]);
    });
    let (stx, mut srx) = mpsc::unbounded_channel();
    let opts = WatchOptions {
        backoff_start: Duration::from_millis(50),
        ..WatchOptions::new(Duration::from_millis(400))
    };
    let before = server.requests("/v1/jobs").len();
    let handle = spawn_watch_with(client, opts, stx);
    let s = snapshot_where(&mut srx, STEP, |_| true).await;
    assert_eq!(job_ids(&s), ["old"]);
    // The watch blocks on index 50 before the agent "restarts".
    wait_until("the watch's blocking query on /v1/jobs", || {
        server.requests("/v1/jobs")[before..]
            .iter()
            .any(|r| r.index() == 50)
    })
    .await;
    tx.send_modify(|c| {
        c.index = 3;
        c.jobs = json!([{"ID": "fresh", "Name": "fresh", "Status": "pending"}]);
    });
    let s = snapshot_where(&mut srx, STEP, |s| job_ids(s) == ["fresh"]).await;
    assert_eq!(s.error, None);
    // The data of the lower-index answer is applied at once; the re-list
    // without an index follows it.
    let deadline = Instant::now() + STEP;
    loop {
        let jobs = server.requests("/v1/jobs").split_off(before);
        let went_back = jobs
            .windows(2)
            .any(|w| w[0].index() == 50 && w[1].index() == 0);
        if went_back {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no re-list after the index went backwards: {jobs:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(srx);
    tokio::time::timeout(STEP, handle).await.unwrap().unwrap();
}

// ---------------------------------------------------------------------------
// Errors, auth, parameters
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_codes_and_bad_json_map_to_errors() {
    let server = TestServer::start(|req| async move {
        match req.path.as_str() {
            "/v1/nodes" => respond(403, "Permission denied", None),
            "/v1/jobs" => respond(500, "x".repeat(1000), None),
            "/v1/allocations" => respond(200, "[{\"ID\": ", Some(1)),
            "/v1/status/leader" => respond(200, "\"\"", None),
            _ => respond(404, "", None),
        }
    })
    .await;
    let client = server.client();
    let q = QueryOptions::default();

    let e = client.nodes(q).await.unwrap_err();
    assert_eq!(e, NomadError::Forbidden("Permission denied".into()));
    assert_eq!(e.to_string(), "403 Permission denied");

    match client.jobs(q).await.unwrap_err() {
        NomadError::Http { status, body } => {
            assert_eq!(status, 500);
            assert!(body.chars().count() <= 201, "{}", body.len());
        }
        other => panic!("{other:?}"),
    }

    let e = client.allocations(q).await.unwrap_err();
    assert!(matches!(e, NomadError::Decode(_)), "{e:?}");
    assert!(e.to_string().starts_with("bad JSON from nomad: "), "{e}");

    assert_eq!(client.leader().await.unwrap(), None);
    assert!(matches!(
        client.allocation("nope").await,
        Err(NomadError::Http { status: 404, .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_server_times_out_within_bounds() {
    let server = TestServer::start(|_| async {
        tokio::time::sleep(Duration::from_secs(10)).await;
        respond(200, "[]", Some(1))
    })
    .await;
    let client = Client::new(Settings {
        timeout: Duration::from_millis(300),
        ..server.settings()
    })
    .unwrap();
    let started = Instant::now();
    assert_eq!(
        client.jobs(QueryOptions::default()).await,
        Err(NomadError::Timeout)
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let snap = snapshot(&client).await;
    assert!(snap.error.is_some());
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connection_is_connect() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let client = Client::new(Settings {
        address: format!("http://{addr}"),
        timeout: Duration::from_secs(2),
        ..Settings::default()
    })
    .unwrap();
    let e = client.leader().await.unwrap_err();
    assert_eq!(e, NomadError::Connect("connection refused".into()));
    assert_eq!(e.to_string(), "nomad unreachable: connection refused");
    let snap = snapshot(&client).await;
    assert_eq!(
        snap.error.as_deref(),
        Some("nomad unreachable: connection refused")
    );
    assert_eq!(snap.summary().leader, None, "unknown, not `no leader`");
    assert_eq!(snap.summary().allocs, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_sent_as_header_and_never_shown() {
    const TOKEN: &str = "9f1c2e3d-secret-acl-token-4b5a";
    let server = TestServer::start(|req| async move {
        match req.path.as_str() {
            // A server that echoes the token must not leak it either.
            "/v1/jobs" => respond(403, format!("ACL token {TOKEN} not found"), None),
            "/v1/nodes" => respond(200, format!("{{\"bad\": \"{TOKEN}\""), Some(1)),
            "/v1/allocations" => respond(500, format!("no such token {TOKEN}"), None),
            "/v1/status/leader" => respond(200, "\"127.0.0.1:4647\"", None),
            _ => respond(200, "[]", Some(1)),
        }
    })
    .await;
    let settings = Settings {
        token: Some(TOKEN.into()),
        region: Some("global".into()),
        namespace: "default".into(),
        ..server.settings()
    };
    let client = Client::new(settings.clone()).unwrap();
    let q = QueryOptions::default();
    let errors = [
        client.jobs(q).await.unwrap_err(),
        client.nodes(q).await.unwrap_err(),
        client.allocations(q).await.unwrap_err(),
    ];
    assert!(matches!(errors[0], NomadError::Forbidden(_)));
    for e in &errors {
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains(TOKEN), "{text}");
        }
    }
    for text in [format!("{settings:?}"), format!("{client:?}")] {
        assert!(!text.contains(TOKEN), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
    let snap = snapshot(&client).await;
    assert!(!snap.error.unwrap().contains(TOKEN));

    let jobs = server.requests("/v1/jobs");
    assert_eq!(jobs[0].token.as_deref(), Some(TOKEN));
    assert_eq!(jobs[0].q("region"), Some("global"));
    assert_eq!(jobs[0].q("namespace"), Some("default"));
    assert!(server
        .seen
        .lock()
        .unwrap()
        .iter()
        .all(|s| s.token.as_deref() == Some(TOKEN) && !s.query.iter().any(|(_, v)| v == TOKEN)));

    // Without a token no header is sent.
    let anon = server.client();
    anon.leader().await.unwrap();
    let last = server.requests("/v1/status/leader").pop().unwrap();
    assert_eq!(last.token, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_agent_allocation_and_job_allocations() {
    let server = TestServer::start(|req| async move {
        match req.path.as_str() {
            "/v1/status/leader" => respond(200, fixture("leader.json"), None),
            "/v1/agent/self" => respond(200, fixture("agent_self.json"), None),
            "/v1/allocation/2d9e4a61-7c3b-4f18-b0a5-6e1d8c2f9b47" => {
                respond(200, fixture("allocation.json"), Some(91))
            }
            "/v1/nodes" => respond(200, fixture("nodes.json"), Some(101)),
            "/v1/jobs" => respond(200, fixture("jobs.json"), Some(91)),
            "/v1/allocations" => respond(200, fixture("allocations.json"), Some(91)),
            _ => respond(404, "", None),
        }
    })
    .await;
    let client = server.client();
    assert_eq!(
        client.leader().await.unwrap().as_deref(),
        Some("145.40.97.17:4647")
    );
    let agent = client.agent_self().await.unwrap();
    assert_eq!(agent.stats["nomad"]["leader"], "true");
    assert_eq!(agent.config.version, "1.4.1");
    let a = client
        .allocation("2d9e4a61-7c3b-4f18-b0a5-6e1d8c2f9b47")
        .await
        .unwrap();
    assert_eq!(a.restarts(), 2);
    let snap = snapshot(&client).await;
    assert_eq!(snap.error, None);
    assert!(snap.agent.value.is_some());
    assert_eq!(job_ids(&snap).len(), 5);
    let s = snap.summary();
    assert_eq!(s.leader, Some(true));
    assert_eq!((s.nodes_ready, s.nodes_total), (Some(1), Some(2)));
    let a = s.allocs.unwrap();
    // The failed one was replaced (it has a NextAllocation): history, not attention.
    assert_eq!((a.running, a.failed, a.replaced, a.total), (2, 0, 1, 3));
}

// ---------------------------------------------------------------------------
// Event stream
// ---------------------------------------------------------------------------

fn event_line(frame_index: u64, event_indexes: &[u64]) -> String {
    let events: Vec<_> = event_indexes
        .iter()
        .map(|i| {
            json!({"Topic": "Allocation", "Type": "AllocationUpdated", "Key": format!("a{i}"),
                   "Namespace": "default", "FilterKeys": ["app"], "Index": i,
                   "Payload": {"Allocation": alloc_json(&format!("a{i}"), "running")}})
        })
        .collect();
    format!("{}\n", json!({"Index": frame_index, "Events": events}))
}

fn frame_indexes(item: &StreamItem) -> Vec<u64> {
    match item {
        StreamItem::Frame(f) => f.events.iter().map(|e| e.index).collect(),
        other => panic!("expected a frame, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stream_reconnects_resumes_and_drops_duplicates() {
    let conns = Arc::new(AtomicUsize::new(0));
    let second_body_gone = Arc::new(AtomicBool::new(false));
    let (c2, gone) = (conns.clone(), second_body_gone.clone());
    let server = TestServer::start(move |req| {
        let n = c2.fetch_add(1, Ordering::SeqCst);
        let gone = gone.clone();
        async move {
            assert_eq!(req.path, "/v1/event/stream");
            let (tx, rx) = mpsc::channel::<Result<Bytes, BoxError>>(8);
            tokio::spawn(async move {
                let send = |s: String| tx.send(Ok(Bytes::from(s)));
                if n == 0 {
                    // The frame at the index asked for (Nomad replays it), a frame
                    // split across two chunks, a heartbeat, a frame, a malformed
                    // line; then the body ends (after all of it was sent).
                    let _ = send(event_line(4, &[4])).await;
                    let line = event_line(5, &[5]);
                    let (a, b) = line.split_at(line.len() / 2);
                    let _ = send(a.to_string()).await;
                    let _ = send(b.to_string()).await;
                    let _ = send("{}\n".into()).await;
                    let _ = send(event_line(7, &[6, 7])).await;
                    let _ = send("this is not json\n".into()).await;
                } else {
                    // Resumed at 7: the replay of 7 (already applied), then 8.
                    let _ = send(event_line(7, &[6, 7])).await;
                    let _ = send(event_line(8, &[7, 8])).await;
                    // Heartbeats until the client goes away (bounded).
                    for _ in 0..100 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        if send("{}\n".into()).await.is_err() {
                            gone.store(true, Ordering::SeqCst);
                            return;
                        }
                    }
                }
            });
            streaming(rx)
        }
    })
    .await;
    let client = server.client();
    let opts = StreamOptions {
        read_timeout: Duration::from_secs(2),
        backoff_start: Duration::from_millis(50),
        ..StreamOptions::default()
    };
    let mut s = client.event_stream_with(&["Allocation", "Job"], 4, opts);
    let rx = &mut s.items;

    assert_eq!(
        next(rx).await,
        StreamItem::Connected {
            from_index: 4,
            continuous: true
        }
    );
    assert_eq!(
        frame_indexes(&next(rx).await),
        vec![5],
        "the replay of 4 is dropped"
    );
    assert_eq!(next(rx).await, StreamItem::Heartbeat);
    assert_eq!(frame_indexes(&next(rx).await), vec![6, 7]);
    assert!(matches!(
        next(rx).await,
        StreamItem::Error(NomadError::Decode(_))
    ));
    assert_eq!(
        next(rx).await,
        StreamItem::Connected {
            from_index: 7,
            continuous: true
        }
    );
    let item = next(rx).await;
    assert_eq!(frame_indexes(&item), vec![8], "duplicates must be dropped");
    if let StreamItem::Frame(f) = &item {
        assert!(f.events[0].payload().contains(r#""ID":"a8""#));
        assert_eq!(f.events[0].r#type, "AllocationUpdated");
    }
    assert_eq!(next(rx).await, StreamItem::Heartbeat);

    let reqs = server.requests("/v1/event/stream");
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].qs("topic"), vec!["Allocation", "Job"]);
    assert_eq!(reqs[0].q("index"), Some("4"));
    assert_eq!(reqs[0].q("namespace"), Some("*"));
    assert_eq!(reqs[1].q("index"), Some("7"), "resume from the last index");
    assert!(reqs.iter().all(|r| !r.qs("topic").contains(&"*")));

    // Dropping the stream ends the task and closes the connection.
    drop(s);
    wait_until("the stream to close after drop", || {
        second_body_gone.load(Ordering::SeqCst)
    })
    .await;
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stream_says_when_it_starts_past_its_index() {
    let conns = Arc::new(AtomicUsize::new(0));
    let c2 = conns.clone();
    let server = TestServer::start(move |_| {
        let n = c2.fetch_add(1, Ordering::SeqCst);
        async move {
            match n {
                // Nomad no longer holds 4: it starts at the oldest frame it has.
                0 => respond(200, event_line(9, &[9]), None),
                // The cluster was rebuilt: its newest frame is below the index.
                _ => respond(200, event_line(2, &[2]), None),
            }
        }
    })
    .await;
    let opts = StreamOptions {
        read_timeout: Duration::from_secs(2),
        backoff_start: Duration::from_millis(20),
        ..StreamOptions::default()
    };
    let mut s = server.client().event_stream_with(&["Allocation"], 4, opts);
    assert_eq!(
        next(&mut s.items).await,
        StreamItem::Connected {
            from_index: 4,
            continuous: false
        }
    );
    assert_eq!(frame_indexes(&next(&mut s.items).await), vec![9]);
    // The agent restarted with its state wiped: the newest frame it has is below the
    // index asked for. Not continuous, and its events are new, not replays.
    assert_eq!(
        next(&mut s.items).await,
        StreamItem::Connected {
            from_index: 9,
            continuous: false
        }
    );
    assert_eq!(frame_indexes(&next(&mut s.items).await), vec![2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stream_silence_triggers_reconnect_and_errors_back_off() {
    let conns = Arc::new(AtomicUsize::new(0));
    let c2 = conns.clone();
    let server = TestServer::start(move |_| {
        let n = c2.fetch_add(1, Ordering::SeqCst);
        async move {
            match n {
                // Silent: no heartbeat at all.
                0 => {
                    let (tx, rx) = mpsc::channel::<Result<Bytes, BoxError>>(1);
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        drop(tx);
                    });
                    streaming(rx)
                }
                1 => respond(403, "Permission denied", None),
                _ => respond(200, "{}\n", None),
            }
        }
    })
    .await;
    let client = server.client();
    let opts = StreamOptions {
        read_timeout: Duration::from_millis(300),
        backoff_start: Duration::from_millis(50),
        ..StreamOptions::default()
    };
    let started = Instant::now();
    let mut s = client.event_stream_with(&["Node"], 0, opts);
    let rx = &mut s.items;
    assert_eq!(next(rx).await, StreamItem::Error(NomadError::Timeout));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(
        next(rx).await,
        StreamItem::Error(NomadError::Forbidden(_))
    ));
    assert_eq!(
        next(rx).await,
        StreamItem::Connected {
            from_index: 0,
            continuous: false
        }
    );
    assert_eq!(next(rx).await, StreamItem::Heartbeat);

    // Topics are always named.
    let mut bad = client.event_stream(&[], 0);
    assert!(matches!(next(&mut bad.items).await, StreamItem::Error(_)));
    let mut star = client.event_stream(&["*"], 0);
    assert!(matches!(next(&mut star.items).await, StreamItem::Error(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stream_head_may_arrive_with_the_first_heartbeat() {
    // Nomad writes the response head only with the first frame; on a quiet
    // cluster that is the first heartbeat, long after the ordinary timeout.
    let server = TestServer::start(|_| async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        respond(200, format!("{{}}\n{}", event_line(3, &[3])), None)
    })
    .await;
    let client = Client::new(Settings {
        timeout: Duration::from_millis(200),
        ..server.settings()
    })
    .unwrap();
    let opts = StreamOptions {
        read_timeout: Duration::from_secs(3),
        backoff_start: Duration::from_millis(50),
        ..StreamOptions::default()
    };
    let mut s = client.event_stream_with(&["Allocation"], 2, opts);
    let rx = &mut s.items;
    assert_eq!(
        next(rx).await,
        StreamItem::Connected {
            from_index: 2,
            continuous: false
        },
        "a heartbeat proves nothing"
    );
    assert_eq!(next(rx).await, StreamItem::Heartbeat);
    assert_eq!(frame_indexes(&next(rx).await), vec![3]);
}

// ---------------------------------------------------------------------------
// Watch following the event stream: a small Nomad with a buffer of frames
// ---------------------------------------------------------------------------

/// A Nomad that keeps its lists and the frames of its changes, and streams them as
/// Nomad does: from the frame at the index asked for while it is held, else from the
/// closest one; lists carry the index they were read at.
struct EventNomad {
    index: u64,
    allocs: std::collections::BTreeMap<String, serde_json::Value>,
    jobs: std::collections::BTreeMap<String, serde_json::Value>,
    nodes: std::collections::BTreeMap<String, serde_json::Value>,
    /// (index, event lines' events)
    frames: Vec<(u64, Vec<serde_json::Value>)>,
    /// The stream endpoint answers 403.
    refuse_stream: bool,
    /// Bumped to cut every open stream (a clean end of the body).
    generation: u64,
}

type Shared = Arc<Mutex<EventNomad>>;

impl EventNomad {
    fn new(allocs: usize) -> Self {
        let mut n = EventNomad {
            index: 10,
            allocs: Default::default(),
            jobs: Default::default(),
            nodes: Default::default(),
            frames: Vec::new(),
            refuse_stream: false,
            generation: 0,
        };
        for i in 0..allocs {
            let id = format!("{i:08x}-0000-4000-8000-000000000000");
            let mut a = alloc_json(&id, "running");
            a["JobID"] = json!(format!("job{}", i % 3));
            n.allocs.insert(id, a);
        }
        for j in 0..3 {
            n.jobs.insert(
                format!("job{j}"),
                json!({"ID": format!("job{j}"), "Name": format!("job{j}"), "Namespace": "default",
                       "Type": "service", "Status": "running", "Stop": false}),
            );
        }
        for id in ["n1", "n2"] {
            n.nodes.insert(
                id.into(),
                json!({"ID": id, "Name": id, "Status": "ready", "SchedulingEligibility": "eligible"}),
            );
        }
        // The write the lists' index stands for is still in the buffer, as on a live
        // cluster.
        let n1 = n.nodes["n1"].clone();
        n.index -= 1;
        n.commit(&[("Node", "NodeRegistration", n1)]);
        n
    }

    /// One write with its events: (topic, type, object).
    fn commit(&mut self, changes: &[(&str, &str, serde_json::Value)]) {
        self.index += 1;
        let mut events = Vec::new();
        for (topic, kind, obj) in changes {
            let id = obj["ID"].as_str().unwrap().to_string();
            match (*topic, *kind) {
                ("Allocation", _) => {
                    self.allocs.insert(id.clone(), obj.clone());
                }
                ("Job", "JobDeregistered") if obj["Stop"] != json!(true) => {
                    self.jobs.remove(&id);
                }
                ("Job", _) => {
                    self.jobs.insert(id.clone(), obj.clone());
                }
                ("Node", "NodeDeregistration") => {
                    self.nodes.remove(&id);
                }
                ("Node", _) => {
                    self.nodes.insert(id.clone(), obj.clone());
                }
                _ => unreachable!(),
            }
            events.push(
                json!({"Topic": topic, "Type": kind, "Key": id, "Namespace": "default",
                               "Index": self.index, "Payload": {*topic: obj}}),
            );
        }
        self.frames.push((self.index, events));
    }

    fn start_at(&self, from: u64) -> usize {
        let Some(&(oldest, _)) = self.frames.first() else {
            return 0;
        };
        if from == 0 || from <= oldest {
            return 0;
        }
        let newest = self.frames.len() - 1;
        if from > self.frames[newest].0 {
            return newest;
        }
        self.frames.partition_point(|(i, _)| *i < from)
    }
}

async fn event_server(nomad: Shared) -> (TestServer, watch::Sender<u64>) {
    let (bump, bumps) = watch::channel(0u64);
    let server = TestServer::start(move |req| {
        let nomad = nomad.clone();
        let mut bumps = bumps.clone();
        async move {
            if req.path == "/v1/status/leader" {
                return respond(200, "\"127.0.0.1:4647\"", None);
            }
            if req.path == "/v1/event/stream" {
                if nomad.lock().unwrap().refuse_stream {
                    return respond(403, "Permission denied", None);
                }
                let (tx, rx) = mpsc::channel::<Result<Bytes, BoxError>>(64);
                let from = req.index();
                tokio::spawn(async move {
                    let (mut at, generation) = {
                        let n = nomad.lock().unwrap();
                        (n.start_at(from), n.generation)
                    };
                    loop {
                        let lines: Vec<String> = {
                            let n = nomad.lock().unwrap();
                            if n.generation != generation {
                                return; // cut: the body ends
                            }
                            let lines = n.frames[at.min(n.frames.len())..]
                                .iter()
                                .map(|(i, ev)| format!("{}\n", json!({"Index": i, "Events": ev})))
                                .collect();
                            at = n.frames.len();
                            lines
                        };
                        for l in lines {
                            if tx.send(Ok(Bytes::from(l))).await.is_err() {
                                return;
                            }
                        }
                        tokio::select! {
                            r = bumps.changed() => if r.is_err() { return },
                            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                                if tx.send(Ok(Bytes::from("{}\n"))).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
                return streaming(rx);
            }
            let sent = req.index();
            if sent > 0 {
                let wait = req.wait().unwrap_or(Duration::from_secs(300));
                let deadline = Instant::now() + wait;
                while nomad.lock().unwrap().index <= sent && Instant::now() < deadline {
                    let _ = tokio::time::timeout(Duration::from_millis(50), bumps.changed()).await;
                }
            }
            let n = nomad.lock().unwrap();
            let list = |m: &std::collections::BTreeMap<String, serde_json::Value>| {
                serde_json::Value::Array(m.values().cloned().collect()).to_string()
            };
            match req.path.as_str() {
                "/v1/allocations" => respond(200, list(&n.allocs), Some(n.index)),
                "/v1/jobs" => respond(200, list(&n.jobs), Some(n.index)),
                "/v1/nodes" => respond(200, list(&n.nodes), Some(n.index)),
                _ => respond(404, "", None),
            }
        }
    })
    .await;
    (server, bump)
}

/// What a snapshot shows, in an order that does not depend on how it was built:
/// allocation rows by ID with the counts, jobs (without the summary a whole job does not
/// carry) and nodes by ID.
fn shown(s: &NomadSnapshot) -> String {
    let mut allocs = alloc_rows(s);
    allocs.sort_by(|a, b| a.id.cmp(&b.id));
    let list = s.allocs.value.as_ref().unwrap();
    let mut by_job: Vec<_> = list
        .by_job
        .iter()
        .map(|(k, v)| format!("{k:?}={v:?}"))
        .collect();
    by_job.sort();
    let mut jobs: Vec<_> = s
        .jobs
        .value
        .as_ref()
        .unwrap()
        .iter()
        .map(|j| format!("{} {} {} {}", j.namespace, j.id, j.status, j.stop))
        .collect();
    jobs.sort();
    let mut nodes: Vec<_> = s
        .nodes
        .value
        .as_ref()
        .unwrap()
        .iter()
        .map(|n| format!("{n:?}"))
        .collect();
    nodes.sort();
    format!(
        "{allocs:?}\n{:?}\n{by_job:?}\n{jobs:?}\n{nodes:?}",
        list.counts
    )
}

fn follow_opts() -> WatchOptions {
    WatchOptions {
        publish_every: Duration::from_millis(20),
        backoff_start: Duration::from_millis(20),
        stream: StreamOptions {
            read_timeout: Duration::from_secs(2),
            backoff_start: Duration::from_millis(20),
            ..StreamOptions::default()
        },
        ..WatchOptions::new(Duration::from_secs(2))
    }
}

/// A batch of changes of every kind, the job `stop` and node `n9` marking its end.
fn churn(n: &mut EventNomad, round: usize) {
    let ids: Vec<String> = n.allocs.keys().take(5).cloned().collect();
    for (k, id) in ids.iter().enumerate() {
        let mut a = n.allocs[id].clone();
        a["ClientStatus"] =
            json!(["failed", "pending", "complete", "lost", "running"][(k + round) % 5]);
        if k == 0 {
            a["NextAllocation"] = json!(format!("next-{round}"));
        }
        n.commit(&[("Allocation", "AllocationUpdated", a)]);
    }
    let mut fresh = alloc_json(&format!("new-{round}"), "pending");
    fresh["JobID"] = json!(format!("batch{round}"));
    n.commit(&[
        ("Allocation", "AllocationCreated", fresh),
        (
            "Job",
            "JobRegistered",
            json!({"ID": format!("batch{round}"), "Name": "b", "Namespace": "default",
                                         "Type": "batch", "Status": "running", "Stop": false}),
        ),
    ]);
    n.commit(&[("Job", "JobDeregistered", json!({"ID": "job1", "Namespace": "default",
                                                  "Type": "service", "Status": "dead", "Stop": true}))]);
    n.commit(&[("Job", "JobDeregistered", json!({"ID": "job2", "Namespace": "default",
                                                  "Type": "service", "Status": "running", "Stop": false}))]);
    n.commit(&[(
        "Node",
        "NodeDeregistration",
        json!({"ID": "n2", "Name": "n2", "Status": "down"}),
    )]);
    n.commit(&[(
        "Node",
        "NodeRegistration",
        json!({"ID": format!("n9-{round}"), "Name": "n9",
        "Status": "initializing", "SchedulingEligibility": "ineligible", "DrainStrategy": {}}),
    )]);
}

fn has_node(s: &NomadSnapshot, id: &str) -> bool {
    s.nodes
        .value
        .iter()
        .flat_map(|n| n.iter())
        .any(|n| &*n.id == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_applies_events_and_ends_equal_to_a_fresh_list() {
    let nomad: Shared = Arc::new(Mutex::new(EventNomad::new(600)));
    let (server, bump) = event_server(nomad.clone()).await;
    let (stx, mut srx) = mpsc::unbounded_channel();
    let handle = spawn_watch_with(server.client(), follow_opts(), stx);
    let first = snapshot_where(&mut srx, STEP, |_| true).await;
    assert_eq!(alloc_rows(&first).len(), 600);
    wait_until("the watch to subscribe", || {
        !server.requests("/v1/event/stream").is_empty()
    })
    .await;

    churn(&mut nomad.lock().unwrap(), 0);
    bump.send_modify(|b| *b += 1);
    let s = snapshot_where(&mut srx, STEP, |s| has_node(s, "n9-0")).await;
    let fresh = snapshot(&server.client()).await;
    assert_eq!(shown(&s), shown(&fresh));
    assert_eq!(s.summary().allocs, fresh.summary().allocs);
    assert_eq!(s.error, None);
    // One list of each, then only events: a change cost its own size.
    assert_eq!(
        server.requests("/v1/allocations").len(),
        2,
        "the watch's one list, and the fresh one"
    );
    let sub = &server.requests("/v1/event/stream")[0];
    assert_eq!(sub.qs("topic"), vec!["Allocation", "Job", "Node"]);
    assert_eq!(sub.index(), 10, "from the lists' index");

    drop(srx);
    tokio::time::timeout(STEP, handle).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_resumes_after_a_disconnect_without_loss_or_duplicates() {
    let nomad: Shared = Arc::new(Mutex::new(EventNomad::new(300)));
    let (server, bump) = event_server(nomad.clone()).await;
    let (stx, mut srx) = mpsc::unbounded_channel();
    let handle = spawn_watch_with(server.client(), follow_opts(), stx);
    snapshot_where(&mut srx, STEP, |_| true).await;
    wait_until("the watch to subscribe", || {
        !server.requests("/v1/event/stream").is_empty()
    })
    .await;
    churn(&mut nomad.lock().unwrap(), 0);
    bump.send_modify(|b| *b += 1);
    snapshot_where(&mut srx, STEP, |s| has_node(s, "n9-0")).await;
    let last = nomad.lock().unwrap().index;

    // The connection drops; changes go on meanwhile.
    {
        let mut n = nomad.lock().unwrap();
        n.generation += 1;
        churn(&mut n, 1);
    }
    bump.send_modify(|b| *b += 1);
    let s = snapshot_where(&mut srx, STEP, |s| has_node(s, "n9-1")).await;
    let subs = server.requests("/v1/event/stream");
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[1].index(), last, "resumed from the last index applied");
    assert_eq!(
        server.requests("/v1/allocations").len(),
        1,
        "the replay of {last} proved nothing was missed: no re-list"
    );
    let fresh = snapshot(&server.client()).await;
    assert_eq!(shown(&s), shown(&fresh));

    drop(srx);
    tokio::time::timeout(STEP, handle).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_relists_when_the_stream_cannot_bridge_the_gap() {
    let nomad: Shared = Arc::new(Mutex::new(EventNomad::new(300)));
    let (server, bump) = event_server(nomad.clone()).await;
    let (stx, mut srx) = mpsc::unbounded_channel();
    let handle = spawn_watch_with(server.client(), follow_opts(), stx);
    snapshot_where(&mut srx, STEP, |_| true).await;
    wait_until("the watch to subscribe", || {
        !server.requests("/v1/event/stream").is_empty()
    })
    .await;
    // Cut, and the frames of the changes made meanwhile fall out of the buffer.
    {
        let mut n = nomad.lock().unwrap();
        n.generation += 1;
        churn(&mut n, 0);
        let keep = n.frames.len() - 2;
        n.frames.drain(..keep);
    }
    bump.send_modify(|b| *b += 1);
    let s = snapshot_where(&mut srx, STEP, |s| {
        has_node(s, "n9-0") && !has_node(s, "n2")
    })
    .await;
    assert_eq!(
        server.requests("/v1/allocations").len(),
        2,
        "re-listed once"
    );
    let fresh = snapshot(&server.client()).await;
    assert_eq!(shown(&s), shown(&fresh));

    drop(srx);
    tokio::time::timeout(STEP, handle).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_falls_back_to_blocking_queries_when_the_stream_is_refused() {
    let nomad: Shared = Arc::new(Mutex::new(EventNomad::new(20)));
    nomad.lock().unwrap().refuse_stream = true;
    let (server, bump) = event_server(nomad.clone()).await;
    let (stx, mut srx) = mpsc::unbounded_channel();
    let handle = spawn_watch_with(server.client(), follow_opts(), stx);
    snapshot_where(&mut srx, STEP, |_| true).await;
    wait_until("a blocking query after the 403", || {
        server
            .requests("/v1/allocations")
            .iter()
            .any(|r| r.index() > 0)
    })
    .await;
    churn(&mut nomad.lock().unwrap(), 0);
    bump.send_modify(|b| *b += 1);
    // Each list follows on its own: wait until all three caught up.
    let fresh = shown(&snapshot(&server.client()).await);
    let s = snapshot_where(&mut srx, STEP, |s| shown(s) == fresh).await;
    assert_eq!(s.error, None, "a refused stream is no error");
    assert_eq!(server.requests("/v1/event/stream").len(), 1, "asked once");

    drop(srx);
    tokio::time::timeout(STEP, handle).await.unwrap().unwrap();
}

// ---------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_decodes_frames_across_chunks() {
    let server = TestServer::start(|req| async move {
        if !req.path.starts_with("/v1/client/fs/logs/") {
            return respond(404, "", None);
        }
        if req.q("type") == Some("stderr") {
            return respond(500, "Unknown allocation", None);
        }
        let (tx, rx) = mpsc::channel::<Result<Bytes, BoxError>>(8);
        tokio::spawn(async move {
            let body = concat!(
                "{}",
                r#"{"File":"alloc/logs/spin.stdout.0","Offset":5000,"Data":"aGVsbG8K"}"#,
                r#"{"File":"alloc/logs/spin.stdout.0","FileEvent":"file truncated"}"#,
                "{}",
                r#"{"File":"alloc/logs/spin.stdout.0","Offset":6,"Data":"YWdhaW4K"}"#,
            );
            // Uneven chunks that cut frames and base64 strings.
            for piece in body.as_bytes().chunks(17) {
                if tx.send(Ok(Bytes::copy_from_slice(piece))).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        streaming(rx)
    })
    .await;
    let client = server.client();
    let mut rx = client.logs(
        "0b6f3c2e-8d41-4a7e-9c55-2f1e7b9a6d10",
        "spin",
        LogKind::Stdout,
        true,
        Some(5000),
    );
    assert_eq!(next(&mut rx).await, Ok(LogChunk::Data(b"hello\n".to_vec())));
    assert_eq!(
        next(&mut rx).await,
        Ok(LogChunk::Reset("file truncated".into()))
    );
    assert_eq!(next(&mut rx).await, Ok(LogChunk::Data(b"again\n".to_vec())));
    let end = tokio::time::timeout(STEP, rx.recv()).await.unwrap();
    assert_eq!(end, None, "the stream ends with the body");

    let req = &server.requests("/v1/client/fs/logs/0b6f3c2e-8d41-4a7e-9c55-2f1e7b9a6d10")[0];
    assert_eq!(req.q("task"), Some("spin"));
    assert_eq!(req.q("type"), Some("stdout"));
    assert_eq!(req.q("follow"), Some("true"));
    assert_eq!(req.q("origin"), Some("end"));
    assert_eq!(req.q("offset"), Some("5000"));

    let mut err = client.logs("x", "spin", LogKind::Stderr, false, None);
    assert!(matches!(
        next(&mut err).await,
        Err(NomadError::Http { status: 500, .. })
    ));
    let req = server.requests("/v1/client/fs/logs/x").pop().unwrap();
    assert_eq!(req.q("origin"), Some("start"));
    assert_eq!(req.q("follow"), Some("false"));
}

// ---------------------------------------------------------------------------
// Watch
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_sees_an_allocation_fail_promptly_and_does_not_hammer() {
    let (tx, rx) = watch::channel(Cluster::new(20, "running"));
    let server = cluster_server(rx).await;
    let (stx, mut srx) = mpsc::unbounded_channel();
    let handle = spawn_watch(server.client(), Duration::from_secs(2), stx);

    let first = snapshot_where(&mut srx, STEP, |_| true).await;
    assert_eq!(running(&first), Some(1));
    assert_eq!(first.summary().leader, Some(true));
    assert!(first.updated.is_some());

    // Idle: the blocking queries sit on the server; no polling storm.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let before = server.requests("/v1/allocations").len();
    assert!(before <= 3, "{before} allocation requests while idle");

    let changed_at = Instant::now();
    tx.send_modify(|c| {
        c.index = 21;
        c.allocs = json!([alloc_json("a1b2c3d4-0000-4000-8000-000000000001", "failed")]);
    });
    let s = snapshot_where(&mut srx, Duration::from_secs(2), |s| {
        s.summary().allocs.map(|a| a.failed) == Some(1)
    })
    .await;
    assert!(changed_at.elapsed() < Duration::from_secs(1));
    assert_eq!(running(&s), Some(0));
    assert!(alloc_rows(&s)
        .iter()
        .all(|a| a.state() == AllocState::Failed));
    let after = server.requests("/v1/allocations");
    assert!(after.iter().skip(1).all(|r| r.q("wait") == Some("2s")));
    assert!(after.last().unwrap().index() >= 20);

    drop(srx);
    tokio::time::timeout(STEP, handle).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_keeps_data_on_errors_and_recovers() {
    let (tx, rx) = watch::channel(Cluster::new(5, "running"));
    let server = cluster_server(rx).await;
    let (stx, mut srx) = mpsc::unbounded_channel();
    let opts = WatchOptions {
        backoff_start: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(200),
        ..WatchOptions::new(Duration::from_secs(2))
    };
    let handle = spawn_watch_with(server.client(), opts, stx);
    snapshot_where(&mut srx, STEP, |s| alloc_rows(s).len() == 1).await;

    tx.send_modify(|c| {
        c.index = 6;
        c.fail_allocs = true;
    });
    let s = snapshot_where(&mut srx, STEP, |s| s.error.is_some()).await;
    assert_eq!(alloc_rows(&s).len(), 1, "last data kept");
    assert_eq!(
        s.error.as_deref(),
        Some("GET /v1/allocations: HTTP 500: rpc error: boom")
    );

    tx.send_modify(|c| {
        c.index = 7;
        c.fail_allocs = false;
    });
    let s = snapshot_where(&mut srx, STEP, |s| s.error.is_none()).await;
    assert_eq!(alloc_rows(&s).len(), 1);
    // Backoff keeps the error phase to a handful of requests.
    let n = server.requests("/v1/allocations").len();
    assert!(n < 20, "{n} allocation requests");

    drop(srx);
    tokio::time::timeout(STEP, handle).await.unwrap().unwrap();
}

// ---------------------------------------------------------------------------
// Field cases replayed (tests/fixtures/nomad_field), bounded bodies, untrusted text
// ---------------------------------------------------------------------------

/// A field case's agent: each route answers its `json` (with its `headers`) or its
/// `status` and `text`; any other path is a 404.
async fn field_server(name: &str) -> TestServer {
    let case: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/tests/fixtures/nomad_field/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let routes = Arc::new(case["routes"].clone());
    TestServer::start(move |req| {
        let routes = routes.clone();
        async move {
            let Some(route) = routes.get(&req.path) else {
                return respond(404, "404 page not found", None);
            };
            if let Some(status) = route["status"].as_u64() {
                let text = route["text"].as_str().unwrap_or_default().to_string();
                return respond(status as u16, text, None);
            }
            let mut b = Response::builder()
                .status(200)
                .header("content-type", "application/json");
            for (k, v) in route["headers"].as_object().into_iter().flatten() {
                b = b.header(k.as_str(), v.as_str().unwrap());
            }
            b.body(
                Full::new(Bytes::from(route["json"].to_string()))
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .unwrap()
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_11_a_token_without_node_read_counts_allocations_and_not_nodes() {
    let server = field_server("11-nomad-nodes-403.json").await;
    let snap = snapshot(&server.client()).await;
    let s = snap.summary();
    assert_eq!(s.leader, Some(true));
    assert_eq!(
        (s.nodes_ready, s.nodes_total),
        (None, None),
        "unknown, not 0"
    );
    let a = s.allocs.expect("allocations were readable");
    assert_eq!((a.running, a.failed, a.total), (1, 0, 1));
    assert_eq!(job_ids(&snap), ["web"]);
    assert_eq!(
        snap.error.as_deref(),
        Some("GET /v1/nodes: 403 Permission denied")
    );
    assert_eq!(
        snap.errors(),
        vec![
            ("/v1/agent/self", "403 Permission denied"),
            ("/v1/nodes", "403 Permission denied")
        ]
    );
    assert_eq!(server.requests("/v1/nodes").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_13_replaced_failures_are_history_not_attention() {
    let server = field_server("13-nomad-replaced-failed-allocs.json").await;
    let client = server.client();
    let snap = snapshot(&client).await;
    assert_eq!(snap.error, None);
    let s = snap.summary();
    assert_eq!((s.nodes_ready, s.nodes_total), (Some(1), Some(1)));
    let a = s.allocs.unwrap();
    assert_eq!(
        (a.running, a.failed, a.replaced, a.lost, a.unknown, a.total),
        (1, 0, 2, 0, 0, 3)
    );
    let states: Vec<AllocState> = alloc_rows(&snap).iter().map(|a| a.state()).collect();
    assert_eq!(
        states,
        [
            AllocState::Replaced,
            AllocState::Replaced,
            AllocState::Running
        ]
    );
    // The watch starts from the same answers.
    let (stx, mut srx) = mpsc::unbounded_channel();
    let handle = spawn_watch(client, Duration::from_secs(2), stx);
    let first = snapshot_where(&mut srx, STEP, |_| true).await;
    assert_eq!(first.summary(), s);
    drop(srx);
    tokio::time::timeout(STEP, handle).await.unwrap().unwrap();
}

/// `status --json` of a config whose one metro's Nomad is the field case's agent.
async fn status_json_against(server: &TestServer) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[anycast]\nprefix = \"198.18.0.10/32\"\n[probe]\nstatus_probes = 0\n\
             [[metro]]\nname = \"m1\"\nbird_socket = \"none.ctl\"\n\
             [metro.nomad]\naddress = \"http://{}\"\n",
            server.addr
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_platform-tui"))
        .args(["--config", cfg.to_str().unwrap(), "status", "--json"])
        .env_remove("NOMAD_TOKEN")
        .output()
        .await
        .unwrap();
    assert!(
        !out.stdout.contains(&0x1b),
        "raw ESC in status --json: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_prints_unknown_as_null_and_replaced_apart() {
    let server = field_server("11-nomad-nodes-403.json").await;
    let j = status_json_against(&server).await;
    let n = &j["metros"][0]["nomad"];
    assert_eq!(n["leader"], json!(true), "{j:#}");
    assert_eq!(n["nodes_ready"], json!(null));
    assert_eq!(n["nodes_total"], json!(null));
    assert_eq!(n["allocs"]["running"], json!(1));
    assert_eq!(n["allocs"]["failed"], json!(0));
    assert_eq!(n["allocs"]["total"], json!(1));
    assert_eq!(n["error"], json!("GET /v1/nodes: 403 Permission denied"));
    assert_eq!(n["errors"]["/v1/nodes"], json!("403 Permission denied"));
    assert_eq!(
        n["errors"]["/v1/agent/self"],
        json!("403 Permission denied")
    );

    let server = field_server("13-nomad-replaced-failed-allocs.json").await;
    let j = status_json_against(&server).await;
    let a = &j["metros"][0]["nomad"]["allocs"];
    assert_eq!(
        a,
        &json!({"running": 1, "pending": 0, "failed": 0, "replaced": 2, "lost": 0,
                "unknown": 0, "complete": 0, "total": 3}),
        "{j:#}"
    );
    assert_eq!(j["metros"][0]["nomad"]["nodes_total"], json!(1));
    assert_eq!(j["metros"][0]["nomad"]["error"], json!(null));
}

/// `n` allocation stubs of about 700 bytes each, as a JSON list.
fn big_allocs(n: usize) -> String {
    let one = |i: usize| {
        let mut a = alloc_json(&format!("{i:08x}-0000-4000-8000-000000000000"), "running");
        a["Padding"] = json!("x".repeat(500));
        a
    };
    serde_json::Value::Array((0..n).map(one).collect()).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_cap_is_refused_naming_the_endpoint_and_the_cap() {
    // 2 000 stubs: about 1.4 MB, against a 1 MB cap. Once with a Content-Length,
    // once streamed without one.
    let body = Bytes::from(big_allocs(2000));
    assert!(body.len() > 1 << 20);
    let b2 = body.clone();
    let server = TestServer::start(move |req| {
        let body = b2.clone();
        async move {
            match req.path.as_str() {
                "/v1/allocations" if req.q("namespace") == Some("streamed") => {
                    let (tx, rx) = mpsc::channel::<Result<Bytes, BoxError>>(4);
                    tokio::spawn(async move {
                        for piece in body.chunks(64 << 10) {
                            if tx.send(Ok(Bytes::copy_from_slice(piece))).await.is_err() {
                                return;
                            }
                        }
                    });
                    streaming(rx)
                }
                "/v1/allocations" => respond(200, body, Some(7)),
                "/v1/status/leader" => respond(200, "\"127.0.0.1:4647\"", None),
                _ => respond(200, "[]", Some(7)),
            }
        }
    })
    .await;
    let capped = |namespace: &str| {
        Client::new(Settings {
            max_body: 1 << 20,
            namespace: namespace.into(),
            ..server.settings()
        })
        .unwrap()
    };
    let too_large = NomadError::TooLarge {
        limit_mb: 1,
        entries: None,
    };
    for ns in ["*", "streamed"] {
        let client = capped(ns);
        assert_eq!(
            client.allocations(QueryOptions::default()).await,
            Err(too_large.clone()),
            "{ns}"
        );
        let snap = snapshot(&client).await;
        assert_eq!(
            snap.error.as_deref(),
            Some("GET /v1/allocations: answer larger than 1 MB (max_body_mb)"),
            "{ns}"
        );
        assert_eq!(snap.summary().allocs, None, "unknown, not 0");
        assert_eq!(
            snap.summary().leader,
            Some(true),
            "the other pieces still read"
        );
    }
    // The same answer within the default cap.
    let ok = server.client().allocations(QueryOptions::default()).await;
    assert_eq!(ok.unwrap().value.rows.len(), 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_sequences_from_the_agent_are_made_visible() {
    const EVIL: &str = "web\u{1b}]2;PWNED\u{7}\u{1b}[31mRED";
    let server = TestServer::start(|req| async move {
        match req.path.as_str() {
            "/v1/jobs" => respond(
                200,
                json!([{"ID": EVIL, "Name": EVIL, "Type": "service", "Status": "running"}])
                    .to_string(),
                Some(3),
            ),
            "/v1/allocations" => {
                let mut a = alloc_json("a1b2c3d4-0000-4000-8000-000000000001", "running");
                a["JobID"] = json!(EVIL);
                a["NodeName"] = json!(EVIL);
                respond(200, json!([a]).to_string(), Some(3))
            }
            "/v1/allocation/a1" => respond(
                200,
                json!({"ID": "a1", "JobID": EVIL, "ClientDescription": EVIL,
                       "TaskStates": {"spin": {"Events": [{"Type": "Terminated",
                                                           "DisplayMessage": EVIL}]}}})
                .to_string(),
                Some(3),
            ),
            "/v1/nodes" => respond(500, format!("rpc error: {EVIL}"), None),
            "/v1/status/leader" => respond(200, json!(EVIL).to_string(), None),
            _ => respond(404, "", None),
        }
    })
    .await;
    let client = server.client();
    let snap = snapshot(&client).await;
    let text = format!(
        "{:?} {:?} {:?} {:?}",
        job_ids(&snap),
        alloc_rows(&snap),
        snap.error,
        snap.leader
    );
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text}"
    );
    assert_eq!(job_ids(&snap), ["web\\x1b]2;PWNED\\x07\\x1b[31mRED"]);
    assert!(snap
        .error
        .as_deref()
        .unwrap()
        .contains("rpc error: web\\x1b]2;PWNED"));
    let d = client.allocation("a1").await.unwrap();
    let text = format!("{d:?}");
    assert!(!text.contains('\u{1b}'), "{text}");
    assert_eq!(
        d.tasks[0].events[0].text,
        "web\\x1b]2;PWNED\\x07\\x1b[31mRED"
    );
}
