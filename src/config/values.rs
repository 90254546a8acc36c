//! The value rules: what a metro name, a BIRD protocol name, a URL, a prefix, a header
//! name, an environment variable name and a socket address must look like. Each returns
//! the operator-facing reason; the caller adds the place.

use std::net::{IpAddr, SocketAddr};

use super::MAX_METRO_NAME;

pub(super) fn check_metro_name(name: &str) -> Result<(), String> {
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
pub(super) fn check_protocol(name: &str) -> Result<(), String> {
    crate::bird::check_protocol_name(name)
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
pub(super) fn check_anycast_url(url: &str) -> Result<(), String> {
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
pub(super) fn check_nomad_address(url: &str) -> Result<(), String> {
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
