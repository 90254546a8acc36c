//! The command line (a contract: scripts rely on it): argument parsing and the one-shot
//! commands. Exit codes: 0 ok, 1 operation failed, 2 bad usage or config.

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand};

use crate::app::{update, Msg, State};
use crate::config::{self, Config};
use crate::domain::Via;
use crate::domain::{ActionKind, BestPath, Request, Snapshot};
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
    /// Config file (default: $XDG_CONFIG_HOME/platform-tui/config.toml, else a lab
    /// started with `lab up`; with neither, the console starts an embedded lab).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The console refuses withdraw and restore (a console for watching).
    #[arg(long)]
    pub read_only: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `--config`, for the commands that read a config (it may also come before the
/// command: `platform-tui --config PATH status`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArg {
    /// Config file (default: $XDG_CONFIG_HOME/platform-tui/config.toml, else a lab
    /// started with `lab up` in its default directory).
    #[arg(long = "config", value_name = "PATH")]
    pub path: Option<PathBuf>,
}

/// `--dir`, for the lab commands.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LabDir {
    /// The lab's directory (default: $XDG_RUNTIME_DIR/platform-tui/lab, or
    /// /tmp/platform-tui-UID/lab).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start, stop or inspect a local lab of real BIRD daemons.
    Lab {
        #[command(subcommand)]
        command: LabCommand,
    },
    /// One snapshot of every metro, then exit: 0 when all is well, 1 when something is
    /// wrong (listed under PROBLEMS).
    Status {
        /// Print JSON (stable keys: see the README) instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
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
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Withdraw a metro's anycast advertisement and wait until it is verified.
    Withdraw {
        /// The metro's name, as in the config.
        metro: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
        /// Withdraw even the last advertising metro (black-holes the address).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Restore a metro's anycast advertisement and wait until it is verified.
    Restore {
        /// The metro's name, as in the config.
        metro: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
        #[command(flatten)]
        config: ConfigArg,
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
        /// Metro codes, comma separated (am, da, sv, ... from the built-in table).
        #[arg(long, default_value = lab::DEFAULT_METROS)]
        metros: String,
        #[command(flatten)]
        dir: LabDir,
        /// Return once the lab is up, leaving it running (stop it with `lab down`).
        #[arg(long)]
        detach: bool,
        /// How metros withdraw.
        #[arg(long, value_enum, default_value_t = LabMethod::Disable)]
        withdraw_method: LabMethod,
        /// The console state directory the lab's config names (audit log, desired
        /// state); default: `state` in the lab's directory. A fresh lab archives the
        /// audit log it finds there (`audit-TIME.jsonl`), so it starts with no stale
        /// desired state.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// Synthetic allocations on every metro's Nomad endpoint (jobs of 100, changing
        /// 20 times a second), to show the Nomad pane at scale.
        #[arg(long, value_name = "N", default_value_t = 0)]
        allocs: usize,
        /// Internal: run as the supervisor of a detached lab.
        #[arg(long, hide = true)]
        supervise: bool,
        /// Internal: the supervisor stops the lab when its stdin closes (its console is
        /// gone).
        #[arg(long, hide = true)]
        follow_owner: bool,
    },
    /// Stop a lab: no process, socket or pid file is left behind.
    Down {
        #[command(flatten)]
        dir: LabDir,
    },
    /// Show every process of a lab: routers, app servers, front door, Nomad endpoints.
    Status {
        #[command(flatten)]
        dir: LabDir,
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
        /// The metro's code.
        metro: String,
        #[command(flatten)]
        dir: LabDir,
    },
    /// Start a metro's app server again.
    Start {
        /// The metro's code.
        metro: String,
        #[command(flatten)]
        dir: LabDir,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config file.
    Check {
        /// The file (default: the one the console would use).
        path: Option<PathBuf>,
    },
    /// Print a config template documenting every key.
    Template,
}

impl Command {
    /// The `--config` given after the command, if any.
    fn config_path(&self) -> Option<&Path> {
        match self {
            Command::Status { config, .. }
            | Command::Probe { config, .. }
            | Command::Withdraw { config, .. }
            | Command::Restore { config, .. } => config.path.as_deref(),
            Command::Lab { .. } | Command::Config { .. } => None,
        }
    }
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

pub async fn run(mut cli: Cli) -> Result<(), Failure> {
    // `--config` after the command wins over one before it.
    if let Some(p) = cli.command.as_ref().and_then(Command::config_path) {
        cli.config = Some(p.to_path_buf());
    }
    match &cli.command {
        None => console(&cli).await,
        Some(Command::Lab { command }) => lab_command(command).await,
        Some(Command::Status { json, .. }) => status(&need_config(&cli)?, *json).await,
        Some(Command::Probe {
            url,
            anycast: _,
            metro,
            count,
            interval,
            get,
            keep_alive,
            timeout,
            ..
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
        Some(Command::Withdraw {
            metro, yes, force, ..
        }) => {
            let req = Request {
                metro: metro.clone(),
                action: ActionKind::Withdraw,
                force: *force,
            };
            act(&need_config(&cli)?, req, *yes).await
        }
        Some(Command::Restore { metro, yes, .. }) => {
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

/// The console draws with escape codes: it needs a terminal that understands them.
fn check_terminal() -> Result<(), Failure> {
    let term = std::env::var("TERM").unwrap_or_default();
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(usage(
            "the console needs a terminal (stdin and stdout are not one); for a plain report use `platform-tui status` (or `status --json`)",
        ));
    }
    if term.is_empty() || term == "dumb" {
        return Err(usage(format!(
            "the console needs a terminal that understands escape codes (TERM={}); set TERM (e.g. xterm-256color), or use `platform-tui status` for a plain report",
            if term.is_empty() { "unset" } else { "dumb" }
        )));
    }
    Ok(())
}

async fn console(cli: &Cli) -> Result<(), Failure> {
    check_terminal()?;
    let result = match resolve_config(cli)? {
        Some(path) => {
            let cfg = load(&path, cli.read_only)?;
            crate::runtime::run_console(cfg, format!("config {}", path.display())).await
        }
        None => {
            // No config anywhere: the embedded lab, owned by a supervisor that follows
            // this console (a SIGKILL of the console takes the lab down too). Its audit
            // log is kept in the user's state directory.
            let base = lab::runtime_base();
            for stale in lab::supervise::remove_stale_embedded(&base) {
                progress_to_stderr(&format!(
                    "removed a stale embedded lab: {}",
                    stale.display()
                ));
            }
            let dir = base.join(format!("embedded-{}", std::process::id()));
            let state_dir = ops::journal::default_state_dir().join("embedded-lab");
            archive_state(&state_dir)?;
            eprintln!(
                "no config file: starting the embedded lab in {}",
                dir.display()
            );
            let spec = lab::supervise::Spec {
                dir: &dir,
                metros: lab::DEFAULT_METROS,
                method: LabMethod::Disable,
                state_dir: Some(&state_dir),
            };
            let mut lab = lab::supervise::start(&spec, true, &mut progress_to_stderr)
                .await
                .map_err(|e| failed(e.to_string()))?;
            let result = match load(&lab.config_path(), cli.read_only) {
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
            state_dir,
            allocs,
            supervise,
            follow_owner,
        } => {
            lab::nomad_api::set_lab_allocs(*allocs);
            let specs = lab::metros::parse_list(metros).map_err(usage)?;
            let dir = dir.dir.clone().unwrap_or_else(lab::default_dir);
            if *detach {
                let state = state_dir.clone().unwrap_or_else(|| dir.join("state"));
                archive_state(&state)?;
                let spec = lab::supervise::Spec {
                    dir: &dir,
                    metros,
                    method: *withdraw_method,
                    state_dir: state_dir.as_deref(),
                };
                let lab = lab::supervise::start(&spec, false, &mut progress_to_stderr)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                println!(
                    "lab up in {}; stop it with `platform-tui lab down --dir {}`",
                    lab.dir.display(),
                    lab.dir.display()
                );
                println!("config: {}", lab.config_path().display());
                return Ok(());
            }
            if !*supervise {
                archive_state(&state_dir.clone().unwrap_or_else(|| dir.join("state")))?;
            }
            let mut lab = Lab::up(
                &dir,
                &specs,
                *withdraw_method,
                state_dir.as_deref(),
                &mut progress_to_stderr,
            )
            .await
            .map_err(|e| failed(e.to_string()))?;
            if *supervise {
                lab.supervise().map_err(|e| failed(e.to_string()))?;
                let ready = dir.join("run").join("ready");
                std::fs::write(&ready, std::process::id().to_string())
                    .map_err(|e| failed(format!("{}: {e}", ready.display())))?;
                // Detached: a hang-up of the terminal that started it must not stop it.
                lab::supervise::wait_for_stop(&mut lab, false, *follow_owner).await;
                let _ = std::fs::remove_file(ready);
            } else {
                println!("config: {}", lab.config_path().display());
                progress_to_stderr("lab running; ctrl-c stops it");
                lab::supervise::wait_for_stop(&mut lab, true, false).await;
            }
            let stopped = lab.down();
            progress_to_stderr(&format!("lab stopped ({} daemons)", stopped.len()));
            Ok(())
        }
        LabCommand::Down { dir } => {
            let dir = dir.dir.clone().unwrap_or_else(lab::default_dir);
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
            let dir = dir.dir.clone().unwrap_or_else(lab::default_dir);
            let lab = Lab::open(&dir).map_err(|e| failed(e.to_string()))?;
            let said = lab::dataplane::control(&lab.state, &format!("app {verb} {metro}"))
                .await
                .map_err(|e| failed(e.to_string()))?;
            println!("{said}");
            Ok(())
        }
        LabCommand::Status { dir } => {
            let dir = dir.dir.clone().unwrap_or_else(lab::default_dir);
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

/// A fresh lab starts with no stale desired state: the audit log an earlier lab left in
/// its state directory is kept, renamed `audit-TIME.jsonl`.
fn archive_state(state_dir: &Path) -> Result<(), Failure> {
    let state = StateDir {
        dir: state_dir.to_path_buf(),
    };
    match state.archive() {
        Ok(Some(to)) => {
            progress_to_stderr(&format!(
                "a new lab: the previous audit log is kept as {}",
                to.display()
            ));
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(e) => Err(failed(e)),
    }
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
    let problems = state.problems();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status_json(&state)).unwrap_or_default()
        );
    } else {
        print!(
            "{}",
            crate::domain::text::visible_lines(&status_text(&state))
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

pub fn status_json(state: &State) -> serde_json::Value {
    use serde_json::json;
    let metros: Vec<serde_json::Value> = state
        .metros
        .iter()
        .map(|m| {
            let problems = match &m.status {
                Some(Ok(r)) => r.problems.clone(),
                _ => Vec::new(),
            };
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
                "problems": problems,
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
    let problems = state.problems();
    json!({
        "ok": problems.is_empty(),
        "problems": problems,
        "metros": metros,
        "actions": {
            "unfinished": unfinished,
            "state_dir_error": state.journal_error,
        },
        "anycast": {
            "prefix": state.prefix,
            "advertising": state.advertising(),
            "best": state.best(),
            "best_peer": state.best_peer(),
            "observer_error": observer_error,
            "latency": latency_json(state, crate::app::latency::ANYCAST),
            "health": state.anycast_health().map(|h| health_word(&h)),
        },
    })
}

/// `answering`, `failing`, `no_route` or `probing`.
fn health_word(h: &crate::app::latency::Health) -> &'static str {
    use crate::app::latency::Health;
    match h {
        Health::Answering { .. } => "answering",
        Health::Failing { .. } => "failing",
        Health::NoRoute => "no_route",
        Health::Probing => "probing",
    }
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
        let Ok(mut stop_signals) = crate::signals::Stop::new(true) else {
            return;
        };
        let why = stop_signals.recv().await;
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
        match crate::signals::Stop::new(true) {
            Ok(mut stop) => {
                stop.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    /// Every flag and argument of every command says what it is for, and `--config`
    /// shows only where a config is read.
    #[test]
    fn every_flag_and_argument_is_described_where_it_applies() {
        fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.is_hide_set() || id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() {
                    out.push(format!("{path}: {id} has no description"));
                }
                if id == "path" && path.starts_with("platform-tui lab") {
                    out.push(format!("{path}: offers --config"));
                }
            }
            if cmd.get_about().is_none() {
                out.push(format!("{path}: no about"));
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() == "help" {
                    continue;
                }
                walk(sub, &format!("{path} {}", sub.get_name()), out);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "platform-tui", &mut missing);
        assert!(missing.is_empty(), "{missing:#?}");
    }

    #[test]
    fn config_goes_before_or_after_the_command() {
        use clap::Parser as _;
        for args in [
            ["platform-tui", "--config", "/x.toml", "status"].as_slice(),
            &["platform-tui", "status", "--config", "/x.toml"],
        ] {
            let cli = Cli::parse_from(args);
            let after = cli.command.as_ref().and_then(super::Command::config_path);
            assert_eq!(
                cli.config.as_deref().or(after),
                Some(std::path::Path::new("/x.toml"))
            );
        }
        assert!(Cli::try_parse_from(["platform-tui", "lab", "up", "--config", "/x"]).is_err());
    }
}
