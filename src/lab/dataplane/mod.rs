//! The lab's data plane: per metro an HTTP app server that answers after that metro's WAN
//! delay (with a little jitter), and an anycast front door that forwards each new
//! connection to the metro the upstream BIRD prefers at that moment — no route, no
//! connection, as with a black hole. A control port lets `lab app stop|start` stop and
//! start a metro's app server from another process, and `lab metro add|remove` ask the
//! lab's owner to add or remove a whole metro (its router too) while the lab runs.
//!
//! Where to look: the running data plane and its metros are here; `app.rs` holds what a
//! metro's app server runs and starts, replaces or stops it, `serve.rs` how it answers a
//! request, `front_door.rs` where an anycast connection goes, `control.rs` the control
//! port.

mod app;
mod control;
mod front_door;
mod serve;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::{LabError, LabMetro, LabState};
use crate::bird::BirdClient;

pub use app::{AppMetro, AppState, AppVersion, PastAlloc, Shared, INITIAL_REF};
use control::control_loop;
pub use control::{control, control_within, MetroRequest, METRO_CHANGE};
use front_door::{front_door, Router};

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking holder cannot leave this plain data inconsistent: keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
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
