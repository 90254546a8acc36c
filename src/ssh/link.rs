//! One link: the master connection to one destination, the forwards of the metros it
//! serves, each tunnel checked through itself, and — in a console — reconnection with
//! exponential backoff and jitter. Every change is published to each of its metros'
//! `watch` channels. A link never waits on another: each runs as its own task.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use crate::domain::backoff::Backoff;
use tokio::sync::watch;

use super::args;
use super::master::{LinkError, Master, Spec};
use crate::domain::link::{LinkState, LinkStatus, Tunnel};

/// Longest a connection may take: ssh's own `ConnectTimeout` and a margin for a jump
/// host and authentication.
const CONNECT_LIMIT: Duration = Duration::from_secs(args::CONNECT_TIMEOUT_S as u64 + 10);
/// How long a tunnel check waits for BIRD's greeting or Nomad's answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// While a tunnel is refused, it is checked again this often.
const RECHECK: Duration = Duration::from_secs(10);
/// Retrying cannot fix an unknown host key or a refused key: try again only this often
/// (a fast loop of failed logins would also get the operator banned by fail2ban).
const NEEDS_PERSON_RETRY: Duration = Duration::from_secs(60);

/// A metro's forwards through the link.
#[derive(Debug, Clone)]
pub struct MetroEnds {
    pub metro: String,
    /// The local end of the BIRD tunnel.
    pub bird_local: PathBuf,
    /// The BIRD socket on the far side.
    pub bird_remote: PathBuf,
    pub nomad: Option<NomadEnd>,
}

/// The Nomad API's tunnel.
#[derive(Debug, Clone)]
pub struct NomadEnd {
    pub local: PathBuf,
    /// `host:port` as the far side reaches it (`[::1]:4646` for IPv6).
    pub target: String,
    /// `scheme://host:port`, for the check's request.
    pub url: String,
}

/// What one link serves and how it behaves.
pub struct LinkSpec {
    pub master: Spec,
    pub metros: Vec<(MetroEnds, watch::Sender<LinkStatus>)>,
    /// The command a person runs once by hand (host key, key refused).
    pub by_hand: String,
    /// Reconnect after a failure (a console); a one-shot command tries once.
    pub retry: bool,
}

/// The reconnection delays: 0.25 s doubling to 3 s, each drawn from the upper half of
/// its step (so consoles that lost a host together do not come back in step).
fn backoff() -> Backoff {
    Backoff::new(Duration::from_millis(250), Duration::from_secs(3))
}

impl LinkSpec {
    /// Sets every metro's status from one template, keeping each metro's tunnels.
    fn publish(&self, f: impl Fn(&mut LinkStatus)) {
        for (_, tx) in &self.metros {
            tx.send_modify(|s| f(s));
        }
    }

    fn publish_down(
        &self,
        e: &LinkError,
        state: LinkState,
        attempt: u32,
        retry_at: Option<SystemTime>,
    ) {
        let now = SystemTime::now();
        let hint = args::hint(e.kind, &self.by_hand);
        self.publish(|s| {
            if !matches!(s.state, LinkState::Down | LinkState::Reconnecting) {
                s.since = now;
            }
            s.state = state;
            s.error = Some(e.line.clone());
            s.hint = hint.clone();
            s.attempt = attempt;
            s.retry_at = retry_at;
            s.bird = Tunnel::Unchecked;
            if s.nomad.is_some() {
                s.nomad = Some(Tunnel::Unchecked);
            }
        });
    }
}

/// Resolves when the link is asked to stop (or its owner is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Runs the link until `stop`: connect, forward, check, watch; on failure, report and
/// (with `retry`) reconnect after a backoff.
pub async fn run(link: LinkSpec, mut stop: watch::Receiver<bool>) {
    let mut delays = backoff();
    let mut attempt: u32 = 1;
    let mut ever_up = false;
    loop {
        if ever_up || attempt > 1 {
            link.publish(|s| {
                s.state = LinkState::Reconnecting;
                s.attempt = attempt;
                s.retry_at = None;
            });
        }
        let started = Instant::now();
        let connected = tokio::select! {
            r = connect(&link) => r,
            _ = stopped(&mut stop) => return,
        };
        let error = match connected {
            Ok(mut master) => {
                ever_up = true;
                attempt = 1;
                delays.reset();
                let connect_ms = started.elapsed().as_secs_f64() * 1000.0;
                let mut tunnels = check_all(&link, &master).await;
                let now = SystemTime::now();
                // One change per metro: up, with its tunnels' verdicts.
                for ((_, tx), (bird, nomad)) in link.metros.iter().zip(&tunnels) {
                    tx.send_modify(|s| {
                        s.state = LinkState::Up;
                        s.since = now;
                        s.error = None;
                        s.hint = None;
                        s.attempt = 0;
                        s.retry_at = None;
                        s.connect_ms = Some(connect_ms);
                        s.bird = bird.clone();
                        s.nomad = nomad.clone();
                    });
                }
                loop {
                    let refused = tunnels.iter().any(|(b, n)| {
                        matches!(b, Tunnel::Refused(_)) || matches!(n, Some(Tunnel::Refused(_)))
                    });
                    let wait = if refused {
                        RECHECK
                    } else {
                        Duration::from_secs(3600)
                    };
                    tokio::select! {
                        e = master.ended() => break e,
                        _ = tokio::time::sleep(wait) => {}
                        _ = stopped(&mut stop) => {
                            master.exit().await;
                            return;
                        }
                    }
                    tunnels = check_all(&link, &master).await;
                    for ((_, tx), (bird, nomad)) in link.metros.iter().zip(&tunnels) {
                        tx.send_if_modified(|s| {
                            let changed = s.bird != *bird || s.nomad != *nomad;
                            s.bird = bird.clone();
                            s.nomad = nomad.clone();
                            changed
                        });
                    }
                }
            }
            Err(e) => e,
        };
        if !link.retry {
            link.publish_down(&error, LinkState::Down, attempt, None);
            stopped(&mut stop).await;
            return;
        }
        let delay = if error.kind.needs_person() {
            NEEDS_PERSON_RETRY
        } else {
            delays.next_wait()
        };
        link.publish_down(
            &error,
            LinkState::Reconnecting,
            attempt,
            Some(SystemTime::now() + delay),
        );
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stopped(&mut stop) => return,
        }
        attempt = attempt.saturating_add(1);
    }
}

/// Starts the master and adds every metro's forwards.
async fn connect(link: &LinkSpec) -> Result<Master, LinkError> {
    let master = Master::connect(&link.master, CONNECT_LIMIT).await?;
    for (ends, _) in &link.metros {
        let added = async {
            master
                .forward(&ends.bird_local, &ends.bird_remote.to_string_lossy())
                .await?;
            if let Some(n) = &ends.nomad {
                master.forward(&n.local, &n.target).await?;
            }
            Ok::<(), LinkError>(())
        }
        .await;
        if let Err(e) = added {
            master.exit().await;
            return Err(e);
        }
    }
    Ok(master)
}

type Checked = (Tunnel, Option<Tunnel>);

/// Every metro's tunnels, checked through themselves, all at once.
async fn check_all(link: &LinkSpec, master: &Master) -> Vec<Checked> {
    let checks = link.metros.iter().map(|(ends, _)| async move {
        let (bird, nomad) = tokio::join!(check_bird(ends, master), async {
            match &ends.nomad {
                Some(n) => Some(check_nomad(n, master).await),
                None => None,
            }
        });
        (bird, nomad)
    });
    futures_util::future::join_all(checks).await
}

/// BIRD greets every new connection with `0001 BIRD … ready.`: through the tunnel, that
/// proves the far end opened the socket. A refusal is explained by asking the far side.
async fn check_bird(ends: &MetroEnds, master: &Master) -> Tunnel {
    use tokio::io::AsyncBufReadExt as _;
    let greeting = async {
        let stream = tokio::net::UnixStream::connect(&ends.bird_local).await?;
        let mut line = String::new();
        tokio::io::BufReader::new(stream)
            .read_line(&mut line)
            .await?;
        Ok::<String, std::io::Error>(line)
    };
    let shown = ends.bird_remote.display();
    match tokio::time::timeout(CHECK_TIMEOUT, greeting).await {
        Ok(Ok(line)) if line.starts_with("0001 ") => Tunnel::Ok,
        Ok(Ok(line)) if line.is_empty() => {
            let checked = match args::socket_check_script(&ends.bird_remote) {
                Some(script) => master.run(&script, CHECK_TIMEOUT).await,
                None => None,
            };
            Tunnel::Refused(args::refused_socket(
                &ends.bird_remote,
                checked.as_deref(),
                master.said("open failed").as_deref(),
            ))
        }
        Ok(Ok(line)) => Tunnel::Refused(format!(
            "{shown} at the far end is not BIRD's control socket (it said {:?})",
            crate::domain::text::visible(line.trim_end())
        )),
        Ok(Err(e)) => Tunnel::Refused(format!("the tunnel's local end: {e}")),
        Err(_) => Tunnel::Refused(format!(
            "BIRD at {shown} did not greet within {}s",
            CHECK_TIMEOUT.as_secs()
        )),
    }
}

/// Nomad answers `GET /v1/status/leader` without a token: any HTTP answer proves the
/// tunnel reaches an agent. (The certificate is verified by the real client, with the
/// metro's CA; this check only asks whether anything answers.)
async fn check_nomad(n: &NomadEnd, master: &Master) -> Tunnel {
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(true)
        .unix_socket(n.local.clone())
        .timeout(CHECK_TIMEOUT)
        .build();
    let client = match client {
        Ok(c) => c,
        Err(e) => return Tunnel::Refused(format!("cannot check Nomad: {e}")),
    };
    match client
        .get(format!("{}/v1/status/leader", n.url))
        .send()
        .await
    {
        Ok(_) => Tunnel::Ok,
        Err(e) => {
            let said = master
                .said("open failed")
                .map(|l| crate::domain::text::visible(&l).into_owned());
            Tunnel::Refused(match said {
                Some(line) => format!("Nomad at {} refused at the far end ({line})", n.target),
                None => format!(
                    "Nomad at {} did not answer through the tunnel: {}",
                    n.target,
                    crate::domain::text::visible(&e.to_string())
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        let mut b = backoff();
        let d: Vec<Duration> = (0..8).map(|_| b.next_wait()).collect();
        assert!(d[0] >= Duration::from_millis(125) && d[0] <= Duration::from_millis(250));
        assert!(d.iter().all(|x| *x <= Duration::from_secs(3)), "{d:?}");
        assert!(d[7] >= Duration::from_millis(1500), "{d:?}");
        // Two links do not retry in step.
        let mut b = backoff();
        let other: Vec<Duration> = (0..8).map(|_| b.next_wait()).collect();
        assert_ne!(d, other);
    }
}
