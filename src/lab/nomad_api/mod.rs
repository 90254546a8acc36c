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
//!
//! Where to look: the endpoint's start and its lab app are here; `cluster.rs` holds the
//! index, the event buffer and the synthetic allocations, `http.rs` the routes and the
//! response shapes, `documents.rs` the JSON the metro is described with, `streams.rs`
//! the event stream and the task logs. Job writes (register, revert) are `nomad_jobs`'.

mod cluster;
mod documents;
mod http;
mod streams;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::combinators::BoxBody;
use hyper::body::Bytes;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::dataplane::{lock, AppMetro, Shared};
use super::nomad_jobs::JobStore;
use cluster::{churn, Cluster, Synth};
use documents::{allocs, job_at};
use http::serve;

pub(super) use cluster::{event, EventText};
pub use documents::alloc_id;
pub(super) use documents::{nanos, uuid_for};

pub use super::nomad_jobs::JOB;
/// The task group and task of the lab's first job (the console's built-in job's).
pub const GROUP: &str = crate::deploy::job::GROUP;
pub const TASK: &str = crate::deploy::job::TASK;
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
