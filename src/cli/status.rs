//! `platform-tui status`: one poll of every metro, probes and Nomad, judged like the
//! console judges them (`world::World`), printed as a table or as JSON. The JSON keys are
//! a contract (README): the types below are it. Exits 1 when something is wrong.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::{failed, Failure};
use crate::config::Config;
use crate::domain::link::{LinkStatus, Tunnel};
use crate::domain::{BestPath, Desired, Snapshot};
use crate::ops::{self, journal::StateDir, Poller};
use crate::world::{Health, MetroState, World, ANYCAST};

/// The whole report: `status --json`.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    /// Nothing is wrong (the exit code is 0 exactly then).
    pub ok: bool,
    /// What is wrong, one sentence each.
    pub problems: Vec<String>,
    pub metros: Vec<MetroReport>,
    pub actions: ActionsReport,
    pub anycast: AnycastReport,
}

#[derive(Debug, Serialize)]
pub struct MetroReport {
    pub name: String,
    pub display_name: String,
    /// `disable` or `command`.
    pub method: String,
    /// Null when the router was not polled.
    pub bgp: Option<BgpReport>,
    /// Set only when the metro's BIRD cannot be read at all ("router unreachable: …",
    /// "router silent: …").
    pub error: Option<String>,
    /// A query BIRD answered with an error, a configured protocol it does not have.
    pub problems: Vec<String>,
    pub desired: Option<Desired>,
    pub drift: Option<&'static str>,
    /// An unfinished action on this metro.
    pub note: Option<String>,
    /// Null when the metro has no address to probe.
    pub latency: Option<LatencyReport>,
    /// Null when the metro has no `[metro.nomad]`.
    pub nomad: Option<NomadReport>,
    /// The metro's SSH link; null for a metro reached locally.
    pub ssh: Option<SshReport>,
}

/// A remote metro's SSH link (`metros[].ssh`).
#[derive(Debug, Serialize)]
pub struct SshReport {
    pub destination: String,
    /// `connecting`, `up`, `down` or `reconnecting`.
    pub state: &'static str,
    /// ssh's own line for the failure, when not up.
    pub error: Option<String>,
    /// What a person must do (a host key to check, a key to load), naming the command.
    pub hint: Option<String>,
    /// Seconds in this state.
    pub age_s: u64,
    /// How long connecting took, in milliseconds.
    pub connect_ms: Option<f64>,
    /// The BIRD tunnel, checked through itself.
    pub bird: TunnelReport,
    /// The Nomad tunnel; null without `[metro.nomad]`.
    pub nomad: Option<TunnelReport>,
}

/// One tunnel: `ok` null while unchecked (the link is not up).
#[derive(Debug, Serialize)]
pub struct TunnelReport {
    pub ok: Option<bool>,
    pub error: Option<String>,
}

impl SshReport {
    pub fn of(l: &LinkStatus, now: std::time::SystemTime) -> SshReport {
        let tunnel = |t: &Tunnel| match t {
            Tunnel::Unchecked => TunnelReport {
                ok: None,
                error: None,
            },
            Tunnel::Ok => TunnelReport {
                ok: Some(true),
                error: None,
            },
            Tunnel::Refused(why) => TunnelReport {
                ok: Some(false),
                error: Some(why.clone()),
            },
        };
        SshReport {
            destination: l.destination.clone(),
            state: l.state.word(),
            error: l.error.clone(),
            hint: l.hint.clone(),
            age_s: crate::domain::time::secs_between(l.since, now),
            connect_ms: l.connect_ms.map(|ms| (ms * 10.0).round() / 10.0),
            bird: tunnel(&l.bird),
            nomad: l.nomad.as_ref().map(tunnel),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct BgpReport {
    /// BIRD's BGP state word: `Established`, `Active`, `Down`, ...
    pub session: Option<String>,
    /// BIRD's protocol state: up, down, start, ...
    pub state: Option<String>,
    /// When it last changed, as BIRD prints it.
    pub since: Option<String>,
    pub protocol: Option<String>,
    pub info: Option<String>,
    /// Null when unknown; false for a router that cannot be read.
    pub advertised: Option<bool>,
    pub exported: Option<u64>,
    /// up, down, partial, missing.
    pub origin: Option<String>,
}

/// A target's window of probes.
#[derive(Debug, Serialize)]
pub struct LatencyReport {
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub loss_pct: f64,
    pub served_by: Option<String>,
    pub served_by_inferred: bool,
    pub samples: u64,
}

/// A number that could not be read is null, never 0.
#[derive(Debug, Serialize)]
pub struct NomadReport {
    pub leader: Option<bool>,
    pub nodes_ready: Option<u64>,
    pub nodes_total: Option<u64>,
    pub allocs: AllocsReport,
    pub error: Option<String>,
    /// Each failing endpoint and its error.
    pub errors: BTreeMap<String, String>,
}

/// `failed` counts failures that need attention; ones Nomad replaced are `replaced`.
#[derive(Debug, Serialize)]
pub struct AllocsReport {
    pub running: Option<u64>,
    pub pending: Option<u64>,
    pub failed: Option<u64>,
    pub replaced: Option<u64>,
    pub lost: Option<u64>,
    pub unknown: Option<u64>,
    pub complete: Option<u64>,
    pub total: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct ActionsReport {
    /// An action whose intent has no outcome: running, or its process died.
    pub unfinished: Option<UnfinishedReport>,
    pub state_dir_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct UnfinishedReport {
    pub running: bool,
    pub id: String,
    pub metro: String,
    pub action: crate::domain::journal::AuditAction,
    pub user: String,
    pub pid: u32,
    pub via: Option<crate::domain::Via>,
    pub time: String,
}

#[derive(Debug, Serialize)]
pub struct AnycastReport {
    pub prefix: String,
    /// The metros advertising the prefix (the observer's view when it answers).
    pub advertising: Vec<String>,
    /// The metro the observer prefers; null when unknown or a foreign peer.
    pub best: Option<String>,
    /// The observer's protocol of the best path, whatever it is.
    pub best_peer: Option<String>,
    pub observer_error: Option<String>,
    pub latency: Option<LatencyReport>,
    /// `answering`, `failing`, `no_route` or `probing`.
    pub health: Option<&'static str>,
}

impl StatusReport {
    pub fn of(w: &World) -> StatusReport {
        let problems = w.problems();
        StatusReport {
            ok: problems.is_empty(),
            problems,
            metros: w.metros.iter().map(|m| metro_report(w, m)).collect(),
            actions: ActionsReport {
                unfinished: w.unfinished.as_ref().map(|u| UnfinishedReport {
                    running: u.running,
                    id: u.intent.id.clone(),
                    metro: u.intent.metro.clone(),
                    action: u.intent.action,
                    user: u.intent.user.clone(),
                    pid: u.intent.pid,
                    via: u.intent.via,
                    time: u.intent.time.clone(),
                }),
                state_dir_error: w.journal_error.clone(),
            },
            anycast: AnycastReport {
                prefix: w.prefix.clone(),
                advertising: w.advertising(),
                best: w.best().map(str::to_string),
                best_peer: w.best_peer().map(str::to_string),
                observer_error: match &w.observer {
                    Some(Err(e)) => Some(e.clone()),
                    _ => None,
                },
                latency: latency_report(w, ANYCAST),
                health: w.anycast_health().map(|h| health_word(&h)),
            },
        }
    }
}

fn metro_report(w: &World, m: &MetroState) -> MetroReport {
    let (bgp, error, problems) = match &m.status {
        Some(Ok(r)) => (
            Some(BgpReport {
                session: r.bgp.as_ref().map(|b| b.session.clone()),
                state: r.bgp.as_ref().map(|b| b.state.clone()),
                since: r.bgp.as_ref().map(|b| b.since.clone()),
                protocol: r.bgp.as_ref().map(|b| b.protocol.clone()),
                info: r.bgp.as_ref().map(|b| b.info.clone()),
                advertised: r.advertised,
                exported: r.exported,
                origin: Some(r.origin_state().to_string()),
            }),
            None,
            r.problems.clone(),
        ),
        Some(Err(e)) => (
            Some(BgpReport {
                session: None,
                state: None,
                since: None,
                protocol: None,
                info: None,
                advertised: Some(false),
                exported: None,
                origin: None,
            }),
            Some(e.clone()),
            Vec::new(),
        ),
        None => (None, Some("not polled".to_string()), Vec::new()),
    };
    MetroReport {
        name: m.name.clone(),
        display_name: m.display_name.clone(),
        method: m.method.clone(),
        bgp,
        error,
        problems,
        desired: w.desired.get(&m.name).copied(),
        drift: w.drift(m),
        note: w.unfinished_note(m),
        latency: latency_report(w, &m.name),
        nomad: m.nomad.as_ref().map(|n| {
            let s = n.summary();
            let a = s.allocs;
            let count = |f: fn(&crate::domain::nomad::AllocCounts) -> u64| a.as_ref().map(f);
            NomadReport {
                leader: s.leader,
                nodes_ready: s.nodes_ready,
                nodes_total: s.nodes_total,
                allocs: AllocsReport {
                    running: count(|a| a.running),
                    pending: count(|a| a.pending),
                    failed: count(|a| a.failed),
                    replaced: count(|a| a.replaced),
                    lost: count(|a| a.lost),
                    unknown: count(|a| a.unknown),
                    complete: count(|a| a.complete),
                    total: count(|a| a.total),
                },
                error: n.error.clone(),
                errors: n
                    .errors()
                    .into_iter()
                    .map(|(endpoint, e)| (endpoint.to_string(), e.to_string()))
                    .collect(),
            }
        }),
        ssh: None,
    }
}

fn latency_report(w: &World, target: &str) -> Option<LatencyReport> {
    let row = w.latency_row(target)?;
    let s = row.stats.window();
    let round2 = |v: f64| (v * 100.0).round() / 100.0;
    Some(LatencyReport {
        p50_ms: s.p50.map(round2),
        p95_ms: s.p95.map(round2),
        loss_pct: (s.loss_pct * 10.0).round() / 10.0,
        served_by: row.served_by.clone(),
        served_by_inferred: row.inferred,
        samples: s.sent,
    })
}

/// `answering`, `failing`, `no_route` or `probing`.
fn health_word(h: &Health) -> &'static str {
    match h {
        Health::Answering { .. } => "answering",
        Health::Failing { .. } => "failing",
        Health::NoRoute => "no_route",
        Health::Probing => "probing",
    }
}

/// One poll of every metro, with the state directory read around it.
pub async fn snapshot(cfg: &Config) -> Snapshot {
    Poller::new(cfg, Duration::from_secs(2))
        .with_journal(cfg)
        .snapshot()
        .await
}

/// One poll of everything, judged: routers and observer, `status_probes` probes per
/// target, every Nomad agent.
pub async fn observe(cfg: &Config) -> World {
    let count = u64::from(cfg.probe.status_probes);
    let (snap, samples, nomad) = tokio::join!(
        snapshot(cfg),
        async {
            if count == 0 {
                Vec::new()
            } else {
                ops::probe_all(cfg, count, Duration::from_millis(50)).await
            }
        },
        nomad_snapshots(cfg)
    );
    let desired = StateDir::of(cfg).desired().unwrap_or_default();
    World::from_poll(cfg, desired, snap, samples, nomad)
}

/// One round of every metro's Nomad API, concurrently.
async fn nomad_snapshots(cfg: &Config) -> Vec<(String, crate::nomad::NomadSnapshot)> {
    let futs = cfg.metros.iter().filter_map(|m| {
        let settings = ops::nomad_settings(m)?;
        let name = m.name.clone();
        Some(async move {
            let snap = match crate::nomad::Client::new(settings) {
                Ok(c) => crate::nomad::snapshot(&c).await,
                Err(e) => crate::nomad::NomadSnapshot::failed(e.to_string()),
            };
            (name, snap)
        })
    });
    futures_util::future::join_all(futs).await
}

/// `status`: remote metros through their SSH links (tried once each), then one poll.
pub async fn run(cfg: &Config, json: bool) -> Result<(), Failure> {
    super::remote::with_links(cfg, false, |cfg, links| async move {
        report(&cfg, json, &links).await
    })
    .await
}

async fn report(
    cfg: &Config,
    json: bool,
    links: &BTreeMap<String, LinkStatus>,
) -> Result<(), Failure> {
    let world = observe(cfg).await;
    let problems = world.problems();
    if json {
        let mut report = StatusReport::of(&world);
        for m in &mut report.metros {
            m.ssh = links.get(&m.name).map(|l| SshReport::of(l, world.now));
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!(
            "{}",
            crate::domain::text::visible_lines(&status_text(&world))
        );
    }
    if problems.is_empty() {
        return Ok(());
    }
    // Exit 1: something is wrong. The text already lists it; JSON readers get it on stderr.
    Err(failed(if json {
        format!("something is wrong: {}", problems.join("; "))
    } else {
        format!("something is wrong ({} above)", problems.len())
    }))
}

pub fn status_text(state: &World) -> String {
    let mut s = String::new();
    let adv = state.advertising();
    let best = match (
        crate::domain::best_path(state.observer.as_ref()),
        &state.observer,
    ) {
        (BestPath::Metro(b), _) => b,
        (BestPath::Peer(p), _) => format!("via peer {p} (not a configured metro)"),
        (BestPath::NoRoute, _) => "none: black-holed".to_string(),
        (BestPath::NoBest, _) => "unknown (routes, but no best path)".to_string(),
        (BestPath::Unknown, Some(Err(e))) if crate::domain::failure_word(e) == "silent" => {
            format!(
                "unknown (observer silent: {})",
                e.rsplit(": ").next().unwrap_or(e)
            )
        }
        (BestPath::Unknown, Some(Err(e))) => format!("unknown (observer: {e})"),
        (BestPath::Unknown, _) => "unknown (no observer)".to_string(),
    };
    s.push_str(&format!(
        "anycast {}  best: {best}  advertising: {}{}\n",
        state.prefix,
        if adv.is_empty() {
            "none".to_string()
        } else {
            adv.join(", ")
        },
        state
            .anycast_health()
            .map(|h| format!("  latency: {}", h.words(state.now)))
            .unwrap_or_default()
    ));
    let cols =
        |m: &str, n: &str, bgp: &str, o: &str, a: &str, e: &str, p: &str, l: &str, nm: &str| {
            format!("{m:<16} {n:<14} {bgp:<12} {o:<8} {a:<10} {e:<4} {p:<8} {l:<5} {nm:<9}")
        };
    s.push_str(&cols(
        "METRO",
        "NAME",
        "BGP",
        "ORIGIN",
        "ADVERTISED",
        "EXP",
        "P50",
        "LOSS",
        "NOMAD",
    ));
    s.push_str(" NOTE\n");
    for m in &state.metros {
        let (p50, loss) = match state.latency_row(&m.name) {
            Some(r) => {
                let w = r.stats.window();
                (
                    w.p50
                        .map(|v| format!("{v:.0}ms"))
                        .unwrap_or_else(|| "-".into()),
                    format!("{:.0}%", w.loss_pct),
                )
            }
            None => ("-".into(), "-".into()),
        };
        let nomad = match m
            .nomad
            .as_ref()
            .map(|n| (n.summary().allocs, n.error.is_some()))
        {
            None => "-".to_string(),
            Some((None, _)) => "?".to_string(),
            Some((Some(c), erred)) => {
                let q = if erred { " ?" } else { "" };
                if c.failed > 0 {
                    format!("{}/{} {}✗{q}", c.running, c.total, c.failed)
                } else {
                    format!("{}/{}{q}", c.running, c.total)
                }
            }
        };
        let line = match &m.status {
            Some(Ok(r)) => {
                let note = state
                    .unfinished_note(m)
                    .or_else(|| state.drift(m).map(|d| format!("DRIFT: {d}")))
                    .or_else(|| (!r.problems.is_empty()).then(|| r.problems.join("; ")))
                    .or_else(|| r.bgp.as_ref().map(|b| b.info.clone()))
                    .unwrap_or_default();
                format!(
                    "{} {note}",
                    cols(
                        &m.name,
                        &m.display_name,
                        r.bgp.as_ref().map(|b| b.session.as_str()).unwrap_or("-"),
                        r.origin_state(),
                        match r.advertised {
                            Some(true) => "yes",
                            Some(false) => "withdrawn",
                            None => "?",
                        },
                        &r.exported
                            .map(|e| e.to_string())
                            .unwrap_or_else(|| "-".into()),
                        &p50,
                        &loss,
                        &nomad,
                    )
                )
            }
            Some(Err(e)) => format!(
                "{} {e}",
                cols(
                    &m.name,
                    &m.display_name,
                    crate::domain::failure_word(e),
                    "?",
                    "?",
                    "-",
                    &p50,
                    &loss,
                    &nomad
                )
            ),
            None => format!("{:<16} {:<14} not polled", m.name, m.display_name),
        };
        s.push_str(line.trim_end());
        s.push('\n');
    }
    let problems = state.problems();
    if !problems.is_empty() {
        s.push_str("\nPROBLEMS\n");
        for p in problems {
            s.push_str(&format!("  {p}\n"));
        }
    }
    s
}
