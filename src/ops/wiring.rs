//! Wiring from the config to the backends: probe targets and options, probe schedules,
//! Nomad client settings.

use std::time::Duration;

use crate::config::{Config, Metro};

/// The console's probe targets: the anycast URL, then every metro with an address probed
/// directly with the anycast Host header (like `curl --resolve`).
pub fn probe_targets(cfg: &Config) -> Vec<crate::probe::Target> {
    use crate::domain::ANYCAST;
    let Some(url) = &cfg.anycast.url else {
        return Vec::new();
    };
    let Ok(base) = crate::probe::Target::from_url(ANYCAST, url) else {
        return Vec::new();
    };
    let base = base.with_served_by_header(&cfg.probe.served_by_header);
    // `Config::probed` is the one rule for what is probed, in what order.
    cfg.probed()
        .map(|(name, addr)| {
            let t = crate::probe::Target {
                name: name.to_string(),
                ..base.clone()
            };
            match addr {
                Some(a) => t.connect_to(a),
                None => t,
            }
        })
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
/// until stopped); each sample goes to `tx` as `tag(target name, sample)`. Returns the
/// schedules with their targets' names.
pub fn spawn_probes<M: Send + 'static>(
    cfg: &Config,
    interval: Duration,
    count: Option<u64>,
    tx: &tokio::sync::mpsc::UnboundedSender<M>,
    tag: impl Fn(String, crate::probe::ProbeSample) -> M + Clone + Send + Sync + 'static,
) -> Vec<(String, tokio::task::JoinHandle<()>)> {
    spawn_probes_kickable(cfg, interval, count, tx, tag, None)
}

/// [`spawn_probes`] whose anycast schedule also probes at once when `kick` says so
/// (after an action or a change of best path), never `count`-limited.
pub fn spawn_probes_kickable<M: Send + 'static>(
    cfg: &Config,
    interval: Duration,
    count: Option<u64>,
    tx: &tokio::sync::mpsc::UnboundedSender<M>,
    tag: impl Fn(String, crate::probe::ProbeSample) -> M + Clone + Send + Sync + 'static,
    kick: Option<std::sync::Arc<crate::probe::Kick>>,
) -> Vec<(String, tokio::task::JoinHandle<()>)> {
    let opts = probe_options(cfg);
    probe_targets(cfg)
        .into_iter()
        .map(|target| {
            let name = target.name.clone();
            let (tag, n) = (tag.clone(), name.clone());
            let tag = move |sample| tag(n.clone(), sample);
            let handle = match (&kick, name == crate::domain::ANYCAST && count.is_none()) {
                (Some(kick), true) => crate::probe::spawn_kickable_schedule(
                    target,
                    opts.clone(),
                    interval,
                    tx.clone(),
                    tag,
                    kick.clone(),
                ),
                _ => crate::probe::spawn_schedule(
                    target,
                    opts.clone(),
                    interval,
                    count,
                    tx.clone(),
                    tag,
                ),
            };
            (name, handle)
        })
        .collect()
}

/// Probes every target `count` times, `interval` apart, all targets at once; returns
/// (target name, sample) pairs as they completed.
pub async fn probe_all(
    cfg: &Config,
    count: u64,
    interval: Duration,
) -> Vec<(String, crate::probe::ProbeSample)> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _schedules = spawn_probes(cfg, interval, Some(count), &tx, |t, s| (t, s));
    // The schedules hold the only senders: the channel ends when the last one has.
    drop(tx);
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
    if let Some(b) = n.max_body {
        s.max_body = b;
    }
    s.unix_socket = n.unix_socket.clone();
    Some(s)
}
