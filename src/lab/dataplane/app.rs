//! A metro's app server as the lab plays it: which app and version it serves
//! ([`AppVersion`]), what is known about it (its allocation, past allocations, events,
//! access log: [`AppState`]), and starting, replacing and stopping it ([`Shared`]).
//! Answers "what does this metro's app server run, and is it up?"; how it answers a
//! request is in `serve`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::lock;
use super::serve::serve_app;

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
    pub(super) task: Option<JoinHandle<()>>,
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

    pub(super) fn bump(&self) {
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
