//! Operations that span backends: snapshots of every metro, withdraw/restore with
//! verification, the remembered desired state, and the audit log. No UI.

pub mod collect;
pub mod store;

use std::time::{Duration, Instant};

use crate::bird::BirdClient;
use crate::config::{Config, Metro, WithdrawMethod};
pub use crate::domain::Request;
use crate::domain::{ActionKind, Outcome};
pub use collect::Poller;

/// How long a withdraw or restore may take to converge before it is reported unverified.
/// A `command` restore restarts a daemon, so BGP must re-establish first.
fn verify_limit(method: &WithdrawMethod) -> Duration {
    match method {
        WithdrawMethod::Disable => Duration::from_secs(10),
        WithdrawMethod::Command { .. } => Duration::from_secs(30),
    }
}

/// Runs a withdraw or restore, verifies it, remembers the desired state and writes the
/// audit record. Never panics; every failure is in the returned `Outcome`.
pub async fn execute(
    cfg: &Config,
    req: &Request,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Outcome {
    let method = cfg
        .metro(&req.metro)
        .map(|m| m.withdraw.name().to_string())
        .unwrap_or_else(|| "-".into());
    let mut outcome = Outcome {
        metro: req.metro.clone(),
        action: req.action,
        method,
        converged_ms: None,
        best_after: None,
        result: Err(String::new()),
    };
    outcome.result = run(cfg, req, progress, &mut outcome).await;
    if cfg.metro(&req.metro).is_some() {
        let store = store::Store::for_config(cfg);
        if outcome.ok() {
            if let Err(e) = store.set_desired(&req.metro, req.action.desired()) {
                progress(&format!("warning: desired state not saved: {e}"));
            }
        }
        if let Err(e) = store.audit(&outcome) {
            progress(&format!("warning: audit log not written: {e}"));
        }
    }
    outcome
}

async fn run(
    cfg: &Config,
    req: &Request,
    progress: &mut (dyn FnMut(&str) + Send),
    outcome: &mut Outcome,
) -> Result<String, String> {
    let verb = req.action.verb();
    if cfg.console.read_only {
        return Err(format!(
            "refused: read-only mode, {verb} of {} not performed",
            req.metro
        ));
    }
    let Some(metro) = cfg.metro(&req.metro) else {
        let known: Vec<&str> = cfg.metros.iter().map(|m| m.name.as_str()).collect();
        return Err(format!(
            "no metro `{}` in the config (known: {})",
            req.metro,
            known.join(", ")
        ));
    };
    let mut poller = Poller::new(cfg, Duration::from_secs(2));
    let before = poller.snapshot().await;
    if req.action == ActionKind::Withdraw && !req.force {
        let advertising = before.advertising();
        if advertising.iter().all(|m| *m == req.metro) && advertising.contains(&req.metro) {
            return Err(format!(
                "refused: {} is the last metro advertising {}; withdrawing it black-holes the anycast address (use --force to do it anyway)",
                req.metro, cfg.anycast.prefix
            ));
        }
    }
    progress(&format!("{verb} {} ({})", req.metro, metro.withdraw.name()));
    let started = Instant::now();
    act(metro, req.action).await?;
    let acted_ms = started.elapsed().as_secs_f64() * 1000.0;
    progress(&format!("{verb} sent in {acted_ms:.1} ms; verifying"));
    let limit = verify_limit(&metro.withdraw);
    let want_advertised = req.action == ActionKind::Restore;
    loop {
        let snap = poller.snapshot().await;
        let exports = snap
            .metro(&req.metro)
            .is_some_and(|m| m.router.as_ref().is_ok_and(|r| r.advertised));
        let observed = match &snap.observer {
            Some(Ok(view)) => Some(view.has_route_from(&req.metro)),
            _ => None,
        };
        let observer_ok = observed.is_none_or(|o| o == want_advertised);
        if exports == want_advertised && observer_ok {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            outcome.converged_ms = Some(ms);
            outcome.best_after = snap.best();
            let now = match (&snap.observer, snap.best()) {
                (Some(Ok(_)), Some(best)) => format!("; anycast now via {best}"),
                (Some(Ok(_)), None) => "; no metro advertises the anycast address".to_string(),
                _ => String::new(),
            };
            let past = if want_advertised {
                "restored"
            } else {
                "withdrawn"
            };
            return Ok(format!("{} {past}, verified in {ms:.1} ms{now}", req.metro));
        }
        if started.elapsed() > limit {
            let what = if exports != want_advertised {
                format!(
                    "{} still {}",
                    req.metro,
                    if exports {
                        "exports the prefix"
                    } else {
                        "exports nothing"
                    }
                )
            } else {
                "the observer has not converged".to_string()
            };
            return Err(format!("not verified after {}s: {what}", limit.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Performs the action itself: BIRD `disable`/`enable` of the origins, or the configured
/// command.
async fn act(metro: &Metro, action: ActionKind) -> Result<(), String> {
    match &metro.withdraw {
        WithdrawMethod::Disable => {
            let mut c = BirdClient::new(metro.bird_socket.clone(), Duration::from_secs(5));
            for origin in &metro.origin_protocols {
                let r = match action {
                    ActionKind::Withdraw => c.disable(origin).await,
                    ActionKind::Restore => c.enable(origin).await,
                };
                r.map_err(|e| {
                    format!(
                        "{} \"{origin}\" on {}: {e}",
                        action_word(action),
                        metro.name
                    )
                })?;
            }
            Ok(())
        }
        WithdrawMethod::Command { withdraw, restore } => {
            let cmd = match action {
                ActionKind::Withdraw => withdraw,
                ActionKind::Restore => restore,
            };
            run_command(cmd).await
        }
    }
}

fn action_word(a: ActionKind) -> &'static str {
    match a {
        ActionKind::Withdraw => "disable",
        ActionKind::Restore => "enable",
    }
}

async fn run_command(cmd: &str) -> Result<(), String> {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(60), child).await {
        Err(_) => Err("command did not finish within 60s".into()),
        Ok(Err(e)) => Err(format!("cannot run command: {e}")),
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => Err(format!(
            "command failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// The console's probe targets: the anycast URL, then every metro with an address probed
/// directly with the anycast Host header (like `curl --resolve`).
pub fn probe_targets(cfg: &Config) -> Vec<crate::probe::Target> {
    use crate::app::latency::ANYCAST;
    let Some(url) = &cfg.anycast.url else {
        return Vec::new();
    };
    let Ok(base) = crate::probe::Target::from_url(ANYCAST, url) else {
        return Vec::new();
    };
    let base = base.with_served_by_header(&cfg.probe.served_by_header);
    std::iter::once(base.clone())
        .chain(cfg.metros.iter().filter_map(|m| {
            let addr = m.address?;
            Some(
                crate::probe::Target {
                    name: m.name.clone(),
                    ..base.clone()
                }
                .connect_to(addr),
            )
        }))
        .collect()
}

/// Probe options from the config's `[probe]` table.
pub fn probe_options(cfg: &Config) -> crate::probe::ProbeOptions {
    crate::probe::ProbeOptions {
        method: match cfg.probe.method {
            crate::config::ProbeMethod::Head => crate::probe::Method::Head,
            crate::config::ProbeMethod::Get => crate::probe::Method::Get,
        },
        timeout: cfg.probe.timeout,
        keep_alive: cfg.probe.keep_alive,
    }
}

/// Starts one probe schedule per target, each on its own clock (`count` probes each, or
/// until stopped); samples arrive tagged with their target's name. The receiver ends
/// once every schedule has.
pub fn spawn_probes(
    cfg: &Config,
    interval: Duration,
    count: Option<u64>,
) -> (
    Vec<tokio::task::JoinHandle<()>>,
    tokio::sync::mpsc::UnboundedReceiver<(String, crate::probe::ProbeSample)>,
) {
    let opts = probe_options(cfg);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut handles = Vec::new();
    for target in probe_targets(cfg) {
        let name = target.name.clone();
        let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel();
        handles.push(crate::probe::spawn_schedule(
            target,
            opts.clone(),
            interval,
            count,
            ptx,
        ));
        let tx = tx.clone();
        handles.push(tokio::spawn(async move {
            while let Some(sample) = prx.recv().await {
                if tx.send((name.clone(), sample)).is_err() {
                    return;
                }
            }
        }));
    }
    (handles, rx)
}

/// Probes every target `count` times, `interval` apart, all targets at once; returns
/// (target name, sample) pairs as they completed.
pub async fn probe_all(
    cfg: &Config,
    count: u64,
    interval: Duration,
) -> Vec<(String, crate::probe::ProbeSample)> {
    let (_handles, mut rx) = spawn_probes(cfg, interval, Some(count));
    let mut all = Vec::new();
    while let Some(tagged) = rx.recv().await {
        all.push(tagged);
    }
    all
}

/// Nomad client settings for a metro with a `[metro.nomad]` table: the config's values
/// over the standard `NOMAD_*` environment. The token comes only from the environment
/// (`token_env`, else `NOMAD_TOKEN`), never from the config file.
pub fn nomad_settings(metro: &Metro) -> Option<crate::nomad::Settings> {
    let n = metro.nomad.as_ref()?;
    let mut s = crate::nomad::Settings::from_env();
    if let Some(a) = &n.address {
        s.address = a.clone();
    }
    if let Some(var) = &n.token_env {
        s.token = std::env::var(var).ok().filter(|t| !t.is_empty());
    }
    if let Some(r) = &n.region {
        s.region = Some(r.clone());
    }
    if let Some(ns) = &n.namespace {
        s.namespace = ns.clone();
    }
    if let Some(ca) = &n.ca_cert {
        s.ca_cert = Some(ca.clone());
    }
    if let Some(name) = &n.tls_server_name {
        s.tls_server_name = Some(name.clone());
    }
    if let Some(skip) = n.skip_verify {
        s.skip_verify = skip;
    }
    if let Some(t) = n.timeout {
        s.timeout = t;
    }
    Some(s)
}
