//! The lab's data plane: per metro an HTTP app server that answers after that metro's WAN
//! delay (with a little jitter), and an anycast front door that forwards each new
//! connection to the metro the upstream BIRD prefers at that moment — no route, no
//! connection, as with a black hole. A control port lets `lab app stop|start` stop and
//! start a metro's app server from another process, and `lab metro add|remove` ask the
//! lab's owner to add or remove a whole metro (its router too) while the lab runs.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::{LabError, LabMetro, LabState};
use crate::bird::BirdClient;

/// Access lines kept per metro (the Nomad endpoint serves them as the task's logs).
const ACCESS_LOG_LINES: usize = 2000;
/// How long the front door trusts the upstream's answer: short, so that a connection
/// made just after the best path moved follows it (as a router's forwarding table would
/// within milliseconds), while a burst of connections asks BIRD at most 100 times a
/// second.
const ROUTE_CACHE: Duration = Duration::from_millis(10);

/// One metro's app server and what is known about it.
pub struct AppMetro {
    pub code: String,
    pub display_name: String,
    pub addr: SocketAddr,
    pub delay: Duration,
    pub state: Mutex<AppState>,
}

/// The app a metro's server runs: what `spin up --from REF` would, as far as the lab
/// plays it (its name and version from the ref; a `broken` tag fails its health check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppVersion {
    pub reference: String,
    pub name: String,
    pub version: String,
    /// `/.well-known/spin/health` answers OK.
    pub healthy: bool,
}

/// The app every lab metro starts with.
pub const INITIAL_REF: &str = "registry.example/hello:v1";

impl AppVersion {
    /// The app of `reference`: `registry.example/hello:v2` serves `hello` version `v2`;
    /// the tag `broken` serves one that fails its health check.
    pub fn of(reference: &str) -> AppVersion {
        match crate::domain::deploy::AppRef::parse(reference) {
            Ok(r) => AppVersion {
                reference: r.full.clone(),
                name: r.name().to_string(),
                version: r.version().to_string(),
                healthy: r.tag.as_deref() != Some("broken"),
            },
            Err(_) => AppVersion {
                reference: reference.to_string(),
                name: "app".into(),
                version: "unknown".into(),
                healthy: false,
            },
        }
    }
}

impl Default for AppVersion {
    fn default() -> Self {
        AppVersion::of(INITIAL_REF)
    }
}

/// An allocation the app server ran before it was replaced: shown as complete.
#[derive(Debug, Clone)]
pub struct PastAlloc {
    pub seq: u32,
    pub job_version: u64,
    pub started_at: Option<SystemTime>,
    pub stopped_at: SystemTime,
}

/// Allocations of earlier versions kept per metro, as Nomad keeps them for a while.
const PAST_ALLOCS: usize = 3;

#[derive(Default)]
pub struct AppState {
    pub running: bool,
    task: Option<JoinHandle<()>>,
    /// What it serves.
    pub app: AppVersion,
    /// The job version its allocation belongs to.
    pub job_version: u64,
    /// Which allocation of the metro runs it (0: the first).
    pub alloc: u32,
    /// Allocations replaced by later versions, oldest first.
    pub past: Vec<PastAlloc>,
    pub started_at: Option<SystemTime>,
    pub stopped_at: Option<SystemTime>,
    pub restarts: u32,
    /// Access lines, newest last; `log_base` counts lines dropped from the front, so a
    /// byte offset into the whole log stays meaningful.
    pub access_log: VecDeque<String>,
    pub log_bytes: u64,
    /// Task events (time, type, message), newest last.
    pub events: Vec<(SystemTime, String, String)>,
}

/// What the data plane shares with the lab's Nomad endpoint.
pub struct Shared {
    /// The metros served now; `lab metro add|remove` change it while the lab runs.
    pub metros: Mutex<Vec<Arc<AppMetro>>>,
    /// Bumped on every change of an app server's state.
    pub index: tokio::sync::watch::Sender<u64>,
    pub started: SystemTime,
}

impl Shared {
    pub fn metro(&self, code: &str) -> Option<Arc<AppMetro>> {
        lock(&self.metros).iter().find(|m| m.code == code).cloned()
    }

    fn bump(&self) {
        self.index.send_modify(|i| *i += 1);
    }

    /// Starts a metro's app server (again).
    pub async fn start_app(self: &Arc<Self>, code: &str) -> Result<String, String> {
        let m = self
            .metro(code)
            .ok_or_else(|| format!("no metro `{code}` in this lab"))?;
        if lock(&m.state).running {
            return Ok(format!("{code}: app already running"));
        }
        let listener = TcpListener::bind(m.addr)
            .await
            .map_err(|e| format!("{code}: cannot listen on {}: {e}", m.addr))?;
        let task = tokio::spawn(serve_app(listener, m.clone()));
        {
            let mut st = lock(&m.state);
            let now = SystemTime::now();
            if st.started_at.is_some() {
                st.restarts += 1;
                st.events
                    .push((now, "Restarted".into(), "app server started again".into()));
            } else {
                st.events
                    .push((now, "Started".into(), "Task started by client".into()));
            }
            st.running = true;
            st.task = Some(task);
            st.started_at = Some(now);
            st.stopped_at = None;
        }
        self.bump();
        Ok(format!("{code}: app started on {}", m.addr))
    }

    /// Replaces a metro's app with `app` (job version `job_version`), as a new
    /// allocation: the old server stops (its connections are cut, as a killed process's
    /// are), the new one listens on the same address.
    pub async fn replace_app(
        self: &Arc<Self>,
        code: &str,
        app: AppVersion,
        job_version: u64,
    ) -> Result<(), String> {
        let m = self
            .metro(code)
            .ok_or_else(|| format!("no metro `{code}` in this lab"))?;
        let old = lock(&m.state).task.take();
        if let Some(t) = old {
            t.abort();
            // Its listener is closed once the task is gone.
            let _ = t.await;
        }
        {
            let mut st = lock(&m.state);
            let now = SystemTime::now();
            let past = PastAlloc {
                seq: st.alloc,
                job_version: st.job_version,
                started_at: st.started_at,
                stopped_at: now,
            };
            st.past.push(past);
            let drop = st.past.len().saturating_sub(PAST_ALLOCS);
            st.past.drain(..drop);
            st.running = false;
            st.alloc += 1;
            st.app = app;
            st.job_version = job_version;
            st.restarts = 0;
            st.events.clear();
            st.started_at = None;
            st.stopped_at = None;
        }
        self.bump();
        let mut last = String::new();
        for _ in 0..50 {
            match TcpListener::bind(m.addr).await {
                Ok(listener) => {
                    let task = tokio::spawn(serve_app(listener, m.clone()));
                    {
                        let mut st = lock(&m.state);
                        let now = SystemTime::now();
                        st.events
                            .push((now, "Started".into(), "Task started by client".into()));
                        st.running = true;
                        st.task = Some(task);
                        st.started_at = Some(now);
                    }
                    self.bump();
                    return Ok(());
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(format!("{code}: cannot listen on {}: {last}", m.addr))
    }

    /// What a metro's app server runs now.
    pub fn app_of(&self, code: &str) -> Option<AppVersion> {
        self.metro(code).map(|m| lock(&m.state).app.clone())
    }

    /// Stops a metro's app server: its port refuses connections from now on.
    pub fn stop_app(&self, code: &str) -> Result<String, String> {
        let m = self
            .metro(code)
            .ok_or_else(|| format!("no metro `{code}` in this lab"))?;
        {
            let mut st = lock(&m.state);
            if !st.running {
                return Ok(format!("{code}: app already stopped"));
            }
            if let Some(t) = st.task.take() {
                t.abort();
            }
            st.running = false;
            let now = SystemTime::now();
            st.stopped_at = Some(now);
            st.events.push((
                now,
                "Terminated".into(),
                "app server stopped (exit code 1)".into(),
            ));
        }
        self.bump();
        Ok(format!("{code}: app stopped"))
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking holder cannot leave this plain data inconsistent: keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Asked of the lab's owner through the control port: add (`true`) or remove a metro.
/// The owner answers on `reply` with what it did, or why not.
pub struct MetroRequest {
    pub add: bool,
    pub code: String,
    pub reply: tokio::sync::oneshot::Sender<Result<String, String>>,
}

/// The running data plane; dropping it stops every server it started.
pub struct Dataplane {
    pub shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    router: Arc<Router>,
    /// Each metro's Nomad endpoint.
    nomad: Vec<(String, JoinHandle<()>)>,
    /// `lab metro add|remove` requests from the control port, for the lab's owner.
    requests: Option<tokio::sync::mpsc::Receiver<MetroRequest>>,
}

impl std::fmt::Debug for Dataplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataplane")
            .field("metros", &lock(&self.shared.metros).len())
            .finish()
    }
}

impl Drop for Dataplane {
    fn drop(&mut self) {
        for t in self.tasks.iter().chain(self.nomad.iter().map(|(_, t)| t)) {
            t.abort();
        }
        for m in lock(&self.shared.metros).iter() {
            if let Some(t) = lock(&m.state).task.take() {
                t.abort();
            }
        }
    }
}

impl Dataplane {
    pub async fn start(state: &LabState) -> Result<Dataplane, LabError> {
        let (index, _) = tokio::sync::watch::channel(1u64);
        let shared = Arc::new(Shared {
            metros: Mutex::new(state.metros.iter().map(|m| app_metro(state, m)).collect()),
            index,
            started: SystemTime::now(),
        });
        let routes: Vec<(String, SocketAddr)> = state
            .metros
            .iter()
            .map(|m| (super::conf::observer_protocol(&m.code), state.app_addr(m)))
            .collect();
        let router = Arc::new(Router {
            upstream: tokio::sync::Mutex::new(BirdClient::new(
                state.socket("upstream"),
                Duration::from_secs(1),
            )),
            prefix: state.prefix.clone(),
            routes: Mutex::new(routes),
            cache: Mutex::new(None),
        });
        let (requests_tx, requests) = tokio::sync::mpsc::channel(16);
        let mut dp = Dataplane {
            shared: shared.clone(),
            tasks: Vec::new(),
            router: router.clone(),
            nomad: Vec::new(),
            requests: Some(requests),
        };
        for m in &state.metros {
            shared.start_app(&m.code).await.map_err(LabError)?;
        }
        let front = TcpListener::bind(state.anycast_addr()).await.map_err(|e| {
            LabError(format!(
                "front door cannot listen on {}: {e}",
                state.anycast_addr()
            ))
        })?;
        dp.tasks.push(tokio::spawn(front_door(front, router)));
        // TCP on loopback rather than a Unix socket in the lab's directory: every socket
        // there is a BIRD control socket, and tools (birdc) may rely on that.
        let control = TcpListener::bind(state.control_addr()).await.map_err(|e| {
            LabError(format!(
                "lab control cannot listen on {}: {e}",
                state.control_addr()
            ))
        })?;
        dp.tasks.push(tokio::spawn(control_loop(
            control,
            shared.clone(),
            state.control_token.clone(),
            requests_tx,
        )));
        let nomad: Vec<(String, SocketAddr)> = state
            .metros
            .iter()
            .map(|m| (m.code.clone(), state.nomad_addr(m)))
            .collect();
        let tasks = super::nomad_api::start(&shared, &nomad)
            .await
            .map_err(LabError)?;
        dp.nomad = tasks;
        Ok(dp)
    }

    /// The `lab metro add|remove` requests the control port receives; the lab's owner
    /// takes them once and answers each.
    pub fn take_requests(&mut self) -> Option<tokio::sync::mpsc::Receiver<MetroRequest>> {
        self.requests.take()
    }

    /// Serves a metro that joined the lab: its app server, its Nomad endpoint, and a
    /// route through the front door once the upstream prefers it.
    pub async fn add_metro(&mut self, state: &LabState, m: &LabMetro) -> Result<(), LabError> {
        if self.shared.metro(&m.code).is_some() {
            return Ok(());
        }
        lock(&self.shared.metros).push(app_metro(state, m));
        if let Err(e) = self.shared.start_app(&m.code).await {
            lock(&self.shared.metros).retain(|x| x.code != m.code);
            return Err(LabError(e));
        }
        let nomad = [(m.code.clone(), state.nomad_addr(m))];
        match super::nomad_api::start(&self.shared, &nomad).await {
            Ok(tasks) => self.nomad.extend(tasks),
            Err(e) => {
                self.remove_metro(&m.code);
                return Err(LabError(e));
            }
        }
        lock(&self.router.routes)
            .push((super::conf::observer_protocol(&m.code), state.app_addr(m)));
        *lock(&self.router.cache) = None;
        self.shared.bump();
        Ok(())
    }

    /// Stops serving a metro: no route to it, its app server and Nomad endpoint closed.
    pub fn remove_metro(&mut self, code: &str) {
        let proto = super::conf::observer_protocol(code);
        lock(&self.router.routes).retain(|(p, _)| *p != proto);
        *lock(&self.router.cache) = None;
        let _ = self.shared.stop_app(code);
        lock(&self.shared.metros).retain(|m| m.code != code);
        self.nomad.retain(|(c, t)| {
            if c == code {
                t.abort();
            }
            c != code
        });
        self.shared.bump();
    }
}

fn app_metro(state: &LabState, m: &LabMetro) -> Arc<AppMetro> {
    Arc::new(AppMetro {
        code: m.code.clone(),
        display_name: m.display_name.clone(),
        addr: state.app_addr(m),
        delay: Duration::from_millis(u64::from(m.rtt_ms)),
        state: Mutex::new(AppState::default()),
    })
}

async fn serve_app(listener: TcpListener, m: Arc<AppMetro>) {
    // Its connections end with it: a stopped or replaced app cuts them, as a killed
    // process would.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let m = m.clone();
        connections.spawn(async move {
            let svc = hyper::service::service_fn(move |req| respond(req, peer, m.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn respond(
    req: Request<hyper::body::Incoming>,
    peer: SocketAddr,
    m: Arc<AppMetro>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let start = Instant::now();
    tokio::time::sleep(m.delay + jitter()).await;
    let app = lock(&m.state).app.clone();
    // Spin answers its well-known paths before any route.
    let (status, text, json) = match req.uri().path() {
        "/.well-known/spin/health" if app.healthy => (200, "OK".to_string(), false),
        "/.well-known/spin/health" => (500, "unhealthy".to_string(), false),
        "/.well-known/spin/info" => (
            200,
            serde_json::json!({"name": app.name, "version": app.version}).to_string(),
            true,
        ),
        _ if !app.healthy => (
            500,
            format!("{} {} is broken\n", app.name, app.version),
            false,
        ),
        _ => (
            200,
            format!(
                "hello from {} ({}), {} {}\n",
                m.code, m.display_name, app.name, app.version
            ),
            false,
        ),
    };
    let body = if req.method() == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(text)
    };
    let took = start.elapsed().as_secs_f64() * 1000.0;
    let line = format!(
        "{} {peer} {} {} {status} {took:.1}ms",
        humantime::format_rfc3339_millis(SystemTime::now()),
        req.method(),
        req.uri().path()
    );
    {
        let mut st = lock(&m.state);
        st.log_bytes += line.len() as u64 + 1;
        st.access_log.push_back(line);
        while st.access_log.len() > ACCESS_LOG_LINES {
            st.access_log.pop_front();
        }
    }
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    let h = resp.headers_mut();
    if let Ok(v) = m.code.parse() {
        h.insert("x-served-by", v);
    }
    if let Ok(v) = app.version.parse() {
        h.insert("x-app-version", v);
    }
    if json {
        h.insert(
            "content-type",
            hyper::header::HeaderValue::from_static("application/json"),
        );
    }
    if let Ok(v) = format!("app;dur={took:.1}").parse() {
        h.insert("server-timing", v);
    }
    Ok(resp)
}

/// Up to ±1 ms, so repeated probes are not identical (a real WAN never is).
fn jitter() -> Duration {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut x = nanos ^ 0x9E37_79B9;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    Duration::from_micros(u64::from(x % 2000))
}

/// Which metro's app server the upstream's best path leads to, asked of its BIRD.
struct Router {
    upstream: tokio::sync::Mutex<BirdClient>,
    prefix: String,
    /// Upstream protocol name -> the metro's app server.
    routes: Mutex<Vec<(String, SocketAddr)>>,
    cache: Mutex<Option<(Instant, Option<SocketAddr>)>>,
}

impl Router {
    async fn best(&self) -> Option<SocketAddr> {
        if let Some((at, best)) = *lock(&self.cache) {
            if at.elapsed() < ROUTE_CACHE {
                return best;
            }
        }
        let mut client = self.upstream.lock().await;
        // Another connection may have refreshed it while this one waited.
        if let Some((at, best)) = *lock(&self.cache) {
            if at.elapsed() < ROUTE_CACHE {
                return best;
            }
        }
        let best = match client.show_route_for(&self.prefix, false).await {
            Ok(routes) => routes.iter().find(|r| r.best).and_then(|r| {
                lock(&self.routes)
                    .iter()
                    .find(|(p, _)| *p == r.protocol)
                    .map(|(_, addr)| *addr)
            }),
            Err(_) => None,
        };
        *lock(&self.cache) = Some((Instant::now(), best));
        best
    }
}

async fn front_door(listener: TcpListener, router: Arc<Router>) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let router = router.clone();
        tokio::spawn(async move {
            // No route: the connection dies, as traffic to a withdrawn prefix would.
            let Some(addr) = router.best().await else {
                return;
            };
            let Ok(mut server) = TcpStream::connect(addr).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
    }
}

/// How long the owner may take to add or remove a metro (its router must come up and
/// its session establish).
pub const METRO_CHANGE: Duration = Duration::from_secs(60);

async fn control_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    token: String,
    requests: tokio::sync::mpsc::Sender<MetroRequest>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let (shared, token, requests) = (shared.clone(), token.clone(), requests.clone());
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            let mut reader = BufReader::new(read.take(4096));
            let read_line = reader.read_line(&mut line);
            if !matches!(
                tokio::time::timeout(Duration::from_secs(5), read_line).await,
                Ok(Ok(_))
            ) {
                return;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            // Only the owner of the lab's state file knows the token.
            let reply = match words.as_slice() {
                [t, rest @ ..] if *t == token => match rest {
                    ["app", "stop", code] => shared.stop_app(code),
                    ["app", "start", code] => shared.start_app(code).await,
                    ["metro", verb @ ("add" | "remove"), code] => {
                        let (reply, answer) = tokio::sync::oneshot::channel();
                        let req = MetroRequest {
                            add: *verb == "add",
                            code: code.to_string(),
                            reply,
                        };
                        match requests.send(req).await {
                            Err(_) => Err("this lab's owner takes no metro changes".to_string()),
                            Ok(()) => match tokio::time::timeout(METRO_CHANGE, answer).await {
                                Ok(Ok(r)) => r,
                                Ok(Err(_)) => {
                                    Err("the lab's owner stopped before answering".to_string())
                                }
                                Err(_) => Err(format!(
                                    "no answer from the lab's owner within {}s",
                                    METRO_CHANGE.as_secs()
                                )),
                            },
                        }
                    }
                    _ => Err(format!("unknown lab command `{}`", rest.join(" "))),
                },
                _ => Err("not this lab's token".to_string()),
            };
            let text = match reply {
                Ok(t) => format!("ok {t}\n"),
                Err(e) => format!("error {e}\n"),
            };
            let _ = write.write_all(text.as_bytes()).await;
        });
    }
}

/// Sends one command to the lab's control port (`app stop am`) and returns its answer.
pub async fn control(state: &LabState, command: &str) -> Result<String, LabError> {
    control_within(state, command, Duration::from_secs(5)).await
}

/// [`control`], waiting at most `limit` for the answer (`metro add` takes seconds).
pub async fn control_within(
    state: &LabState,
    command: &str,
    limit: Duration,
) -> Result<String, LabError> {
    let addr = state.control_addr();
    let talk = async {
        let stream = TcpStream::connect(addr).await?;
        let (read, mut write) = stream.into_split();
        write
            .write_all(format!("{} {command}\n", state.control_token).as_bytes())
            .await?;
        let mut line = String::new();
        BufReader::new(read).read_line(&mut line).await?;
        Ok::<String, std::io::Error>(line)
    };
    let line = tokio::time::timeout(limit, talk)
        .await
        .map_err(|_| LabError(format!("the lab at {addr} did not answer")))?
        .map_err(|e| {
            LabError(format!(
                "cannot reach the lab at {addr}: {e} (is it running?)"
            ))
        })?;
    match line.trim().split_once(' ') {
        Some(("ok", text)) => Ok(text.to_string()),
        Some(("error", text)) => Err(LabError(text.to_string())),
        _ => Err(LabError(format!(
            "unexpected answer from the lab: {}",
            line.trim()
        ))),
    }
}
