//! The command line's shape, as clap parses it: [`Cli`], its [`Command`]s and their
//! subcommand enums, every flag with the description `--help` shows. Answers "what can
//! be typed, and what does each flag mean?"; what a command then does is in the
//! dispatch of `mod.rs` and the command modules. A contract: scripts rely on it.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::lab::{self, LabMethod};

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
    /// Refuse every destructive action: withdraw, restore, provisioning applies and
    /// deployments (a console for watching).
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
    pub(super) fn config_path(&self) -> Option<&Path> {
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
