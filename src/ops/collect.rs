//! Polls every metro's BIRD and the observer into one `Snapshot`, concurrently, each with
//! its own persistent connection and timeout, so one slow or dead daemon costs only its
//! own cell.

use std::time::{Duration, SystemTime};

use futures_util::future::join_all;

use crate::bird::{BirdClient, BirdError, ProtoState};
use crate::config::{Config, Metro};
use crate::domain::{BgpSession, MetroStatus, ObservedRoute, ObserverView, RouterStatus, Snapshot};

/// Persistent connections for polling, one per metro plus the observer; optionally the
/// state directory, read around the routers.
pub struct Poller {
    metros: Vec<(Metro, BirdClient)>,
    observer: Option<BirdClient>,
    prefix: String,
    journal: Option<super::journal::JournalReader>,
}

impl Poller {
    pub fn new(cfg: &Config, timeout: Duration) -> Poller {
        Poller {
            metros: cfg
                .metros
                .iter()
                .map(|m| (m.clone(), BirdClient::new(m.bird_socket.clone(), timeout)))
                .collect(),
            observer: cfg
                .anycast
                .observer
                .as_ref()
                .map(|o| BirdClient::new(o.bird_socket.clone(), timeout)),
            prefix: cfg.anycast.prefix.clone(),
            journal: None,
        }
    }

    /// Also reads the config's state directory with every snapshot (desired state, other
    /// processes' actions, an unfinished action): what a console and `status` need.
    pub fn with_journal(mut self, cfg: &Config) -> Poller {
        self.journal = Some(super::journal::JournalReader::new(
            super::journal::StateDir::of(cfg),
        ));
        self
    }

    pub async fn snapshot(&mut self) -> Snapshot {
        let before = self.journal.as_ref().map(|j| j.generation());
        let prefix = self.prefix.clone();
        let mapping: Vec<(String, String)> = self
            .metros
            .iter()
            .map(|(m, _)| (m.observer_protocol.clone(), m.name.clone()))
            .collect();
        let metro_futs = self
            .metros
            .iter_mut()
            .map(|(m, c)| metro_status(m, c, &prefix));
        let observer_fut = async {
            match self.observer.as_mut() {
                Some(c) => Some(observer_view(c, &prefix, &mapping).await),
                None => None,
            }
        };
        let (metros, observer) = tokio::join!(join_all(metro_futs), observer_fut);
        let journal = match (self.journal.as_mut(), before) {
            (Some(j), Some(before)) => Some(j.read(before)),
            _ => None,
        };
        Snapshot {
            taken: SystemTime::now(),
            metros,
            observer,
            journal,
        }
    }
}

async fn metro_status(m: &Metro, c: &mut BirdClient, prefix: &str) -> MetroStatus {
    MetroStatus {
        name: m.name.clone(),
        router: router_status(m, c, prefix).await.map_err(describe),
    }
}

/// The operator-facing text of a polling failure.
pub fn describe(e: BirdError) -> String {
    match e {
        BirdError::Connect { .. } => format!("router unreachable: {e}"),
        other => other.to_string(),
    }
}

pub async fn router_status(
    m: &Metro,
    c: &mut BirdClient,
    prefix: &str,
) -> Result<RouterStatus, BirdError> {
    let protocols = c.show_protocols().await?;
    let origins: Vec<(String, String)> = m
        .origin_protocols
        .iter()
        .map(|name| {
            let state = protocols
                .iter()
                .find(|p| &p.name == name)
                .map(|p| p.state.as_str().to_string())
                .unwrap_or_else(|| "missing".to_string());
            (name.clone(), state)
        })
        .collect();
    let bgp_proto = match &m.export_protocol {
        Some(name) => protocols.iter().find(|p| &p.name == name),
        None => protocols
            .iter()
            .find(|p| p.proto.eq_ignore_ascii_case("BGP")),
    };
    let bgp = bgp_proto.map(|p| BgpSession {
        protocol: p.name.clone(),
        state: p.state.as_str().to_string(),
        session: p.bgp_state.clone().unwrap_or_else(|| {
            if p.state == ProtoState::Down {
                "Down".to_string()
            } else {
                p.state.as_str().to_string()
            }
        }),
        since: p.since.clone(),
        info: p.bgp_error.clone().unwrap_or_default(),
    });
    let (advertised, exported) = match bgp_proto {
        Some(p) => {
            let routes = c.show_route_export(prefix, &p.name).await?;
            let detail = c.show_protocol_all(&p.name).await?;
            (!routes.is_empty(), detail.routes.map(|r| r.exported))
        }
        // Without a peer protocol, "advertised" means every origin is up.
        None => (origins.iter().all(|(_, s)| s == "up"), None),
    };
    Ok(RouterStatus {
        bgp,
        origins,
        advertised,
        exported,
    })
}

pub async fn observer_view(
    c: &mut BirdClient,
    prefix: &str,
    mapping: &[(String, String)],
) -> Result<ObserverView, String> {
    let routes = c.show_route_for(prefix, true).await.map_err(describe)?;
    Ok(ObserverView {
        routes: routes
            .into_iter()
            .map(|r| {
                let local_pref = r
                    .attributes
                    .iter()
                    .find(|(k, _)| k == "BGP.local_pref" || k == "bgp_local_pref")
                    .and_then(|(_, v)| v.trim().parse().ok());
                ObservedRoute {
                    metro: mapping
                        .iter()
                        .find(|(p, _)| *p == r.protocol)
                        .map(|(_, m)| m.clone()),
                    protocol: r.protocol,
                    best: r.best,
                    local_pref,
                }
            })
            .collect(),
    })
}
