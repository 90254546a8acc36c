//! The command line (a contract: scripts rely on it): argument parsing and the one-shot
//! commands. Exit codes: 0 ok, 1 operation failed, 2 bad usage or config.
//!
//! Where to look: what can be typed (the clap definitions) is in `args.rs`; which
//! command runs, with which config, and the console itself are here.

mod act;
mod args;
mod deploy;
mod lab_cmd;
mod probe;
mod provision;
mod remote;
mod share;
pub mod status;

pub use args::{
    AppCommand, Cli, Command, ConfigArg, ConfigCommand, DeployCommand, LabCommand, LabDir,
    MetroCommand, ProvisionCommand,
};
pub use probe::ProbeArgs;

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};

use crate::config::{self, Config};
use crate::domain::{ActionKind, Request};
use crate::lab::{self, Lab, LabMethod};
use crate::ops::{self};

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
    if let Some(name) = &cli.shared_key {
        ops::journal::set_shared_key(name);
    }
    match &cli.command {
        None => console(&cli).await,
        Some(Command::Share {
            install,
            authorized_keys,
            read_write,
            ..
        }) => share::run(
            &cli,
            share::ShareArgs {
                install: install.as_deref(),
                authorized_keys: authorized_keys.as_deref(),
                read_write: *read_write,
            },
        ),
        Some(Command::Demo { auto, .. }) => demo(&cli, *auto).await,
        Some(Command::Lab { command }) => lab_cmd::run(command).await,
        Some(Command::Status { json, .. }) => status::run(&need_config(&cli)?, *json).await,
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
            probe::run(&cli, url.as_deref(), metro.as_deref(), opts).await
        }
        Some(Command::Withdraw {
            metro, yes, force, ..
        }) => {
            let req = Request {
                metro: metro.clone(),
                action: ActionKind::Withdraw,
                force: *force,
            };
            act::run(&need_config(&cli)?, req, *yes).await
        }
        Some(Command::Restore { metro, yes, .. }) => {
            let req = Request {
                metro: metro.clone(),
                action: ActionKind::Restore,
                force: false,
            };
            act::run(&need_config(&cli)?, req, *yes).await
        }
        Some(Command::Provision { command }) => {
            use crate::domain::provision::ProvisionOp;
            let args = match command {
                ProvisionCommand::Plan { vars, json, .. } => provision::Args {
                    op: ProvisionOp::Plan,
                    vars: vars.clone(),
                    yes: false,
                    json: *json,
                },
                ProvisionCommand::Apply {
                    vars, yes, json, ..
                } => provision::Args {
                    op: ProvisionOp::Apply,
                    vars: vars.clone(),
                    yes: *yes,
                    json: *json,
                },
                ProvisionCommand::Destroy { yes, json, .. } => provision::Args {
                    op: ProvisionOp::Destroy,
                    vars: Vec::new(),
                    yes: *yes,
                    json: *json,
                },
                ProvisionCommand::Output { json, .. } => provision::Args {
                    op: ProvisionOp::Output,
                    vars: Vec::new(),
                    yes: false,
                    json: *json,
                },
            };
            provision::run(&need_config(&cli)?, args).await
        }
        Some(Command::Deploy {
            command: Some(DeployCommand::History { json, .. }),
            ..
        }) => deploy::history(&need_config(&cli)?, *json),
        Some(Command::Deploy {
            command: None,
            reference,
            metros,
            no_drain,
            yes,
            json,
            ..
        }) => {
            let Some(reference) = reference.clone() else {
                return Err(usage(
                    "deploy needs an app reference (e.g. `deploy registry.example/hello:v2`), or `deploy history`",
                ));
            };
            let args = deploy::Args {
                reference,
                metros: metros.clone(),
                no_drain: *no_drain,
                yes: *yes,
                json: *json,
            };
            // Remote metros' Nomad APIs and routers through their SSH links, as the other
            // commands reach them; the rollout handles its own signals (stop before the
            // next step).
            remote::with_links(&need_config(&cli)?, true, |cfg, _| async move {
                deploy::run(&cfg, args).await
            })
            .await
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
    let config = resolve_config(cli)?;
    run_on(cli, config, crate::runtime::Start::default()).await
}

/// `platform-tui demo`: the console as the demo, on the embedded lab unless a config is
/// given. A default config (which may be a real platform) is never picked up by itself.
async fn demo(cli: &Cli, auto: Option<f64>) -> Result<(), Failure> {
    let auto = match auto {
        None => None,
        Some(s) if s.is_finite() && (1.0..=3600.0).contains(&s) => {
            Some(std::time::Duration::from_secs_f64(s))
        }
        Some(_) => return Err(usage("--auto must be between 1 and 3600 seconds")),
    };
    check_terminal()?;
    let start = crate::runtime::Start { demo: Some(auto) };
    run_on(cli, cli.config.clone(), start).await
}

/// Runs the console on `config`, or with none on the embedded lab, which it starts and
/// stops.
async fn run_on(
    cli: &Cli,
    config: Option<PathBuf>,
    start: crate::runtime::Start,
) -> Result<(), Failure> {
    let result = match config {
        Some(path) => {
            let cfg = load(&path, cli.read_only)?;
            crate::runtime::run_console_with(cfg, format!("config {}", path.display()), start).await
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
            lab_cmd::archive_state(&state_dir)?;
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
                Ok(cfg) => {
                    crate::runtime::run_console_with(cfg, "embedded lab".to_string(), start).await
                }
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
