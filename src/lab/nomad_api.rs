//! A Nomad-API-compatible endpoint per lab metro, describing the lab's real processes:
//! one node (the metro), one job (the app) and one allocation whose status follows the
//! metro's app server — running while it serves, failed once it is stopped. Blocking
//! queries hold until the state changes; the event stream reports the changes as Nomad
//! does (a buffer of recent frames; a subscription starts at the frame with the index
//! asked for while it is held, else at the closest one); the task logs are the app
//! server's real access lines.
//!
//! On request ([`Load`], `lab up --allocs N`) each endpoint also serves a synthetic
//! cluster of N allocations (jobs of 100, on 50 nodes) that change at a steady pace, so
//! the Nomad pane can be shown at scale; `bench/nomad-scale` serves the same cluster
//! without the rest of the lab ([`serve_synthetic`]).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use futures_util::stream;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::dataplane::{lock, AppMetro, PastAlloc, Shared};
use super::nomad_jobs::{self, JobStore};

pub use super::nomad_jobs::JOB;
/// The task group and task of the lab's first job (the console's built-in job's).
pub const GROUP: &str = crate::deploy::job::GROUP;
pub const TASK: &str = crate::deploy::job::TASK;
const VERSION: &str = "1.4.1";
/// Nomad sends a heartbeat frame on an idle event stream every 30 s.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// Event frames held for subscriptions that resume (Nomad's `event_buffer_size`
/// defaults to 100; more rides out a slow reconnect at a high change rate).
const EVENT_BUFFER: usize = 8192;
/// Allocations per synthetic job.
const PER_JOB: usize = 100;
/// Nodes of a synthetic cluster.
const SYNTH_NODES: usize = 50;
/// `lab up --allocs N` reaches every metro's endpoint (and a detached lab's
/// supervisor, a process of its own) through the environment.
pub const ALLOCS_ENV: &str = "PLATFORM_TUI_LAB_ALLOCS";
/// Changes per second of each lab metro's synthetic allocations.
const LAB_CHANGES_PER_SEC: f64 = 20.0;

type Body = BoxBody<Bytes, Infallible>;

/// A synthetic cluster's size and pace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    pub allocs: usize,
    pub changes_per_sec: f64,
}

/// `lab up --allocs N`: synthetic allocations on every metro's endpoint. Called before
/// the lab (or its supervisor) starts, while nothing else reads the environment.
pub fn set_lab_allocs(allocs: usize) {
    if allocs > 0 {
        std::env::set_var(ALLOCS_ENV, allocs.to_string());
    }
}

fn load_from_env() -> Option<Load> {
    let allocs: usize = std::env::var(ALLOCS_ENV).ok()?.parse().ok()?;
    (allocs > 0).then_some(Load {
        allocs,
        changes_per_sec: LAB_CHANGES_PER_SEC,
    })
}

/// Starts one endpoint per metro; each task is named by its metro, and aborting a
/// metro's tasks stops its endpoint (a metro has several: the server, the follower of its
/// app, the synthetic churn).
pub async fn start(
    shared: &Arc<Shared>,
    addrs: &[(String, SocketAddr)],
) -> Result<Vec<(String, JoinHandle<()>)>, String> {
    let mut tasks = Vec::new();
    let load = load_from_env();
    for (code, addr) in addrs {
        let metro = shared
            .metro(code)
            .ok_or_else(|| format!("no metro {code}"))?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("nomad endpoint for {code} cannot listen on {addr}: {e}"))?;
        let cluster = Arc::new(Cluster::new(load.map(|l| Synth::new(code, l.allocs))));
        let ctx = Arc::new(Ctx {
            code: code.clone(),
            lab: Some(LabApp {
                shared: shared.clone(),
                metro,
            }),
            cluster: cluster.clone(),
            addr: *addr,
            jobs: Mutex::new(JobStore::new(code)),
        });
        if let Some(load) = load {
            tasks.push((code.clone(), tokio::spawn(churn(cluster, load))));
        }
        tasks.push((code.clone(), tokio::spawn(follow_app(ctx.clone()))));
        tasks.push((code.clone(), tokio::spawn(serve(listener, ctx))));
    }
    Ok(tasks)
}

/// Serve one synthetic cluster named `code` on `listener`, with no lab around it (the
/// agent of `bench/nomad-scale`). Runs until aborted.
pub async fn serve_synthetic(listener: TcpListener, code: &str, load: Load) {
    let cluster = Arc::new(Cluster::new(Some(Synth::new(code, load.allocs))));
    cluster.seed();
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let ctx = Arc::new(Ctx {
        code: code.to_string(),
        lab: None,
        cluster: cluster.clone(),
        addr,
        jobs: Mutex::new(JobStore::new(code)),
    });
    let churn = tokio::spawn(churn(cluster, load));
    serve(listener, ctx).await;
    churn.abort();
}

/// The lab's own app metro behind an endpoint.
pub(super) struct LabApp {
    pub(super) shared: Arc<Shared>,
    metro: Arc<AppMetro>,
}

pub(super) struct Ctx {
    pub(super) code: String,
    /// `None`: a synthetic cluster alone.
    pub(super) lab: Option<LabApp>,
    pub(super) cluster: Arc<Cluster>,
    addr: SocketAddr,
    /// The app job: versions and deployments. Locked before the cluster's state, never
    /// while holding it.
    pub(super) jobs: Mutex<JobStore>,
}

// ---------------------------------------------------------------------------------------
// The cluster: an index, a buffer of event frames, and the synthetic allocations.
// ---------------------------------------------------------------------------------------

/// One event: its topic and its whole JSON text.
pub(super) type EventText = (&'static str, String);

struct EventFrameRec {
    index: u64,
    events: Vec<EventText>,
}

pub(super) struct ClusterState {
    index: u64,
    frames: VecDeque<EventFrameRec>,
    /// The index of the newest frame dropped from the buffer.
    dropped: u64,
    synth: Option<Synth>,
}

pub(super) struct Cluster {
    state: Mutex<ClusterState>,
    index: watch::Sender<u64>,
    /// Blocking queries being held now (`stats.lab.blocking_queries` of the agent, so
    /// a test can see its query arrive before it changes anything).
    held: std::sync::atomic::AtomicUsize,
}

impl Cluster {
    fn new(synth: Option<Synth>) -> Cluster {
        Cluster {
            state: Mutex::new(ClusterState {
                index: 1,
                frames: VecDeque::new(),
                dropped: 0,
                synth,
            }),
            index: watch::Sender::new(1),
            held: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub(super) fn index(&self) -> u64 {
        lock(&self.state).index
    }

    /// A first write, so that a subscription from the first lists' index finds its
    /// frame (as on a live cluster, whose buffer holds its last writes).
    fn seed(&self) {
        self.commit(|st, index| {
            st.synth
                .as_ref()
                .and_then(|s| s.nodes.first())
                .map(|n| {
                    let text = String::from_utf8_lossy(n).into_owned();
                    vec![event("Node", "NodeRegistration", "", index, &text)]
                })
                .unwrap_or_default()
        });
    }

    /// One write: the index moves on, and its events (made from the new index) are
    /// buffered for subscribers.
    pub(super) fn commit(
        &self,
        change: impl FnOnce(&mut ClusterState, u64) -> Vec<EventText>,
    ) -> u64 {
        let index = {
            let mut st = lock(&self.state);
            st.index += 1;
            let index = st.index;
            let events = change(&mut st, index);
            st.frames.push_back(EventFrameRec { index, events });
            while st.frames.len() > EVENT_BUFFER {
                if let Some(f) = st.frames.pop_front() {
                    st.dropped = f.index;
                }
            }
            index
        };
        self.index.send_replace(index);
        index
    }
}

pub(super) fn event(
    topic: &'static str,
    kind: &str,
    key: &str,
    index: u64,
    object: &str,
) -> EventText {
    let key = Value::from(key);
    (
        topic,
        format!(
            r#"{{"Topic":"{topic}","Type":"{kind}","Key":{key},"Namespace":"default","Index":{index},"Payload":{{"{topic}":{object}}}}}"#
        ),
    )
}

/// Allocations, jobs and nodes made up at `Load::allocs`, with a "mark" allocation
/// (job `0mark`) whose group a benchmark sets to see the change arrive on screen.
struct Synth {
    allocs: Vec<SynthAlloc>,
    jobs: Vec<Bytes>,
    nodes: Vec<Bytes>,
    code: String,
    rng: fastrand::Rng,
}

struct SynthAlloc {
    id: String,
    job: String,
    n: usize,
    group: String,
    node: usize,
    status: &'static str,
    create_time: u128,
    modify_time: u128,
    modify_index: u64,
    json: Bytes,
}

/// A stable UUID-shaped ID for the `i`th object of a kind in a metro; the first 8
/// digits (what the pane shows) differ from one object to the next.
fn synth_id(kind: u8, code: &str, i: usize) -> String {
    let tag = code
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mixed = (i as u64 ^ tag).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
    format!("{mixed:08x}-{kind:02x}00-4000-8000-{i:012x}")
}

impl SynthAlloc {
    fn render(&mut self, code: &str) {
        let node = synth_id(2, code, self.node);
        let v = json!({
            "ID": self.id, "EvalID": synth_id(3, code, self.n),
            "Name": format!("{}.{}[{}]", self.job, self.group, self.n % PER_JOB),
            "Namespace": "default", "NodeID": node, "NodeName": format!("{code}-node-{:02}", self.node),
            "JobID": self.job, "JobType": "service", "JobVersion": 0, "TaskGroup": self.group,
            "DesiredStatus": "run", "DesiredDescription": "",
            "ClientStatus": self.status, "ClientDescription": "",
            "TaskStates": null,
            "DeploymentStatus": {"Healthy": self.status == "running", "Timestamp": "2026-11-27T07:21:14.402113Z",
                                 "Canary": false, "ModifyIndex": self.modify_index},
            "FollowupEvalID": "", "NextAllocation": "", "RescheduleTracker": null,
            "PreemptedAllocations": null, "PreemptedByAllocation": "",
            "CreateIndex": 1, "ModifyIndex": self.modify_index,
            "CreateTime": self.create_time, "ModifyTime": self.modify_time,
        });
        self.json = Bytes::from(v.to_string());
    }
}

impl Synth {
    fn new(code: &str, allocs: usize) -> Synth {
        let now = nanos(SystemTime::now());
        let jobs_n = allocs.div_ceil(PER_JOB);
        let job_name = |j: usize| format!("{code}-job-{j:04}");
        let mut list: Vec<SynthAlloc> = (0..allocs)
            .map(|i| SynthAlloc {
                id: synth_id(1, code, i),
                job: job_name(i / PER_JOB),
                n: i,
                group: "web".into(),
                node: i % SYNTH_NODES,
                status: "running",
                create_time: now - (i as u128) * 1_000_000_000,
                modify_time: now,
                modify_index: 1,
                json: Bytes::new(),
            })
            .collect();
        list.push(SynthAlloc {
            id: synth_id(9, code, 0),
            job: "0mark".into(),
            n: 0,
            group: "mark".into(),
            node: 0,
            status: "running",
            create_time: now,
            modify_time: now,
            modify_index: 1,
            json: Bytes::new(),
        });
        for a in &mut list {
            a.render(code);
        }
        let job = |id: String| {
            Bytes::from(
                json!({"ID": id, "Name": id, "Namespace": "default", "Type": "service",
                       "Status": "running", "Stop": false, "Priority": 50, "JobSummary": null,
                       "CreateIndex": 1, "ModifyIndex": 1})
                .to_string(),
            )
        };
        let mut jobs: Vec<Bytes> = (0..jobs_n).map(|j| job(job_name(j))).collect();
        jobs.push(job("0mark".into()));
        let nodes = (0..SYNTH_NODES)
            .map(|n| {
                Bytes::from(
                    json!({"ID": synth_id(2, code, n), "Name": format!("{code}-node-{n:02}"),
                           "Status": "ready", "SchedulingEligibility": "eligible", "Drain": false,
                           "Datacenter": code, "CreateIndex": 1, "ModifyIndex": 1})
                    .to_string(),
                )
            })
            .collect();
        Synth {
            allocs: list,
            jobs,
            nodes,
            code: code.to_string(),
            rng: fastrand::Rng::with_seed(u64::from(
                code.bytes()
                    .fold(7u32, |h, b| h.wrapping_mul(31) ^ u32::from(b)),
            )),
        }
    }

    /// Allocation `i` changes at `index`: its event.
    fn change(&mut self, i: usize, index: u64, set: impl FnOnce(&mut SynthAlloc)) -> EventText {
        let code = self.code.clone();
        let a = &mut self.allocs[i];
        set(a);
        a.modify_index = index;
        a.modify_time = nanos(SystemTime::now());
        a.render(&code);
        event(
            "Allocation",
            "AllocationUpdated",
            &a.id,
            index,
            &String::from_utf8_lossy(&a.json),
        )
    }
}

/// Synthetic allocations change at `load.changes_per_sec`: a random one moves to the
/// next status of running → pending → running → failed → running.
async fn churn(cluster: Arc<Cluster>, load: Load) {
    const STATUSES: [&str; 4] = ["pending", "running", "failed", "running"];
    let tick = Duration::from_millis(10);
    let mut due = 0.0;
    let mut every = tokio::time::interval(tick);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        due += load.changes_per_sec * tick.as_secs_f64();
        while due >= 1.0 {
            due -= 1.0;
            cluster.commit(|st, index| {
                let Some(s) = st.synth.as_mut() else {
                    return Vec::new();
                };
                // The last one is the mark: left to the benchmark.
                let i = s.rng.usize(..s.allocs.len().saturating_sub(1).max(1));
                let next = |a: &mut SynthAlloc| {
                    let at = STATUSES.iter().position(|s| *s == a.status).unwrap_or(0);
                    a.status = STATUSES[(at + a.n) % STATUSES.len()];
                };
                vec![s.change(i, index, next)]
            });
        }
    }
}

/// The lab app's allocations and job change with its app server: one frame per change,
/// with an event for each allocation that changed (a replaced one turns complete).
async fn follow_app(ctx: Arc<Ctx>) {
    let Some(lab) = &ctx.lab else { return };
    let mut rx = lab.shared.index.subscribe();
    let mut last: std::collections::BTreeMap<String, String> = Default::default();
    loop {
        {
            let st = lock(&ctx.jobs);
            let now: Vec<(String, String)> = allocs(&ctx, &st, true, 0)
                .into_iter()
                .map(|a| {
                    (
                        a["ID"].as_str().unwrap_or_default().to_string(),
                        a.to_string(),
                    )
                })
                .collect();
            let changed: Vec<String> = now
                .iter()
                .filter(|(id, text)| last.get(id) != Some(text))
                .map(|(id, _)| id.clone())
                .collect();
            if !changed.is_empty() {
                ctx.cluster.commit(|_, index| {
                    let mut evs: Vec<EventText> = allocs(&ctx, &st, true, index)
                        .into_iter()
                        .filter(|a| changed.iter().any(|c| a["ID"] == c.as_str()))
                        .map(|a| {
                            let id = a["ID"].as_str().unwrap_or_default().to_string();
                            event(
                                "Allocation",
                                "AllocationUpdated",
                                &id,
                                index,
                                &a.to_string(),
                            )
                        })
                        .collect();
                    evs.push(event(
                        "Job",
                        "JobRegistered",
                        JOB,
                        index,
                        &job_at(&ctx, &st, index).to_string(),
                    ));
                    evs
                });
                last = now.into_iter().collect();
            }
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

async fn serve(listener: TcpListener, ctx: Arc<Ctx>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(req, ctx.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// The query string, decoded (`%2A`, `+`, any escape).
struct Query(Vec<(String, String)>);

impl Query {
    fn of(req: &Request<hyper::body::Incoming>) -> Query {
        let q = req.uri().query().unwrap_or("");
        Query(
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Nomad's duration strings: `300ms`, `10s`, `5m`.
fn parse_wait(s: &str) -> Option<Duration> {
    humantime::parse_duration(s).ok()
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    ctx: Arc<Ctx>,
) -> Result<Response<Body>, Infallible> {
    let q = Query::of(&req);
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let with_lab = ctx.lab.is_some();
    let own_alloc = |id: &str| with_lab && alloc_ids(&ctx).iter().any(|a| a == id);
    let method = req.method().clone();
    let write = method == Method::POST || method == Method::PUT;
    let read_only = req
        .headers()
        .get("x-nomad-token")
        .is_some_and(|t| t.as_bytes() == nomad_jobs::READ_ONLY_TOKEN.as_bytes());
    if write && read_only && parts.first() == Some(&"v1") && parts.get(1) != Some(&"lab") {
        return Ok(text_response(
            StatusCode::FORBIDDEN,
            "Permission denied".into(),
        ));
    }
    let resp = match parts.as_slice() {
        ["v1", "status", "leader"] => json_response(json!(format!("{}:4647", ctx.addr.ip())), None),
        ["v1", "status", "peers"] => {
            json_response(json!([format!("{}:4647", ctx.addr.ip())]), None)
        }
        ["v1", "regions"] => json_response(json!(["global"]), None),
        ["v1", "agent", "self"] => json_response(agent_self(&ctx), None),
        ["v1", "agent", "health"] => json_response(
            json!({"client": {"ok": true, "message": "ok"}, "server": {"ok": true, "message": "ok"}}),
            None,
        ),
        ["v1", "nodes"] => {
            blocking(&ctx, &q, |c| {
                list(
                    c.lab.as_ref().map(|_| node(c)),
                    lock(&c.cluster.state)
                        .synth
                        .iter()
                        .flat_map(|s| s.nodes.clone()),
                )
            })
            .await
        }
        ["v1", "jobs"] if !write => {
            blocking(&ctx, &q, |c| {
                list(
                    c.lab.as_ref().map(|_| job(c)),
                    lock(&c.cluster.state)
                        .synth
                        .iter()
                        .flat_map(|s| s.jobs.clone()),
                )
            })
            .await
        }
        ["v1", "allocations"] => {
            let task_states = q.get("task_states") != Some("false");
            blocking(&ctx, &q, |c| {
                let mut entries: Vec<Bytes> = match &c.lab {
                    Some(_) => {
                        let st = lock(&c.jobs);
                        allocs(c, &st, task_states, c.cluster.index())
                            .into_iter()
                            .map(|a| Bytes::from(a.to_string()))
                            .collect()
                    }
                    None => Vec::new(),
                };
                entries.extend(
                    lock(&c.cluster.state)
                        .synth
                        .iter()
                        .flat_map(|s| s.allocs.iter().map(|a| a.json.clone())),
                );
                list(None, entries)
            })
            .await
        }
        ["v1", "job", id, "allocations"] if *id == JOB && with_lab => {
            blocking(&ctx, &q, |c| {
                let st = lock(&c.jobs);
                let own: Vec<Bytes> = allocs(c, &st, false, c.cluster.index())
                    .into_iter()
                    .map(|a| Bytes::from(a.to_string()))
                    .collect();
                list(None, own)
            })
            .await
        }
        ["v1", "job", id, "summary"] if *id == JOB && with_lab => {
            blocking(&ctx, &q, |c| {
                Full::new(Bytes::from(job(c)["JobSummary"].to_string())).boxed()
            })
            .await
        }
        ["v1", "allocation", id] if own_alloc(id) => {
            let id = id.to_string();
            blocking(&ctx, &q, move |c| {
                let st = lock(&c.jobs);
                let a = allocs(c, &st, true, c.cluster.index())
                    .into_iter()
                    .find(|a| a["ID"] == id.as_str())
                    .unwrap_or(Value::Null);
                Full::new(Bytes::from(a.to_string())).boxed()
            })
            .await
        }
        ["v1", "jobs"] if write && with_lab => {
            let body = read_body(req).await;
            write_answer(body.and_then(|b| nomad_jobs::register(&ctx, &b)))
        }
        ["v1", "job", id, "revert"] if write && *id == JOB && with_lab => {
            let body = read_body(req).await;
            write_answer(body.and_then(|b| nomad_jobs::revert(&ctx, &b)))
        }
        ["v1", "job", id] if *id == JOB && with_lab => {
            blocking(&ctx, &q, |c| full(lock(&c.jobs).job_json().to_string())).await
        }
        ["v1", "job", id, "versions"] if *id == JOB && with_lab => {
            blocking(&ctx, &q, |c| {
                full(lock(&c.jobs).versions_json().to_string())
            })
            .await
        }
        ["v1", "job", id, "deployment"] if *id == JOB && with_lab => {
            blocking(&ctx, &q, |c| {
                full(lock(&c.jobs).latest_deployment_json().to_string())
            })
            .await
        }
        ["v1", "job", id, "deployments"] if *id == JOB && with_lab => {
            blocking(&ctx, &q, |c| {
                full(lock(&c.jobs).deployments_json().to_string())
            })
            .await
        }
        ["v1", "deployment", id] if with_lab => {
            let found = lock(&ctx.jobs).deployment_by_id(id).is_some();
            if found {
                let id = id.to_string();
                blocking(&ctx, &q, move |c| {
                    full(
                        lock(&c.jobs)
                            .deployment_by_id(&id)
                            .unwrap_or(Value::Null)
                            .to_string(),
                    )
                })
                .await
            } else {
                text_response(StatusCode::NOT_FOUND, "deployment not found".into())
            }
        }
        ["v1", "event", "stream"] => event_stream(ctx.clone(), &q),
        ["v1", "client", "fs", "logs", id] if own_alloc(id) => logs(ctx.clone(), &q),
        // The benchmark's hook: set the mark allocation's group; answers the index.
        ["v1", "lab", "mark"] if method == Method::PUT => mark(&ctx, q.get("group")),
        ["v1", ..] => text_response(StatusCode::NOT_FOUND, format!("Unknown path {path}")),
        _ => text_response(StatusCode::NOT_FOUND, "404 page not found".into()),
    };
    Ok(resp)
}

fn mark(ctx: &Ctx, group: Option<&str>) -> Response<Body> {
    let Some(group) = group.filter(|g| !g.is_empty()) else {
        return text_response(StatusCode::BAD_REQUEST, "group= is required".into());
    };
    if lock(&ctx.cluster.state).synth.is_none() {
        return text_response(StatusCode::NOT_FOUND, "no synthetic load".into());
    }
    let index = ctx.cluster.commit(|st, index| {
        st.synth
            .as_mut()
            .map(|s| {
                let last = s.allocs.len() - 1;
                vec![s.change(last, index, |a| a.group = group.to_string())]
            })
            .unwrap_or_default()
    });
    json_response(json!({"Index": index}), Some(index))
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// A JSON list of the lab's own entry (if any) and pre-rendered entries, streamed in
/// pieces of about 64 KB.
fn list(own: Option<Value>, rest: impl IntoIterator<Item = Bytes>) -> Body {
    let mut pieces: Vec<Bytes> = Vec::new();
    let mut cur: Vec<u8> = Vec::with_capacity(64 << 10);
    cur.push(b'[');
    let mut first = true;
    let own = own.map(|v| Bytes::from(v.to_string()));
    for entry in own.into_iter().chain(rest) {
        if !first {
            cur.push(b',');
        }
        first = false;
        cur.extend_from_slice(&entry);
        if cur.len() >= 64 << 10 {
            pieces.push(Bytes::from(std::mem::replace(
                &mut cur,
                Vec::with_capacity(64 << 10),
            )));
        }
    }
    cur.push(b']');
    pieces.push(Bytes::from(cur));
    let s = stream::iter(
        pieces
            .into_iter()
            .map(|b| Ok::<_, Infallible>(Frame::data(b))),
    );
    BodyExt::boxed(StreamBody::new(s))
}

fn json_response(v: Value, index: Option<u64>) -> Response<Body> {
    with_index(Response::new(full(v.to_string())), index)
}

fn with_index(mut r: Response<Body>, index: Option<u64>) -> Response<Body> {
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    if let Some(i) = index {
        r.headers_mut()
            .insert("x-nomad-index", hyper::header::HeaderValue::from(i));
        r.headers_mut().insert(
            "x-nomad-knownleader",
            hyper::header::HeaderValue::from_static("true"),
        );
        r.headers_mut().insert(
            "x-nomad-lastcontact",
            hyper::header::HeaderValue::from_static("0"),
        );
    }
    r
}

fn text_response(status: StatusCode, text: String) -> Response<Body> {
    let mut r = Response::new(full(text));
    *r.status_mut() = status;
    r
}

/// A blocking query: with `index=N`, hold until the index passes N or `wait` ends.
async fn blocking(ctx: &Ctx, q: &Query, render: impl Fn(&Ctx) -> Body) -> Response<Body> {
    let mut rx = ctx.cluster.index.subscribe();
    let want: u64 = q.get("index").and_then(|i| i.parse().ok()).unwrap_or(0);
    if want > 0 {
        let wait = q
            .get("wait")
            .and_then(parse_wait)
            .unwrap_or(Duration::from_secs(300))
            .min(Duration::from_secs(600));
        use std::sync::atomic::Ordering::SeqCst;
        ctx.cluster.held.fetch_add(1, SeqCst);
        let _ = tokio::time::timeout(wait, rx.wait_for(|i| *i > want)).await;
        ctx.cluster.held.fetch_sub(1, SeqCst);
    }
    // The index first: the answer then holds at least what it says.
    let index = ctx.cluster.index();
    with_index(Response::new(render(ctx)), Some(index))
}

/// 32 hex digits from a name (FNV-1a, twice): stable per metro, shaped like Nomad's UUIDs.
pub(super) fn uuid_for(kind: &str, code: &str) -> String {
    let fnv = |seed: u64| {
        format!("{kind}/{code}").bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    };
    let hex = format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x8422_2325_cbf2_9ce4)
    );
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

pub fn alloc_id(code: &str) -> String {
    uuid_for("alloc", code)
}

fn node_id(code: &str) -> String {
    uuid_for("node", code)
}

pub(super) fn nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn rfc3339(t: Option<SystemTime>) -> String {
    t.map(|t| humantime::format_rfc3339_micros(t).to_string())
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into())
}

fn agent_self(ctx: &Ctx) -> Value {
    let code = &ctx.code;
    let running = ctx
        .lab
        .as_ref()
        .is_some_and(|l| lock(&l.metro.state).running);
    json!({
        "config": {"Region": "global", "Datacenter": code, "Version": {"Version": VERSION}, "ACL": {"Enabled": false}},
        "member": {"Name": format!("lab-{code}.global"), "Addr": ctx.addr.ip().to_string(), "Port": 4648, "Status": "alive",
                   "Tags": {"role": "nomad", "region": "global", "dc": code, "build": VERSION}},
        "stats": {
            "nomad": {"server": "true", "leader": "true", "leader_addr": format!("{}:4647", ctx.addr.ip()), "bootstrap": "true", "known_regions": "1"},
            "raft": {"state": "Leader", "last_contact": "never", "num_peers": "0", "commit_index": ctx.cluster.index().to_string()},
            "client": {"node_id": node_id(code), "known_servers": "1", "num_allocations": if running { "1" } else { "0" }, "last_heartbeat": "1.2s", "heartbeat_ttl": "15s"},
            "lab": {"blocking_queries": ctx.cluster.held.load(std::sync::atomic::Ordering::SeqCst).to_string()}
        }
    })
}

fn node(ctx: &Ctx) -> Value {
    let code = &ctx.code;
    json!({
        "ID": node_id(code), "Name": format!("lab-{code}"), "Address": ctx.addr.ip().to_string(),
        "Datacenter": code, "NodeClass": "", "Version": VERSION, "Drain": false,
        "SchedulingEligibility": "eligible", "Status": "ready", "StatusDescription": "",
        "Drivers": {"raw_exec": {"Detected": true, "Healthy": true}},
        "CreateIndex": 1, "ModifyIndex": 1
    })
}

fn job(ctx: &Ctx) -> Value {
    let st = lock(&ctx.jobs);
    job_at(ctx, &st, ctx.cluster.index())
}

/// The app job's list entry (`/v1/jobs`), with its summary.
fn job_at(ctx: &Ctx, jobs: &JobStore, index: u64) -> Value {
    let (running, started) = match &ctx.lab {
        Some(l) => (lock(&l.metro.state).running, l.shared.started),
        None => (false, UNIX_EPOCH),
    };
    let (group, _) = nomad_jobs::group_and_task(&jobs.current_spec());
    let (version, modify) = jobs.current_version();
    json!({
        "ID": JOB, "ParentID": "", "Name": JOB, "Namespace": "default", "Datacenters": [ctx.code],
        "Type": "service", "Priority": 50, "Periodic": false, "ParameterizedJob": false, "Stop": false,
        "Status": "running", "StatusDescription": "", "Version": version,
        "JobSummary": {
            "JobID": JOB, "Namespace": "default",
            "Summary": {group: {"Queued": 0, "Complete": 0, "Failed": if running { 0 } else { 1 },
                                "Running": if running { 1 } else { 0 }, "Starting": 0, "Lost": 0, "Unknown": 0}},
            "Children": {"Pending": 0, "Running": 0, "Dead": 0},
            "CreateIndex": 1, "ModifyIndex": index
        },
        "CreateIndex": 1, "ModifyIndex": index, "JobModifyIndex": modify,
        "SubmitTime": nanos(started)
    })
}

/// The ID of a metro's `seq`th allocation (the first keeps the ID it always had).
fn alloc_id_n(code: &str, seq: u32) -> String {
    if seq == 0 {
        alloc_id(code)
    } else {
        uuid_for(&format!("alloc{seq}"), code)
    }
}

/// Every allocation the endpoint knows: the running one's ID first.
fn alloc_ids(ctx: &Ctx) -> Vec<String> {
    let Some(lab) = &ctx.lab else {
        return Vec::new();
    };
    let st = lock(&lab.metro.state);
    std::iter::once(st.alloc)
        .chain(st.past.iter().rev().map(|p| p.seq))
        .map(|seq| alloc_id_n(&ctx.code, seq))
        .collect()
}

/// The app's allocations: the one running now, then those replaced by later versions
/// (complete), newest first.
fn allocs(ctx: &Ctx, jobs: &JobStore, task_states: bool, index: u64) -> Vec<Value> {
    let Some(lab) = &ctx.lab else {
        return Vec::new();
    };
    let names = nomad_jobs::group_and_task(&jobs.current_spec());
    let st = lock(&lab.metro.state);
    let mut out = vec![alloc_at(ctx, lab, &st, &names, task_states, index)];
    let mut next = alloc_id_n(&ctx.code, st.alloc);
    for p in st.past.iter().rev() {
        out.push(past_alloc(ctx, lab, p, &next, &names, task_states));
        next = alloc_id_n(&ctx.code, p.seq);
    }
    out
}

fn past_alloc(
    ctx: &Ctx,
    lab: &LabApp,
    p: &PastAlloc,
    next: &str,
    (group, task): &(String, String),
    task_states: bool,
) -> Value {
    let code = &ctx.code;
    let started = p.started_at.unwrap_or(lab.shared.started);
    let mut v = json!({
        "ID": alloc_id_n(code, p.seq), "EvalID": uuid_for(&format!("eval{}", p.seq), code),
        "Name": format!("{JOB}.{group}[0]"), "Namespace": "default",
        "NodeID": node_id(code), "NodeName": format!("lab-{code}"),
        "JobID": JOB, "JobType": "service", "JobVersion": p.job_version, "TaskGroup": group,
        "DesiredStatus": "stop", "DesiredDescription": "alloc is being updated due to job update",
        "ClientStatus": "complete", "ClientDescription": "All tasks have completed",
        "DeploymentStatus": {"Healthy": true, "Timestamp": rfc3339(p.started_at), "Canary": false, "ModifyIndex": 2},
        "FollowupEvalID": "", "NextAllocation": next, "RescheduleTracker": null,
        "PreemptedAllocations": null, "PreemptedByAllocation": "",
        "CreateIndex": 2, "ModifyIndex": 2,
        "CreateTime": nanos(started), "ModifyTime": nanos(p.stopped_at),
    });
    if task_states {
        v["TaskStates"] = json!({task.as_str(): {
            "State": "dead", "Failed": false, "Restarts": 0,
            "LastRestart": rfc3339(None), "StartedAt": rfc3339(p.started_at),
            "FinishedAt": rfc3339(Some(p.stopped_at)),
            "Events": [{"Type": "Killing", "Time": nanos(p.stopped_at),
                        "DisplayMessage": "Sent interrupt. Waiting 5s before force killing",
                        "Message": "", "Details": {}}],
        }});
    }
    v
}

fn alloc_at(
    ctx: &Ctx,
    lab: &LabApp,
    st: &super::dataplane::AppState,
    (group, task): &(String, String),
    task_states: bool,
    index: u64,
) -> Value {
    let code = &ctx.code;
    let (client, desc) = if st.running {
        ("running", "Tasks are running")
    } else {
        ("failed", "Failed tasks")
    };
    let started = lab.shared.started;
    let created = if st.alloc == 0 {
        started
    } else {
        st.started_at.unwrap_or(started)
    };
    let mut v = json!({
        "ID": alloc_id_n(code, st.alloc), "EvalID": uuid_for(&format!("eval{}", st.alloc), code),
        "Name": format!("{JOB}.{group}[0]"), "Namespace": "default",
        "NodeID": node_id(code), "NodeName": format!("lab-{code}"),
        "JobID": JOB, "JobType": "service", "JobVersion": st.job_version, "TaskGroup": group,
        "DesiredStatus": "run", "DesiredDescription": "",
        "ClientStatus": client, "ClientDescription": desc,
        "DeploymentStatus": {"Healthy": st.running && st.app.healthy, "Timestamp": rfc3339(st.started_at), "Canary": false, "ModifyIndex": index},
        "FollowupEvalID": "", "NextAllocation": "", "RescheduleTracker": null,
        "PreemptedAllocations": null, "PreemptedByAllocation": "",
        "CreateIndex": 2, "ModifyIndex": index,
        "CreateTime": nanos(created),
        "ModifyTime": nanos(st.stopped_at.or(st.started_at).unwrap_or(started)),
    });
    if task_states {
        let events: Vec<Value> = st
            .events
            .iter()
            .rev()
            .take(10)
            .rev()
            .map(|(t, kind, msg)| json!({"Type": kind, "Time": nanos(*t), "DisplayMessage": msg, "Message": msg, "Details": {}}))
            .collect();
        v["TaskStates"] = json!({task.as_str(): {
            "State": if st.running { "running" } else { "dead" },
            "Failed": !st.running,
            "Restarts": st.restarts,
            "LastRestart": if st.restarts > 0 { rfc3339(st.started_at) } else { rfc3339(None) },
            "StartedAt": rfc3339(st.started_at),
            "FinishedAt": rfc3339(st.stopped_at),
            "Events": events,
        }});
    }
    v
}

/// A write's body, up to 1 MiB.
async fn read_body(req: Request<hyper::body::Incoming>) -> Result<Bytes, (u16, String)> {
    let limited = http_body_util::Limited::new(req.into_body(), 1 << 20);
    limited
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| (400, format!("failed to read the request: {e}")))
}

/// A write's answer: its JSON, or Nomad's error text with its status.
fn write_answer(r: Result<Value, (u16, String)>) -> Response<Body> {
    match r {
        Ok(v) => {
            let index = v.get("Index").and_then(Value::as_u64);
            json_response(v, index)
        }
        Err((status, text)) => text_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            text,
        ),
    }
}

fn ndjson_stream(rx: mpsc::Receiver<Bytes>) -> Body {
    let s = stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    BodyExt::boxed(StreamBody::new(s))
}

/// Where a subscription from `from` starts, as Nomad's `StartAtClosest`: at the frame
/// with that index while it is held; before the oldest held, at the oldest; past the
/// newest, at the newest; else at the next one. `None`: nothing held yet.
fn start_at(frames: &VecDeque<EventFrameRec>, from: u64) -> Option<u64> {
    let oldest = frames.front()?.index;
    let newest = frames.back()?.index;
    Some(if from == 0 || from <= oldest {
        oldest
    } else if from > newest {
        newest
    } else {
        let at = frames.partition_point(|f| f.index < from);
        frames.get(at).map_or(newest, |f| f.index)
    })
}

/// `/v1/event/stream`: the buffered frames from `index` on (see [`start_at`]), then
/// each new one, filtered to the topics asked for (all without `topic`); `{}` heartbeats
/// when idle. A subscriber so slow that its next frame left the buffer is cut off, as
/// Nomad does.
fn event_stream(ctx: Arc<Ctx>, q: &Query) -> Response<Body> {
    let from: u64 = q.get("index").and_then(|i| i.parse().ok()).unwrap_or(0);
    let topics: Vec<String> = q
        .all("topic")
        .map(|t| t.split(':').next().unwrap_or(t).to_string())
        .collect();
    let wanted = move |t: &str| topics.is_empty() || topics.iter().any(|w| w == t || w == "*");
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let mut watch = ctx.cluster.index.subscribe();
        // Frames from this index on are due.
        let mut next = {
            let st = lock(&ctx.cluster.state);
            start_at(&st.frames, from).unwrap_or(st.index + 1)
        };
        loop {
            watch.borrow_and_update();
            let mut out = String::new();
            {
                let st = lock(&ctx.cluster.state);
                if next <= st.dropped {
                    // Too slow: the frames it needs are gone.
                    return;
                }
                let at = st.frames.partition_point(|f| f.index < next);
                for f in st.frames.iter().skip(at).take(512) {
                    next = f.index + 1;
                    let events: Vec<&str> = f
                        .events
                        .iter()
                        .filter(|(t, _)| wanted(t))
                        .map(|(_, e)| e.as_str())
                        .collect();
                    if !events.is_empty() {
                        out.push_str(&format!(
                            r#"{{"Index":{},"Events":[{}]}}"#,
                            f.index,
                            events.join(",")
                        ));
                        out.push('\n');
                    }
                }
            }
            if !out.is_empty() {
                if tx.send(Bytes::from(out)).await.is_err() {
                    return;
                }
                continue;
            }
            tokio::select! {
                r = watch.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(HEARTBEAT) => {
                    if tx.send(Bytes::from_static(b"{}\n")).await.is_err() {
                        return;
                    }
                }
                _ = tx.closed() => return,
            }
        }
    });
    with_index(Response::new(ndjson_stream(rx)), None)
}

/// `/v1/client/fs/logs/:alloc`: the app server's access lines as Nomad StreamFrames
/// (base64 data); stderr carries the task's lifecycle events.
fn logs(ctx: Arc<Ctx>, q: &Query) -> Response<Body> {
    let stderr = q.get("type") == Some("stderr");
    let follow = q.get("follow") == Some("true");
    let from_end = q.get("origin") == Some("end");
    let offset: u64 = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let task = nomad_jobs::group_and_task(&lock(&ctx.jobs).current_spec()).1;
    let file = format!(
        "alloc/logs/{task}.{}.0",
        if stderr { "stderr" } else { "stdout" }
    );
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let Some(lab) = &ctx.lab else { return };
        let text = || -> String {
            let st = lock(&lab.metro.state);
            let lines: Vec<String> = if stderr {
                st.events
                    .iter()
                    .map(|(t, k, m)| format!("{} {k}: {m}", humantime::format_rfc3339_millis(*t)))
                    .collect()
            } else {
                st.access_log.iter().cloned().collect()
            };
            lines.iter().map(|l| format!("{l}\n")).collect()
        };
        let all = text();
        let total = all.len() as u64;
        let start = if from_end {
            total.saturating_sub(offset)
        } else {
            offset.min(total)
        };
        let mut sent = start;
        let mut watch = lab.shared.index.subscribe();
        loop {
            let all = text();
            let bytes = all.as_bytes();
            // The ring dropped old lines: start over from what is kept.
            if (bytes.len() as u64) < sent {
                sent = 0;
            }
            let fresh = bytes.get(sent as usize..).unwrap_or_default();
            if !fresh.is_empty() {
                sent = bytes.len() as u64;
                let data = base64::engine::general_purpose::STANDARD.encode(fresh);
                let frame = json!({"File": file, "Offset": sent, "Data": data});
                if tx.send(Bytes::from(frame.to_string())).await.is_err() {
                    return;
                }
            }
            if !follow {
                return;
            }
            // New access lines do not bump the index; poll at Nomad's own 200 ms batching.
            tokio::select! {
                _ = watch.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            if tx.is_closed() {
                return;
            }
        }
    });
    Response::new(ndjson_stream(rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_parse_like_nomad() {
        assert_eq!(parse_wait("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_wait("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_wait("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_wait("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_wait("s"), None);
        assert_eq!(parse_wait(""), None);
    }

    #[test]
    fn query_strings_are_decoded_whole() {
        let q = Query(
            url::form_urlencoded::parse(b"namespace=%2A&topic=Job%3Aweb&topic=Node&x=a+b%2Fc")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        );
        assert_eq!(q.get("namespace"), Some("*"));
        assert_eq!(q.all("topic").collect::<Vec<_>>(), ["Job:web", "Node"]);
        assert_eq!(q.get("x"), Some("a b/c"));
    }

    #[test]
    fn ids_are_stable_and_uuid_shaped() {
        let id = alloc_id("am");
        assert_eq!(id, alloc_id("am"));
        assert_ne!(id, alloc_id("da"));
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_eq!(synth_id(1, "am", 7).len(), 36);
    }

    #[test]
    fn subscriptions_start_where_nomad_would() {
        let frames: VecDeque<EventFrameRec> = [5, 7, 9]
            .into_iter()
            .map(|index| EventFrameRec {
                index,
                events: Vec::new(),
            })
            .collect();
        assert_eq!(start_at(&frames, 7), Some(7), "held: replayed");
        assert_eq!(start_at(&frames, 6), Some(7));
        assert_eq!(start_at(&frames, 0), Some(5));
        assert_eq!(start_at(&frames, 2), Some(5), "no longer held");
        assert_eq!(start_at(&frames, 12), Some(9), "past the newest");
        assert_eq!(start_at(&VecDeque::new(), 3), None);
    }

    #[test]
    fn synthetic_cluster_changes_one_allocation_per_frame() {
        let c = Cluster::new(Some(Synth::new("m1", 250)));
        let st = lock(&c.state);
        let s = st.synth.as_ref().unwrap();
        assert_eq!(s.allocs.len(), 251, "with the mark");
        assert_eq!(s.jobs.len(), 4);
        drop(st);
        let i = c.commit(|st, index| {
            let s = st.synth.as_mut().unwrap();
            vec![s.change(3, index, |a| a.status = "failed")]
        });
        assert_eq!(i, 2);
        let st = lock(&c.state);
        let (topic, text) = &st.frames[0].events[0];
        assert_eq!(*topic, "Allocation");
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["Payload"]["Allocation"]["ClientStatus"], "failed");
        assert_eq!(v["Payload"]["Allocation"]["ModifyIndex"], 2);
    }
}
