//! Nomad event stream (`GET /v1/event/stream`, reference §7): NDJSON framing,
//! heartbeats, and a reconnecting, resuming reader task.
//!
//! The reader remembers the highest `Index` it delivered, reconnects with
//! `index=<that>` after any error, EOF or read timeout (no heartbeat for ~60 s), and
//! drops replayed events with `Index <=` it. Whether a connection skipped anything is
//! read off its first line: Nomad starts a subscription at the buffered item with the
//! requested index when it still holds it (so that item comes again), else at the
//! closest one it has; only the replay of the item asked for proves that nothing was
//! lost in between ([`StreamItem::Connected`]). Topics are always named: no topic
//! means `*`, which needs a management token.

use super::client::{truncate, Client, NomadError};
use super::models::nullable;
use crate::domain::backoff::Backoff;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// One NDJSON line: `{"Index": N, "Events": [...]}`. `{}` is a heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct EventFrame {
    #[serde(rename = "Index", default)]
    pub index: u64,
    #[serde(rename = "Events", default, deserialize_with = "nullable")]
    pub events: Vec<Event>,
}

impl EventFrame {
    /// `Index == 0` and no events.
    pub fn is_heartbeat(&self) -> bool {
        self.index == 0 && self.events.is_empty()
    }
}

/// One event. `payload` is kept as its JSON text, keyed by object type
/// (`{"Allocation": {...}}`), and decoded into a row by whoever applies it
/// ([`super::decode::alloc_event`] and its siblings): no tree of values is built.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Event {
    #[serde(rename = "Topic", deserialize_with = "nullable")]
    pub topic: String,
    /// `AllocationUpdated`, `JobRegistered`, `NodeRegistration`, …
    #[serde(rename = "Type", deserialize_with = "nullable")]
    pub r#type: String,
    #[serde(rename = "Key", deserialize_with = "nullable")]
    pub key: String,
    #[serde(rename = "Namespace", deserialize_with = "nullable")]
    pub namespace: String,
    #[serde(rename = "Index")]
    pub index: u64,
    #[serde(rename = "Payload")]
    pub payload: Option<Box<RawValue>>,
}

impl PartialEq for Event {
    fn eq(&self, o: &Self) -> bool {
        (
            &self.topic,
            &self.r#type,
            &self.key,
            &self.namespace,
            self.index,
        ) == (&o.topic, &o.r#type, &o.key, &o.namespace, o.index)
            && self.payload() == o.payload()
    }
}

impl Event {
    /// The payload's JSON text (`null` when there is none).
    pub fn payload(&self) -> &str {
        self.payload.as_deref().map_or("null", RawValue::get)
    }
}

/// What the reader task delivers.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// A connection is up, asked from `from_index`. `continuous`: its first line was the
    /// replay of the item at `from_index`, so nothing since was skipped. Otherwise
    /// (Nomad no longer holds that index, the cluster was rebuilt with lower indexes, or
    /// nothing came but a heartbeat) events may be missing: re-list.
    Connected { from_index: u64, continuous: bool },
    /// New events only (replays at or below the resume index are dropped).
    Frame(EventFrame),
    /// `{}`: the stream is alive.
    Heartbeat,
    /// A connect failure (followed by a backoff and a retry; a 403 is
    /// [`NomadError::Forbidden`]) or a malformed line (skipped). Never ends the stream.
    Error(NomadError),
}

/// One decoded line.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Frame(EventFrame),
    Heartbeat,
}

/// Longest line accepted.
pub const MAX_LINE: usize = 16 << 20;

/// Splits NDJSON on `\n` across chunk boundaries and decodes each line. A push costs
/// its own bytes: the search for the end of a line goes on where the last push left it.
#[derive(Debug, Default)]
pub struct EventLineDecoder {
    buf: Vec<u8>,
    /// `buf[..scanned]` holds no newline.
    scanned: usize,
    /// Dropping the rest of a line longer than [`MAX_LINE`].
    skipping: bool,
}

impl EventLineDecoder {
    /// Feed bytes; returns the complete lines decoded so far. Blank lines are
    /// skipped; a line that is not a frame becomes `Err(Decode)`.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Result<Line, NomadError>> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while self.skipping {
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.skipping = false;
                    rest = &rest[i + 1..];
                }
                None => return out,
            }
        }
        self.buf.extend_from_slice(rest);
        let mut start = 0;
        while let Some(pos) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
            let end = self.scanned + pos;
            let line = &self.buf[start..end];
            if line.len() > MAX_LINE {
                out.push(Err(too_long()));
            } else if let Some(item) = decode_line(line) {
                out.push(item);
            }
            start = end + 1;
            self.scanned = start;
        }
        if start > 0 {
            self.buf.drain(..start);
        }
        self.scanned = self.buf.len();
        if self.buf.len() > MAX_LINE {
            self.buf = Vec::new();
            self.scanned = 0;
            self.skipping = true;
            out.push(Err(too_long()));
        }
        out
    }

    /// Bytes of an incomplete line held back.
    #[cfg(test)]
    fn pending(&self) -> usize {
        self.buf.len()
    }
}

fn too_long() -> NomadError {
    NomadError::Decode(format!("event line longer than {MAX_LINE} bytes"))
}

/// A line as sent: a frame, a heartbeat, or an error object some servers write into
/// the stream instead of a frame.
#[derive(Deserialize)]
struct WireLine {
    #[serde(rename = "Index", default)]
    index: u64,
    #[serde(rename = "Events", default, deserialize_with = "nullable")]
    events: Vec<Event>,
    #[serde(rename = "Error", default)]
    error: Option<serde_json::Value>,
}

fn decode_line(line: &[u8]) -> Option<Result<Line, NomadError>> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return None;
    }
    Some(match serde_json::from_slice::<WireLine>(line) {
        Ok(WireLine { error: Some(e), .. })
            if !matches!(&e, serde_json::Value::String(s) if s.is_empty()) && !e.is_null() =>
        {
            let text = match e {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            Err(NomadError::Http {
                status: 500,
                body: truncate(&crate::domain::text::visible(&text), 200),
            })
        }
        Ok(w) => {
            let f = EventFrame {
                index: w.index,
                events: w.events,
            };
            Ok(if f.is_heartbeat() {
                Line::Heartbeat
            } else {
                Line::Frame(f)
            })
        }
        Err(e) => Err(NomadError::Decode(truncate(
            &crate::domain::text::visible(&format!(
                "event line {:?}: {e}",
                String::from_utf8_lossy(&line[..line.len().min(60)])
            )),
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
    /// First reconnect delay; doubles (with jitter) per failed attempt.
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

/// A running subscription: its items, and the index the next connection resumes from.
/// Dropping it ends the reader task and closes the connection.
#[derive(Debug)]
pub struct EventStream {
    pub items: mpsc::Receiver<StreamItem>,
    resume: Arc<AtomicU64>,
}

impl EventStream {
    pub async fn recv(&mut self) -> Option<StreamItem> {
        self.items.recv().await
    }

    /// Resume from `index` on the next connection (after a re-list whose answers
    /// hold everything up to it), and drop what this connection still sends at or
    /// below it.
    pub fn resume_from(&self, index: u64) {
        self.resume.store(index, Ordering::SeqCst);
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
    /// `Topic:filter`) from `start_index` (the highest `X-Nomad-Index` of the initial
    /// lists). Spawns a task on the current Tokio runtime that ends when the stream is
    /// dropped. An empty `topics` is an error item, not `*`.
    pub fn event_stream(&self, topics: &[&str], start_index: u64) -> EventStream {
        self.event_stream_with(topics, start_index, StreamOptions::default())
    }

    /// [`Client::event_stream`] with explicit timeouts (tests, tuning).
    pub fn event_stream_with(
        &self,
        topics: &[&str],
        start_index: u64,
        opts: StreamOptions,
    ) -> EventStream {
        let (tx, rx) = mpsc::channel(opts.buffer.max(1));
        let resume = Arc::new(AtomicU64::new(start_index));
        let topics: Vec<String> = topics
            .iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty() && t != "*")
            .collect();
        let client = self.clone();
        let last = resume.clone();
        tokio::spawn(async move {
            if topics.is_empty() {
                let _ = tx
                    .send(StreamItem::Error(NomadError::InvalidAddress(
                        "event stream needs named topics".into(),
                    )))
                    .await;
                return;
            }
            client.run_stream(topics, last, opts, tx).await;
        });
        EventStream { items: rx, resume }
    }

    async fn run_stream(
        &self,
        topics: Vec<String>,
        last: Arc<AtomicU64>,
        opts: StreamOptions,
        tx: mpsc::Sender<StreamItem>,
    ) {
        let mut backoff = Backoff::new(opts.backoff_start, opts.backoff_cap);
        // Bounded by the receiver: every iteration checks it, and waits are
        // raced against its closing.
        loop {
            if tx.is_closed() {
                return;
            }
            match self.stream_once(&topics, &last, &opts, &tx).await {
                Ended::Closed => return,
                Ended::Retry { progressed: true } => backoff.reset(),
                Ended::Retry { progressed: false } => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff.next_wait()) => {}
                _ = tx.closed() => return,
            }
        }
    }

    async fn stream_once(
        &self,
        topics: &[String],
        last: &AtomicU64,
        opts: &StreamOptions,
        tx: &mpsc::Sender<StreamItem>,
    ) -> Ended {
        let from = last.load(Ordering::SeqCst);
        let index = from.to_string();
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

        let mut decoder = EventLineDecoder::default();
        // Until the first line: whether this connection continues from `from`.
        let mut first = true;
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
                if first {
                    first = false;
                    let continuous =
                        from > 0 && matches!(&line, Ok(Line::Frame(f)) if f.index == from);
                    if matches!(&line, Ok(Line::Frame(f)) if f.index < from) {
                        // The cluster was rebuilt and counts from low again: every event
                        // is new (the caller re-lists and resumes from its lists).
                        last.store(0, Ordering::SeqCst);
                    }
                    let connected = StreamItem::Connected {
                        from_index: from,
                        continuous,
                    };
                    if tx.send(connected).await.is_err() {
                        return Ended::Closed;
                    }
                }
                let item = match line {
                    Ok(Line::Heartbeat) => {
                        progressed = true;
                        StreamItem::Heartbeat
                    }
                    Ok(Line::Frame(f)) => {
                        progressed = true;
                        let mut top = last.load(Ordering::SeqCst);
                        let kept = resume_filter(f, &mut top);
                        last.fetch_max(top, Ordering::SeqCst);
                        match kept {
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
        let payload = format!(r#"{{"Allocation":{{"ID":"a{index}","ClientStatus":"running"}}}}"#);
        Event {
            topic: "Allocation".into(),
            r#type: "AllocationUpdated".into(),
            key: format!("a{index}"),
            namespace: "default".into(),
            index,
            payload: RawValue::from_string(payload).ok(),
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
                    assert_eq!(f.events[0].payload(), r#"{"Job":{"ID":"hippo"}}"#);
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(got[1], Ok(Line::Heartbeat));
            assert!(matches!(&got[2], Ok(Line::Frame(f)) if f.index == 6));
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn nomad_ndjson_byte_by_byte_equals_whole() {
        // A number cut anywhere (`-`, `1.`, `1e`) must wait for the rest of its line.
        let text = b"{\"Index\":-1}\n{\"Index\":7,\"x\":1.5e3,\"y\":-2,\"Events\":null}\n{}\n";
        let whole = EventLineDecoder::default().push(text);
        let mut d = EventLineDecoder::default();
        let mut got = Vec::new();
        for b in text {
            got.extend(d.push(std::slice::from_ref(b)));
        }
        assert_eq!(got, whole);
        assert!(matches!(got[0], Err(NomadError::Decode(_))));
        assert!(matches!(&got[1], Ok(Line::Frame(f)) if f.index == 7 && f.events.is_empty()));
        assert_eq!(got[2], Ok(Line::Heartbeat));
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
    }

    #[test]
    fn nomad_oversized_line_is_bounded_and_skipped_to_its_end() {
        let mut d = EventLineDecoder::default();
        let big = vec![b'x'; MAX_LINE + 1];
        let got = d.push(&big);
        assert_eq!(got.len(), 1);
        assert_eq!(d.pending(), 0);
        // The rest of that line is dropped, not read as a line of its own.
        let got = d.push(b"xxx\n{}\n");
        assert_eq!(got, vec![Ok(Line::Heartbeat)]);
    }

    #[test]
    fn nomad_a_long_line_in_small_pieces_is_read_once() {
        // 4 MB in 4 KB pieces: each push scans only its own bytes (before, every push
        // rescanned the whole pending line: quadratic, seconds of CPU for 16 MB).
        let mut line =
            br#"{"Index":9,"Events":[{"Topic":"Job","Index":9,"Payload":{"Job":{"ID":""#.to_vec();
        line.extend(std::iter::repeat_n(b'j', 4 << 20));
        line.extend_from_slice(b"\"}}}]}\n");
        let mut d = EventLineDecoder::default();
        let mut got = Vec::new();
        for piece in line.chunks(4096) {
            got.extend(d.push(piece));
        }
        assert!(
            matches!(&got[..], [Ok(Line::Frame(f))] if f.index == 9),
            "{}",
            got.len()
        );
    }
}
