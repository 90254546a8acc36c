//! Validation: the raw file ([`super::raw`]) into the checked [`Config`], every problem a
//! [`ConfigError`] at its place. Value rules live in [`super::values`]; this file decides
//! which rule applies to which key, the defaults, and the cross-key rules (unique metro
//! names, `pass_env` never naming a token variable, key bindings that do not collide).
//!
//! Here: the whole file, the shared checks (`err`, `non_empty`, `int_in`, `millis`) and
//! the small tables (`[console]`, keys, theme, `[anycast]`, `[probe]`); `metro.rs` is a
//! `[[metro]]` with its `[metro.nomad]` and withdraw method, `provision.rs` the
//! `[provision]` table, `deploy.rs` the `[deploy]` table.

mod deploy;
mod metro;
mod provision;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::keymap::{self, Command, KeySpec, Keymap};
use super::position::{line_col, place_toml_error, table_position};
use super::raw::*;
use super::theme::{self, Theme};
use super::values::*;
use super::*;

/// What every error needs: the text (for positions) and the file name.
pub(super) struct Cx<'a> {
    pub(super) text: &'a str,
    pub(super) path: &'a Path,
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
        let at = table_position(self.text, table);
        self.err_at(at, Some(table), format!("missing required key `{key}`"))
    }

    /// A toml error (invalid TOML, a value of the wrong type, an unknown key), placed.
    pub(super) fn toml_error(&self, e: serde_path_to_error::Error<toml::de::Error>) -> ConfigError {
        let (at, key, message) = place_toml_error(self.text, e);
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

    pub(super) fn validate(&self, raw: RawFile) -> Res<Config> {
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
            let at = table_position(self.text, "metro");
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
        let provision = raw.provision.map(|p| self.provision(p)).transpose()?;
        let deploy = match raw.deploy {
            Some(d) => self.deploy(d, &metros, &token_envs)?,
            None => Deploy::default(),
        };
        Ok(Config {
            console,
            anycast,
            probe,
            metros,
            provision,
            deploy,
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
        if let Some(p) = raw.ssh_config {
            let v = self.non_empty(&p, "console.ssh_config")?;
            console.ssh_config = Some(match v.strip_prefix("~/") {
                Some(rest) => home_dir().join(rest),
                None => self.resolve(v),
            });
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
        let mut placed: Vec<(Command, Vec<(KeySpec, usize)>)> = Vec::new();
        for (name, specs) in &entries {
            let Some(action) = Command::from_name(name.get_ref()) else {
                return Err(self.err(name, "console.keys", unknown_action(name.get_ref())));
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
}

/// "unknown action `withdrow` (did you mean `withdraw`?)", or the whole list when no
/// name is close.
fn unknown_action(name: &str) -> String {
    let closest = Command::all()
        .map(|a| (strsim::jaro_winkler(name, a.name()), a.name()))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match closest {
        Some((score, near)) if score > 0.85 => format!(
            "unknown action `{name}` (did you mean `{near}`? `platform-tui config template` lists them all)"
        ),
        _ => format!(
            "unknown action `{name}`, expected one of {}",
            backticked(Command::all().map(|a| a.name()))
        ),
    }
}

/// `$HOME`, for a `~/` path; `/` when unset (the path then names nothing of the user's).
fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

fn backticked<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
