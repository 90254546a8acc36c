//! Task logs (`GET /v1/client/fs/logs/:alloc`, reference §8): incremental
//! decoding of the concatenated `StreamFrame` objects, base64 payloads,
//! heartbeats and file events, behind a channel-returning reader.
//!
//! Requests go to the configured (server) address; the server forwards them to
//! the client node, so there is no client-connect timeout trick to play.

use super::client::{truncate, Client, NomadError};
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::mpsc;

/// Which log file of the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogKind {
    Stdout,
    Stderr,
}

impl LogKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LogKind::Stdout => "stdout",
            LogKind::Stderr => "stderr",
        }
    }
}

/// What the log reader delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogChunk {
    /// Raw bytes of the log, in order.
    Data(Vec<u8>),
    /// `"file truncated"` / `"file deleted"`: clear the view; data that follows
    /// starts afresh.
    Reset(String),
}

/// `StreamFrame` as sent on the wire; every field is omitted when empty.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StreamFrame {
    #[serde(rename = "Offset")]
    _offset: i64,
    #[serde(rename = "Data")]
    data: Option<String>,
    #[serde(rename = "File")]
    _file: Option<String>,
    #[serde(rename = "FileEvent")]
    file_event: Option<String>,
}

/// Longest incomplete frame held back before giving up.
pub const MAX_FRAME: usize = 16 << 20;

/// Incremental decoder for a body of concatenated JSON `StreamFrame`s.
#[derive(Debug, Default)]
pub struct LogDecoder {
    buf: Vec<u8>,
    failed: bool,
}

impl LogDecoder {
    /// Feed bytes; returns the chunks completed so far. Heartbeats (`{}`) are
    /// skipped. After a decode error the stream cannot be resynchronised: the
    /// error is returned once and later input is ignored.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Result<LogChunk, NomadError>> {
        let mut out = Vec::new();
        if self.failed {
            return out;
        }
        self.buf.extend_from_slice(bytes);
        let mut consumed = 0;
        {
            let mut it = serde_json::Deserializer::from_slice(&self.buf).into_iter::<StreamFrame>();
            loop {
                match it.next() {
                    None => {
                        consumed = it.byte_offset();
                        break;
                    }
                    Some(Ok(frame)) => {
                        consumed = it.byte_offset();
                        if let Some(ev) = frame.file_event.filter(|e| !e.is_empty()) {
                            out.push(Ok(LogChunk::Reset(
                                crate::domain::text::visible(&ev).into_owned(),
                            )));
                        }
                        if let Some(data) = frame.data.filter(|d| !d.is_empty()) {
                            out.push(match decode_base64(&data) {
                                Ok(b) => Ok(LogChunk::Data(b)),
                                Err(e) => Err(NomadError::Decode(format!("log data: {e}"))),
                            });
                        }
                    }
                    Some(Err(e)) if e.is_eof() => break,
                    Some(Err(e)) => {
                        self.failed = true;
                        self.buf.clear();
                        // serde quotes the offending text: it is the agent's.
                        out.push(Err(NomadError::Decode(truncate(
                            &crate::domain::text::visible(&format!("log frame: {e}")),
                            200,
                        ))));
                        return out;
                    }
                }
            }
        }
        self.buf.drain(..consumed);
        if self.buf.len() > MAX_FRAME {
            self.failed = true;
            self.buf.clear();
            out.push(Err(NomadError::Decode(format!(
                "log frame longer than {MAX_FRAME} bytes"
            ))));
        }
        out
    }

    /// Whether the body ended cleanly between frames (only whitespace left).
    pub fn is_clean(&self) -> bool {
        !self.failed && self.buf.iter().all(u8::is_ascii_whitespace)
    }
}

fn b64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Standard-alphabet base64 (RFC 4648 §4, what Go's `encoding/json` writes for
/// `[]byte`). Padding is optional; whitespace and other characters are errors,
/// as is a final group of one character or non-zero trailing bits.
pub fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    let bytes = s.as_bytes();
    let data_len = bytes.len() - bytes.iter().rev().take_while(|&&b| b == b'=').count();
    let (data, pad) = bytes.split_at(data_len);
    if pad.len() > 2 || (!pad.is_empty() && (data.len() + pad.len()) % 4 != 0) {
        return Err("bad base64 padding".into());
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 3);
    for (n, group) in data.chunks(4).enumerate() {
        let mut acc: u32 = 0;
        for (i, &c) in group.iter().enumerate() {
            let v = b64_value(c).ok_or_else(|| format!("bad base64 character at {}", n * 4 + i))?;
            acc |= u32::from(v) << (18 - 6 * i);
        }
        let [_, b0, b1, b2] = acc.to_be_bytes();
        match group.len() {
            4 => out.extend_from_slice(&[b0, b1, b2]),
            3 => {
                if b2 != 0 {
                    return Err("bad base64 trailing bits".into());
                }
                out.extend_from_slice(&[b0, b1]);
            }
            2 => {
                if b1 != 0 || b2 != 0 {
                    return Err("bad base64 trailing bits".into());
                }
                out.push(b0);
            }
            _ => return Err("truncated base64".into()),
        }
    }
    Ok(out)
}

impl Client {
    /// Read a task's log. With `tail_bytes = Some(n)` it starts `n` bytes
    /// before the end (`origin=end&offset=n`), else at the start. With
    /// `follow`, the stream stays open until the task's log ends, an error, an
    /// idle minute without even a heartbeat, or the receiver is dropped; errors
    /// are delivered once and end the stream (re-open to retry).
    pub fn logs(
        &self,
        alloc_id: &str,
        task: &str,
        kind: LogKind,
        follow: bool,
        tail_bytes: Option<u64>,
    ) -> mpsc::Receiver<Result<LogChunk, NomadError>> {
        let (tx, rx) = mpsc::channel(64);
        let client = self.clone();
        let alloc_id = alloc_id.to_string();
        let task = task.to_string();
        tokio::spawn(async move {
            let idle = if follow {
                client.settings().timeout.max(Duration::from_secs(60))
            } else {
                client.settings().timeout
            };
            let offset = tail_bytes.unwrap_or(0).to_string();
            let mut params = vec![
                ("task", task.as_str()),
                ("type", kind.as_str()),
                ("follow", if follow { "true" } else { "false" }),
                ("origin", if tail_bytes.is_some() { "end" } else { "start" }),
                ("offset", offset.as_str()),
            ];
            let ns = client.object_namespace().map(str::to_string);
            if let Some(ns) = ns.as_deref() {
                params.push(("namespace", ns));
            }
            let url = client.url(&["client", "fs", "logs", &alloc_id], &params);
            let resp = tokio::select! {
                r = client.open_stream(url, idle) => r,
                _ = tx.closed() => return,
            };
            let mut resp = match resp {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let mut decoder = LogDecoder::default();
            // Bounded by the body: every wait is capped by `idle` or raced
            // against the receiver closing.
            loop {
                let chunk = tokio::select! {
                    c = tokio::time::timeout(idle, resp.chunk()) => c,
                    _ = tx.closed() => return,
                };
                let bytes = match chunk {
                    Err(_) => {
                        let _ = tx.send(Err(NomadError::Timeout)).await;
                        return;
                    }
                    Ok(Err(e)) => {
                        let e = client.redact_err(super::client::map_reqwest(&e));
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                    Ok(Ok(None)) => {
                        if !decoder.is_clean() {
                            let _ = tx
                                .send(Err(NomadError::Decode("log stream ended mid-frame".into())))
                                .await;
                        }
                        return;
                    }
                    Ok(Ok(Some(b))) => b,
                };
                for item in decoder.push(&bytes) {
                    let stop = item.is_err();
                    if tx.send(item).await.is_err() || stop {
                        return;
                    }
                }
            }
        });
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reference encoder for the round-trip property (test only).
    fn encode(data: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for c in data.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for i in 0..4 {
                if i <= c.len() {
                    s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    s.push('=');
                }
            }
        }
        s
    }

    #[test]
    fn nomad_base64_known_vectors() {
        let cases: [(&str, &[u8]); 8] = [
            ("", b""),
            ("Zg==", b"f"),
            ("Zm8=", b"fo"),
            ("Zm9v", b"foo"),
            ("Zm9vYg==", b"foob"),
            ("Zm9vYmE=", b"fooba"),
            ("Zm9vYmFy", b"foobar"),
            ("R0VUIC9oZWxsbyAyMDAK", b"GET /hello 200\n"),
        ];
        for (enc, dec) in cases {
            assert_eq!(decode_base64(enc).unwrap(), dec, "{enc}");
        }
        assert_eq!(decode_base64("Zg").unwrap(), b"f");
        assert_eq!(decode_base64("/+8=").unwrap(), vec![0xff, 0xef]);
        for bad in [
            "Z", "Zh==", "Zm9=", "Zg=", "Z===", "Zm9v\n", "Zm-v", "=", "Zg==Zg==",
        ] {
            assert!(decode_base64(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nomad_log_frames_across_chunks() {
        let body = format!(
            "{{}}{{\"File\":\"alloc/logs/spin.stdout.0\",\"Offset\":10,\"Data\":\"{}\"}}\n{{\"File\":\"alloc/logs/spin.stdout.0\",\"FileEvent\":\"file truncated\"}}{{}}{{\"Offset\":3,\"Data\":\"{}\"}}",
            encode(b"hello\n"),
            encode(b"bye")
        );
        let b = body.as_bytes();
        for split in 0..b.len() {
            let mut d = LogDecoder::default();
            let mut got = d.push(&b[..split]);
            got.extend(d.push(&b[split..]));
            assert_eq!(
                got,
                vec![
                    Ok(LogChunk::Data(b"hello\n".to_vec())),
                    Ok(LogChunk::Reset("file truncated".into())),
                    Ok(LogChunk::Data(b"bye".to_vec())),
                ],
                "split {split}"
            );
            assert!(d.is_clean());
        }
    }

    #[test]
    fn nomad_log_garbage_is_one_error() {
        let mut d = LogDecoder::default();
        let got = d.push(b"{\"Data\":\"Zg==\"} nonsense {}");
        assert_eq!(got.len(), 2);
        assert!(got[1].is_err());
        assert!(d.push(b"{}").is_empty());
        assert!(!d.is_clean());
        let mut d = LogDecoder::default();
        assert!(matches!(
            d.push(b"{\"Data\":\"!!\"}")[0],
            Err(NomadError::Decode(_))
        ));
    }

    proptest! {
        #[test]
        fn nomad_base64_roundtrip(data in prop::collection::vec(any::<u8>(), 0..300)) {
            let enc = encode(&data);
            prop_assert_eq!(decode_base64(&enc).unwrap(), data.clone());
            prop_assert_eq!(decode_base64(enc.trim_end_matches('=')).unwrap(), data);
        }

        #[test]
        fn nomad_base64_never_panics(s in "[A-Za-z0-9+/=\\n -]{0,40}") {
            let _ = decode_base64(&s);
        }
    }
}
