//! Task logs (`GET /v1/client/fs/logs/:alloc`, reference §8): incremental
//! decoding of the concatenated `StreamFrame` objects, base64 payloads,
//! heartbeats and file events, behind a channel-returning reader.
//!
//! Requests go to the configured (server) address; the server forwards them to
//! the client node, so there is no client-connect timeout trick to play.

use super::client::{truncate, Client, NomadError};
use super::decode::ValueScan;
use crate::domain::text::visible;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
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

/// Incremental decoder for a body of concatenated JSON `StreamFrame`s. Each frame is
/// framed before it is parsed ([`ValueScan`] finds its closing brace, remembering where
/// it stopped), so a frame costs its own bytes once however it is cut, and a cut never
/// reads as bad JSON.
#[derive(Debug, Default)]
pub struct LogDecoder {
    /// Bytes of a frame that started in an earlier push.
    buf: Vec<u8>,
    /// Inside a frame: where its scan stopped.
    scan: Option<ValueScan>,
    failed: bool,
}

/// Standard base64 as Go's `encoding/json` writes `[]byte` (padded), and without its
/// padding; no whitespace, no stray trailing bits.
const PADDED: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);
const UNPADDED: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

impl LogDecoder {
    /// Feed bytes; returns the chunks completed so far. Heartbeats (`{}`) are
    /// skipped. After a decode error the stream cannot be resynchronised: the
    /// error is returned once and later input is ignored.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Result<LogChunk, NomadError>> {
        let mut out = Vec::new();
        let mut i = 0;
        while !self.failed && i < bytes.len() {
            let Some(scan) = self.scan.as_mut() else {
                match bytes[i] {
                    b' ' | b'\t' | b'\n' | b'\r' => i += 1,
                    b'{' => self.scan = Some(ValueScan::new(b'{')),
                    _ => self.fail(&mut out, "log frame: expected `{`".into()),
                }
                continue;
            };
            // The frame started at `i` in this piece, or in an earlier one.
            let start = if self.buf.is_empty() { i } else { 0 };
            let Some(end) = scan.end(bytes, i) else {
                if self.buf.len() + (bytes.len() - start) > MAX_FRAME {
                    self.fail(&mut out, format!("log frame longer than {MAX_FRAME} bytes"));
                } else {
                    self.buf.extend_from_slice(&bytes[start..]);
                }
                break;
            };
            self.scan = None;
            let item = if self.buf.is_empty() {
                frame(&bytes[start..end], &mut out)
            } else {
                self.buf.extend_from_slice(&bytes[..end]);
                let whole = std::mem::take(&mut self.buf);
                frame(&whole, &mut out)
            };
            if let Err(e) = item {
                // serde quotes the offending text: it is the agent's.
                self.fail(&mut out, visible(&format!("log frame: {e}")).into_owned());
            }
            i = end;
        }
        out
    }

    fn fail(&mut self, out: &mut Vec<Result<LogChunk, NomadError>>, why: String) {
        self.failed = true;
        self.buf = Vec::new();
        self.scan = None;
        out.push(Err(NomadError::Decode(truncate(&why, 200))));
    }

    /// Whether the body ended cleanly between frames.
    pub fn is_clean(&self) -> bool {
        !self.failed && self.scan.is_none()
    }
}

/// One whole frame: its file event and its data, in that order.
fn frame(
    bytes: &[u8],
    out: &mut Vec<Result<LogChunk, NomadError>>,
) -> Result<(), serde_json::Error> {
    let frame: StreamFrame = serde_json::from_slice(bytes)?;
    if let Some(ev) = frame.file_event.filter(|e| !e.is_empty()) {
        out.push(Ok(LogChunk::Reset(visible(&ev).into_owned())));
    }
    if let Some(data) = frame.data.filter(|d| !d.is_empty()) {
        out.push(match decode_base64(&data) {
            Ok(b) => Ok(LogChunk::Data(b)),
            Err(e) => Err(NomadError::Decode(format!("log data: {e}"))),
        });
    }
    Ok(())
}

/// Standard-alphabet base64 (RFC 4648 §4, what Go's `encoding/json` writes for
/// `[]byte`). Padding is optional; whitespace and other characters are errors,
/// as is a final group of one character or non-zero trailing bits.
pub fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    let engine = if s.ends_with('=') { &PADDED } else { &UNPADDED };
    engine.decode(s).map_err(|e| format!("bad base64: {e}"))
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

    fn encode(data: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(data)
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

    /// Decode `body` whole, then byte by byte: the same chunks, the same end state.
    fn whole_and_bytewise(body: &[u8]) -> Vec<Result<LogChunk, NomadError>> {
        let mut whole = LogDecoder::default();
        let want = whole.push(body);
        let mut d = LogDecoder::default();
        let mut got = Vec::new();
        for b in body {
            got.extend(d.push(std::slice::from_ref(b)));
        }
        assert_eq!(
            got.iter().map(Result::is_ok).collect::<Vec<_>>(),
            want.iter().map(Result::is_ok).collect::<Vec<_>>(),
            "{}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(d.is_clean(), whole.is_clean());
        want
    }

    #[test]
    fn nomad_log_frames_cut_inside_a_number_wait_for_the_rest() {
        // Fuzzing found these: cut after `-`, `1.` or `1e`, serde_json says "invalid
        // number", not "end of input", and the stream used to die.
        assert_eq!(whole_and_bytewise(br#"{"x":1.5}"#), vec![]);
        let body = format!(
            r#"{{"x":-1,"Offset":10,"y":1e3,"z":[2.5e-3],"Data":"{}"}}{{}}"#,
            encode(b"ok\n")
        );
        assert_eq!(
            whole_and_bytewise(body.as_bytes()),
            vec![Ok(LogChunk::Data(b"ok\n".to_vec()))]
        );
        // What is bad whole is bad cut too, once.
        let bad = whole_and_bytewise(br#"{"x":1.}{"Data":"Zg=="}"#);
        assert!(matches!(bad[..], [Err(NomadError::Decode(_))]), "{bad:?}");
    }

    #[test]
    fn nomad_a_long_log_frame_in_small_pieces_is_read_once() {
        // 4 MB of data in 4 KB pieces: each push scans its own bytes (before, every push
        // parsed the whole pending frame again: quadratic).
        let data = vec![b'a'; 3 << 20];
        let body = format!(r#"{{"Offset":1,"Data":"{}"}}"#, encode(&data));
        let mut d = LogDecoder::default();
        let mut got = Vec::new();
        for piece in body.as_bytes().chunks(4096) {
            got.extend(d.push(piece));
        }
        assert_eq!(got, vec![Ok(LogChunk::Data(data))]);
        assert!(d.is_clean());
    }

    proptest! {
        #[test]
        fn nomad_log_chunking_never_matters(
            frames in prop::collection::vec((any::<i32>(), -1e6f64..1e6, ".{0,6}"), 0..4),
            cut in 1usize..7,
        ) {
            let mut body = String::new();
            for (n, x, text) in &frames {
                body.push_str(&serde_json::json!({"N": n, "X": x, "Data": encode(text.as_bytes())}).to_string());
            }
            let whole = LogDecoder::default().push(body.as_bytes());
            let mut d = LogDecoder::default();
            let mut got = Vec::new();
            for piece in body.as_bytes().chunks(cut) {
                got.extend(d.push(piece));
            }
            prop_assert_eq!(got, whole);
            prop_assert!(d.is_clean());
        }

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
