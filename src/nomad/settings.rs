//! Where and how to reach one Nomad agent: the address, region, namespace, token, TLS
//! and limits, read from the `NOMAD_*` environment as Nomad's own CLI reads them. Answers
//! "which agent does this metro talk to, and with what?"; the token is never printed.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Default [`Settings::max_body`]: 256 MB.
pub const DEFAULT_MAX_BODY: u64 = 256 << 20;

/// Where and how to reach one Nomad agent.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// Agent URL, e.g. `http://127.0.0.1:4646`.
    pub address: String,
    /// ACL SecretID, sent as `X-Nomad-Token`. Never printed.
    pub token: Option<String>,
    /// `region=` parameter on every request.
    pub region: Option<String>,
    /// `namespace=` for list endpoints; `*` = every namespace the token sees.
    pub namespace: String,
    /// PEM CA bundle for `https` addresses.
    pub ca_cert: Option<PathBuf>,
    /// Name to verify the server certificate against (and send as SNI).
    pub tls_server_name: Option<String>,
    /// Disable certificate verification.
    pub skip_verify: bool,
    /// Timeout of one ordinary request (and connect timeout); margin for
    /// blocking ones.
    pub timeout: Duration,
    /// Largest answer read from one endpoint, in bytes; a list's rows may take
    /// half of it in memory ([`super::decode`]).
    pub max_body: u64,
    /// Connect through this Unix socket (an SSH tunnel's local end) instead of the
    /// address's host and port; the address still names the server (Host header, TLS
    /// name).
    pub unix_socket: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            address: "http://127.0.0.1:4646".into(),
            token: None,
            region: None,
            namespace: "*".into(),
            ca_cert: None,
            tls_server_name: None,
            skip_verify: false,
            timeout: Duration::from_secs(10),
            max_body: DEFAULT_MAX_BODY,
            unix_socket: None,
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("address", &self.address)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("region", &self.region)
            .field("namespace", &self.namespace)
            .field("ca_cert", &self.ca_cert)
            .field("tls_server_name", &self.tls_server_name)
            .field("skip_verify", &self.skip_verify)
            .field("timeout", &self.timeout)
            .field("max_body", &self.max_body)
            .field("unix_socket", &self.unix_socket)
            .finish()
    }
}

/// Go's `strconv.ParseBool`; anything else is `false`.
fn go_bool(s: &str) -> bool {
    matches!(s, "1" | "t" | "T" | "true" | "TRUE" | "True")
}

impl Settings {
    /// `NOMAD_ADDR`, `NOMAD_TOKEN`, `NOMAD_REGION`, `NOMAD_NAMESPACE`,
    /// `NOMAD_CACERT`, `NOMAD_TLS_SERVER_NAME`, `NOMAD_SKIP_VERIFY`; empty
    /// variables count as unset; defaults otherwise (namespace `*`, 10 s).
    pub fn from_env() -> Settings {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`Settings::from_env`] over any variable source (tests, config layers).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Settings {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let mut s = Settings::default();
        if let Some(a) = get("NOMAD_ADDR") {
            s.address = a.trim().to_string();
        }
        s.token = get("NOMAD_TOKEN").map(|t| t.trim().to_string());
        s.region = get("NOMAD_REGION");
        if let Some(ns) = get("NOMAD_NAMESPACE") {
            s.namespace = ns;
        }
        s.ca_cert = get("NOMAD_CACERT").map(PathBuf::from);
        s.tls_server_name = get("NOMAD_TLS_SERVER_NAME");
        s.skip_verify = get("NOMAD_SKIP_VERIFY").is_some_and(|v| go_bool(v.trim()));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nomad_settings_from_lookup_and_defaults() {
        let d = Settings::from_lookup(|_| None);
        assert_eq!(d, Settings::default());
        assert_eq!(d.namespace, "*");
        assert_eq!(d.timeout, Duration::from_secs(10));
        let s = Settings::from_lookup(|k| {
            Some(
                match k {
                    "NOMAD_ADDR" => "https://10.0.0.1:4646",
                    "NOMAD_TOKEN" => "s3cr3t-token-value",
                    "NOMAD_REGION" => "global",
                    "NOMAD_NAMESPACE" => "default",
                    "NOMAD_CACERT" => "/etc/nomad/ca.pem",
                    "NOMAD_TLS_SERVER_NAME" => "server.global.nomad",
                    "NOMAD_SKIP_VERIFY" => "true",
                    _ => return None,
                }
                .to_string(),
            )
        });
        assert_eq!(s.address, "https://10.0.0.1:4646");
        assert_eq!(s.token.as_deref(), Some("s3cr3t-token-value"));
        assert_eq!(s.region.as_deref(), Some("global"));
        assert_eq!(s.namespace, "default");
        assert_eq!(s.ca_cert, Some(PathBuf::from("/etc/nomad/ca.pem")));
        assert_eq!(s.tls_server_name.as_deref(), Some("server.global.nomad"));
        assert!(s.skip_verify);
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
        assert!(dbg.contains("<redacted>"), "{dbg}");
        let e = Settings::from_lookup(|k| {
            (k == "NOMAD_TOKEN" || k == "NOMAD_SKIP_VERIFY").then(String::new)
        });
        assert_eq!(e.token, None);
        assert!(!e.skip_verify);
        assert!(!go_bool("yes"));
    }
}
