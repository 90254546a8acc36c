//! Everything that can go wrong talking to Nomad, worded for operators: the error type
//! and the mapping of transport failures (refused, unreachable, TLS, timeouts) into it.
//! Answers "what went wrong reaching Nomad, in words an operator can act on?"; no error
//! ever carries the ACL token.

use std::fmt;

use crate::domain::text::visible;

/// Longest body excerpt kept in an error.
pub(super) const BODY_EXCERPT: usize = 200;

/// Everything that can go wrong talking to Nomad, worded for operators.
/// No variant ever carries the ACL token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NomadError {
    InvalidAddress(String),
    /// Refused, unreachable, reset: the agent could not be talked to.
    Connect(String),
    Timeout,
    /// 403: the token lacks a capability (body text from Nomad).
    Forbidden(String),
    /// Any other non-2xx status; `body` truncated to 200 characters.
    Http {
        status: u16,
        body: String,
    },
    /// The body was not the JSON we expected.
    Decode(String),
    Tls(String),
    /// The answer is larger than [`Settings::max_body`] (`limit_mb`), or its rows
    /// (`entries` of them, when counted) would take more than half of it.
    TooLarge {
        limit_mb: u64,
        entries: Option<usize>,
    },
}

impl fmt::Display for NomadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NomadError::InvalidAddress(m) => write!(f, "invalid nomad address: {m}"),
            NomadError::Connect(m) => write!(f, "nomad unreachable: {m}"),
            NomadError::Timeout => f.write_str("nomad timed out"),
            NomadError::Forbidden(body) => {
                let b = body.trim();
                if b.is_empty() {
                    f.write_str("403 Permission denied")
                } else {
                    write!(f, "403 {b}")
                }
            }
            NomadError::Http { status, body } => {
                let b = body.trim();
                if b.is_empty() {
                    write!(f, "HTTP {status}")
                } else {
                    write!(f, "HTTP {status}: {b}")
                }
            }
            NomadError::Decode(m) => write!(f, "bad JSON from nomad: {m}"),
            NomadError::Tls(m) => write!(f, "TLS: {m}"),
            NomadError::TooLarge {
                limit_mb,
                entries: None,
            } => write!(f, "answer larger than {limit_mb} MB (max_body_mb)"),
            NomadError::TooLarge {
                limit_mb,
                entries: Some(n),
            } => write!(
                f,
                "answer too large: {n} entries would take more than {} MB in memory \
                 (half of max_body_mb = {limit_mb})",
                limit_mb / 2
            ),
        }
    }
}

impl std::error::Error for NomadError {}

/// Cut to at most `max` characters, on a character boundary, with an ellipsis.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Short, lower-case text for an I/O error kind; `None` for the rest.
fn io_kind_text(kind: std::io::ErrorKind) -> Option<&'static str> {
    use std::io::ErrorKind::*;
    Some(match kind {
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset",
        ConnectionAborted => "connection aborted",
        NotConnected => "not connected",
        AddrNotAvailable => "address not available",
        BrokenPipe => "connection closed",
        UnexpectedEof => "connection closed",
        TimedOut => "timed out",
        PermissionDenied => "permission denied",
        _ => return None,
    })
}

/// The most specific text in an error's source chain.
fn root_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    let mut text = cur.to_string();
    loop {
        if let Some(io) = cur.downcast_ref::<std::io::Error>() {
            if let Some(t) = io_kind_text(io.kind()) {
                return t.to_string();
            }
        }
        match cur.source() {
            Some(next) => {
                cur = next;
                let t = cur.to_string();
                if !t.is_empty() {
                    text = t;
                }
            }
            None => break,
        }
    }
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn chain_mentions_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        let t = c.to_string().to_ascii_lowercase();
        if t.contains("certificate") || t.contains("tls") || t.contains("handshake") {
            return true;
        }
        cur = c.source();
    }
    false
}

/// Map a transport error to a [`NomadError`].
pub(crate) fn map_reqwest(e: &reqwest::Error) -> NomadError {
    if e.is_timeout() {
        return NomadError::Timeout;
    }
    if e.is_builder() {
        return NomadError::InvalidAddress(truncate(&visible(&root_text(e)), BODY_EXCERPT));
    }
    let text = truncate(&visible(&root_text(e)), BODY_EXCERPT);
    if chain_mentions_tls(e) {
        return NomadError::Tls(text);
    }
    NomadError::Connect(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nomad_error_display() {
        let cases = [
            (
                NomadError::Connect("connection refused".into()),
                "nomad unreachable: connection refused",
            ),
            (
                NomadError::Forbidden("Permission denied".into()),
                "403 Permission denied",
            ),
            (
                NomadError::Forbidden(String::new()),
                "403 Permission denied",
            ),
            (
                NomadError::TooLarge {
                    limit_mb: 256,
                    entries: None,
                },
                "answer larger than 256 MB (max_body_mb)",
            ),
            (
                NomadError::Http {
                    status: 500,
                    body: "oops".into(),
                },
                "HTTP 500: oops",
            ),
            (NomadError::Decode("eof".into()), "bad JSON from nomad: eof"),
            (NomadError::Timeout, "nomad timed out"),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }
}
