//! `platform-tui probe`: httping-style lines and a summary, for a URL, the anycast address
//! or one metro's own address.

use std::time::Duration;

use super::{failed, load, need_config, usage, Cli, Failure};
use crate::config::{self, Config};
use crate::ops;
use crate::probe::Target;

/// `probe` options from the command line.
pub struct ProbeArgs {
    pub count: Option<u64>,
    pub interval: f64,
    pub get: bool,
    pub keep_alive: bool,
    pub timeout: Option<f64>,
}

fn seconds(what: &str, v: f64) -> Result<Duration, Failure> {
    if !(v.is_finite() && (0.001..=3600.0).contains(&v)) {
        return Err(usage(format!(
            "{what} must be between 0.001 and 3600 seconds"
        )));
    }
    Ok(Duration::from_secs_f64(v))
}

/// The probe target: an explicit URL (no config needed), or the config's anycast URL,
/// or one metro's own address with the anycast Host header.
fn probe_target(
    cli: &Cli,
    url: Option<&str>,
    metro: Option<&str>,
) -> Result<(Target, Option<Config>), Failure> {
    if let Some(url) = url {
        let cfg = match &cli.config {
            Some(p) => Some(load(p, cli.read_only)?),
            None => None,
        };
        let mut t = Target::from_url(url, url).map_err(usage)?;
        if let Some(c) = &cfg {
            t = t.with_served_by_header(&c.probe.served_by_header);
        }
        return Ok((t, cfg));
    }
    let cfg = need_config(cli)?;
    let Some(anycast_url) = cfg.anycast.url.clone() else {
        return Err(usage(
            "the config has no [anycast] url to probe; pass a URL",
        ));
    };
    let base = Target::from_url("anycast", &anycast_url)
        .map_err(usage)?
        .with_served_by_header(&cfg.probe.served_by_header);
    let target = match metro {
        None => base,
        Some(name) => {
            let m = cfg
                .metro(name)
                .ok_or_else(|| usage(config::no_metro(&cfg, name)))?;
            let addr = m
                .address
                .ok_or_else(|| usage(format!("metro `{name}` has no address to probe directly")))?;
            Target {
                name: name.to_string(),
                ..base
            }
            .connect_to(addr)
        }
    };
    Ok((target, Some(cfg)))
}

pub async fn run(
    cli: &Cli,
    url: Option<&str>,
    metro: Option<&str>,
    args: ProbeArgs,
) -> Result<(), Failure> {
    use std::collections::BTreeMap;

    use crate::probe::{output, run_schedule, Method, ProbeSample, Stats};

    let interval = seconds("the interval", args.interval)?;
    let (target, cfg) = probe_target(cli, url, metro)?;
    let mut opts = cfg.as_ref().map(ops::probe_options).unwrap_or_default();
    if args.get {
        opts.method = Method::Get;
    }
    opts.keep_alive |= args.keep_alive;
    if let Some(t) = args.timeout {
        opts.timeout = seconds("the timeout", t)?;
    }
    let window = cfg.as_ref().map(|c| c.probe.window).unwrap_or(60);
    match target.connect_to {
        Some(addr) => println!("PROBE {} via {addr}", target.uri),
        None => println!("PROBE {}", target.uri),
    }
    // The schedule runs in one task with the printing (a spawned one: a wake-up of the
    // command's own future would also wake the runtime's driver, a system call), and
    // prints each sample itself: no channel and no second task per sample. Stopping it
    // (on an interrupt) cancels the probes in flight.
    let task = tokio::spawn(async move {
        let mut stats = Stats::new(window);
        // Probes overlap when one is slower than the interval; print them in order.
        let mut pending: BTreeMap<u64, ProbeSample> = BTreeMap::new();
        let mut next = 0u64;
        let print = |sample: ProbeSample| {
            if sample.seq == next {
                // In order, as nearly always.
                stats.record(&sample);
                println!("{}", output::sample_line(&sample));
                next += 1;
            } else {
                pending.insert(sample.seq, sample);
            }
            while let Some(s) = pending.remove(&next) {
                stats.record(&s);
                println!("{}", output::sample_line(&s));
                next += 1;
            }
        };
        let probes = run_schedule(target, opts, interval, args.count, print);
        let interrupted = async {
            match crate::signals::Stop::new(true) {
                Ok(mut stop) => {
                    stop.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = probes => {}
            () = interrupted => {}
        }
        (stats, pending)
    });
    let (mut stats, pending) = task
        .await
        .map_err(|e| failed(format!("the probes stopped: {e}")))?;
    for s in pending.into_values() {
        stats.record(&s);
        println!("{}", output::sample_line(&s));
    }
    let summary = stats.session();
    println!();
    for line in output::summary_lines(&summary) {
        println!("{line}");
    }
    if summary.received > 0 {
        Ok(())
    } else {
        Err(failed("no probe succeeded"))
    }
}
