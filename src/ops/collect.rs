//! Polls every metro's BIRD and the observer into one `Snapshot`, concurrently, each with
//! its own persistent connection and timeout, so one slow or dead daemon costs only its
//! own cell. A remote metro's BIRD socket is the local end of an SSH tunnel
//! ([`crate::ssh::link_of`]): while its link is not up the router is not tried, and the
//! link's own error (ssh's words, the retry) is the router's.

use std::time::{Duration, SystemTime};

use futures_util::future::join_all;

use crate::bird::{time, BirdClient, BirdError, ProtoState};
use crate::config::{Config, Metro};
use crate::domain::text::visible;
use crate::domain::{
    self, BgpSession, MetroStatus, ObservedRoute, ObserverView, RouterStatus, Snapshot,
};

/// Persistent connections for polling, one per metro plus the observer; optionally the
/// state directory, read around the routers.
pub struct Poller {
    metros: Vec<(Metro, BirdClient, Option<Link>)>,
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
                .map(|m| {
                    (
                        m.clone(),
                        BirdClient::new(m.bird_socket.clone(), timeout),
                        crate::ssh::link_of(&m.bird_socket),
                    )
                })
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
            .map(|(m, _, _)| (m.observer_protocol.clone(), m.name.clone()))
            .collect();
        let metro_futs = self
            .metros
            .iter_mut()
            .map(|(m, c, link)| metro_status(m, c, link.as_ref(), &prefix));
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
        let mut snap = Snapshot {
            taken: SystemTime::now(),
            metros,
            observer,
            journal,
        };
        snap.attach_observer_problems();
        snap
    }
}

type Link = tokio::sync::watch::Receiver<crate::domain::link::LinkStatus>;

async fn metro_status(
    m: &Metro,
    c: &mut BirdClient,
    link: Option<&Link>,
    prefix: &str,
) -> MetroStatus {
    let link = link.map(|l| l.borrow().clone());
    if let Some(e) = link
        .as_ref()
        .and_then(|l| l.router_error(SystemTime::now()))
    {
        return MetroStatus {
            name: m.name.clone(),
            router: Err(e),
        };
    }
    let router = router_status(m, c, prefix)
        .await
        .map_err(|e| match (&link, e) {
            // The tunnel's local end accepted, and the far end closed it: sshd could not
            // open the socket there (since the link's own check, or it would have said).
            (Some(l), BirdError::Connect { message, .. }) => format!(
                "{}: {}: the far end closed the tunnel before BIRD's greeting ({})",
                domain::link::TUNNEL_REFUSED,
                l.destination,
                visible(&message)
            ),
            (_, e) => describe(e),
        });
    MetroStatus {
        name: m.name.clone(),
        router,
    }
}

/// The operator-facing text of a polling failure, starting with the words
/// [`domain::failure_word`] reads: a socket that cannot be connected to is unreachable,
/// one that does not answer in time is silent. Control characters made visible.
pub fn describe(e: BirdError) -> String {
    let text = match e {
        BirdError::Connect { path, message } => {
            format!("{}: {}: {message}", domain::UNREACHABLE, path.display())
        }
        BirdError::Timeout(_) => format!("{}: {e}", domain::SILENT),
        other => other.to_string(),
    };
    visible(&text).into_owned()
}

/// Splits a query's failure: BIRD answering with an error (or with something the parser
/// does not understand) concerns that piece only and is returned as `Ok(Err(_))`; a
/// failing socket (no answer, closed, garbled framing) fails the router's whole poll.
fn piece<T>(r: Result<T, BirdError>) -> Result<Result<T, BirdError>, BirdError> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(e @ (BirdError::Daemon { .. } | BirdError::Parse(_) | BirdError::InvalidName(_))) => {
            Ok(Err(e))
        }
        Err(e) => Err(e),
    }
}

/// BIRD 2 answers `show route P export X` with this while X has no channel up for P's
/// table (session down or disabled, or no channel of that family): nothing is exported.
fn no_valid_tables(e: &BirdError) -> bool {
    matches!(e, BirdError::Daemon { code: 9001, message } if message.trim() == "No valid tables")
}

/// One metro's BIRD: its session toward the peer, its origins, whether it exports the
/// prefix. `Err` only when the router cannot be read at all (its socket, or `show
/// protocols` itself); every other failing query is a problem of its piece.
pub async fn router_status(
    m: &Metro,
    c: &mut BirdClient,
    prefix: &str,
) -> Result<RouterStatus, BirdError> {
    let protocols = c.show_protocols().await?;
    let now = SystemTime::now();
    let mut problems = Vec::new();
    let missing = |name: &str| format!("no protocol `{name}` at {}'s BIRD", m.name);
    let mut origins = Vec::new();
    for name in &m.origin_protocols {
        let state = match protocols.iter().find(|p| &p.name == name) {
            Some(p) => visible(p.state.as_str()).into_owned(),
            None => {
                problems.push(missing(name));
                "missing".to_string()
            }
        };
        origins.push((name.clone(), state));
    }
    let bgp_proto = match &m.export_protocol {
        Some(name) => {
            let found = protocols.iter().find(|p| &p.name == name);
            if found.is_none() {
                problems.push(missing(name));
            }
            found
        }
        None => protocols
            .iter()
            .find(|p| p.proto.eq_ignore_ascii_case("BGP")),
    };
    let Some(p) = bgp_proto else {
        // A configured export protocol that is not there: unknown, never judged from the
        // origins. Without a peer protocol at all, "advertised" means every origin is up.
        let advertised = match &m.export_protocol {
            Some(_) => None,
            None => Some(origins.iter().all(|(_, s)| s == "up")),
        };
        return Ok(RouterStatus {
            bgp: None,
            origins,
            advertised,
            exported: None,
            problems,
        });
    };
    // Without an `export_protocol`, the name comes from BIRD: untrusted text.
    let shown = visible(&p.name).into_owned();
    let advertised = match piece(c.show_route_export(prefix, &p.name).await)? {
        Ok(routes) => Some(!routes.is_empty()),
        Err(e) if no_valid_tables(&e) => Some(false),
        Err(e) => {
            problems.push(format!(
                "export of {prefix} to `{shown}` unknown: {}",
                visible(&e.to_string())
            ));
            None
        }
    };
    let detail = match piece(c.show_protocol_all(&p.name).await)? {
        Ok(d) => Some(d),
        Err(e) => {
            problems.push(format!(
                "details of `{shown}` unknown: {}",
                visible(&e.to_string())
            ));
            None
        }
    };
    if let Some(d) = &detail {
        if !d.channels.is_empty() && d.channel_for(prefix).is_none() {
            problems.push(format!(
                "`{shown}` has no channel for {prefix}'s address family"
            ));
        }
    }
    // The row's Info has the session word unless the protocol is down; the detail's
    // `BGP state:` line always has it.
    let session = p
        .bgp_state
        .clone()
        .or_else(|| detail.as_ref().and_then(|d| d.bgp_state.clone()))
        .unwrap_or_else(|| {
            if p.state == ProtoState::Down {
                "Down".to_string()
            } else {
                p.state.as_str().to_string()
            }
        });
    // Wall-clock formats are measured on the router's own clock (no time zone needed).
    let router_now = if time::is_epoch(&p.since) {
        None
    } else {
        match piece(c.show_status().await)? {
            Ok(st) => st.server_time,
            Err(_) => None,
        }
    };
    let since_at = time::age_secs(&p.since, router_now.as_deref(), now)
        .and_then(|age| now.checked_sub(Duration::from_secs(age)));
    Ok(RouterStatus {
        bgp: Some(BgpSession {
            protocol: shown,
            state: visible(p.state.as_str()).into_owned(),
            session: visible(&session).into_owned(),
            since: visible(&p.since).into_owned(),
            since_at,
            info: visible(p.bgp_error.as_deref().unwrap_or("")).into_owned(),
        }),
        origins,
        advertised,
        exported: detail.and_then(|d| d.exported_for(prefix)),
        problems,
    })
}

/// The observer's routes for the prefix, each mapped to the metro whose
/// `observer_protocol` it came from (`mapping`: protocol, metro), and the metros whose
/// protocol the observer does not have. `Err` when the routes cannot be read: never
/// taken for "no route".
pub async fn observer_view(
    c: &mut BirdClient,
    prefix: &str,
    mapping: &[(String, String)],
) -> Result<ObserverView, String> {
    let routes = c.show_route_for(prefix, true).await.map_err(describe)?;
    let missing_protocols = match piece(c.show_protocols().await).map_err(describe)? {
        Ok(protocols) => mapping
            .iter()
            .filter(|(proto, _)| !protocols.iter().any(|p| &p.name == proto))
            .map(|(proto, metro)| (metro.clone(), proto.clone()))
            .collect(),
        // Which protocols exist is unknown: nothing to report.
        Err(_) => Vec::new(),
    };
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
                    protocol: visible(&r.protocol).into_owned(),
                    best: r.best,
                    local_pref,
                }
            })
            .collect(),
        missing_protocols,
    })
}
