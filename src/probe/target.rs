//! What a probe is aimed at: a URL (validated by the one URL rule, `domain::url`),
//! optionally pinned to an address like `curl --resolve`, and the response header that
//! names who answered.

use std::net::SocketAddr;

use hyper::Uri;

/// What to probe: a URL, optionally pinned to an address like `curl --resolve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// "anycast", a metro name, or the URL.
    pub name: String,
    /// `http://host[:port]/path`; the path is `/` when the URL had none.
    pub uri: hyper::Uri,
    /// Connect here instead of resolving the URL's host; `Host` still comes from `uri`.
    pub connect_to: Option<SocketAddr>,
    /// Response header that names the site that answered (lower case).
    pub served_by_header: String,
}

impl Target {
    /// Parses an `http://` URL, with the rule the config's anycast URL is checked by
    /// ([`crate::domain::url::http_url`]). An empty `name` names the target after the URL.
    pub fn from_url(name: &str, url: &str) -> Result<Target, String> {
        use crate::domain::url::{http_url, shown, UrlError};
        let url = url.trim();
        let bad = |why: String| format!("invalid URL `{}`: {why}", shown(url));
        let parsed = http_url(url, false).map_err(|e| {
            bad(match e {
                UrlError::MissingScheme => format!("{e} (expected http://host[:port]/path)"),
                UrlError::UnsupportedScheme(_) => format!("{e} (only http:// is supported)"),
                e => e.to_string(),
            })
        })?;
        // The parser's normal form: lower-case scheme and host, `/` for an empty path,
        // no `:80`.
        let uri: Uri = parsed.as_str().parse().map_err(|e| bad(format!("{e}")))?;
        Ok(Target {
            name: if name.is_empty() { url } else { name }.to_string(),
            uri,
            connect_to: None,
            served_by_header: "x-served-by".to_string(),
        })
    }

    /// Connects to `addr` instead of resolving the host (like `curl --resolve`); the
    /// `Host` header still comes from the URL.
    pub fn connect_to(mut self, addr: SocketAddr) -> Target {
        self.connect_to = Some(addr);
        self
    }

    /// Reads the site from response header `h` instead of `x-served-by`.
    pub fn with_served_by_header(mut self, h: &str) -> Target {
        self.served_by_header = h.trim().to_ascii_lowercase();
        self
    }

    /// The URL's host, without the brackets of an IPv6 literal.
    pub(super) fn host(&self) -> &str {
        let h = self.uri.host().unwrap_or("");
        h.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(h)
    }

    pub(super) fn port(&self) -> u16 {
        self.uri.port_u16().unwrap_or(80)
    }

    /// `Host` header value: the URL's host, with the port when it is not 80.
    pub(super) fn host_header(&self) -> String {
        let host = self.uri.host().unwrap_or("");
        match self.uri.port_u16() {
            Some(p) if p != 80 => format!("{host}:{p}"),
            _ => host.to_string(),
        }
    }
}
