//! The command line (a contract: scripts rely on it): argument parsing and the one-shot
//! commands. Exit codes: 0 ok, 1 operation failed, 2 bad usage or config.

mod act;
mod deploy;
mod lab_cmd;
mod probe;
mod provision;
mod remote;
mod share;
pub mod status;

pub use probe::ProbeArgs;

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::config::{self, Config};
use crate::domain::{ActionKind, Request};
use crate::lab::{self, Lab, LabMethod};
use crate::ops::{self};

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
    /// Internal: the name of the SSH key a shared console was opened with (set by the
    /// line `share` installs), recorded in the audit log.
    #[arg(long, hide = true, value_name = "NAME")]
    pub shared_key: Option<String>,
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
    /// Plan, apply or destroy the installer with terraform/tofu, or show its outputs.
    Provision {
        #[command(subcommand)]
        command: ProvisionCommand,
    },
    /// Roll an app out to every metro, one at a time: drain, register the Nomad job,
    /// watch its deployment, verify the new version, restore; or list past deployments.
    #[command(args_conflicts_with_subcommands = true)]
    Deploy {
        #[command(subcommand)]
        command: Option<DeployCommand>,
        /// The app's OCI reference, e.g. registry.example/hello:v2 (its tag is the
        /// version each metro must answer).
        #[arg(value_name = "REF")]
        reference: Option<String>,
        /// Only these metros, comma separated (default: every metro with [metro.nomad]).
        #[arg(long, value_name = "LIST")]
        metros: Option<String>,
        /// Do not withdraw metros from anycast while they change.
        #[arg(long)]
        no_drain: bool,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
        /// One JSON object per step, ending with a result object (see the README).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Print the authorized_keys line that gives a teammate's SSH key this console,
    /// read-only on a real pty; with --install, append it.
    Share {
        /// The teammate's public key (a .pub file, or the key line) to append.
        #[arg(long, value_name = "PUBKEY")]
        install: Option<PathBuf>,
        /// The file to append to (default: ~/.ssh/authorized_keys).
        #[arg(long, value_name = "PATH")]
        authorized_keys: Option<PathBuf>,
        /// Let the key withdraw and restore too (every action is audited with its name).
        #[arg(long)]
        read_write: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The presenter's story on the embedded lab (or a given config): warm-up, withdraw
    /// the best metro, hold, restore — each a real, verified and audited action, stepped
    /// by the space bar; `q` ends it (restoring what it withdrew) and leaves nothing
    /// running.
    Demo {
        /// Step on by itself, this many seconds after each step is shown.
        #[arg(long, value_name = "SECONDS")]
        auto: Option<f64>,
        /// Run the story on this config's platform instead of the embedded lab (only an
        /// explicit config: the demo never picks up a default one).
        #[arg(long = "config", value_name = "PATH")]
        config: Option<PathBuf>,
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
    /// Add or remove a metro while the lab runs (its router, app server and Nomad
    /// endpoint); used by the lab's installer.
    Metro {
        #[command(subcommand)]
        command: MetroCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum MetroCommand {
    /// Start a metro and peer it with the upstream; waits until its session is
    /// Established. A metro already in the lab is left as it is.
    Add {
        /// The metro's code, from the built-in table (am, da, fr, ...).
        metro: String,
        #[command(flatten)]
        dir: LabDir,
    },
    /// Stop a metro and drop it from the upstream. The lab's last metro is refused; a
    /// metro not in the lab is nothing to do.
    Remove {
        /// The metro's code.
        metro: String,
        #[command(flatten)]
        dir: LabDir,
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
pub enum ProvisionCommand {
    /// Show what an apply would change (read-only).
    Plan {
        /// A variable for this run, after the config's [provision.vars] (repeatable).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// One JSON object per event, ending with a result object (see the README).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Plan, confirm (type `yes`), apply exactly that plan, and write the metros it
    /// added or removed into the config.
    Apply {
        /// A variable for this run, after the config's [provision.vars] (repeatable).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// Do not ask: apply the plan and write the config.
        #[arg(long, short)]
        yes: bool,
        /// One JSON object per event, ending with a result object (see the README).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Plan the destruction of everything, confirm (type `destroy`), destroy.
    Destroy {
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
        /// One JSON object per event, ending with a result object (see the README).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The installer's outputs (sensitive values masked).
    Output {
        /// One JSON object per event, ending with a result object (see the README).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeployCommand {
    /// Past deployments from the state directory: ref, result, each metro's outcome.
    History {
        /// A JSON list of the deployments, oldest first (see the README).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
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
            | Command::Restore { config, .. }
            | Command::Share { config, .. } => config.path.as_deref(),
            Command::Provision { command } => match command {
                ProvisionCommand::Plan { config, .. }
                | ProvisionCommand::Apply { config, .. }
                | ProvisionCommand::Destroy { config, .. }
                | ProvisionCommand::Output { config, .. } => config.path.as_deref(),
            },
            Command::Deploy {
                command: Some(DeployCommand::History { config, .. }),
                ..
            } => config.path.as_deref(),
            Command::Deploy { config, .. } => config.path.as_deref(),
            Command::Demo { config, .. } => config.as_deref(),
            Command::Lab { .. } | Command::Config { .. } => None,
        }
    }
}

impl Cli {
    /// Whether the command runs on one thread (the `probe` command).
    pub fn single_threaded(&self) -> bool {
        matches!(self.command, Some(Command::Probe { .. }))
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
            deploy::run(&need_config(&cli)?, args).await
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
