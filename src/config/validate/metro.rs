//! A `[[metro]]` table into a [`Metro`]: its name and addresses, its BIRD socket or SSH
//! host, its `[metro.nomad]` and its withdraw method (BIRD's own or a command pair).
//! Answers "why was this metro refused?"; rules shared by every table are in the parent.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::{Cx, Res};
use crate::config::raw::*;
use crate::config::values::*;
use crate::config::*;

impl Cx<'_> {
    pub(super) fn metro(&self, raw: RawMetro, table: &str, token_envs: &[String]) -> Res<Metro> {
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
