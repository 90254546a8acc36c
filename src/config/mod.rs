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

pub mod keymap;
pub mod theme;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use keymap::{Action, KeySpec, Keymap};
use theme::Theme;

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
pub const MAX_METRO_NAME: usize = 16;
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

/// `[metro.nomad]`: where the metro's Nomad HTTP API is and how to talk to it. Unset
/// values follow Nomad's own conventions (`NOMAD_ADDR`, `NOMAD_TOKEN`, ...) when the
/// client is built, not here. The token itself is never in the config, only the name
/// of the environment variable holding it, so deriving `Debug` leaks nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetroNomad {
    /// `http(s)://host[:port]`; default: `NOMAD_ADDR`.
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
}

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
    let mut cx = Cx {
        text,
        path,
        locator: Locator::default(),
    };
    let raw: RawFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => return Err(cx.toml_error(&e)),
    };
    cx.locator = Locator::build(text).unwrap_or_default();
    cx.validate(raw)
}

/// The commented example config (`platform-tui config template`).
pub fn template() -> &'static str {
    include_str!("../../config.example.toml")
}

// ---------------------------------------------------------------------------------------
// The raw file
// ---------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    console: Option<RawConsole>,
    anycast: Option<RawAnycast>,
    probe: Option<RawProbe>,
    metro: Option<Vec<RawMetro>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConsole {
    read_only: Option<Spanned<bool>>,
    refresh_ms: Option<Spanned<i64>>,
    state_dir: Option<Spanned<String>>,
    lock_wait_ms: Option<Spanned<i64>>,
    keys: Option<RawKeys>,
    theme: Option<RawTheme>,
}

/// `[console.keys]`: action name -> key specs. A map, not a struct, so that an unknown
/// action gets its own message.
type RawKeys = BTreeMap<Spanned<String>, Spanned<Vec<Spanned<String>>>>;
/// `[console.theme]`: slot name -> colour.
type RawTheme = BTreeMap<Spanned<String>, Spanned<String>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnycast {
    prefix: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    observer: Option<RawObserver>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObserver {
    bird_socket: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    interval_ms: Option<Spanned<i64>>,
    timeout_ms: Option<Spanned<i64>>,
    method: Option<Spanned<String>>,
    keep_alive: Option<Spanned<bool>>,
    window: Option<Spanned<i64>>,
    served_by_header: Option<Spanned<String>>,
    status_probes: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetro {
    name: Option<Spanned<String>>,
    display_name: Option<Spanned<String>>,
    bird_socket: Option<Spanned<String>>,
    origin_protocols: Option<Spanned<Vec<Spanned<String>>>>,
    export_protocol: Option<Spanned<String>>,
    observer_protocol: Option<Spanned<String>>,
    withdraw: Option<RawWithdraw>,
    address: Option<Spanned<String>>,
    nomad: Option<RawNomad>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWithdraw {
    method: Option<Spanned<String>>,
    withdraw: Option<Spanned<String>>,
    restore: Option<Spanned<String>>,
    timeout_ms: Option<Spanned<i64>>,
    pass_env: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `[metro.nomad]`. There is deliberately no `token`: an unknown-key error for it is
/// reworded by [`Cx::toml_error`] to point at `token_env`, without the value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNomad {
    address: Option<Spanned<String>>,
    token_env: Option<Spanned<String>>,
    region: Option<Spanned<String>>,
    namespace: Option<Spanned<String>>,
    ca_cert: Option<Spanned<String>>,
    tls_server_name: Option<Spanned<String>>,
    skip_verify: Option<Spanned<bool>>,
    timeout_ms: Option<Spanned<i64>>,
    max_body_mb: Option<Spanned<i64>>,
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

/// What every error needs: the text (for line:col), the file name, and where keys are.
struct Cx<'a> {
    text: &'a str,
    path: &'a Path,
    locator: Locator,
}

type Res<T> = Result<T, ConfigError>;

impl Cx<'_> {
    fn err_at(&self, offset: usize, key: Option<&str>, message: impl Into<String>) -> ConfigError {
        let (line, col) = line_col(self.text, offset);
        ConfigError {
            path: self.path.to_path_buf(),
            line,
            col,
            key: key.filter(|k| !k.is_empty()).map(str::to_string),
            message: message.into(),
        }
    }

    fn err<T>(&self, span: &Spanned<T>, key: &str, message: impl Into<String>) -> ConfigError {
        self.err_at(span.span().start, Some(key), message)
    }

    /// A required key is absent: point at the table that should hold it.
    fn missing(&self, table: &str, key: &str) -> ConfigError {
        let at = self.locator.table_position(self.text, table);
        self.err_at(at, Some(table), format!("missing required key `{key}`"))
    }

    fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let message = tidy_toml_message(e.message());
        let Some(span) = e.span() else {
            return self.err_at(0, None, message);
        };
        let message = name_datetimes(message, self.text, span.start);
        let mut at = span.start;
        let key = match Locator::build(self.text) {
            // The text is valid TOML, so this is a shape error from serde.
            Some(loc) if message.starts_with("unknown key") => {
                // An unknown `[table]`: point at its header, not inside it.
                at = header_start(self.text, at).unwrap_or(at);
                loc.parent_of_key(&span)
            }
            Some(loc) => loc.path_at(span.start),
            // A syntax error (or a date, which the locator cannot read): name the key
            // from the line itself.
            None => line_path(self.text, span.start),
        };
        // `token` under `[metro.nomad]` is a secret in the wrong place, not a typo.
        let (key, message) = match key {
            Some(table)
                if is_nomad_table(&table) && message.starts_with("unknown key `token`,") =>
            {
                (
                    Some(format!("{table}.token")),
                    NOMAD_TOKEN_MESSAGE.to_string(),
                )
            }
            key => (key, message),
        };
        self.err_at(at, key.as_deref(), message)
    }

    fn resolve(&self, value: &str) -> PathBuf {
        let p = Path::new(value);
        match self.path.parent() {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_path_buf(),
        }
    }

    fn non_empty<'s>(&self, value: &'s Spanned<String>, key: &str) -> Res<&'s str> {
        if value.get_ref().trim().is_empty() {
            return Err(self.err(value, key, "must not be empty"));
        }
        // Config values reach the screen and shell commands: no control characters.
        if let Some(c) = value.get_ref().chars().find(|c| c.is_control()) {
            return Err(self.err(
                value,
                key,
                format!(
                    "must not contain control characters (found {})",
                    crate::domain::text::visible(&c.to_string())
                ),
            ));
        }
        Ok(value.get_ref())
    }

    /// An integer within `range`, or an error naming the range in `unit`s.
    fn int_in(
        &self,
        value: &Spanned<i64>,
        key: &str,
        range: &std::ops::RangeInclusive<i64>,
        unit: &str,
    ) -> Res<u64> {
        let v = *value.get_ref();
        if !range.contains(&v) {
            let unit = if unit.is_empty() {
                String::new()
            } else {
                format!(" {unit}")
            };
            return Err(self.err(
                value,
                key,
                format!(
                    "must be between {} and {}{unit}, got {v}",
                    range.start(),
                    range.end()
                ),
            ));
        }
        Ok(v.unsigned_abs())
    }

    /// A `*_ms` key within `range`, as a duration.
    fn millis(
        &self,
        value: &Spanned<i64>,
        key: &str,
        range: &std::ops::RangeInclusive<i64>,
    ) -> Res<Duration> {
        self.int_in(value, key, range, "milliseconds")
            .map(Duration::from_millis)
    }

    fn validate(&self, raw: RawFile) -> Res<Config> {
        let console = match raw.console {
            Some(c) => self.console(c)?,
            None => Console::default(),
        };
        let anycast = match raw.anycast {
            Some(a) => self.anycast(a)?,
            None => return Err(self.err_at(0, None, "missing required table `[anycast]`")),
        };
        let probe = match raw.probe {
            Some(p) => self.probe(p)?,
            None => Probe::default(),
        };
        let Some(raw_metros) = raw.metro else {
            return Err(self.err_at(
                0,
                None,
                "missing required table `[[metro]]`: define at least one metro",
            ));
        };
        if raw_metros.is_empty() {
            let at = self.locator.table_position(self.text, "metro");
            return Err(self.err_at(at, Some("metro"), "define at least one metro"));
        }
        let mut metros: Vec<Metro> = Vec::with_capacity(raw_metros.len());
        let mut first_seen: BTreeMap<String, usize> = BTreeMap::new();
        // Variables that hold tokens: a command's `pass_env` may never name one.
        let token_envs: Vec<String> = std::iter::once("NOMAD_TOKEN".to_string())
            .chain(raw_metros.iter().filter_map(|m| {
                m.nomad
                    .as_ref()?
                    .token_env
                    .as_ref()
                    .map(|t| t.get_ref().clone())
            }))
            .collect();
        for (i, m) in raw_metros.into_iter().enumerate() {
            let table = format!("metro[{i}]");
            let name_span = m.name.as_ref().map(|n| n.span().start);
            let metro = self.metro(m, &table, &token_envs)?;
            if let (Some(first), Some(at)) = (first_seen.get(&metro.name), name_span) {
                let (line, _) = line_col(self.text, *first);
                return Err(self.err_at(
                    at,
                    Some(&format!("{table}.name")),
                    format!(
                        "duplicate metro name `{}` (first defined on line {line})",
                        metro.name
                    ),
                ));
            }
            first_seen.insert(metro.name.clone(), name_span.unwrap_or(0));
            metros.push(metro);
        }
        Ok(Config {
            console,
            anycast,
            probe,
            metros,
            source: Some(self.path.to_path_buf()),
        })
    }

    fn console(&self, raw: RawConsole) -> Res<Console> {
        let mut console = Console::default();
        if let Some(ro) = raw.read_only {
            console.read_only = *ro.get_ref();
        }
        if let Some(ms) = raw.refresh_ms {
            console.refresh = self.millis(&ms, "console.refresh_ms", &REFRESH_MS_RANGE)?;
        }
        if let Some(dir) = raw.state_dir {
            let d = self.non_empty(&dir, "console.state_dir")?;
            console.state_dir = Some(self.resolve(d));
        }
        if let Some(ms) = raw.lock_wait_ms {
            console.lock_wait = self.millis(&ms, "console.lock_wait_ms", &LOCK_WAIT_MS_RANGE)?;
        }
        if let Some(keys) = raw.keys {
            console.keymap = self.keymap(keys)?;
        }
        if let Some(theme) = raw.theme {
            console.theme = self.theme(theme)?;
        }
        Ok(console)
    }

    fn keymap(&self, raw: BTreeMap<Spanned<String>, Spanned<Vec<Spanned<String>>>>) -> Res<Keymap> {
        let mut entries: Vec<_> = raw.into_iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        let mut keymap = Keymap::default();
        // For each overridden action: its parsed keys with their positions, in file order.
        let mut placed: Vec<(Action, Vec<(KeySpec, usize)>)> = Vec::new();
        for (name, specs) in &entries {
            let Some(action) = Action::from_name(name.get_ref()) else {
                return Err(self.err(
                    name,
                    "console.keys",
                    format!(
                        "unknown action `{}`, expected one of {}",
                        name.get_ref(),
                        backticked(Action::ALL.iter().map(|a| a.name()))
                    ),
                ));
            };
            let key = format!("console.keys.{}", action.name());
            let mut keys = Vec::new();
            for spec in specs.get_ref() {
                let k = keymap::parse_key(spec.get_ref()).map_err(|m| self.err(spec, &key, m))?;
                keys.push((k, spec.span().start));
            }
            keymap
                .set_keys(action, keys.iter().map(|(k, _)| *k).collect())
                .map_err(|m| self.err(specs, &key, m))?;
            placed.push((action, keys));
        }
        if let Some((k, a, b)) = keymap.conflict() {
            // Blame the binding written last: the earlier one was there first.
            let blamed = placed
                .iter()
                .filter(|(action, _)| *action == a || *action == b)
                .filter_map(|(action, keys)| {
                    keys.iter()
                        .find(|(spec, _)| *spec == k)
                        .map(|(_, at)| (*at, *action))
                })
                .max();
            let (at, action) = blamed.unwrap_or((0, b));
            return Err(self.err_at(
                at,
                Some(&format!("console.keys.{}", action.name())),
                keymap::conflict_message(k, a, b),
            ));
        }
        Ok(keymap)
    }

    fn theme(&self, raw: RawTheme) -> Res<Theme> {
        let mut entries: Vec<_> = raw.into_iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        let mut theme = Theme::default();
        for (name, colour) in &entries {
            let key = format!("console.theme.{}", name.get_ref());
            let c = theme::parse_color(colour.get_ref()).map_err(|m| self.err(colour, &key, m))?;
            theme
                .set(name.get_ref(), c)
                .map_err(|m| self.err(name, "console.theme", m))?;
        }
        Ok(theme)
    }

    fn anycast(&self, raw: RawAnycast) -> Res<Anycast> {
        let Some(prefix) = raw.prefix else {
            return Err(self.missing("anycast", "prefix"));
        };
        let normalised = normalise_prefix(prefix.get_ref())
            .map_err(|m| self.err(&prefix, "anycast.prefix", m))?;
        let url = match raw.url {
            Some(url) => {
                let u = url.get_ref().trim();
                check_anycast_url(u).map_err(|m| self.err(&url, "anycast.url", m))?;
                Some(u.to_string())
            }
            None => None,
        };
        let observer = match raw.observer {
            Some(o) => {
                let Some(sock) = o.bird_socket else {
                    return Err(self.missing("anycast.observer", "bird_socket"));
                };
                let s = self.non_empty(&sock, "anycast.observer.bird_socket")?;
                Some(Observer {
                    bird_socket: self.resolve(s),
                })
            }
            None => None,
        };
        Ok(Anycast {
            prefix: normalised,
            url,
            observer,
        })
    }

    fn metro(&self, raw: RawMetro, table: &str, token_envs: &[String]) -> Res<Metro> {
        let key = |k: &str| format!("{table}.{k}");
        let Some(name) = raw.name else {
            return Err(self.missing(table, "name"));
        };
        check_metro_name(name.get_ref()).map_err(|m| self.err(&name, &key("name"), m))?;
        let name = name.into_inner();
        let display_name = match raw.display_name {
            Some(d) => self.non_empty(&d, &key("display_name"))?.to_string(),
            None => name.clone(),
        };
        let Some(sock) = raw.bird_socket else {
            return Err(self.missing(table, "bird_socket"));
        };
        let bird_socket = self.resolve(self.non_empty(&sock, &key("bird_socket"))?);
        let origin_protocols = match raw.origin_protocols {
            Some(list) => {
                if list.get_ref().is_empty() {
                    return Err(self.err(
                        &list,
                        &key("origin_protocols"),
                        "list at least one BIRD protocol that originates the prefix",
                    ));
                }
                let mut names = Vec::new();
                for p in list.get_ref() {
                    check_protocol(p.get_ref())
                        .map_err(|m| self.err(p, &key("origin_protocols"), m))?;
                    names.push(p.get_ref().clone());
                }
                names
            }
            None => vec![DEFAULT_ORIGIN_PROTOCOL.to_string()],
        };
        let export_protocol = match raw.export_protocol {
            Some(p) => {
                check_protocol(p.get_ref())
                    .map_err(|m| self.err(&p, &key("export_protocol"), m))?;
                Some(p.into_inner())
            }
            None => None,
        };
        let observer_protocol = match raw.observer_protocol {
            Some(p) => {
                check_protocol(p.get_ref())
                    .map_err(|m| self.err(&p, &key("observer_protocol"), m))?;
                p.into_inner()
            }
            None => name.clone(),
        };
        let withdraw = match raw.withdraw {
            Some(w) => self.withdraw(w, &key("withdraw"), token_envs)?,
            None => WithdrawMethod::Disable,
        };
        let address = match raw.address {
            Some(a) => {
                Some(parse_socket_addr(a.get_ref()).map_err(|m| self.err(&a, &key("address"), m))?)
            }
            None => None,
        };
        let nomad = match raw.nomad {
            Some(n) => Some(self.nomad(n, &key("nomad"))?),
            None => None,
        };
        Ok(Metro {
            name,
            display_name,
            bird_socket,
            origin_protocols,
            export_protocol,
            observer_protocol,
            withdraw,
            address,
            nomad,
        })
    }

    fn probe(&self, raw: RawProbe) -> Res<Probe> {
        let mut probe = Probe::default();
        if let Some(ms) = raw.interval_ms {
            probe.interval = self.millis(&ms, "probe.interval_ms", &PROBE_INTERVAL_MS_RANGE)?;
        }
        if let Some(ms) = raw.timeout_ms {
            probe.timeout = self.millis(&ms, "probe.timeout_ms", &PROBE_TIMEOUT_MS_RANGE)?;
        }
        if let Some(m) = raw.method {
            probe.method = match m.get_ref().to_ascii_uppercase().as_str() {
                "HEAD" => ProbeMethod::Head,
                "GET" => ProbeMethod::Get,
                _ => {
                    return Err(self.err(
                        &m,
                        "probe.method",
                        format!(
                            "unknown probe method `{}`, expected `HEAD` or `GET`",
                            m.get_ref()
                        ),
                    ))
                }
            };
        }
        if let Some(k) = raw.keep_alive {
            probe.keep_alive = *k.get_ref();
        }
        if let Some(w) = raw.window {
            let n = self.int_in(&w, "probe.window", &PROBE_WINDOW_RANGE, "samples")?;
            probe.window = usize::try_from(n).unwrap_or(DEFAULT_PROBE_WINDOW);
        }
        if let Some(h) = raw.served_by_header {
            check_header_name(h.get_ref())
                .map_err(|m| self.err(&h, "probe.served_by_header", m))?;
            probe.served_by_header = h.get_ref().to_ascii_lowercase();
        }
        if let Some(n) = raw.status_probes {
            let n = self.int_in(&n, "probe.status_probes", &STATUS_PROBES_RANGE, "")?;
            probe.status_probes = u32::try_from(n).unwrap_or(DEFAULT_STATUS_PROBES);
        }
        Ok(probe)
    }

    fn nomad(&self, raw: RawNomad, table: &str) -> Res<MetroNomad> {
        let key = |k: &str| format!("{table}.{k}");
        let text = |v: Option<Spanned<String>>, k: &str| -> Res<Option<String>> {
            v.map(|v| self.non_empty(&v, &key(k)).map(str::to_string))
                .transpose()
        };
        let address = match raw.address {
            Some(a) => {
                let u = a.get_ref().trim();
                check_nomad_address(u).map_err(|m| self.err(&a, &key("address"), m))?;
                Some(u.trim_end_matches('/').to_string())
            }
            None => None,
        };
        let token_env = match raw.token_env {
            Some(t) => {
                check_env_name(t.get_ref()).map_err(|m| self.err(&t, &key("token_env"), m))?;
                Some(t.into_inner())
            }
            None => None,
        };
        let ca_cert = match raw.ca_cert {
            Some(c) => Some(self.resolve(self.non_empty(&c, &key("ca_cert"))?)),
            None => None,
        };
        let timeout = match raw.timeout_ms {
            Some(ms) => Some(self.millis(&ms, &key("timeout_ms"), &NOMAD_TIMEOUT_MS_RANGE)?),
            None => None,
        };
        let max_body = match raw.max_body_mb {
            Some(mb) => {
                Some(self.int_in(&mb, &key("max_body_mb"), &NOMAD_MAX_BODY_MB_RANGE, "MB")? << 20)
            }
            None => None,
        };
        Ok(MetroNomad {
            address,
            token_env,
            region: text(raw.region, "region")?,
            namespace: text(raw.namespace, "namespace")?,
            ca_cert,
            tls_server_name: text(raw.tls_server_name, "tls_server_name")?,
            skip_verify: raw.skip_verify.map(Spanned::into_inner),
            timeout,
            max_body,
        })
    }

    fn withdraw(
        &self,
        raw: RawWithdraw,
        table: &str,
        token_envs: &[String],
    ) -> Res<WithdrawMethod> {
        let key = |k: &str| format!("{table}.{k}");
        let command = match &raw.method {
            None => false,
            Some(m) => match m.get_ref().as_str() {
                "disable" => false,
                "command" => true,
                other => {
                    return Err(self.err(
                        m,
                        &key("method"),
                        format!(
                            "unknown withdraw method `{other}`, expected `disable` or `command`"
                        ),
                    ))
                }
            },
        };
        if !command {
            for (k, v) in [("withdraw", &raw.withdraw), ("restore", &raw.restore)] {
                if let Some(v) = v {
                    return Err(self.err(
                        v,
                        &key(k),
                        format!("`{k}` is only used with method = \"command\""),
                    ));
                }
            }
            if let Some(t) = &raw.timeout_ms {
                return Err(self.err(
                    t,
                    &key("timeout_ms"),
                    "`timeout_ms` is only used with method = \"command\"",
                ));
            }
            if let Some(p) = &raw.pass_env {
                return Err(self.err(
                    p,
                    &key("pass_env"),
                    "`pass_env` is only used with method = \"command\"",
                ));
            }
            return Ok(WithdrawMethod::Disable);
        }
        let timeout = match &raw.timeout_ms {
            Some(ms) => self.millis(ms, &key("timeout_ms"), &COMMAND_TIMEOUT_MS_RANGE)?,
            None => DEFAULT_COMMAND_TIMEOUT,
        };
        let mut pass_env = Vec::new();
        for name in raw.pass_env.iter().flat_map(|l| l.get_ref()) {
            let n = name.get_ref();
            check_plain_env_name(n).map_err(|m| self.err(name, &key("pass_env"), m))?;
            if n.to_ascii_uppercase().contains("TOKEN") || token_envs.iter().any(|t| t == n) {
                return Err(self.err(
                    name,
                    &key("pass_env"),
                    format!("`{n}` holds a token: commands never get tokens"),
                ));
            }
            pass_env.push(n.clone());
        }
        let mut commands = Vec::new();
        for (k, v) in [("withdraw", &raw.withdraw), ("restore", &raw.restore)] {
            match v {
                Some(v) => commands.push(self.non_empty(v, &key(k))?.to_string()),
                None => {
                    let at = raw.method.as_ref().map_or(0, |m| m.span().start);
                    return Err(self.err_at(
                        at,
                        Some(&key("method")),
                        format!("method = \"command\" needs a `{k}` command"),
                    ));
                }
            }
        }
        let restore = commands.pop().unwrap_or_default();
        let withdraw = commands.pop().unwrap_or_default();
        Ok(WithdrawMethod::Command(CommandMethod {
            withdraw,
            restore,
            timeout,
            pass_env,
        }))
    }
}

fn backticked<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_metro_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if first_ok && rest_ok && name.len() <= MAX_METRO_NAME {
        Ok(())
    } else {
        Err(format!(
            "invalid metro name `{name}`: use 1 to {MAX_METRO_NAME} characters from a-z, 0-9 \
             and '-', starting with a letter or digit"
        ))
    }
}

/// A protocol name must be one every BIRD query can send (`disable "<name>"`, `show
/// route P export <name>` ...): the client's own rule, so the config and the queries
/// agree on which names work.
fn check_protocol(name: &str) -> Result<(), String> {
    crate::bird::check_protocol_name(name)
}

/// What `token = ...` under `[metro.nomad]` gets instead of "unknown key": the value is
/// a secret, so it is neither stored nor repeated.
const NOMAD_TOKEN_MESSAGE: &str = "the Nomad token is never written in the config: set \
     `token_env` to the name of the environment variable that holds it (default NOMAD_TOKEN)";

/// `metro[2].nomad`: the table [`NOMAD_TOKEN_MESSAGE`] is for.
fn is_nomad_table(path: &str) -> bool {
    path.strip_prefix("metro[")
        .and_then(|rest| rest.split_once(']'))
        .is_some_and(|(index, rest)| {
            !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) && rest == ".nomad"
        })
}

/// The parts of `scheme://host[:port][rest]` that the config checks.
struct UrlParts<'a> {
    /// As written: compare it case-insensitively.
    scheme: &'a str,
    /// Everything after the authority: path, query, fragment.
    rest: &'a str,
}

/// Split a URL and check its authority: a host name, IPv4 address or `[IPv6]`, and an
/// optional port 1..=65535. No user info: credentials do not belong in a config file.
fn split_url(url: &str) -> Result<UrlParts<'_>, String> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{url}` contains spaces or control characters"));
    }
    let (scheme, after) = url
        .split_once("://")
        .ok_or_else(|| format!("`{url}` is not a URL"))?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    if authority.contains('@') {
        return Err(format!(
            "`{scheme}://...` has user info; credentials are not allowed in the URL"
        ));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inside, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("`{url}`: unclosed `[` in the host"))?;
        if inside.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("`{url}`: `[{inside}]` is not an IPv6 address"));
        }
        match after {
            "" => (inside, None),
            _ => match after.strip_prefix(':') {
                Some(p) => (inside, Some(p)),
                None => return Err(format!("`{url}`: unexpected `{after}` after the host")),
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    if !authority.starts_with('[')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
    {
        return Err(format!("`{url}`: invalid host `{host}`"));
    }
    if let Some(p) = port {
        let ok = !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok_and(|n| n != 0);
        if !ok {
            return Err(format!("`{url}`: invalid port `{p}`, expected 1..65535"));
        }
    }
    Ok(UrlParts { scheme, rest })
}

/// `[anycast] url`: `http://host[:port][/path]`. The prober speaks plain HTTP only.
fn check_anycast_url(url: &str) -> Result<(), String> {
    let form = "http://host[:port][/path]";
    let not_http = || format!("`{url}` is not an http:// URL ({form})");
    let parts = split_url(url).map_err(|m| if url.contains("://") { m } else { not_http() })?;
    if parts.scheme.eq_ignore_ascii_case("https") {
        return Err(format!(
            "https is not supported yet: use an http:// URL ({form})"
        ));
    }
    if !parts.scheme.eq_ignore_ascii_case("http") {
        return Err(not_http());
    }
    if !(parts.rest.is_empty() || parts.rest.starts_with('/')) {
        return Err(format!("`{url}`: the path must start with `/` ({form})"));
    }
    Ok(())
}

/// `[metro.nomad] address`: `http(s)://host[:port]`, like `NOMAD_ADDR`.
fn check_nomad_address(url: &str) -> Result<(), String> {
    let form = "http(s)://host:port, e.g. http://127.0.0.1:4646";
    let parts = split_url(url).map_err(|m| {
        if url.contains("://") {
            m
        } else {
            format!("`{url}` is not an http:// or https:// URL ({form})")
        }
    })?;
    if !(parts.scheme.eq_ignore_ascii_case("http") || parts.scheme.eq_ignore_ascii_case("https")) {
        return Err(format!(
            "`{url}` is not an http:// or https:// URL ({form})"
        ));
    }
    if !(parts.rest.is_empty() || parts.rest == "/") {
        return Err(format!("`{url}`: a Nomad address has no path ({form})"));
    }
    Ok(())
}

/// `[[metro]] address`: an IP and a port; no name lookup happens at config time.
fn parse_socket_addr(text: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = text.parse().map_err(|_| {
        format!("`{text}` is not an address: expected IP:port, e.g. 127.0.0.1:8080 or [::1]:8080")
    })?;
    if addr.port() == 0 {
        return Err(format!("`{text}`: port 0 cannot be probed"));
    }
    Ok(addr)
}

/// An HTTP header name as the prober will look it up: `[A-Za-z0-9-]+`.
fn check_header_name(name: &str) -> Result<(), String> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(format!(
            "invalid header name `{name}`: use letters, digits and '-', e.g. x-served-by"
        ));
    }
    Ok(())
}

/// A variable name to pass on to commands.
fn check_plain_env_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not an environment variable name (letters, digits and '_', not starting with a digit)",
            crate::domain::text::visible(name)
        ))
    }
}

/// `token_env` names a variable. The value is not repeated in the error: someone who
/// pasted the token itself here should not see it echoed into logs.
fn check_env_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Ok(());
    }
    Err(
        "not an environment variable name (letters, digits and '_', not starting with a \
         digit): give the name of the variable holding the token, e.g. NOMAD_TOKEN_AM, \
         not the token"
            .to_string(),
    )
}

/// Parse `addr/len` (or a bare address, meaning a host route) and write it the way BIRD
/// does. Host bits must be clear: `198.18.0.10/24` is almost certainly a typo.
fn normalise_prefix(text: &str) -> Result<String, String> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("`{text}` is not an IPv4 or IPv6 prefix (e.g. 198.18.0.10/32)"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(l) if !l.is_empty() && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit()) => {
            l.parse::<u32>().unwrap_or(u32::MAX)
        }
        Some(l) => return Err(format!("prefix length `{l}` is not a number")),
    };
    if len > max {
        return Err(format!("prefix length /{len} is longer than /{max}"));
    }
    let network = match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            IpAddr::from(std::net::Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            IpAddr::from(std::net::Ipv6Addr::from(u128::from(v6) & mask))
        }
    };
    if network != ip {
        return Err(format!(
            "`{text}` has host bits set; the network is {network}/{len}"
        ));
    }
    Ok(format!("{ip}/{len}"))
}

/// Date-times reach serde as maps; say what the operator wrote.
fn name_datetimes(message: String, text: &str, offset: usize) -> String {
    let is_date = text
        .get(offset..)
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| c.is_ascii_digit());
    if is_date {
        message.replacen("invalid type: map", "invalid type: date-time", 1)
    } else {
        message
    }
}

/// serde's wording for our types is close but not quite the file's vocabulary.
fn tidy_toml_message(message: &str) -> String {
    let one_line = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    one_line
        .replace("unknown field", "unknown key")
        .replace("expected i64", "expected an integer")
        .replace("expected a sequence", "expected an array")
        .replace("expected a map", "expected a table")
}

// ---------------------------------------------------------------------------------------
// Positions
// ---------------------------------------------------------------------------------------

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// Where every key of a (syntactically valid) file is, with its dotted path; serde's
/// errors carry a byte range but no path, and this turns one into the other.
#[derive(Default)]
struct Locator {
    keys: Vec<KeyLoc>,
}

struct KeyLoc {
    span: Range<usize>,
    parent: String,
    path: String,
}

/// A TOML document reduced to what the locator needs: keys with spans, and nesting.
enum Node {
    Table(Vec<(Spanned<String>, Node)>),
    Array(Vec<Node>),
    Leaf,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Node::Table(entries))
    }
}

impl Locator {
    /// `None` when the text is not valid TOML (or holds dates, which no key accepts).
    fn build(text: &str) -> Option<Locator> {
        let root: Node = toml::from_str(text).ok()?;
        let mut loc = Locator::default();
        loc.walk(&root, "");
        Some(loc)
    }

    fn walk(&mut self, node: &Node, path: &str) {
        match node {
            Node::Table(entries) => {
                for (key, child) in entries {
                    let child_path = if path.is_empty() {
                        key.get_ref().clone()
                    } else {
                        format!("{path}.{}", key.get_ref())
                    };
                    self.keys.push(KeyLoc {
                        span: key.span(),
                        parent: path.to_string(),
                        path: child_path.clone(),
                    });
                    self.walk(child, &child_path);
                }
            }
            Node::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.walk(item, &format!("{path}[{i}]"));
                }
            }
            Node::Leaf => {}
        }
    }

    /// The path of the key written last before `offset`: the key a value belongs to.
    fn path_at(&self, offset: usize) -> Option<String> {
        self.keys
            .iter()
            .filter(|k| k.span.start <= offset)
            .max_by_key(|k| k.span.start)
            .map(|k| k.path.clone())
    }

    /// The table holding the key written at `span`.
    fn parent_of_key(&self, span: &Range<usize>) -> Option<String> {
        match self.keys.iter().find(|k| k.span == *span) {
            Some(k) => Some(k.parent.clone()),
            None => self.path_at(span.start),
        }
    }

    /// Where the table at `path` is written: its `[header]` if it has one, else its key.
    fn table_position(&self, text: &str, path: &str) -> usize {
        if let Some((array, index)) = split_index(path) {
            if let Some(at) = array_header(text, array, index) {
                return at;
            }
            // An inline array of tables: point at the first key inside the element.
            let inner = format!("{path}.");
            if let Some(k) = self
                .keys
                .iter()
                .filter(|k| k.path.starts_with(&inner))
                .min_by_key(|k| k.span.start)
            {
                return k.span.start;
            }
            return self.table_position(text, array);
        }
        match self.keys.iter().find(|k| k.path == path) {
            Some(k) => header_start(text, k.span.start).unwrap_or(k.span.start),
            None => 0,
        }
    }
}

/// `metro[3]` -> (`metro`, 3), only for a trailing index.
fn split_index(path: &str) -> Option<(&str, usize)> {
    let open = path.rfind('[')?;
    let index = path.strip_suffix(']')?.get(open + 1..)?.parse().ok()?;
    Some((&path[..open], index))
}

/// The lines of `text` with their byte offsets.
fn lines_with_offsets(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    text.split_inclusive('\n').map(move |line| {
        let at = offset;
        offset += line.len();
        (at, line)
    })
}

/// A `[header]` or `[[header]]` line's name, and whether it is an array of tables.
fn header_name(line: &str) -> Option<(String, bool)> {
    let t = line.trim();
    let (inner, array) = if let Some(rest) = t.strip_prefix("[[") {
        (rest.split("]]").next()?, true)
    } else {
        (t.strip_prefix('[')?.split(']').next()?, false)
    };
    let name: String = inner
        .split('.')
        .map(|p| p.trim().trim_matches('"'))
        .collect::<Vec<_>>()
        .join(".");
    Some((name, array))
}

/// The offset of the `index`-th `[[array]]` header.
fn array_header(text: &str, array: &str, index: usize) -> Option<usize> {
    lines_with_offsets(text)
        .filter(|(_, line)| header_name(line).is_some_and(|(n, a)| a && n == array))
        .nth(index)
        .map(|(at, line)| at + line.len() - line.trim_start().len())
}

/// If `offset` is on a header line, where that header's `[` is.
fn header_start(text: &str, offset: usize) -> Option<usize> {
    let line_start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    let trimmed = line.trim_start();
    trimmed
        .starts_with('[')
        .then(|| line_start + line.len() - trimmed.len())
}

/// For syntax errors: the table whose header precedes `offset`, e.g. `metro[1].withdraw`.
fn header_before(text: &str, offset: usize) -> Option<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut current = None;
    for (at, line) in lines_with_offsets(text) {
        if at + line.len() > offset {
            break;
        }
        let Some((name, array)) = header_name(line) else {
            continue;
        };
        if array {
            let n = counts.entry(name.clone()).or_insert(0);
            *n += 1;
            current = Some(format!("{name}[{}]", *n - 1));
        } else {
            // `[metro.withdraw]` belongs to the latest `[[metro]]`.
            let indexed = counts.iter().find_map(|(array, n)| {
                name.strip_prefix(array.as_str())
                    .filter(|rest| rest.starts_with('.'))
                    .map(|rest| format!("{array}[{}]{rest}", n - 1))
            });
            current = Some(indexed.unwrap_or(name));
        }
    }
    current
}

/// For errors the locator cannot place: the enclosing table plus, when the line is a
/// `key = value`, its key; e.g. `metro[1].withdraw.method`.
fn line_path(text: &str, offset: usize) -> Option<String> {
    let table = header_before(text, offset);
    let line_start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or_default();
    let key = line.split_once('=').and_then(|(k, _)| {
        let parts: Vec<&str> = k.split('.').map(|p| p.trim().trim_matches('"')).collect();
        let bare = |p: &&str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        parts.iter().all(bare).then(|| parts.join("."))
    });
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (t, k) => t.or(k),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[anycast]
prefix = "198.18.0.10/32"

[[metro]]
name = "am"
bird_socket = "run/am.ctl"
"#;

    fn parse_ok(text: &str) -> Config {
        match parse(text, Path::new("/etc/ptui/config.toml")) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    fn parse_err(text: &str) -> String {
        parse(text, Path::new("c.toml")).unwrap_err().to_string()
    }

    #[test]
    fn minimal_gets_defaults() {
        let c = parse_ok(MINIMAL);
        assert!(!c.console.read_only);
        assert_eq!(c.console.refresh, Duration::from_millis(1000));
        assert_eq!(c.console.state_dir, None);
        assert_eq!(c.console.keymap, Keymap::default());
        assert_eq!(c.console.theme, Theme::default());
        assert_eq!(c.anycast.prefix, "198.18.0.10/32");
        let am = c.metro("am").unwrap();
        assert_eq!(am.display_name, "am");
        assert_eq!(am.bird_socket, PathBuf::from("/etc/ptui/run/am.ctl"));
        assert_eq!(am.origin_protocols, vec!["anycast".to_string()]);
        assert_eq!(am.export_protocol, None);
        assert_eq!(am.observer_protocol, "am");
        assert_eq!(am.withdraw, WithdrawMethod::Disable);
        assert_eq!(am.withdraw.name(), "disable");
        assert_eq!(am.address, None);
        assert_eq!(am.nomad, None);
        assert_eq!(c.probe, Probe::default());
        assert!(c.metro("da").is_none());
        assert_eq!(c.source, Some(PathBuf::from("/etc/ptui/config.toml")));
    }

    #[test]
    fn template_parses() {
        let c = parse_ok(template());
        assert_eq!(
            c.metros.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
            ["da", "am"]
        );
        assert!(c.anycast.observer.is_some());
        assert_eq!(c.probe, Probe::default(), "the template shows the defaults");
        let da = c.metro("da").unwrap();
        assert_eq!(da.address, Some("127.0.0.1:8081".parse().unwrap()));
        let nomad = da.nomad.as_ref().unwrap();
        assert_eq!(nomad.token_env.as_deref(), Some("NOMAD_TOKEN_DA"));
        assert_eq!(nomad.timeout, Some(Duration::from_millis(5000)));
        let am = c.metro("am").unwrap().nomad.as_ref().unwrap();
        assert_eq!(am.address.as_deref(), Some("https://127.0.0.1:4656"));
        assert_eq!(
            am.ca_cert,
            Some(PathBuf::from("/etc/ptui/certs/nomad-ca.pem"))
        );
        assert_eq!(am.skip_verify, Some(false));
    }

    #[test]
    fn probe_table() {
        let p = Probe::default();
        assert_eq!(p.interval, Duration::from_millis(1000));
        assert_eq!(p.timeout, Duration::from_millis(2000));
        assert_eq!(p.method, ProbeMethod::Head);
        assert!(!p.keep_alive);
        assert_eq!(p.window, 60);
        assert_eq!(p.served_by_header, "x-served-by");
        assert_eq!(p.status_probes, 3);
        let text = format!(
            "[probe]\ninterval_ms = 100\ntimeout_ms = 50\nmethod = \"get\"\nkeep_alive = true\n\
             window = 10000\nserved_by_header = \"X-Metro\"\nstatus_probes = 0\n{MINIMAL}"
        );
        let c = parse_ok(&text);
        assert_eq!(
            c.probe,
            Probe {
                interval: Duration::from_millis(100),
                timeout: Duration::from_millis(50),
                method: ProbeMethod::Get,
                keep_alive: true,
                window: 10_000,
                served_by_header: "x-metro".into(),
                status_probes: 0,
            }
        );
        assert_eq!(ProbeMethod::Get.to_string(), "GET");
        assert_eq!(ProbeMethod::Head.as_str(), "HEAD");
        let probe = |body: &str| parse_err(&format!("[probe]\n{body}\n{MINIMAL}"));
        assert_eq!(
            probe("interval_ms = 60001"),
            "c.toml:2:15: probe.interval_ms: must be between 100 and 60000 milliseconds, got 60001"
        );
        assert_eq!(
            probe("timeout_ms = 49"),
            "c.toml:2:14: probe.timeout_ms: must be between 50 and 60000 milliseconds, got 49"
        );
        assert_eq!(
            probe("window = 1"),
            "c.toml:2:10: probe.window: must be between 2 and 10000 samples, got 1"
        );
        assert_eq!(
            probe("status_probes = 101"),
            "c.toml:2:17: probe.status_probes: must be between 0 and 100, got 101"
        );
        assert_eq!(
            probe("method = \"POST\""),
            "c.toml:2:10: probe.method: unknown probe method `POST`, expected `HEAD` or `GET`"
        );
        for bad in ["", "x_served_by", "x served", "é"] {
            let err = probe(&format!("served_by_header = \"{bad}\""));
            assert!(
                err.contains("probe.served_by_header: invalid header name"),
                "{err}"
            );
        }
        assert!(probe("jitter = 1").contains("probe: unknown key `jitter`"));
    }

    #[test]
    fn anycast_urls() {
        for ok in [
            "http://198.18.0.10:8080/",
            "http://198.18.0.10",
            "HTTP://anycast.example:80/health?x=1",
            "http://[2001:db8::1]:8080/",
            "http://[::1]",
            "http://localhost/a/b",
        ] {
            assert_eq!(check_anycast_url(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            check_anycast_url("https://198.18.0.10/").unwrap_err(),
            "https is not supported yet: use an http:// URL (http://host[:port][/path])"
        );
        for bad in [
            "198.18.0.10:8080",
            "ftp://198.18.0.10/",
            "http://",
            "http:///path",
            "http://host:0/",
            "http://host:65536/",
            "http://host:/",
            "http://host:80x/",
            "http://2001:db8::1/",
            "http://[2001:db8::zz]/",
            "http://[::1/",
            "http://[::1]x/",
            "http://user:pw@host/",
            "http://ho st/",
            "http://host?x",
        ] {
            assert!(check_anycast_url(bad).is_err(), "{bad}");
        }
        assert!(!check_anycast_url("http://user:secret@host/")
            .unwrap_err()
            .contains("secret"));
    }

    #[test]
    fn metro_address() {
        let with = |addr: &str| format!("{MINIMAL}address = \"{addr}\"\n");
        let c = parse_ok(&with("127.0.0.1:8080"));
        assert_eq!(c.metros[0].address, Some("127.0.0.1:8080".parse().unwrap()));
        let c = parse_ok(&with("[::1]:8080"));
        assert_eq!(c.metros[0].address, Some("[::1]:8080".parse().unwrap()));
        assert_eq!(
            parse_err(&with("localhost:8080")),
            "c.toml:8:11: metro[0].address: `localhost:8080` is not an address: expected \
             IP:port, e.g. 127.0.0.1:8080 or [::1]:8080"
        );
        for bad in ["127.0.0.1", "http://127.0.0.1:8080", "127.0.0.1:0", ""] {
            assert!(
                parse_err(&with(bad)).contains("metro[0].address: "),
                "{bad}"
            );
        }
    }

    #[test]
    fn metro_nomad() {
        let nomad = |body: &str| format!("{MINIMAL}[metro.nomad]\n{body}\n");
        let c = parse_ok(&nomad(""));
        assert_eq!(c.metros[0].nomad, Some(MetroNomad::default()));
        let c = parse_ok(&nomad(
            "address = \"https://nomad.am.example:4646/\"\ntoken_env = \"NOMAD_TOKEN_AM\"\n\
             region = \"eu\"\nnamespace = \"apps\"\nca_cert = \"ca.pem\"\n\
             tls_server_name = \"server.eu.nomad\"\nskip_verify = true\ntimeout_ms = 600000\nmax_body_mb = 64",
        ));
        assert_eq!(
            c.metros[0].nomad,
            Some(MetroNomad {
                address: Some("https://nomad.am.example:4646".into()),
                token_env: Some("NOMAD_TOKEN_AM".into()),
                region: Some("eu".into()),
                namespace: Some("apps".into()),
                ca_cert: Some(PathBuf::from("/etc/ptui/ca.pem")),
                tls_server_name: Some("server.eu.nomad".into()),
                skip_verify: Some(true),
                timeout: Some(Duration::from_millis(600_000)),
                max_body: Some(64 << 20),
            })
        );
        // Inline, in the second metro.
        let text = format!(
            "{MINIMAL}[[metro]]\nname = \"da\"\nbird_socket = \"da.ctl\"\n\
             nomad = {{ address = \"http://127.0.0.1:4646\" }}\n"
        );
        let c = parse_ok(&text);
        assert_eq!(c.metros[0].nomad, None);
        assert_eq!(
            c.metros[1].nomad.as_ref().unwrap().address.as_deref(),
            Some("http://127.0.0.1:4646")
        );
        assert_eq!(
            parse_err(&nomad("max_body_mb = 0")),
            "c.toml:9:15: metro[0].nomad.max_body_mb: must be between 1 and 4096 MB, got 0"
        );
        assert_eq!(
            parse_err(&nomad("timeout_ms = 99")),
            "c.toml:9:14: metro[0].nomad.timeout_ms: must be between 100 and 600000 \
             milliseconds, got 99"
        );
        for bad in [
            "127.0.0.1:4646",
            "ftp://127.0.0.1:4646",
            "http://127.0.0.1:4646/v1",
        ] {
            let err = parse_err(&nomad(&format!("address = \"{bad}\"")));
            assert!(
                err.starts_with("c.toml:9:11: metro[0].nomad.address: "),
                "{err}"
            );
        }
        assert!(parse_err(&nomad("region = \" \"")).ends_with("must not be empty"));
        assert!(parse_err(&nomad("tokn_env = \"X\""))
            .starts_with("c.toml:9:1: metro[0].nomad: unknown key `tokn_env`, expected one of"));
    }

    #[test]
    fn nomad_tokens_are_never_echoed() {
        let secret = "b4d5e6f7-1234-5678-9abc-def012345678";
        for text in [
            format!("{MINIMAL}[metro.nomad]\ntoken = \"{secret}\"\n"),
            format!("{MINIMAL}nomad = {{ token = \"{secret}\" }}\n"),
            format!("{MINIMAL}nomad.token = \"{secret}\"\n"),
        ] {
            let err = parse_err(&text);
            assert!(!err.contains(secret), "{err}");
            assert!(err.contains("metro[0].nomad.token: "), "{err}");
            assert!(err.contains(NOMAD_TOKEN_MESSAGE), "{err}");
        }
        // Pasting the token where its variable's name belongs is not echoed either.
        let err = parse_err(&format!(
            "{MINIMAL}[metro.nomad]\ntoken_env = \"{secret}\"\n"
        ));
        assert!(!err.contains(secret), "{err}");
        assert!(err.starts_with("c.toml:9:13: metro[0].nomad.token_env: not an environment"));
        // `token` elsewhere is an ordinary unknown key.
        let err = parse_err(&format!("[console]\ntoken = 1\n{MINIMAL}"));
        assert!(err.contains("console: unknown key `token`"), "{err}");
        assert!(is_nomad_table("metro[12].nomad"));
        assert!(!is_nomad_table("metro[].nomad"));
        assert!(!is_nomad_table("metro[0].nomad.x"));
    }

    #[test]
    fn paths_resolve_against_the_config_dir() {
        let text = MINIMAL.replace("run/am.ctl", "/run/am.ctl");
        let c = parse(&text, Path::new("config.toml")).unwrap();
        assert_eq!(c.metros[0].bird_socket, PathBuf::from("/run/am.ctl"));
        let text = format!("[console]\nstate_dir = \"state\"\n{MINIMAL}");
        let c = parse(&text, Path::new("lab/config.toml")).unwrap();
        assert_eq!(c.console.state_dir, Some(PathBuf::from("lab/state")));
        assert_eq!(c.metros[0].bird_socket, PathBuf::from("lab/run/am.ctl"));
    }

    #[test]
    fn prefixes_normalise() {
        for (input, want) in [
            ("198.18.0.10/32", "198.18.0.10/32"),
            ("198.18.0.10", "198.18.0.10/32"),
            ("198.18.0.0/15", "198.18.0.0/15"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("2001:DB8:0::1/128", "2001:db8::1/128"),
            ("2001:db8::/32", "2001:db8::/32"),
        ] {
            assert_eq!(normalise_prefix(input).unwrap(), want, "{input}");
        }
        for bad in [
            "198.18.0.10/24",
            "198.18.0.10/33",
            "198.18.0/32",
            "198.18.0.10/",
            "198.18.0.10/+3",
            "nope",
            "2001:db8::1/129",
            "",
        ] {
            assert!(normalise_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn metro_names() {
        for ok in ["am", "da", "sv2", "us-east-1", "0", "abcdefghijklmnop"] {
            assert!(check_metro_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Am", "-am", "a_m", "am ", "abcdefghijklmnopq", "ämst"] {
            assert!(check_metro_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn command_method() {
        let text = format!(
            "{MINIMAL}[metro.withdraw]\nmethod = \"command\"\nwithdraw = \"systemctl stop bird\"\nrestore = \"systemctl start bird\"\n"
        );
        let c = parse_ok(&text);
        assert_eq!(
            c.metros[0].withdraw,
            WithdrawMethod::Command(CommandMethod {
                withdraw: "systemctl stop bird".into(),
                restore: "systemctl start bird".into(),
                timeout: DEFAULT_COMMAND_TIMEOUT,
                pass_env: Vec::new(),
            })
        );
        assert_eq!(c.metros[0].withdraw.name(), "command");
    }

    #[test]
    fn commands_take_a_timeout_and_never_a_token_variable() {
        let base = format!(
            "{MINIMAL}[metro.withdraw]\nmethod = \"command\"\nwithdraw = \"w\"\nrestore = \"r\"\n"
        );
        let c = parse(
            &format!("{base}timeout_ms = 5000\npass_env = [\"SSH_AUTH_SOCK\"]\n"),
            Path::new("c.toml"),
        )
        .expect("valid");
        let WithdrawMethod::Command(m) = &c.metros[0].withdraw else {
            panic!("command method");
        };
        assert_eq!(m.timeout, Duration::from_secs(5));
        assert_eq!(m.pass_env, ["SSH_AUTH_SOCK"]);
        let err = parse_err(&format!("{base}pass_env = [\"NOMAD_TOKEN\"]\n"));
        assert!(
            err.ends_with("metro[0].withdraw.pass_env: `NOMAD_TOKEN` holds a token: commands never get tokens"),
            "{err}"
        );
        let err = parse_err(&format!(
            "{base}pass_env = [\"AM_SECRET\"]\n[metro.nomad]\ntoken_env = \"AM_SECRET\"\n"
        ));
        assert!(err.contains("`AM_SECRET` holds a token"), "{err}");
        let err = parse_err(&format!("{MINIMAL}[metro.withdraw]\ntimeout_ms = 5000\n"));
        assert!(err.contains("only used with method = \"command\""), "{err}");
    }

    #[test]
    fn errors_name_place_and_key() {
        let err = parse_err(&format!("[console]\nrefresh_ms = 5\n{MINIMAL}"));
        assert_eq!(
            err,
            "c.toml:2:14: console.refresh_ms: must be between 100 and 60000 milliseconds, got 5"
        );
        let err = parse_err(&format!("{MINIMAL}colour = 1\n"));
        assert!(
            err.starts_with("c.toml:8:1: metro[0]: unknown key `colour`, expected one of"),
            "{err}"
        );
        let err = parse_err("[anycast]\nprefix = 5\n");
        assert_eq!(
            err,
            "c.toml:2:10: anycast.prefix: invalid type: integer `5`, expected a string"
        );
    }

    #[test]
    fn missing_keys_point_at_their_table() {
        let err = parse_err("[console]\n\n[anycast]\nurl = \"http://x/\"\n");
        assert_eq!(err, "c.toml:3:1: anycast: missing required key `prefix`");
        let err = parse_err("");
        assert_eq!(err, "c.toml:1:1: missing required table `[anycast]`");
        let text = format!("{MINIMAL}\n  [[metro]]\n  name = \"da\"\n");
        assert_eq!(
            parse_err(&text),
            "c.toml:9:3: metro[1]: missing required key `bird_socket`"
        );
        let text = "metro = [{ name = \"am\" }]\n[anycast]\nprefix = \"198.18.0.10\"\n";
        assert_eq!(
            parse_err(text),
            "c.toml:1:12: metro[0]: missing required key `bird_socket`"
        );
        let text = "[anycast.observer]\nbird_socket = \"x\"\n";
        assert_eq!(
            parse_err(text),
            "c.toml:1:1: anycast: missing required key `prefix`"
        );
    }

    #[test]
    fn syntax_errors_name_the_table() {
        let text = format!("{MINIMAL}[metro.withdraw]\nmethod = \"command\n");
        let err = parse(&text, Path::new("c.toml")).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("metro[0].withdraw.method"));
        assert_eq!(err.line, 9);
    }

    #[test]
    fn io_errors_have_no_position() {
        let err = load(Path::new("/nonexistent/platform-tui.toml")).unwrap_err();
        assert_eq!((err.line, err.col), (0, 0));
        assert!(err
            .to_string()
            .starts_with("/nonexistent/platform-tui.toml: cannot read config: "));
    }

    #[test]
    fn line_col_counts_characters() {
        let text = "a\nbé = 1\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 2), (2, 1));
        assert_eq!(line_col(text, 5), (2, 3));
        assert_eq!(line_col(text, 4), (2, 2), "inside a character rounds down");
        assert_eq!(line_col(text, 999), (3, 1));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn arbitrary_text_never_panics(text in ".{0,400}") {
                let _ = parse(&text, Path::new("x.toml"));
            }

            #[test]
            fn mangled_template_never_panics(
                at in 0usize..8000,
                cut in 0usize..40,
                insert in "[\\[\\]\"'=.a-z0-9 \n#-]{0,20}",
            ) {
                let t = template();
                let mut start = at.min(t.len());
                while !t.is_char_boundary(start) { start -= 1; }
                let mut end = (start + cut).min(t.len());
                while !t.is_char_boundary(end) { end -= 1; }
                let text = format!("{}{}{}", &t[..start], insert, &t[end..]);
                if let Err(e) = parse(&text, Path::new("x.toml")) {
                    prop_assert!(e.line >= 1 && e.col >= 1, "{}", e);
                }
            }
        }
    }
}
