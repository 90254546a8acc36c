//! Nomad event stream (`GET /v1/event/stream`, reference §7): NDJSON framing,
//! heartbeats, and a reconnecting, resuming reader task.
//!
//! The reader remembers the highest `Index` it delivered, reconnects with
//! `index=<that>` after any error, EOF or read timeout (no heartbeat for
//! ~60 s), drops replayed events with `Index <=` it, and emits
//! [`StreamItem::Reconnected`] so the caller re-lists (the server may have
//! resumed past its buffer). Topics are always named: no topic means `*`,
//! which needs a management token.

use super::client::{truncate, Client, NomadError};
use super::models::{AllocStub, JobStub, NodeStub};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::mpsc;

/// One NDJSON line: `{"Index": N, "Events": [...]}`. `{}` is a heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventFrame {
    #[serde(rename = "Index")]
    pub index: u64,
    #[serde(rename = "Events", deserialize_with = "super::models::nullable")]
    pub events: Vec<Event>,
}

impl EventFrame {
    /// `Index == 0` and no events.
    pub fn is_heartbeat(&self) -> bool {
        self.index == 0 && self.events.is_empty()
    }
}

/// One event. `payload` is keyed by object type (`"Allocation"`, `"Job"`, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Event {
    #[serde(rename = "Topic")]
    pub topic: String,
    /// `AllocationUpdated`, `JobRegistered`, `NodeRegistration`, …
    #[serde(rename = "Type")]
    pub r#type: String,
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Namespace")]
    pub namespace: String,
    #[serde(rename = "Index")]
    pub index: u64,
    #[serde(rename = "Payload")]
    pub payload: serde_json::Value,
}

impl Event {
    /// Decode `Payload.<key>` as `T` (`None` when absent or not a `T`).
    pub fn payload_as<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        let v = self.payload.get(key)?;
        if v.is_null() {
            return None;
        }
        T::deserialize(v).ok()
    }

    /// `Payload.Allocation` (sent without the embedded job).
    pub fn allocation(&self) -> Option<AllocStub> {
        self.payload_as("Allocation")
    }

    pub fn job(&self) -> Option<JobStub> {
        self.payload_as("Job")
    }

    pub fn node(&self) -> Option<NodeStub> {
        self.payload_as("Node")
    }
}

/// What the reader task delivers.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// New events only (replays at or below the resume index are dropped).
    Frame(EventFrame),
    /// `{}`: the stream is alive.
    Heartbeat,
    /// A new connection is up after a drop; re-list, then keep applying.
    Reconnected { from_index: u64 },
    /// A connect failure (followed by a backoff and a retry) or a malformed
    /// line (skipped). Never ends the stream.
    Error(NomadError),
}

/// One decoded line.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Frame(EventFrame),
    Heartbeat,
}

/// Longest line accepted before the buffer is declared garbage.
pub const MAX_LINE: usize = 16 << 20;

/// Splits NDJSON on `\n` across chunk boundaries and decodes each line.
#[derive(Debug, Default)]
pub struct EventLineDecoder {
    buf: Vec<u8>,
}

/// Error objects some servers write into the stream instead of a frame.
#[derive(Deserialize)]
struct ErrorLine {
    #[serde(rename = "Error", default)]
    error: Option<serde_json::Value>,
}

impl EventLineDecoder {
    /// Feed bytes; returns the complete lines decoded so far. Blank lines are
    /// skipped; a line that is not a frame becomes `Err(Decode)`.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Result<Line, NomadError>> {
        let mut out = Vec::new();
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let line = &self.buf[start..start + pos];
            start += pos + 1;
            if let Some(item) = decode_line(line) {
                out.push(item);
            }
        }
        self.buf.drain(..start);
        if self.buf.len() > MAX_LINE {
            self.buf.clear();
            out.push(Err(NomadError::Decode(format!(
                "event line longer than {MAX_LINE} bytes"
            ))));
        }
        out
    }

    /// Bytes of an incomplete line held back.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }
}

fn decode_line(line: &[u8]) -> Option<Result<Line, NomadError>> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return None;
    }
    if let Ok(ErrorLine { error: Some(e) }) = serde_json::from_slice::<ErrorLine>(line) {
        let text = match e {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        if !text.is_empty() {
            return Some(Err(NomadError::Http {
                status: 500,
                body: truncate(&text, 200),
            }));
        }
    }
    Some(match serde_json::from_slice::<EventFrame>(line) {
        Ok(f) if f.is_heartbeat() => Ok(Line::Heartbeat),
        Ok(f) => Ok(Line::Frame(f)),
        Err(e) => Err(NomadError::Decode(truncate(
            &format!(
                "event line {:?}: {e}",
                String::from_utf8_lossy(&line[..line.len().min(60)])
            ),
            200,
        ))),
    })
}

/// Keep only events above `last`; advance `last`. `None` when nothing is new.
pub fn resume_filter(frame: EventFrame, last: &mut u64) -> Option<EventFrame> {
    let floor = *last;
    let events: Vec<Event> = frame
        .events
        .into_iter()
        .filter(|e| e.index > floor)
        .collect();
    let top = events.iter().map(|e| e.index).max().unwrap_or(0);
    if events.is_empty() {
        // A frame whose events carry no Index of their own: judge by the frame.
        if frame.index > floor {
            *last = frame.index;
        }
        return None;
    }
    *last = floor.max(top).max(frame.index);
    Some(EventFrame {
        index: frame.index.max(top),
        events,
    })
}

/// Tuning of the reader task; [`Default`] is what production uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    /// Reconnect when nothing (not even a heartbeat) arrived for this long.
    /// Also bounds the wait for the response head, which Nomad only sends
    /// with the first frame or heartbeat.
    pub read_timeout: Duration,
    /// First reconnect delay; doubles per failed attempt.
    pub backoff_start: Duration,
    pub backoff_cap: Duration,
    /// Channel capacity.
    pub buffer: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            read_timeout: Duration::from_secs(60),
            backoff_start: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(30),
            buffer: 256,
        }
    }
}

/// How one connection ended.
enum Ended {
    /// The receiver is gone: stop.
    Closed,
    /// Reconnect; `progressed` says whether anything arrived (resets backoff).
    Retry { progressed: bool },
}

impl Client {
    /// Subscribe to `topics` (e.g. `["Job", "Allocation", "Node"]`, or
    /// `Topic:filter`) from `start_index` (use the `X-Nomad-Index` of the
    /// initial list). Spawns a task on the current Tokio runtime that ends when
    /// the receiver is dropped. An empty `topics` is an error item, not `*`.
    pub fn event_stream(&self, topics: &[&str], start_index: u64) -> mpsc::Receiver<StreamItem> {
        self.event_stream_with(topics, start_index, StreamOptions::default())
    }

    /// [`Client::event_stream`] with explicit timeouts (tests, tuning).
    pub fn event_stream_with(
        &self,
        topics: &[&str],
        start_index: u64,
        opts: StreamOptions,
    ) -> mpsc::Receiver<StreamItem> {
        let (tx, rx) = mpsc::channel(opts.buffer.max(1));
        let topics: Vec<String> = topics
            .iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty() && t != "*")
            .collect();
        let client = self.clone();
        tokio::spawn(async move {
            if topics.is_empty() {
                let _ = tx
                    .send(StreamItem::Error(NomadError::InvalidAddress(
                        "event stream needs named topics".into(),
                    )))
                    .await;
                return;
            }
            client.run_stream(topics, start_index, opts, tx).await;
        });
        rx
    }

    async fn run_stream(
        &self,
        topics: Vec<String>,
        start_index: u64,
        opts: StreamOptions,
        tx: mpsc::Sender<StreamItem>,
    ) {
        let mut last = start_index;
        let mut backoff = opts.backoff_start;
        let mut connected_before = false;
        // Bounded by the receiver: every iteration checks it, and waits are
        // raced against its closing.
        loop {
            if tx.is_closed() {
                return;
            }
            match self
                .stream_once(&topics, &mut last, &opts, &tx, &mut connected_before)
                .await
            {
                Ended::Closed => return,
                Ended::Retry { progressed } => {
                    if progressed {
                        backoff = opts.backoff_start;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = tx.closed() => return,
            }
            backoff = (backoff * 2).min(opts.backoff_cap);
        }
    }

    async fn stream_once(
        &self,
        topics: &[String],
        last: &mut u64,
        opts: &StreamOptions,
        tx: &mpsc::Sender<StreamItem>,
        connected_before: &mut bool,
    ) -> Ended {
        let index = last.to_string();
        let mut params: Vec<(&str, &str)> = topics.iter().map(|t| ("topic", t.as_str())).collect();
        params.push(("index", &index));
        params.extend(self.list_namespace().map(|n| ("namespace", n)));
        let url = self.url(&["event", "stream"], &params);
        let resp = tokio::select! {
            r = self.open_stream(url, opts.read_timeout) => r,
            _ = tx.closed() => return Ended::Closed,
        };
        let mut resp = match resp {
            Ok(r) => r,
            Err(e) => {
                return match tx.send(StreamItem::Error(e)).await {
                    Ok(()) => Ended::Retry { progressed: false },
                    Err(_) => Ended::Closed,
                };
            }
        };
        if *connected_before
            && tx
                .send(StreamItem::Reconnected { from_index: *last })
                .await
                .is_err()
        {
            return Ended::Closed;
        }
        *connected_before = true;

        let mut decoder = EventLineDecoder::default();
        let mut progressed = false;
        loop {
            let chunk = tokio::select! {
                c = tokio::time::timeout(opts.read_timeout, resp.chunk()) => c,
                _ = tx.closed() => return Ended::Closed,
            };
            let bytes = match chunk {
                Err(_) => {
                    // No heartbeat within the read timeout: the stream is dead.
                    return match tx.send(StreamItem::Error(NomadError::Timeout)).await {
                        Ok(()) => Ended::Retry { progressed },
                        Err(_) => Ended::Closed,
                    };
                }
                Ok(Err(_)) | Ok(Ok(None)) => return Ended::Retry { progressed },
                Ok(Ok(Some(b))) => b,
            };
            for line in decoder.push(&bytes) {
                let item = match line {
                    Ok(Line::Heartbeat) => {
                        progressed = true;
                        StreamItem::Heartbeat
                    }
                    Ok(Line::Frame(f)) => {
                        progressed = true;
                        match resume_filter(f, last) {
                            Some(f) => StreamItem::Frame(f),
                            None => continue,
                        }
                    }
                    Err(e) => StreamItem::Error(e),
                };
                if tx.send(item).await.is_err() {
                    return Ended::Closed;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(index: u64) -> Event {
        Event {
            topic: "Allocation".into(),
            r#type: "AllocationUpdated".into(),
            key: format!("a{index}"),
            namespace: "default".into(),
            index,
            payload: serde_json::json!({"Allocation": {"ID": format!("a{index}"), "ClientStatus": "running"}}),
        }
    }

    #[test]
    fn nomad_ndjson_split_across_chunks() {
        let text = b"{\"Index\":5,\"Events\":[{\"Topic\":\"Job\",\"Type\":\"JobRegistered\",\"Index\":5,\"Payload\":{\"Job\":{\"ID\":\"hippo\"}}}]}\n{}\n\n{\"Index\":6,\"Events\":[]}\n";
        for split in 0..text.len() {
            let mut d = EventLineDecoder::default();
            let mut got = d.push(&text[..split]);
            got.extend(d.push(&text[split..]));
            assert_eq!(got.len(), 3, "split at {split}");
            match &got[0] {
                Ok(Line::Frame(f)) => {
                    assert_eq!(f.index, 5);
                    assert_eq!(f.events[0].r#type, "JobRegistered");
                    assert_eq!(f.events[0].job().unwrap().id, "hippo");
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(got[1], Ok(Line::Heartbeat));
            assert!(matches!(&got[2], Ok(Line::Frame(f)) if f.index == 6));
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn nomad_malformed_line_is_an_error_not_the_end() {
        let mut d = EventLineDecoder::default();
        let got = d.push(b"{nope\n[1,2]\n{\"Error\":\"subscription closed by server\"}\n{}\n");
        assert_eq!(got.len(), 4);
        assert!(matches!(got[0], Err(NomadError::Decode(_))));
        assert!(matches!(got[1], Err(NomadError::Decode(_))));
        assert!(matches!(&got[2], Err(NomadError::Http { body, .. }) if body.contains("closed")));
        assert_eq!(got[3], Ok(Line::Heartbeat));
    }

    #[test]
    fn nomad_resume_filter_drops_replays() {
        let mut last = 7;
        let f = EventFrame {
            index: 8,
            events: vec![ev(6), ev(7), ev(8)],
        };
        let kept = resume_filter(f, &mut last).unwrap();
        assert_eq!(kept.events, vec![ev(8)]);
        assert_eq!(last, 8);
        let dup = EventFrame {
            index: 8,
            events: vec![ev(8)],
        };
        assert_eq!(resume_filter(dup, &mut last), None);
        assert_eq!(last, 8);
        assert_eq!(ev(9).allocation().unwrap().client_status, "running");
        assert!(ev(9).node().is_none());
    }

    #[test]
    fn nomad_oversized_line_is_bounded() {
        let mut d = EventLineDecoder::default();
        let big = vec![b'x'; MAX_LINE + 1];
        let got = d.push(&big);
        assert_eq!(got.len(), 1);
        assert_eq!(d.pending(), 0);
    }
}
