//! The value rules: what a metro name, a BIRD protocol name, a URL, a prefix, a header
//! name, an environment variable name and a socket address must look like. Each returns
//! the operator-facing reason; the caller adds the place.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use crate::domain::url::{http_url, shown, UrlError};

/// The one metro-name rule, shared with the installer's outputs.
pub(super) fn check_metro_name(name: &str) -> Result<(), String> {
    crate::domain::check_metro_name(name)
}

/// A protocol name must be one every BIRD query can send (`disable "<name>"`, `show
/// route P export <name>` ...): the client's own rule, so the config and the queries
/// agree on which names work.
pub(super) fn check_protocol(name: &str) -> Result<(), String> {
    crate::bird::check_protocol_name(name)
}

/// `[anycast] url`: `http://host[:port][/path]`. The prober speaks plain HTTP only, and
/// reads this URL with the same rule ([`crate::domain::url::http_url`]).
pub(super) fn check_anycast_url(url: &str) -> Result<(), String> {
    let form = "http://host[:port][/path]";
    match http_url(url, false) {
        Ok(_) => Ok(()),
        Err(UrlError::MissingScheme | UrlError::UnsupportedScheme(_)) => {
            Err(format!("`{}` is not an http:// URL ({form})", shown(url)))
        }
        Err(UrlError::HttpsNotSupported) => Err(format!(
            "https is not supported yet: use an http:// URL ({form})"
        )),
        Err(e) => Err(format!("`{}`: {e} ({form})", shown(url))),
    }
}

/// `[metro.nomad] address`: `http(s)://host[:port]`, like `NOMAD_ADDR`.
pub(super) fn check_nomad_address(url: &str) -> Result<(), String> {
    let form = "http(s)://host:port, e.g. http://127.0.0.1:4646";
    match http_url(url, true) {
        Ok(u) if u.path() == "/" && u.query().is_none() && u.fragment().is_none() => Ok(()),
        Ok(_) => Err(format!(
            "`{}`: a Nomad address has no path ({form})",
            shown(url)
        )),
        Err(UrlError::MissingScheme | UrlError::UnsupportedScheme(_)) => Err(format!(
            "`{}` is not an http:// or https:// URL ({form})",
            shown(url)
        )),
        Err(e) => Err(format!("`{}`: {e} ({form})", shown(url))),
    }
}

/// `[[metro]] address`: an IP and a port; no name lookup happens at config time.
pub(super) fn parse_socket_addr(text: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = text.parse().map_err(|_| {
        format!("`{text}` is not an address: expected IP:port, e.g. 127.0.0.1:8080 or [::1]:8080")
    })?;
    if addr.port() == 0 {
        return Err(format!("`{text}`: port 0 cannot be probed"));
    }
    Ok(addr)
}

/// An HTTP header name as the prober will look it up: `[A-Za-z0-9-]+`.
pub(super) fn check_header_name(name: &str) -> Result<(), String> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(format!(
            "invalid header name `{name}`: use letters, digits and '-', e.g. x-served-by"
        ));
    }
    Ok(())
}

/// A variable name to pass on to commands.
pub(super) fn check_plain_env_name(name: &str) -> Result<(), String> {
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
pub(super) fn check_env_name(name: &str) -> Result<(), String> {
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
pub(super) fn normalise_prefix(text: &str) -> Result<String, String> {
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
    let Some(net) = u8::try_from(len).ok().and_then(|l| IpNet::new(ip, l).ok()) else {
        return Err(format!("prefix length /{len} is longer than /{max}"));
    };
    let network = net.network();
    if network != ip {
        return Err(format!(
            "`{text}` has host bits set; the network is {network}/{len}"
        ));
    }
    Ok(format!("{ip}/{len}"))
}

/// A terraform identifier (a variable or an output): a letter or '_', then letters,
/// digits, '_' and '-'.
pub(super) fn check_variable_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a terraform name (a letter or '_', then letters, digits, '_' and '-')",
            crate::domain::text::visible(name)
        ))
    }
}

/// A `[provision.vars]` value as `-var NAME=VALUE` gives it: a string as written, a
/// number or boolean as TOML writes it, a list or table as JSON (valid HCL). Dates have
/// no terraform type.
pub(super) fn variable_value(v: &toml::Value) -> Result<String, String> {
    fn has_date(v: &toml::Value) -> bool {
        match v {
            toml::Value::Datetime(_) => true,
            toml::Value::Array(a) => a.iter().any(has_date),
            toml::Value::Table(t) => t.values().any(has_date),
            _ => false,
        }
    }
    if has_date(v) {
        return Err("a date has no terraform type: write it as a string".into());
    }
    let text = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => serde_json::to_string(other).map_err(|e| e.to_string())?,
    };
    if let Some(c) = text
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
    {
        return Err(format!(
            "must not contain control characters (found {})",
            crate::domain::text::visible(&c.to_string())
        ));
    }
    Ok(text)
}

/// `[[metro]] ssh`: one word that `ssh` takes as its destination (`user@host`, a `Host`
/// alias, `ssh://user@host:port`); never an option.
pub(super) fn check_ssh_destination(dest: &str) -> Result<(), String> {
    if dest.starts_with('-') {
        return Err(format!(
            "`{dest}` is not an ssh destination: options go in `ssh_options`"
        ));
    }
    if dest.chars().any(char::is_whitespace) {
        return Err(format!(
            "`{dest}` is not an ssh destination: one word, e.g. root@203.0.113.5 or a Host alias; options go in `ssh_options`"
        ));
    }
    Ok(())
}

/// Options the console sets itself on every `ssh` it runs: the master, its socket and
/// its forwards are the console's, and it never waits for a prompt.
const SSH_OWN_FLAGS: [&str; 11] = [
    "-M", "-S", "-O", "-F", "-f", "-N", "-L", "-R", "-D", "-W", "-G",
];
const SSH_OWN_OPTIONS: [&str; 6] = [
    "controlmaster",
    "controlpath",
    "controlpersist",
    "batchmode",
    "exitonforwardfailure",
    "sessiontype",
];

/// `[[metro]] ssh_options`: more `ssh` arguments, but none that would take the master,
/// its control socket, its forwards or its no-prompt rule away from the console.
pub(super) fn check_ssh_option(arg: &str) -> Result<(), String> {
    let shown = crate::domain::text::visible(arg);
    if let Some(flag) = SSH_OWN_FLAGS
        .iter()
        .find(|f| arg == **f || (arg.starts_with(**f) && arg.len() > 2 && f.len() == 2))
    {
        return Err(format!(
            "`{shown}`: the console sets `{flag}` itself (one master per destination, its own forwards; `-F` is `console.ssh_config`)"
        ));
    }
    let option = arg
        .strip_prefix("-o")
        .map(str::trim_start)
        .unwrap_or(arg)
        .split(['=', ' '])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if SSH_OWN_OPTIONS.contains(&option.as_str()) {
        return Err(format!(
            "`{shown}`: the console sets this option itself (its own master, BatchMode=yes: no prompt ever waits inside the console)"
        ));
    }
    Ok(())
}
