//! The config file: its TOML model, defaults, strict validation with `file:line:col`
//! errors, and the commented template (`config.example.toml`).
//!
//! Parsing happens in two layers. Private `Raw*` structs mirror the file exactly
//! (`deny_unknown_fields` everywhere, values wrapped in [`toml::Spanned`] so every value
//! keeps its byte range); [`parse`] then validates them into the public [`Config`], which
//! holds only checked, defaulted, resolved values. Required keys are `Option`s in the raw
//! layer so that a missing one is reported here, at the position of its table, with our
//! own wording rather than serde's.
//!
//! This module owns no I/O beyond reading the file in [`load`], and knows nothing about
//! BIRD, the lab or the UI: it hands them plain values (`keymap` and `theme` are data).
//!
//! Where to look: the model and the entry points are here; `raw.rs` mirrors the file,
//! `validate/` turns it into the model ("which rule for which key, which default"),
//! `values.rs` holds the value rules ("why was my URL refused?"), `position.rs` says
//! where an error is ("why does it point at line 9?"), and `tests.rs` tests them all.

pub mod keymap;
pub mod theme;

mod position;
mod raw;
#[cfg(test)]
mod tests;
mod validate;
mod values;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keymap::Keymap;
use raw::RawFile;
use theme::Theme;
use validate::Cx;

/// Allowed poll interval, in milliseconds.
pub const REFRESH_MS_RANGE: std::ops::RangeInclusive<i64> = 100..=60_000;
/// Poll interval when `console.refresh_ms` is not set.
pub const DEFAULT_REFRESH: Duration = Duration::from_millis(1000);
/// Allowed `console.lock_wait_ms`.
pub const LOCK_WAIT_MS_RANGE: std::ops::RangeInclusive<i64> = 0..=600_000;
/// How long an action waits for another one to finish before it is refused, when
/// `console.lock_wait_ms` is not set.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(30);
/// Allowed `metro.withdraw.timeout_ms`.
pub const COMMAND_TIMEOUT_MS_RANGE: std::ops::RangeInclusive<i64> = 1_000..=3_600_000;
/// How long a withdraw/restore command may run before its process group is stopped.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Origin protocol used when a metro does not list its own.
pub const DEFAULT_ORIGIN_PROTOCOL: &str = "anycast";
/// Longest metro name: it is a column in an 80x24 terminal.
pub const MAX_METRO_NAME: usize = crate::domain::MAX_METRO_NAME;
/// Allowed `probe.interval_ms`.
pub const PROBE_INTERVAL_MS_RANGE: std::ops::RangeInclusive<i64> = 100..=60_000;
/// Time between two probes of one target when `probe.interval_ms` is not set.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_millis(1000);
/// Allowed `probe.timeout_ms`.
pub const PROBE_TIMEOUT_MS_RANGE: std::ops::RangeInclusive<i64> = 50..=60_000;
/// How long a probe may take before it counts as lost, when not set.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_millis(2000);
/// Allowed `probe.window`, in samples.
pub const PROBE_WINDOW_RANGE: std::ops::RangeInclusive<i64> = 2..=10_000;
/// Samples kept per target for statistics when `probe.window` is not set.
pub const DEFAULT_PROBE_WINDOW: usize = 60;
/// Response header naming the metro that answered, when `probe.served_by_header` is not
/// set.
pub const DEFAULT_SERVED_BY_HEADER: &str = "x-served-by";
/// Allowed `probe.status_probes`.
pub const STATUS_PROBES_RANGE: std::ops::RangeInclusive<i64> = 0..=100;
/// Probes per target taken by `platform-tui status` when not set.
pub const DEFAULT_STATUS_PROBES: u32 = 3;
/// A remote metro's BIRD control socket when `bird_socket` is not set (Debian's).
pub const DEFAULT_REMOTE_BIRD_SOCKET: &str = "/run/bird/bird.ctl";
/// A remote metro's Nomad address when `[metro.nomad] address` is not set, as seen on
/// that host.
pub const DEFAULT_REMOTE_NOMAD_ADDRESS: &str = "http://127.0.0.1:4646";
/// Allowed `metro.nomad.timeout_ms`.
pub const NOMAD_TIMEOUT_MS_RANGE: std::ops::RangeInclusive<i64> = 100..=600_000;
/// Allowed `metro.nomad.max_body_mb`.
pub const NOMAD_MAX_BODY_MB_RANGE: std::ops::RangeInclusive<i64> = 1..=4096;

// ---------------------------------------------------------------------------------------
// The validated model
// ---------------------------------------------------------------------------------------

/// A validated config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub console: Console,
    pub anycast: Anycast,
    /// `[probe]`; defaults when the table is absent.
    pub probe: Probe,
    /// In file order; at least one, names unique.
    pub metros: Vec<Metro>,
    /// `[provision]`: the installer; `None` when the table is absent.
    pub provision: Option<Provision>,
    /// `[deploy]`: how apps are rolled out; defaults when the table is absent.
    pub deploy: Deploy,
    /// The file this was parsed from.
    pub source: Option<PathBuf>,
}

impl Config {
    /// The metro called `name`.
    pub fn metro(&self, name: &str) -> Option<&Metro> {
        self.metros.iter().find(|m| m.name == name)
    }
}

impl Config {
    /// What is probed, in the order it is shown: the anycast URL first (when there is
    /// one), then every metro with an address of its own. (name, the metro's address).
    pub fn probed(&self) -> impl Iterator<Item = (&str, Option<SocketAddr>)> {
        self.anycast
            .url
            .iter()
            .map(|_| (crate::domain::ANYCAST, None))
            .chain(
                self.metros
                    .iter()
                    .filter_map(|m| m.address.map(|a| (m.name.as_str(), Some(a)))),
            )
    }
}

/// "no metro `x` in the config (known: am, da)": the one wording for an unknown name.
pub fn no_metro(cfg: &Config, name: &str) -> String {
    let known: Vec<&str> = cfg.metros.iter().map(|m| m.name.as_str()).collect();
    format!(
        "no metro `{}` in the config (known: {})",
        crate::domain::text::visible(name),
        known.join(", ")
    )
}

/// `[console]`: how the console itself behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Console {
    /// Refuse withdraw/restore.
    pub read_only: bool,
    /// Poll interval.
    pub refresh: Duration,
    /// Audit log and desired state; resolved against the config file's directory.
    pub state_dir: Option<PathBuf>,
    /// How long a destructive action waits for another one to finish (`lock_wait_ms`).
    pub lock_wait: Duration,
    /// `ssh_config`: the OpenSSH client config passed to every `ssh` as `-F`; `None`:
    /// the user's own (`~/.ssh/config`). Resolved against the config file's directory,
    /// a leading `~/` against `$HOME`.
    pub ssh_config: Option<PathBuf>,
    pub keymap: Keymap,
    pub theme: Theme,
}

impl Default for Console {
    fn default() -> Self {
        Console {
            read_only: false,
            refresh: DEFAULT_REFRESH,
            state_dir: None,
            lock_wait: DEFAULT_LOCK_WAIT,
            ssh_config: None,
            keymap: Keymap::default(),
            theme: Theme::default(),
        }
    }
}

/// `[anycast]`: the one prefix every metro advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anycast {
    /// Normalised CIDR, e.g. `198.18.0.10/32` or `2001:db8::/48`.
    pub prefix: String,
    /// Where the anycast service answers HTTP, for probing: checked to be
    /// `http://host[:port][/path]` (https is not supported yet), kept as written.
    pub url: Option<String>,
    pub observer: Option<Observer>,
}

/// `[anycast.observer]`: the BGP speaker whose best path says which metro serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observer {
    pub bird_socket: PathBuf,
}

/// `[probe]`: how the latency prober samples the anycast URL and each metro's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Time between two probes of one target (`interval_ms`).
    pub interval: Duration,
    /// A probe that has not answered after this long is lost (`timeout_ms`).
    pub timeout: Duration,
    pub method: ProbeMethod,
    /// Reuse one connection per target; off, every probe pays for its own connect, which
    /// is what a new viewer of the anycast address sees.
    pub keep_alive: bool,
    /// Samples kept per target for statistics and the chart.
    pub window: usize,
    /// Response header naming the metro that answered; lower-cased.
    pub served_by_header: String,
    /// Probes per target taken by `platform-tui status`; 0 leaves latency out.
    pub status_probes: u32,
}

impl Default for Probe {
    fn default() -> Self {
        Probe {
            interval: DEFAULT_PROBE_INTERVAL,
            timeout: DEFAULT_PROBE_TIMEOUT,
            method: ProbeMethod::default(),
            keep_alive: false,
            window: DEFAULT_PROBE_WINDOW,
            served_by_header: DEFAULT_SERVED_BY_HEADER.to_string(),
            status_probes: DEFAULT_STATUS_PROBES,
        }
    }
}

/// The HTTP method a probe sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProbeMethod {
    #[default]
    Head,
    Get,
}

impl ProbeMethod {
    /// The method as sent on the wire (and written in the config).
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeMethod::Head => "HEAD",
            ProbeMethod::Get => "GET",
        }
    }
}

impl fmt::Display for ProbeMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[metro]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metro {
    pub name: String,
    pub display_name: String,
    /// `ssh`/`ssh_options`: the metro is reached through OpenSSH; `None`: its sockets and
    /// addresses are local.
    pub ssh: Option<SshRoute>,
    /// The BIRD control socket. With `ssh`, a path on that host (absolute; default
    /// [`DEFAULT_REMOTE_BIRD_SOCKET`]).
    pub bird_socket: PathBuf,
    /// BIRD protocols that originate the prefix; `disable` acts on these. Non-empty.
    pub origin_protocols: Vec<String>,
    /// BGP protocol toward the metro's peer, used to check that the prefix is exported.
    pub export_protocol: Option<String>,
    /// This metro's protocol name at the observer.
    pub observer_protocol: String,
    pub withdraw: WithdrawMethod,
    /// The metro's own HTTP address, probed directly with the anycast URL's `Host`
    /// header (like `curl --resolve`), so its latency is known even when it does not
    /// serve the anycast address.
    pub address: Option<SocketAddr>,
    /// `[metro.nomad]`: the metro's Nomad API. `None` when the table is absent.
    pub nomad: Option<MetroNomad>,
}

/// How a remote metro is reached: `ssh = "DESTINATION"` and `ssh_options`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshRoute {
    /// Anything `ssh` accepts as a destination: `root@203.0.113.5`, a `Host` alias,
    /// `ssh://user@host:port`.
    pub destination: String,
    /// More `ssh` arguments, e.g. `["-J", "bastion"]`, placed before the destination.
    pub options: Vec<String>,
}

/// `[metro.nomad]`: where the metro's Nomad HTTP API is and how to talk to it. Unset
/// values follow Nomad's own conventions (`NOMAD_ADDR`, `NOMAD_TOKEN`, ...) when the
/// client is built, not here. The token itself is never in the config, only the name
/// of the environment variable holding it, so deriving `Debug` leaks nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetroNomad {
    /// `http(s)://host[:port]`; default: `NOMAD_ADDR` (with `ssh`:
    /// [`DEFAULT_REMOTE_NOMAD_ADDRESS`], as seen on that host).
    pub address: Option<String>,
    /// Name of the environment variable holding the ACL token; default: `NOMAD_TOKEN`.
    pub token_env: Option<String>,
    pub region: Option<String>,
    pub namespace: Option<String>,
    /// CA certificate for an https address; resolved against the config file's directory.
    pub ca_cert: Option<PathBuf>,
    /// Name expected in the server's certificate, when it differs from the address's host.
    pub tls_server_name: Option<String>,
    /// Do not verify the server's certificate.
    pub skip_verify: Option<bool>,
    /// Timeout for one API request (`timeout_ms`).
    pub timeout: Option<Duration>,
    /// The largest answer read from one endpoint, in bytes (`max_body_mb`).
    pub max_body: Option<u64>,
    /// Never from the file: the local end of the SSH tunnel to `address` (a Unix
    /// socket) that the `ssh` transport puts here for a remote metro.
    pub unix_socket: Option<PathBuf>,
}

/// `[provision]`: where the installer is and how `terraform`/`tofu` runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provision {
    /// `binary`: a name looked up on PATH or a path (resolved against the config file's
    /// directory); `None`: the first of `tofu`, `terraform` on PATH.
    pub binary: Option<PathBuf>,
    /// `dir`: the installer directory, resolved against the config file's directory.
    pub dir: PathBuf,
    /// `[provision.vars]`: `-var NAME=VALUE` in file order; strings as written, numbers
    /// and booleans as TOML writes them, lists and tables as JSON (which terraform reads
    /// as HCL).
    pub vars: Vec<(String, String)>,
    /// `var_files`: `-var-file=PATH`, resolved against the config file's directory.
    pub var_files: Vec<PathBuf>,
    /// `lock_timeout_ms`: how long terraform waits for a state lock another run holds;
    /// `None`: fail at once.
    pub lock_timeout: Option<Duration>,
    /// `pass_env`: variables passed on although they look like credentials (a
    /// provider's token).
    pub pass_env: Vec<String>,
    /// `[provision.outputs] regional`: metro code -> address (default
    /// `regional_ip_addresses`).
    pub regional_output: String,
    /// `[provision.outputs] anycast`: the anycast address (default `public_ip_address`).
    pub anycast_output: String,
}

/// `[deploy]`: how an app is built, published and rolled out, metro by metro.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deploy {
    /// The Nomad job's ID; `None`: the app's name (the ref's last path part).
    pub job: Option<String>,
    /// Run (`sh -c`) before anything else, e.g. `spin build`.
    pub build: Option<String>,
    /// Run after the build, with `{ref}` replaced by the reference, e.g.
    /// `spin registry push {ref}`; a printed `Pushed with digest D` pins the rollout to
    /// `ref@D`.
    pub publish: Option<String>,
    /// How long `build` and `publish` may each run (`command_timeout_ms`).
    pub command_timeout: Duration,
    /// Variables `build` and `publish` get beyond the minimal set; never a token.
    pub pass_env: Vec<String>,
    /// A JSON job (`{"Job": {…}}` or the bare job) used instead of the built-in one,
    /// resolved against the config file's directory.
    pub job_template: Option<PathBuf>,
    /// The task driver of the built-in job (`exec`, `raw_exec`).
    pub driver: String,
    /// The `spin` the task runs (a name on the host's PATH or a path there).
    pub spin: String,
    /// Allocations per metro.
    pub count: u32,
    /// Metro order; `None`: the metro carrying the least anycast traffic first, the
    /// observer's best path last.
    pub order: Option<Vec<String>>,
    /// After a metro is withdrawn, how long requests already in flight to it get.
    pub drain: Duration,
    /// Response header that names the running version; `None`: the `version` of
    /// `/.well-known/spin/info`.
    pub verify_header: Option<String>,
    /// How long the metro's own address may take to answer the new version.
    pub verify_deadline: Duration,
    pub update: UpdateBlock,
}

/// `[deploy.update]`: the job's `update` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateBlock {
    pub max_parallel: u32,
    pub min_healthy_time: Duration,
    pub healthy_deadline: Duration,
    pub progress_deadline: Duration,
    pub auto_revert: bool,
}

impl Default for UpdateBlock {
    fn default() -> Self {
        UpdateBlock {
            max_parallel: 1,
            min_healthy_time: Duration::from_secs(10),
            healthy_deadline: Duration::from_secs(300),
            progress_deadline: Duration::from_secs(600),
            auto_revert: true,
        }
    }
}

impl Default for Deploy {
    fn default() -> Self {
        Deploy {
            job: None,
            build: None,
            publish: None,
            command_timeout: DEFAULT_DEPLOY_COMMAND_TIMEOUT,
            pass_env: Vec::new(),
            job_template: None,
            driver: DEFAULT_DEPLOY_DRIVER.to_string(),
            spin: "spin".to_string(),
            count: 1,
            order: None,
            drain: DEFAULT_DRAIN,
            verify_header: None,
            verify_deadline: DEFAULT_VERIFY_DEADLINE,
            update: UpdateBlock::default(),
        }
    }
}

/// Default `[deploy] driver`: what the platform's own jobs use.
pub const DEFAULT_DEPLOY_DRIVER: &str = "exec";
/// Default `[deploy] drain_ms`.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(2);
/// Allowed `deploy.drain_ms`.
pub const DRAIN_MS_RANGE: std::ops::RangeInclusive<i64> = 0..=600_000;
/// Default `[deploy] verify_deadline_ms`.
pub const DEFAULT_VERIFY_DEADLINE: Duration = Duration::from_secs(60);
/// Allowed `deploy.verify_deadline_ms`.
pub const VERIFY_DEADLINE_MS_RANGE: std::ops::RangeInclusive<i64> = 100..=3_600_000;
/// Default `[deploy] command_timeout_ms`.
pub const DEFAULT_DEPLOY_COMMAND_TIMEOUT: Duration = Duration::from_secs(600);
/// Allowed `deploy.count`.
pub const DEPLOY_COUNT_RANGE: std::ops::RangeInclusive<i64> = 1..=1000;
/// Allowed `deploy.update.*_ms`.
pub const UPDATE_MS_RANGE: std::ops::RangeInclusive<i64> = 0..=86_400_000;
/// Allowed `deploy.update.max_parallel`.
pub const MAX_PARALLEL_RANGE: std::ops::RangeInclusive<i64> = 1..=1000;

/// Default `[provision.outputs] regional`: the platform installer's output name.
pub const DEFAULT_REGIONAL_OUTPUT: &str = "regional_ip_addresses";
/// Default `[provision.outputs] anycast`.
pub const DEFAULT_ANYCAST_OUTPUT: &str = "public_ip_address";
/// Allowed `provision.lock_timeout_ms`.
pub const PROVISION_LOCK_TIMEOUT_MS_RANGE: std::ops::RangeInclusive<i64> = 0..=3_600_000;

/// How a metro's advertisement is withdrawn and restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WithdrawMethod {
    /// `disable`/`enable` the origin protocols on the metro's BIRD (not persistent).
    Disable,
    /// Run these with `sh -c`.
    Command(CommandMethod),
}

/// `method = "command"`: shell commands that withdraw and restore the advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandMethod {
    pub withdraw: String,
    pub restore: String,
    /// After this (`timeout_ms`), the command's process group is stopped.
    pub timeout: Duration,
    /// Environment variables passed on beyond the minimal set (`pass_env`); never a
    /// token.
    pub pass_env: Vec<String>,
}

impl WithdrawMethod {
    /// The method's name as written in the config.
    pub fn name(&self) -> &'static str {
        match self {
            WithdrawMethod::Disable => "disable",
            WithdrawMethod::Command(_) => "command",
        }
    }
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// A config problem with its place: file, 1-based line and column, and the dotted key
/// (`metro[1].withdraw.method`). I/O errors have `line == col == 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: usize,
    pub col: usize,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.col)?;
        }
        f.write_str(": ")?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

// ---------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------

/// Read and parse a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let fail = |message: String| ConfigError {
        path: path.to_path_buf(),
        line: 0,
        col: 0,
        key: None,
        message,
    };
    // A config is a small regular file: never block on a FIFO or read /dev/zero forever.
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| fail(format!("cannot read config: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| fail(format!("cannot read config: {e}")))?;
    if !meta.is_file() {
        return Err(fail("cannot read config: not a regular file".into()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot read config: {e}")))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(fail(format!(
            "cannot read config: larger than {} KiB; is this the right file?",
            MAX_CONFIG_BYTES / 1024
        )));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        fail(format!(
            "cannot read config: not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    parse(&text, path)
}

/// A config file is at most this big (a thousand metros fit in a fraction of it).
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// Parse config text. `path` names the file in errors, and relative paths in the file
/// are resolved against its directory.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let cx = Cx { text, path };
    let raw: RawFile = serde_path_to_error::deserialize(toml::Deserializer::new(text))
        .map_err(|e| cx.toml_error(e))?;
    cx.validate(raw)
}

/// The commented example config (`platform-tui config template`).
pub fn template() -> &'static str {
    include_str!("../../config.example.toml")
}
