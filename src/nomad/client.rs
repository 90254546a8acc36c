//! HTTP client for one Nomad agent (one metro): the read endpoints the console uses,
//! with blocking-query support. Its settings (from the `NOMAD_*` environment) are in
//! `settings.rs`, its errors worded for operators in `error.rs`; both are re-exported
//! here.
//!
//! Blocking queries (reference §3): pass [`QueryOptions::index`] (the last
//! `X-Nomad-Index` seen) and optionally `wait` (default 5 min, capped at
//! 10 min). The request's HTTP timeout is `wait × 17/16 + Settings::timeout`,
//! because the server adds up to `wait/16` of jitter. A return is no guarantee
//! of change. **If the returned [`Indexed::index`] is lower than the index that
//! was sent** (dev agent restarted, cluster rebuilt), the caller must reset its
//! index to 0 and re-list; the client reports the index as received and does
//! not hide this ([`crate::nomad::watch`] does the reset).

use super::decode::{self, ListDecoder, Row, MAX_ENTRY};
pub use super::error::NomadError;
use super::error::BODY_EXCERPT;
pub(crate) use super::error::{map_reqwest, truncate};
use super::models::AgentSelf;
pub use super::settings::{Settings, DEFAULT_MAX_BODY};
use crate::domain::nomad::{AllocDetail, AllocList, AllocRow, JobRow, NodeRow};
use crate::domain::text::visible;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};
use std::fmt;
use std::time::Duration;

/// Nomad's default blocking wait when `index` is set without `wait`.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(300);
/// Nomad's maximum blocking wait.
pub const MAX_WAIT: Duration = Duration::from_secs(600);

/// Blocking-query parameters. `index == 0` means an ordinary request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// Last `X-Nomad-Index` seen; 0 = not blocking.
    pub index: u64,
    /// Server-side wait (default 5 min, capped at 10 min); only sent with an index.
    pub wait: Option<Duration>,
}

impl QueryOptions {
    pub fn blocking(index: u64, wait: Duration) -> Self {
        QueryOptions {
            index,
            wait: Some(wait),
        }
    }
}

/// A response body with the consistency headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Indexed<T> {
    pub value: T,
    /// `X-Nomad-Index` (0 when absent). May be lower than the index sent: reset.
    pub index: u64,
    /// `X-Nomad-KnownLeader`.
    pub known_leader: Option<bool>,
    /// `X-Nomad-LastContact` (ms since the answering server heard the leader).
    pub last_contact_ms: Option<u64>,
}

/// One Nomad agent. Cheap to clone: the connection pool is shared.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    settings: Settings,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("settings", &self.settings)
            .finish()
    }
}

/// Go duration text Nomad's `wait` parameter accepts.
fn wait_param(wait: Duration) -> String {
    let ms = wait.as_millis().max(1);
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

impl Client {
    /// Validate the address and build the HTTP/1.1 client. Does not connect.
    /// With `tls_server_name` on an `https` address, the host is resolved here
    /// (blocking) and requests go to it under the server name.
    pub fn new(settings: Settings) -> Result<Client, NomadError> {
        let mut base = Url::parse(settings.address.trim()).map_err(|e| {
            NomadError::InvalidAddress(format!("{}: {e}", truncate(&settings.address, 80)))
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(NomadError::InvalidAddress(format!(
                "{}: expected http:// or https://",
                truncate(&settings.address, 80)
            )));
        }
        if base.cannot_be_a_base() || base.query().is_some() {
            return Err(NomadError::InvalidAddress(truncate(&settings.address, 80)));
        }

        let mut headers = HeaderMap::new();
        if let Some(token) = settings.token.as_deref().filter(|t| !t.is_empty()) {
            let mut v = HeaderValue::from_str(token).map_err(|_| {
                NomadError::InvalidAddress("token contains invalid characters".into())
            })?;
            v.set_sensitive(true);
            headers.insert("X-Nomad-Token", v);
        }

        let mut builder = reqwest::Client::builder()
            .http1_only()
            .use_rustls_tls()
            .default_headers(headers)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("platform-tui/", env!("CARGO_PKG_VERSION")));

        if base.scheme() == "https" {
            if let Some(path) = &settings.ca_cert {
                let pem = std::fs::read(path)
                    .map_err(|e| NomadError::Tls(format!("CA file {}: {e}", path.display())))?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| NomadError::Tls(format!("CA file {}: {e}", path.display())))?;
                if certs.is_empty() {
                    return Err(NomadError::Tls(format!(
                        "CA file {}: no certificate",
                        path.display()
                    )));
                }
                for c in certs {
                    builder = builder.add_root_certificate(c);
                }
            }
            if settings.skip_verify {
                builder = builder.danger_accept_invalid_certs(true);
            }
            if let Some(name) = settings
                .tls_server_name
                .as_deref()
                .filter(|n| !n.is_empty())
                .filter(|_| settings.unix_socket.is_some())
            {
                // Through a tunnel nothing is resolved here: only the name changes.
                base.set_host(Some(name))
                    .map_err(|e| NomadError::InvalidAddress(format!("tls server name: {e}")))?;
            } else if let Some(name) = settings
                .tls_server_name
                .as_deref()
                .filter(|n| !n.is_empty())
            {
                use std::net::ToSocketAddrs;
                let host = base.host_str().unwrap_or_default().to_string();
                let port = base.port_or_known_default().unwrap_or(4646);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let addrs: Vec<_> = (host, port)
                    .to_socket_addrs()
                    .map_err(|e| NomadError::Connect(format!("resolve {host}: {e}")))?
                    .collect();
                builder = builder.resolve_to_addrs(name, &addrs);
                base.set_host(Some(name))
                    .map_err(|e| NomadError::InvalidAddress(format!("tls server name: {e}")))?;
            }
        }

        if let Some(path) = &settings.unix_socket {
            builder = builder.unix_socket(path.clone());
        }
        let http = builder.build().map_err(|e| map_reqwest(&e))?;
        Ok(Client {
            http,
            base,
            settings,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Replace the token in any text that may echo it (defence in depth).
    pub(crate) fn redact(&self, s: String) -> String {
        match self.settings.token.as_deref() {
            Some(t) if t.len() >= 4 && s.contains(t) => s.replace(t, "<redacted>"),
            _ => s,
        }
    }

    pub(crate) fn redact_err(&self, e: NomadError) -> NomadError {
        match e {
            NomadError::InvalidAddress(m) => NomadError::InvalidAddress(self.redact(m)),
            // Through an SSH tunnel, a missing or dead local end means the link is down.
            NomadError::Connect(m) => NomadError::Connect(match &self.settings.unix_socket {
                Some(_) if m.contains("No such file") || m.contains("refused") => {
                    "the ssh link is not up (the tunnel has no listening local end)".into()
                }
                Some(_) => format!("through the ssh tunnel: {}", self.redact(m)),
                None => self.redact(m),
            }),
            NomadError::Forbidden(m) => NomadError::Forbidden(self.redact(m)),
            NomadError::Http { status, body } => NomadError::Http {
                status,
                body: self.redact(body),
            },
            NomadError::Decode(m) => NomadError::Decode(self.redact(m)),
            NomadError::Tls(m) => NomadError::Tls(self.redact(m)),
            NomadError::Timeout => NomadError::Timeout,
            e @ NomadError::TooLarge { .. } => e,
        }
    }

    /// `namespace` value for per-object endpoints, where `*` is not meaningful.
    pub(crate) fn object_namespace(&self) -> Option<&str> {
        match self.settings.namespace.as_str() {
            "*" | "" => None,
            ns => Some(ns),
        }
    }

    /// `namespace` value for list endpoints and the event stream (`None` when
    /// empty: the agent's `default`).
    pub(crate) fn list_namespace(&self) -> Option<&str> {
        Some(self.settings.namespace.as_str()).filter(|n| !n.is_empty())
    }

    /// `<address>/v1/<segments…>?region=…&<params…>`; segments are escaped.
    pub(crate) fn url(&self, segments: &[&str], params: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut p) = url.path_segments_mut() {
            p.pop_if_empty().push("v1").extend(segments);
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(r) = self.settings.region.as_deref().filter(|r| !r.is_empty()) {
                q.append_pair("region", r);
            }
            for (k, v) in params {
                q.append_pair(k, v);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        url
    }

    /// A GET without a body timeout, for streams (callers apply read
    /// timeouts). `header_timeout` bounds the wait for the response head:
    /// Nomad writes the head of a stream only with its first frame, which on a
    /// quiet cluster is the first heartbeat (~30 s for events), so stream
    /// callers pass their idle timeout here, not [`Settings::timeout`].
    pub(crate) async fn open_stream(
        &self,
        url: Url,
        header_timeout: Duration,
    ) -> Result<reqwest::Response, NomadError> {
        let fut = self.http.get(url).send();
        let resp = match tokio::time::timeout(header_timeout, fut).await {
            Err(_) => return Err(NomadError::Timeout),
            Ok(r) => r.map_err(|e| self.redact_err(map_reqwest(&e)))?,
        };
        self.check_status(resp).await
    }

    /// Turn non-2xx responses into errors (reading a bounded, visible body excerpt).
    async fn check_status(&self, resp: reqwest::Response) -> Result<reqwest::Response, NomadError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let mut resp = resp;
        let mut bytes = Vec::new();
        let read = async {
            while let Ok(Some(chunk)) = resp.chunk().await {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > BODY_EXCERPT * 4 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(self.settings.timeout, read).await;
        // Redacted before it is cut, so no part of a token survives the cut.
        // Nomad's validation errors span lines ("1 error occurred:\n\t* ..."): one line
        // here, its words kept.
        let text = String::from_utf8_lossy(&bytes);
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let body = self.redact(visible(&flat).into_owned());
        let body = truncate(&body, BODY_EXCERPT);
        Err(if status == StatusCode::FORBIDDEN {
            NomadError::Forbidden(body)
        } else {
            NomadError::Http {
                status: status.as_u16(),
                body,
            }
        })
    }

    /// Send a GET with blocking-query parameters when `q.index > 0`; the checked
    /// response and its consistency headers.
    async fn send(
        &self,
        segments: &[&str],
        params: &[(&str, &str)],
        q: QueryOptions,
    ) -> Result<(reqwest::Response, Indexed<()>), NomadError> {
        let mut all: Vec<(&str, &str)> = params.to_vec();
        let index_s;
        let wait_s;
        let mut timeout = self.settings.timeout;
        if q.index > 0 {
            let wait = q.wait.unwrap_or(DEFAULT_WAIT).min(MAX_WAIT);
            index_s = q.index.to_string();
            wait_s = wait_param(wait);
            all.push(("index", &index_s));
            all.push(("wait", &wait_s));
            timeout = wait + wait / 16 + self.settings.timeout;
        }
        let url = self.url(segments, &all);
        // The timeout covers the body too.
        let req = self.http.get(url).timeout(timeout);
        let resp = req
            .send()
            .await
            .map_err(|e| self.redact_err(map_reqwest(&e)))?;
        let resp = self.check_status(resp).await?;
        let h = resp.headers();
        let head = Indexed {
            value: (),
            index: header_u64(h, "x-nomad-index").unwrap_or(0),
            known_leader: h
                .get("x-nomad-knownleader")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim() == "true"),
            last_contact_ms: header_u64(h, "x-nomad-lastcontact"),
        };
        if resp
            .content_length()
            .is_some_and(|n| n > self.settings.max_body)
        {
            return Err(self.too_large(None));
        }
        Ok((resp, head))
    }

    fn too_large(&self, entries: Option<usize>) -> NomadError {
        NomadError::TooLarge {
            limit_mb: self.settings.max_body >> 20,
            entries,
        }
    }

    /// The next piece of a body, counted against [`Settings::max_body`].
    async fn next_piece(
        &self,
        resp: &mut reqwest::Response,
        read: &mut u64,
    ) -> Result<Option<hyper::body::Bytes>, NomadError> {
        let piece = resp
            .chunk()
            .await
            .map_err(|e| self.redact_err(map_reqwest(&e)))?;
        if let Some(p) = &piece {
            *read += p.len() as u64;
            if *read > self.settings.max_body {
                return Err(self.too_large(None));
            }
        }
        Ok(piece)
    }

    fn decode_error(&self, e: impl fmt::Display) -> NomadError {
        NomadError::Decode(self.redact(truncate(visible(&e.to_string()).as_ref(), BODY_EXCERPT)))
    }

    /// GET a (small) JSON document. It is held whole while decoded, so, like one entry
    /// of a list, it may not be longer than [`MAX_ENTRY`] (nor than
    /// [`Settings::max_body`]).
    async fn get<T>(
        &self,
        segments: &[&str],
        params: &[(&str, &str)],
        decode: fn(&[u8]) -> Result<T, serde_json::Error>,
    ) -> Result<T, NomadError> {
        let (mut resp, _) = self.send(segments, params, QueryOptions::default()).await?;
        let body = self.read_document(&mut resp).await?;
        decode(&body).map_err(|e| self.decode_error(e))
    }

    /// GET a (small) JSON document with blocking-query parameters, and its index.
    pub(crate) async fn get_indexed<T>(
        &self,
        segments: &[&str],
        params: &[(&str, &str)],
        q: QueryOptions,
        decode: fn(&[u8]) -> Result<T, serde_json::Error>,
    ) -> Result<Indexed<T>, NomadError> {
        let (mut resp, head) = self.send(segments, params, q).await?;
        let body = self.read_document(&mut resp).await?;
        let value = decode(&body).map_err(|e| self.decode_error(e))?;
        Ok(Indexed {
            value,
            index: head.index,
            known_leader: head.known_leader,
            last_contact_ms: head.last_contact_ms,
        })
    }

    /// POST (Nomad's write endpoints take PUT and POST alike) a JSON body; the answer
    /// decoded. A refusal is an error with Nomad's words: 403 with what the token lacks,
    /// 400 with the validation message.
    pub(crate) async fn post<T>(
        &self,
        segments: &[&str],
        body: &serde_json::Value,
        decode: fn(&[u8]) -> Result<T, serde_json::Error>,
    ) -> Result<T, NomadError> {
        let url = self.url(segments, &[]);
        let resp = self
            .http
            .post(url)
            .timeout(self.settings.timeout)
            .json(body)
            .send()
            .await
            .map_err(|e| self.redact_err(map_reqwest(&e)))?;
        let mut resp = self.check_status(resp).await?;
        let body = self.read_document(&mut resp).await?;
        decode(&body).map_err(|e| self.decode_error(e))
    }

    /// A whole (small) body, bounded like [`Client::get`]'s.
    async fn read_document(&self, resp: &mut reqwest::Response) -> Result<Vec<u8>, NomadError> {
        let mut body = Vec::new();
        let mut read = 0;
        while let Some(piece) = self.next_piece(resp, &mut read).await? {
            if body.len() + piece.len() > MAX_ENTRY {
                return Err(NomadError::Decode(format!(
                    "a document longer than {} MB",
                    MAX_ENTRY >> 20
                )));
            }
            body.extend_from_slice(&piece);
        }
        Ok(body)
    }

    /// GET a JSON list, decoded into rows while it streams in: the body is never held
    /// whole, only one entry at a time ([`super::decode`]).
    async fn get_list<R: Row>(
        &self,
        segments: &[&str],
        params: &[(&str, &str)],
        q: QueryOptions,
    ) -> Result<Indexed<Vec<R>>, NomadError> {
        let (mut resp, head) = self.send(segments, params, q).await?;
        let mut decoder = ListDecoder::<R>::new(self.settings.max_body);
        let mut read = 0;
        while let Some(piece) = self.next_piece(&mut resp, &mut read).await? {
            decoder.push(&piece).map_err(|e| self.redact_err(e))?;
        }
        let value = decoder.finish().map_err(|e| self.redact_err(e))?;
        Ok(Indexed {
            value,
            index: head.index,
            known_leader: head.known_leader,
            last_contact_ms: head.last_contact_ms,
        })
    }

    /// `GET /v1/status/leader`; `""` (no leader) is `None`.
    pub async fn leader(&self) -> Result<Option<String>, NomadError> {
        let r: String = self
            .get(&["status", "leader"], &[], |b| serde_json::from_slice(b))
            .await?;
        let l = visible(r.trim());
        Ok(if l.is_empty() {
            None
        } else {
            Some(l.into_owned())
        })
    }

    /// `GET /v1/agent/self` (needs `agent:read`).
    pub async fn agent_self(&self) -> Result<AgentSelf, NomadError> {
        self.get(&["agent", "self"], &[], decode::agent).await
    }

    /// `GET /v1/nodes`, as compact rows.
    pub async fn nodes(&self, q: QueryOptions) -> Result<Indexed<Vec<NodeRow>>, NomadError> {
        self.get_list(&["nodes"], &[], q).await
    }

    /// `GET /v1/jobs?namespace=<settings.namespace>`, as compact rows.
    pub async fn jobs(&self, q: QueryOptions) -> Result<Indexed<Vec<JobRow>>, NomadError> {
        let ns = self.list_namespace().map(|n| ("namespace", n));
        self.get_list(&["jobs"], &Vec::from_iter(ns), q).await
    }

    /// `GET /v1/allocations?namespace=<ns>&task_states=false` (list view; fetch
    /// one [`Client::allocation`] for task states), as counted compact rows.
    pub async fn allocations(&self, q: QueryOptions) -> Result<Indexed<AllocList>, NomadError> {
        let mut params = vec![("task_states", "false")];
        params.extend(self.list_namespace().map(|n| ("namespace", n)));
        let r = self
            .get_list::<AllocRow>(&["allocations"], &params, q)
            .await?;
        Ok(Indexed {
            value: AllocList::from_rows(r.value),
            index: r.index,
            known_leader: r.known_leader,
            last_contact_ms: r.last_contact_ms,
        })
    }

    /// `GET /v1/allocation/:id` (`namespace` only when not `*`), its texts made
    /// visible.
    pub async fn allocation(&self, id: &str) -> Result<AllocDetail, NomadError> {
        let ns = self.object_namespace().map(str::to_string);
        let params: Vec<(&str, &str)> = ns.iter().map(|n| ("namespace", n.as_str())).collect();
        self.get(&["allocation", id], &params, decode::allocation)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nomad_invalid_addresses() {
        for a in [
            "",
            "127.0.0.1:4646",
            "ftp://x",
            "http://",
            "http://h:4646/?x=1",
        ] {
            let s = Settings {
                address: a.into(),
                ..Settings::default()
            };
            assert!(
                matches!(Client::new(s), Err(NomadError::InvalidAddress(_))),
                "{a}"
            );
        }
        let s = Settings {
            ca_cert: Some("/nonexistent/ca.pem".into()),
            address: "https://127.0.0.1:4646".into(),
            ..Settings::default()
        };
        assert!(matches!(Client::new(s), Err(NomadError::Tls(_))));
    }

    #[test]
    fn nomad_url_building() {
        let c = Client::new(Settings {
            address: "http://127.0.0.1:4646/".into(),
            region: Some("global".into()),
            ..Settings::default()
        })
        .unwrap();
        let u = c.url(&["job", "a b/c", "allocations"], &[("namespace", "*")]);
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:4646/v1/job/a%20b%2Fc/allocations?region=global&namespace=*"
        );
        let c = Client::new(Settings {
            address: "http://h:1/prefix".into(),
            ..Settings::default()
        })
        .unwrap();
        assert_eq!(
            c.url(&["nodes"], &[]).as_str(),
            "http://h:1/prefix/v1/nodes"
        );
    }

    #[test]
    fn nomad_wait_and_truncate() {
        assert_eq!(wait_param(Duration::from_secs(300)), "300s");
        assert_eq!(wait_param(Duration::from_millis(1500)), "1500ms");
        assert_eq!(wait_param(Duration::ZERO), "1ms");
        assert_eq!(truncate("abc", 2), "ab…");
        assert_eq!(truncate("ééé", 5), "ééé");
        assert_eq!(truncate(&"x".repeat(300), 200).chars().count(), 201);
    }
}
