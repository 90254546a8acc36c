//! Validation: the raw file ([`super::raw`]) into the checked [`Config`], every problem a
//! [`ConfigError`] at its place. Value rules live in [`super::values`]; this file decides
//! which rule applies to which key, the defaults, and the cross-key rules (unique metro
//! names, `pass_env` never naming a token variable, key bindings that do not collide).

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
        let ssh = match raw.ssh {
            Some(dest) => {
                let d = self.non_empty(&dest, &key("ssh"))?;
                check_ssh_destination(d).map_err(|m| self.err(&dest, &key("ssh"), m))?;
                let mut options = Vec::new();
                for o in raw.ssh_options.iter().flat_map(|l| l.get_ref()) {
                    let v = self.non_empty(o, &key("ssh_options"))?;
                    check_ssh_option(v).map_err(|m| self.err(o, &key("ssh_options"), m))?;
                    options.push(v.to_string());
                }
                Some(SshRoute {
                    destination: d.to_string(),
                    options,
                })
            }
            None => {
                if let Some(o) = &raw.ssh_options {
                    return Err(self.err(
                        o,
                        &key("ssh_options"),
                        "`ssh_options` is only used with `ssh = \"DESTINATION\"`",
                    ));
                }
                None
            }
        };
        let bird_socket = match (raw.bird_socket, &ssh) {
            // As seen on that host: never resolved against this file's directory.
            (Some(sock), Some(_)) => {
                let v = self.non_empty(&sock, &key("bird_socket"))?;
                if !Path::new(v).is_absolute() {
                    return Err(self.err(
                        &sock,
                        &key("bird_socket"),
                        format!(
                            "with `ssh`, the BIRD socket is a path on that host and must be absolute (e.g. {DEFAULT_REMOTE_BIRD_SOCKET})"
                        ),
                    ));
                }
                PathBuf::from(v)
            }
            (None, Some(_)) => PathBuf::from(DEFAULT_REMOTE_BIRD_SOCKET),
            (Some(sock), None) => self.resolve(self.non_empty(&sock, &key("bird_socket"))?),
            (None, None) => return Err(self.missing(table, "bird_socket")),
        };
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
            Some(n) => {
                let mut n = self.nomad(n, &key("nomad"))?;
                if ssh.is_some() && n.address.is_none() {
                    // As seen on that host, not this one's NOMAD_ADDR.
                    n.address = Some(DEFAULT_REMOTE_NOMAD_ADDRESS.to_string());
                }
                Some(n)
            }
            None => None,
        };
        Ok(Metro {
            name,
            display_name,
            ssh,
            bird_socket,
            origin_protocols,
            export_protocol,
            observer_protocol,
            withdraw,
            address,
            nomad,
        })
    }

    fn provision(&self, raw: RawProvision) -> Res<Provision> {
        let Some(dir) = raw.dir else {
            return Err(self.missing("provision", "dir"));
        };
        let dir = self.resolve(self.non_empty(&dir, "provision.dir")?);
        let binary = match raw.binary {
            Some(b) => {
                let text = self.non_empty(&b, "provision.binary")?;
                // A bare name is looked up on PATH when it runs; a path is the config's.
                Some(if text.contains('/') {
                    self.resolve(text)
                } else {
                    PathBuf::from(text)
                })
            }
            None => None,
        };
        let mut var_files = Vec::new();
        for f in raw.var_files.iter().flat_map(|l| l.get_ref()) {
            var_files.push(self.resolve(self.non_empty(f, "provision.var_files")?));
        }
        let lock_timeout = raw
            .lock_timeout_ms
            .map(|ms| {
                self.millis(
                    &ms,
                    "provision.lock_timeout_ms",
                    &PROVISION_LOCK_TIMEOUT_MS_RANGE,
                )
            })
            .transpose()?;
        let mut pass_env = Vec::new();
        for name in raw.pass_env.iter().flat_map(|l| l.get_ref()) {
            check_plain_env_name(name.get_ref())
                .map_err(|m| self.err(name, "provision.pass_env", m))?;
            pass_env.push(name.get_ref().clone());
        }
        let mut vars: Vec<_> = raw.vars.unwrap_or_default().into_iter().collect();
        vars.sort_by_key(|(k, _)| k.span().start);
        let mut out = Vec::new();
        for (name, v) in vars {
            let key = format!("provision.vars.{}", name.get_ref());
            check_variable_name(name.get_ref())
                .map_err(|m| self.err(&name, "provision.vars", m))?;
            let text = variable_value(v.get_ref()).map_err(|m| self.err(&v, &key, m))?;
            out.push((name.into_inner(), text));
        }
        let (mut regional_output, mut anycast_output) = (
            DEFAULT_REGIONAL_OUTPUT.to_string(),
            DEFAULT_ANYCAST_OUTPUT.to_string(),
        );
        if let Some(o) = raw.outputs {
            if let Some(r) = o.regional {
                check_variable_name(r.get_ref())
                    .map_err(|m| self.err(&r, "provision.outputs.regional", m))?;
                regional_output = r.into_inner();
            }
            if let Some(a) = o.anycast {
                check_variable_name(a.get_ref())
                    .map_err(|m| self.err(&a, "provision.outputs.anycast", m))?;
                anycast_output = a.into_inner();
            }
        }
        Ok(Provision {
            binary,
            dir,
            vars: out,
            var_files,
            lock_timeout,
            pass_env,
            regional_output,
            anycast_output,
        })
    }

    fn deploy(&self, raw: RawDeploy, metros: &[Metro], token_envs: &[String]) -> Res<Deploy> {
        let mut d = Deploy::default();
        if let Some(job) = raw.job {
            let j = self.non_empty(&job, "deploy.job")?;
            if j.len() > 128 || j.chars().any(char::is_whitespace) {
                return Err(self.err(
                    &job,
                    "deploy.job",
                    "a Nomad job ID: up to 128 characters, no whitespace",
                ));
            }
            d.job = Some(j.to_string());
        }
        if let Some(b) = raw.build {
            d.build = Some(self.non_empty(&b, "deploy.build")?.to_string());
        }
        if let Some(p) = raw.publish {
            d.publish = Some(self.non_empty(&p, "deploy.publish")?.to_string());
        }
        if let Some(ms) = raw.command_timeout_ms {
            d.command_timeout =
                self.millis(&ms, "deploy.command_timeout_ms", &COMMAND_TIMEOUT_MS_RANGE)?;
        }
        for name in raw.pass_env.iter().flat_map(|l| l.get_ref()) {
            let n = name.get_ref();
            check_plain_env_name(n).map_err(|m| self.err(name, "deploy.pass_env", m))?;
            if token_envs.iter().any(|t| t == n) {
                return Err(self.err(
                    name,
                    "deploy.pass_env",
                    format!("`{n}` holds a Nomad token: commands never get Nomad tokens"),
                ));
            }
            d.pass_env.push(n.clone());
        }
        if let Some(t) = raw.job_template {
            d.job_template = Some(self.resolve(self.non_empty(&t, "deploy.job_template")?));
        }
        if let Some(drv) = raw.driver {
            let v = self.non_empty(&drv, "deploy.driver")?;
            if !v
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(self.err(
                    &drv,
                    "deploy.driver",
                    format!("`{v}` is not a task driver name, e.g. exec or raw_exec"),
                ));
            }
            d.driver = v.to_string();
        }
        if let Some(spin) = raw.spin {
            d.spin = self.non_empty(&spin, "deploy.spin")?.to_string();
        }
        if let Some(c) = raw.count {
            let n = self.int_in(&c, "deploy.count", &DEPLOY_COUNT_RANGE, "allocations")?;
            d.count = u32::try_from(n).unwrap_or(1);
        }
        if let Some(list) = raw.order {
            let mut order: Vec<String> = Vec::new();
            for m in list.get_ref() {
                let name = m.get_ref();
                if !metros.iter().any(|x| &x.name == name) {
                    let known: Vec<&str> = metros.iter().map(|x| x.name.as_str()).collect();
                    return Err(self.err(
                        m,
                        "deploy.order",
                        format!(
                            "no metro `{}` in this file (known: {})",
                            crate::domain::text::visible(name),
                            known.join(", ")
                        ),
                    ));
                }
                if order.contains(name) {
                    return Err(self.err(m, "deploy.order", format!("`{name}` is listed twice")));
                }
                order.push(name.clone());
            }
            d.order = Some(order);
        }
        if let Some(ms) = raw.drain_ms {
            d.drain = self.millis(&ms, "deploy.drain_ms", &DRAIN_MS_RANGE)?;
        }
        if let Some(h) = raw.verify_header {
            check_header_name(h.get_ref()).map_err(|m| self.err(&h, "deploy.verify_header", m))?;
            d.verify_header = Some(h.get_ref().to_ascii_lowercase());
        }
        if let Some(ms) = raw.verify_deadline_ms {
            d.verify_deadline =
                self.millis(&ms, "deploy.verify_deadline_ms", &VERIFY_DEADLINE_MS_RANGE)?;
        }
        if let Some(u) = raw.update {
            let key = |k: &str| format!("deploy.update.{k}");
            if let Some(n) = &u.max_parallel {
                let v = self.int_in(n, &key("max_parallel"), &MAX_PARALLEL_RANGE, "")?;
                d.update.max_parallel = u32::try_from(v).unwrap_or(1);
            }
            if let Some(ms) = &u.min_healthy_time_ms {
                d.update.min_healthy_time =
                    self.millis(ms, &key("min_healthy_time_ms"), &UPDATE_MS_RANGE)?;
            }
            if let Some(ms) = &u.healthy_deadline_ms {
                d.update.healthy_deadline =
                    self.millis(ms, &key("healthy_deadline_ms"), &UPDATE_MS_RANGE)?;
            }
            if let Some(ms) = &u.progress_deadline_ms {
                d.update.progress_deadline =
                    self.millis(ms, &key("progress_deadline_ms"), &UPDATE_MS_RANGE)?;
            }
            if let Some(a) = &u.auto_revert {
                d.update.auto_revert = *a.get_ref();
            }
            // Nomad's own rules for the block, said here rather than at the first register.
            let up = d.update;
            if up.healthy_deadline <= up.min_healthy_time {
                let at = u
                    .healthy_deadline_ms
                    .as_ref()
                    .or(u.min_healthy_time_ms.as_ref())
                    .map_or(0, |s| s.span().start);
                return Err(self.err_at(
                    at,
                    Some(&key("healthy_deadline_ms")),
                    "must be longer than min_healthy_time_ms (Nomad refuses the job otherwise)",
                ));
            }
            if !up.progress_deadline.is_zero() && up.progress_deadline <= up.healthy_deadline {
                let at = u
                    .progress_deadline_ms
                    .as_ref()
                    .or(u.healthy_deadline_ms.as_ref())
                    .map_or(0, |s| s.span().start);
                return Err(self.err_at(
                    at,
                    Some(&key("progress_deadline_ms")),
                    "must be longer than healthy_deadline_ms, or 0 (Nomad refuses the job otherwise)",
                ));
            }
        }
        Ok(d)
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
            unix_socket: None,
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
