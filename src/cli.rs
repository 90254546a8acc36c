//! The command line (a contract: scripts rely on it): argument parsing and the one-shot
//! commands. Exit codes: 0 ok, 1 operation failed, 2 bad usage or config.

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand};

use crate::app::{update, Msg, State};
use crate::config::{self, Config};
use crate::domain::Via;
use crate::domain::{ActionKind, Request, Snapshot};
use crate::lab::{self, Lab, LabMethod};
use crate::ops::{self, journal::StateDir, Interrupt, Poller};
use crate::probe::Target;

#[derive(Debug, Parser)]
#[command(
    name = "platform-tui",
    version,
    about = "Operations console for a multi-metro anycast platform"
)]
pub struct Cli {
    /// Config file (default: $XDG_CONFIG_HOME/platform-tui/config.toml; with none, the
    /// console starts an embedded lab).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Refuse withdraw and restore.
    #[arg(long, global = true)]
    pub read_only: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start, stop or inspect a local lab of real BIRD daemons.
    Lab {
        #[command(subcommand)]
        command: LabCommand,
    },
    /// One snapshot of every metro, then exit.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// HTTP latency probes, httping style: one line per probe, then a summary.
    Probe {
        /// A URL to probe (needs no config), instead of the config's targets.
        url: Option<String>,
        /// Probe the config's anycast URL (the default with a config).
        #[arg(long, conflicts_with_all = ["url", "metro"])]
        anycast: bool,
        /// Probe one metro directly: its own address with the anycast Host header.
        #[arg(long, conflicts_with = "url")]
        metro: Option<String>,
        /// Number of probes (default: until interrupted).
        #[arg(short = 'c', long = "count")]
        count: Option<u64>,
        /// Seconds between probes.
        #[arg(short = 'i', long = "interval", default_value_t = 1.0)]
        interval: f64,
        /// GET instead of HEAD.
        #[arg(long)]
        get: bool,
        /// Reuse one connection (reconnects are marked).
        #[arg(long)]
        keep_alive: bool,
        /// Seconds before a probe counts as lost.
        #[arg(long)]
        timeout: Option<f64>,
    },
    /// Withdraw a metro's anycast advertisement and wait until it is verified.
    Withdraw {
        metro: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
        /// Withdraw even the last advertising metro (black-holes the address).
        #[arg(long)]
        force: bool,
    },
    /// Restore a metro's anycast advertisement and wait until it is verified.
    Restore {
        metro: String,
        #[arg(long, short)]
        yes: bool,
    },
    /// Check a config file, or print a documented template.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Start a lab; prints the path of its config.
    Up {
        /// Metro codes, comma separated.
        #[arg(long, default_value = lab::DEFAULT_METROS)]
        metros: String,
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Return once the lab is up, leaving it running (stop it with `lab down`).
        #[arg(long)]
        detach: bool,
        /// How metros withdraw: BIRD `disable` of the origin, or `command` (stop/start
        /// the metro's bird, like `systemctl stop bird`).
        #[arg(long, value_parser = ["disable", "command"], default_value = "disable")]
        withdraw_method: String,
        /// Internal: run as the supervisor of a detached lab.
        #[arg(long, hide = true)]
        supervise: bool,
    },
    /// Stop a lab: no process, socket or pid file is left behind.
    Down {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Show a lab's daemons.
    Status {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Stop or start a metro's app server, to demonstrate failures.
    App {
        #[command(subcommand)]
        command: AppCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Stop a metro's app server: its allocation fails and its port refuses connections.
    Stop {
        metro: String,
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Start a metro's app server again.
    Start {
        metro: String,
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config file (default: the one the console would use).
    Check { path: Option<PathBuf> },
    /// Print a config template documenting every key.
    Template,
}

/// A failed command: its message and exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: message.into(),
    }
}
fn failed(message: impl Into<String>) -> Failure {
    Failure {
        code: 1,
        message: message.into(),
    }
}

/// `$XDG_CONFIG_HOME/platform-tui/config.toml` or `~/.config/platform-tui/config.toml`.
pub fn default_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("platform-tui").join("config.toml"))
}

/// The config a command uses: `--config`, else the default file, else a running default lab.
fn resolve_config(cli: &Cli) -> Result<Option<PathBuf>, Failure> {
    if let Some(p) = &cli.config {
        return Ok(Some(p.clone()));
    }
    if let Some(p) = default_config_path().filter(|p| p.exists()) {
        return Ok(Some(p));
    }
    Ok(Lab::open(&lab::default_dir())
        .ok()
        .map(|l| l.config_path())
        .filter(|p| p.exists()))
}

fn load(path: &Path, read_only: bool) -> Result<Config, Failure> {
    let mut cfg = config::load(path).map_err(|e| usage(e.to_string()))?;
    cfg.console.read_only |= read_only;
    Ok(cfg)
}

fn need_config(cli: &Cli) -> Result<Config, Failure> {
    match resolve_config(cli)? {
        Some(p) => load(&p, cli.read_only),
        None => Err(usage(
            "no config: pass --config PATH, create ~/.config/platform-tui/config.toml \
             (`platform-tui config template`), or start a lab (`platform-tui lab up --detach`)",
        )),
    }
}

fn progress_to_stderr(line: &str) {
    // Never panic when stderr is gone (a hung-up terminal).
    let _ = writeln!(std::io::stderr(), "{line}");
}

pub async fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        None => console(&cli).await,
        Some(Command::Lab { command }) => lab_command(command).await,
        Some(Command::Status { json }) => status(&need_config(&cli)?, *json).await,
        Some(Command::Probe {
            url,
            anycast: _,
            metro,
            count,
            interval,
            get,
            keep_alive,
            timeout,
        }) => {
            let opts = ProbeArgs {
                count: *count,
                interval: *interval,
                get: *get,
                keep_alive: *keep_alive,
                timeout: *timeout,
            };
            probe(&cli, url.as_deref(), metro.as_deref(), opts).await
        }
        Some(Command::Withdraw { metro, yes, force }) => {
            let req = Request {
                metro: metro.clone(),
                action: ActionKind::Withdraw,
                force: *force,
            };
            act(&need_config(&cli)?, req, *yes).await
        }
        Some(Command::Restore { metro, yes }) => {
            let req = Request {
                metro: metro.clone(),
                action: ActionKind::Restore,
                force: false,
            };
            act(&need_config(&cli)?, req, *yes).await
        }
        Some(Command::Config {
            command: ConfigCommand::Template,
        }) => {
            print!("{}", config::template());
            Ok(())
        }
        Some(Command::Config {
            command: ConfigCommand::Check { path },
        }) => {
            let path = match path.clone().or(resolve_config(&cli)?) {
                Some(p) => p,
                None => return Err(usage("no config file to check: pass a PATH")),
            };
            let cfg = load(&path, false)?;
            println!(
                "{}: ok ({} metros, prefix {})",
                path.display(),
                cfg.metros.len(),
                cfg.anycast.prefix
            );
            Ok(())
        }
    }
}

async fn console(cli: &Cli) -> Result<(), Failure> {
    let result = match resolve_config(cli)? {
        Some(path) => {
            let cfg = load(&path, cli.read_only)?;
            crate::runtime::run_console(cfg, format!("config {}", path.display())).await
        }
        None => {
            // No config anywhere: the embedded lab, torn down when the console exits.
            let dir = lab::runtime_base().join(format!("embedded-{}", std::process::id()));
            eprintln!(
                "no config file: starting the embedded lab in {}",
                dir.display()
            );
            let specs = lab::metros::parse_list(lab::DEFAULT_METROS).map_err(failed)?;
            let mut lab = Lab::up(&dir, &specs, LabMethod::Disable, &mut progress_to_stderr)
                .await
                .map_err(|e| failed(e.to_string()))?;
            let cfg = load(&lab.config_path(), cli.read_only);
            let result = match cfg {
                Ok(cfg) => crate::runtime::run_console(cfg, "embedded lab".to_string()).await,
                Err(e) => {
                    lab.down();
                    return Err(e);
                }
            };
            lab.down();
            let _ = std::fs::remove_dir_all(&dir);
            result
        }
    };
    result.map_err(|e| failed(format!("{e:#}")))
}

async fn lab_command(cmd: &LabCommand) -> Result<(), Failure> {
    match cmd {
        LabCommand::Up {
            metros,
            dir,
            detach,
            withdraw_method,
            supervise,
        } => {
            let specs = lab::metros::parse_list(metros).map_err(usage)?;
            let dir = dir.clone().unwrap_or_else(lab::default_dir);
            if *detach {
                return lab_detached(&dir, metros, withdraw_method);
            }
            let method = if withdraw_method == "command" {
                LabMethod::Command
            } else {
                LabMethod::Disable
            };
            let mut lab = Lab::up(&dir, &specs, method, &mut progress_to_stderr)
                .await
                .map_err(|e| failed(e.to_string()))?;
            if *supervise {
                lab.supervise().map_err(|e| failed(e.to_string()))?;
                let ready = dir.join("run").join("ready");
                std::fs::write(&ready, std::process::id().to_string())
                    .map_err(|e| failed(format!("{}: {e}", ready.display())))?;
                // Detached: a hang-up of the terminal that started it must not stop it.
                wait_for_stop(&mut lab, false).await;
                let _ = std::fs::remove_file(ready);
            } else {
                println!("config: {}", lab.config_path().display());
                progress_to_stderr("lab running; ctrl-c stops it");
                wait_for_stop(&mut lab, true).await;
            }
            let stopped = lab.down();
            progress_to_stderr(&format!("lab stopped ({} daemons)", stopped.len()));
            Ok(())
        }
        LabCommand::Down { dir } => {
            let dir = dir.clone().unwrap_or_else(lab::default_dir);
            let mut lab = Lab::open(&dir).map_err(|e| failed(e.to_string()))?;
            let stopped = lab.down();
            println!(
                "lab in {} is down ({} daemons stopped)",
                dir.display(),
                stopped.len()
            );
            Ok(())
        }
        LabCommand::App { command } => {
            let (verb, metro, dir) = match command {
                AppCommand::Stop { metro, dir } => ("stop", metro, dir),
                AppCommand::Start { metro, dir } => ("start", metro, dir),
            };
            let dir = dir.clone().unwrap_or_else(lab::default_dir);
            let lab = Lab::open(&dir).map_err(|e| failed(e.to_string()))?;
            let said = lab::dataplane::control(&lab.state, &format!("app {verb} {metro}"))
                .await
                .map_err(|e| failed(e.to_string()))?;
            println!("{said}");
            Ok(())
        }
        LabCommand::Status { dir } => {
            let dir = dir.clone().unwrap_or_else(lab::default_dir);
            let lab = Lab::open(&dir).map_err(|e| failed(e.to_string()))?;
            println!(
                "lab in {}  prefix {}  config {}",
                dir.display(),
                lab.state.prefix,
                lab.config_path().display()
            );
            for line in lab.status_lines() {
                println!("  {line}");
            }
            Ok(())
        }
    }
}

/// Waits for SIGINT or SIGTERM (and SIGHUP when `hangup_stops`), reaping daemons that
/// exit meanwhile.
async fn wait_for_stop(lab: &mut Lab, hangup_stops: bool) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    loop {
        tokio::select! {
            _ = int.recv() => return,
            _ = term.recv() => return,
            _ = hup.recv() => if hangup_stops { return },
            _ = tokio::time::sleep(Duration::from_millis(500)) => lab.reap(),
        }
    }
}

/// `lab up --detach`: starts this binary again as the lab's supervisor, in its own
/// process group, and returns once the lab is ready. The supervisor owns the daemons as
/// its children, so `lab down` leaves nothing behind, not even zombies.
fn lab_detached(dir: &Path, metros: &str, method: &str) -> Result<(), Failure> {
    use std::os::unix::process::CommandExt as _;
    let dir = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| failed(e.to_string()))?
            .join(dir)
    };
    if Lab::open(&dir).is_ok_and(|l| !lab::running_birds(&l.state.dir).is_empty()) {
        return Err(failed(format!(
            "a lab is already running in {} (stop it with `platform-tui lab down --dir {}`)",
            dir.display(),
            dir.display()
        )));
    }
    let logs = dir.join("log");
    std::fs::create_dir_all(&logs).map_err(|e| failed(format!("{}: {e}", logs.display())))?;
    let ready = dir.join("run").join("ready");
    let _ = std::fs::remove_file(&ready);
    let log_path = logs.join("supervisor.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| failed(format!("{}: {e}", log_path.display())))?;
    let exe = std::env::current_exe().map_err(|e| failed(e.to_string()))?;
    let mut child = std::process::Command::new(exe)
        .args([
            "lab",
            "up",
            "--supervise",
            "--metros",
            metros,
            "--withdraw-method",
            method,
            "--dir",
        ])
        .arg(&dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| failed(format!("cannot start the lab supervisor: {e}")))?;
    progress_to_stderr(&format!(
        "starting lab in {} (metros {metros})",
        dir.display()
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if ready.exists() {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let last = text
                .lines()
                .last()
                .unwrap_or("")
                .trim_start_matches("error: ");
            return Err(failed(format!("lab failed to start ({status}): {last}")));
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failed(format!(
                "lab did not come up within 60s; see {}",
                log_path.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let config = dir.join("platform-tui.toml");
    println!(
        "lab up in {}; stop it with `platform-tui lab down --dir {}`",
        dir.display(),
        dir.display()
    );
    println!("config: {}", config.display());
    Ok(())
}

/// One poll of every metro, with the state directory read around it.
async fn snapshot(cfg: &Config) -> Snapshot {
    Poller::new(cfg, Duration::from_secs(2))
        .with_journal(cfg)
        .snapshot()
        .await
}

/// The console's state after one snapshot: the CLI reuses its judgements (drift,
/// advertising set, consequences).
fn state_of(cfg: &Config, snap: Snapshot) -> State {
    let mut state = State::new(
        cfg,
        StateDir::of(cfg).desired().unwrap_or_default(),
        String::new(),
        SystemTime::now(),
    );
    update(&mut state, Msg::Snapshot(snap));
    state
}

async fn status(cfg: &Config, json: bool) -> Result<(), Failure> {
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
    let mut state = state_of(cfg, snap);
    for (target, sample) in samples {
        update(&mut state, Msg::Probe { target, sample });
    }
    for (metro, snapshot) in nomad {
        update(&mut state, Msg::Nomad { metro, snapshot });
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status_json(&state)).unwrap_or_default()
        );
    } else {
        print!("{}", status_text(&state));
    }
    Ok(())
}

pub fn status_json(state: &State) -> serde_json::Value {
    use serde_json::json;
    let metros: Vec<serde_json::Value> = state
        .metros
        .iter()
        .map(|m| {
            let (bgp, error) = match &m.status {
                Some(Ok(r)) => (
                    json!({
                        "session": r.bgp.as_ref().map(|b| b.session.clone()),
                        "state": r.bgp.as_ref().map(|b| b.state.clone()),
                        "since": r.bgp.as_ref().map(|b| b.since.clone()),
                        "protocol": r.bgp.as_ref().map(|b| b.protocol.clone()),
                        "info": r.bgp.as_ref().map(|b| b.info.clone()),
                        "advertised": r.advertised,
                        "exported": r.exported,
                        "origin": r.origin_state(),
                    }),
                    None,
                ),
                Some(Err(e)) => (
                    json!({"session": null, "state": null, "advertised": false, "exported": null, "origin": null}),
                    Some(e.clone()),
                ),
                None => (json!(null), Some("not polled".to_string())),
            };
            json!({
                "nomad": nomad_json(m),
                "latency": latency_json(state, &m.name),
                "name": m.name,
                "display_name": m.display_name,
                "method": m.method,
                "bgp": bgp,
                "error": error,
                "desired": state.desired.get(&m.name),
                "drift": state.drift(m),
                "note": state.unfinished_note(m),
            })
        })
        .collect();
    let observer_error = match &state.observer {
        Some(Err(e)) => Some(e.clone()),
        _ => None,
    };
    let unfinished = state.unfinished.as_ref().map(|u| {
        json!({
            "running": u.running,
            "id": u.intent.id,
            "metro": u.intent.metro,
            "action": u.intent.action,
            "user": u.intent.user,
            "pid": u.intent.pid,
            "via": u.intent.via,
            "time": u.intent.time,
        })
    });
    json!({
        "metros": metros,
        "actions": {
            "unfinished": unfinished,
            "state_dir_error": state.journal_error,
        },
        "anycast": {
            "prefix": state.prefix,
            "advertising": state.advertising(),
            "best": state.best(),
            "observer_error": observer_error,
            "latency": latency_json(state, crate::app::latency::ANYCAST),
        },
    })
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

/// `{leader, nodes_ready, nodes_total, allocs{running, pending, failed, replaced, lost,
/// unknown, complete, total}, error, errors}`, or null for a metro without a Nomad
/// endpoint. A number that could not be read is null, not 0; `allocs.failed` counts the
/// failures that need attention (replaced ones are in `replaced`); `errors` maps each
/// failing endpoint to its error.
fn nomad_json(m: &crate::app::MetroRow) -> serde_json::Value {
    use serde_json::json;
    let Some(n) = &m.nomad else {
        return serde_json::Value::Null;
    };
    let s = n.summary();
    let a = s.allocs;
    let count = |f: fn(&crate::domain::nomad::AllocCounts) -> u64| a.as_ref().map(f);
    let errors: serde_json::Map<String, serde_json::Value> = n
        .errors()
        .into_iter()
        .map(|(endpoint, e)| (endpoint.to_string(), json!(e)))
        .collect();
    json!({
        "leader": s.leader,
        "nodes_ready": s.nodes_ready,
        "nodes_total": s.nodes_total,
        "allocs": {
            "running": count(|a| a.running),
            "pending": count(|a| a.pending),
            "failed": count(|a| a.failed),
            "replaced": count(|a| a.replaced),
            "lost": count(|a| a.lost),
            "unknown": count(|a| a.unknown),
            "complete": count(|a| a.complete),
            "total": count(|a| a.total),
        },
        "error": n.error,
        "errors": errors,
    })
}

/// `{p50_ms, loss_pct, served_by}` of a probe target, or null when it is not probed.
fn latency_json(state: &State, target: &str) -> serde_json::Value {
    let Some(row) = state.latency_row(target) else {
        return serde_json::Value::Null;
    };
    let w = row.stats.window();
    serde_json::json!({
        "p50_ms": w.p50.map(|v| (v * 100.0).round() / 100.0),
        "p95_ms": w.p95.map(|v| (v * 100.0).round() / 100.0),
        "loss_pct": (w.loss_pct * 10.0).round() / 10.0,
        "served_by": row.served_by,
        "served_by_inferred": row.inferred,
        "samples": w.sent,
    })
}

fn status_text(state: &State) -> String {
    let mut s = String::new();
    let adv = state.advertising();
    let best = match (&state.observer, state.best()) {
        (Some(Err(e)), _) => format!("unknown (observer: {e})"),
        (_, Some(b)) => b.to_string(),
        (Some(Ok(_)), None) => "none: black-holed".to_string(),
        (None, None) => "unknown (no observer)".to_string(),
    };
    s.push_str(&format!(
        "anycast {}  best: {best}  advertising: {}\n",
        state.prefix,
        if adv.is_empty() {
            "none".to_string()
        } else {
            adv.join(", ")
        }
    ));
    s.push_str(&format!(
        "{:<6} {:<14} {:<12} {:<8} {:<11} {:<4} {}\n",
        "METRO", "NAME", "BGP", "ORIGIN", "ADVERTISED", "EXP", "NOTE"
    ));
    for m in &state.metros {
        let line = match &m.status {
            Some(Ok(r)) => format!(
                "{:<6} {:<14} {:<12} {:<8} {:<11} {:<4} {}",
                m.name,
                m.display_name,
                r.bgp.as_ref().map(|b| b.session.as_str()).unwrap_or("-"),
                r.origin_state(),
                if r.advertised { "yes" } else { "withdrawn" },
                r.exported
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "-".into()),
                state
                    .unfinished_note(m)
                    .or_else(|| state.drift(m).map(|d| format!("DRIFT: {d}")))
                    .or_else(|| r.bgp.as_ref().map(|b| b.info.clone()))
                    .unwrap_or_default(),
            ),
            Some(Err(e)) => format!(
                "{:<6} {:<14} {:<12} {:<8} {:<11} {:<4} {e}",
                m.name, m.display_name, "unreachable", "?", "?", "-"
            ),
            None => format!("{:<6} {:<14} not polled", m.name, m.display_name),
        };
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

async fn act(cfg: &Config, req: Request, yes: bool) -> Result<(), Failure> {
    if cfg.metro(&req.metro).is_none() {
        return Err(usage(config::no_metro(cfg, &req.metro)));
    }
    if !yes && !cfg.console.read_only {
        let state = state_of(cfg, snapshot(cfg).await);
        let (consequence, needs_force) = state.consequence(&req);
        if needs_force && !req.force {
            // Let ops refuse it with the full explanation (and an audit record).
        } else if !std::io::stdin().is_terminal() {
            return Err(usage(format!(
                "{} needs --yes when not run from a terminal",
                req.action.verb()
            )));
        } else {
            eprint!("{} {}? {consequence} [y/N] ", req.action.verb(), req.metro);
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            let _ = std::io::stdin().read_line(&mut answer);
            if !matches!(answer.trim(), "y" | "Y" | "yes") {
                return Err(failed("cancelled"));
            }
        }
    }
    // A signal interrupts the action, which stops what it runs and records it.
    let (stop, interrupt) = Interrupt::pair();
    let signals = tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return;
        };
        let why = tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
            _ = hup.recv() => "SIGHUP",
        };
        let _ = stop.send(Some(why.to_string()));
    });
    let mut progress = progress_to_stderr;
    let mut caller = ops::Caller {
        via: Via::Cli,
        interrupt,
        progress: &mut progress,
    };
    let outcome = ops::execute(cfg, &req, &mut caller).await;
    signals.abort();
    if outcome.ok() {
        println!("{}", outcome.message);
        Ok(())
    } else {
        Err(failed(outcome.message))
    }
}

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

async fn probe(
    cli: &Cli,
    url: Option<&str>,
    metro: Option<&str>,
    args: ProbeArgs,
) -> Result<(), Failure> {
    use std::collections::BTreeMap;

    use crate::probe::{output, spawn_schedule, Method, Stats};

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
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = spawn_schedule(target, opts, interval, args.count, tx);
    let mut stats = Stats::new(window);
    // Probes overlap when one is slower than the interval; print them in order.
    let mut pending: BTreeMap<u64, crate::probe::ProbeSample> = BTreeMap::new();
    let mut next = 0u64;
    let interrupted = async {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut a), Ok(mut b)) => {
                tokio::select! { _ = a.recv() => {}, _ = b.recv() => {} }
            }
            _ => std::future::pending::<()>().await,
        }
    };
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            sample = rx.recv() => {
                let Some(sample) = sample else { break };
                pending.insert(sample.seq, sample);
                while let Some(s) = pending.remove(&next) {
                    stats.record(&s);
                    println!("{}", output::sample_line(&s));
                    next += 1;
                }
            }
            _ = &mut interrupted => break,
        }
    }
    handle.abort();
    for (_, s) in std::mem::take(&mut pending) {
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
