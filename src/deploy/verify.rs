//! Verification from outside Nomad: the metro's own address is asked, with the anycast
//! URL's Host header (as the prober does, like `curl --resolve`), which version answers —
//! the `version` of `/.well-known/spin/info`, or a configured response header — until it
//! is the expected one or a deadline passes. What answered is untrusted text, made
//! visible.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::domain::text::visible;

/// Between two asks.
const EVERY: Duration = Duration::from_millis(100);
/// One ask's own limit.
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// Where and how to ask.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// The Host header (the anycast URL's host), `None`: the address itself.
    pub host: Option<String>,
    /// Read this header of `path` instead of the info document's `version`.
    pub header: Option<String>,
    /// The path asked for the header (the anycast URL's).
    pub path: String,
}

#[derive(Deserialize)]
struct Info {
    #[serde(default)]
    version: Option<String>,
}

fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .timeout(ASK_TIMEOUT)
        .connect_timeout(ASK_TIMEOUT)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// Which version the metro answers now.
pub async fn version_at(t: &Target) -> Result<String, String> {
    version_with(&client()?, t).await
}

async fn version_with(c: &reqwest::Client, t: &Target) -> Result<String, String> {
    let path = if t.header.is_some() {
        t.path.as_str()
    } else {
        super::job::INFO_PATH
    };
    let mut req = c.get(format!("http://{}{path}", t.addr));
    if let Some(h) = &t.host {
        req = req.header(reqwest::header::HOST, h.as_str());
    }
    let resp = req.send().await.map_err(|e| {
        let e = if e.is_timeout() {
            "no answer in time".to_string()
        } else if e.is_connect() {
            "connection refused".to_string()
        } else {
            e.to_string()
        };
        format!("{}: {e}", t.addr)
    })?;
    let status = resp.status();
    if let Some(name) = &t.header {
        return match resp
            .headers()
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
        {
            Some(v) => Ok(visible(v.trim()).into_owned()),
            None => Err(format!("{} answers {status} without {name}", t.addr)),
        };
    }
    if !status.is_success() {
        return Err(format!("{} answers {status} on {path}", t.addr));
    }
    let body = resp.bytes().await.map_err(|e| format!("{}: {e}", t.addr))?;
    info_version(&body)
        .map_err(|e| format!("{}: {path} is not Spin's info: {e}", t.addr))?
        .ok_or_else(|| format!("{}: {path} names no version", t.addr))
}

/// The `version` a `/.well-known/spin/info` answer names, made visible (`None`: it names
/// none); an error when the body is not that JSON object.
pub fn info_version(body: &[u8]) -> Result<Option<String>, serde_json::Error> {
    let info: Info = serde_json::from_slice(body)?;
    Ok(info.version.map(|v| visible(&v).into_owned()))
}

/// Asks until `want` answers (its time), or the deadline passes, or `stop` resolves:
/// then the last answer or error. `seen` hears every change of what answers.
pub async fn until_version(
    t: &Target,
    want: &str,
    deadline: Duration,
    stop: impl std::future::Future<Output = ()>,
    seen: &mut (dyn FnMut(&str) + Send),
) -> Result<Duration, String> {
    let c = client()?;
    let started = Instant::now();
    let mut last: Option<Result<String, String>> = None;
    tokio::pin!(stop);
    loop {
        let now = version_with(&c, t).await;
        if let Ok(v) = &now {
            if last.as_ref().and_then(|l| l.as_ref().ok()) != Some(v) {
                seen(v);
            }
            if v == want {
                return Ok(started.elapsed());
            }
        }
        last = Some(now);
        if started.elapsed() >= deadline {
            let what = match last {
                Some(Ok(v)) => format!("it answers {v}"),
                Some(Err(e)) => e,
                None => "no answer".into(),
            };
            return Err(format!(
                "{want} not seen within {:.1}s: {what}",
                deadline.as_secs_f64()
            ));
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = &mut stop => return Err(format!("stopped before {want} was seen")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_info_version_is_read_and_made_visible() {
        let body = br#"{"version":"0.2.0\u001b[2J","buildInfo":{"commit":"x"}}"#;
        assert_eq!(
            info_version(body).unwrap().as_deref(),
            Some("0.2.0\\x1b[2J")
        );
        assert_eq!(info_version(b"{}").unwrap(), None);
        assert!(info_version(b"<html>").is_err());
    }
}
