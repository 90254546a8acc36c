//! The endpoint's long-lived answers: the event stream (buffered frames from the index
//! asked for, then each new one, with heartbeats when idle) and the task logs (the app
//! server's access lines as Nomad stream frames). Answers "what does a subscriber see,
//! and from where?".

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hyper::body::Bytes;
use hyper::Response;
use serde_json::json;
use tokio::sync::mpsc;

use super::cluster::EventFrameRec;
use super::http::{ndjson_stream, with_index, Query};
use super::{Body, Ctx};
use crate::lab::dataplane::lock;
use crate::lab::nomad_jobs;

/// Nomad sends a heartbeat frame on an idle event stream every 30 s.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// Where a subscription from `from` starts, as Nomad's `StartAtClosest`: at the frame
/// with that index while it is held; before the oldest held, at the oldest; past the
/// newest, at the newest; else at the next one. `None`: nothing held yet.
fn start_at(frames: &VecDeque<EventFrameRec>, from: u64) -> Option<u64> {
    let oldest = frames.front()?.index;
    let newest = frames.back()?.index;
    Some(if from == 0 || from <= oldest {
        oldest
    } else if from > newest {
        newest
    } else {
        let at = frames.partition_point(|f| f.index < from);
        frames.get(at).map_or(newest, |f| f.index)
    })
}

/// `/v1/event/stream`: the buffered frames from `index` on (see [`start_at`]), then
/// each new one, filtered to the topics asked for (all without `topic`); `{}` heartbeats
/// when idle. A subscriber so slow that its next frame left the buffer is cut off, as
/// Nomad does.
pub(super) fn event_stream(ctx: Arc<Ctx>, q: &Query) -> Response<Body> {
    let from: u64 = q.get("index").and_then(|i| i.parse().ok()).unwrap_or(0);
    let topics: Vec<String> = q
        .all("topic")
        .map(|t| t.split(':').next().unwrap_or(t).to_string())
        .collect();
    let wanted = move |t: &str| topics.is_empty() || topics.iter().any(|w| w == t || w == "*");
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let mut watch = ctx.cluster.index.subscribe();
        // Frames from this index on are due.
        let mut next = {
            let st = lock(&ctx.cluster.state);
            start_at(&st.frames, from).unwrap_or(st.index + 1)
        };
        loop {
            watch.borrow_and_update();
            let mut out = String::new();
            {
                let st = lock(&ctx.cluster.state);
                if next <= st.dropped {
                    // Too slow: the frames it needs are gone.
                    return;
                }
                let at = st.frames.partition_point(|f| f.index < next);
                for f in st.frames.iter().skip(at).take(512) {
                    next = f.index + 1;
                    let events: Vec<&str> = f
                        .events
                        .iter()
                        .filter(|(t, _)| wanted(t))
                        .map(|(_, e)| e.as_str())
                        .collect();
                    if !events.is_empty() {
                        out.push_str(&format!(
                            r#"{{"Index":{},"Events":[{}]}}"#,
                            f.index,
                            events.join(",")
                        ));
                        out.push('\n');
                    }
                }
            }
            if !out.is_empty() {
                if tx.send(Bytes::from(out)).await.is_err() {
                    return;
                }
                continue;
            }
            tokio::select! {
                r = watch.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(HEARTBEAT) => {
                    if tx.send(Bytes::from_static(b"{}\n")).await.is_err() {
                        return;
                    }
                }
                _ = tx.closed() => return,
            }
        }
    });
    with_index(Response::new(ndjson_stream(rx)), None)
}

/// `/v1/client/fs/logs/:alloc`: the app server's access lines as Nomad StreamFrames
/// (base64 data); stderr carries the task's lifecycle events.
pub(super) fn logs(ctx: Arc<Ctx>, q: &Query) -> Response<Body> {
    let stderr = q.get("type") == Some("stderr");
    let follow = q.get("follow") == Some("true");
    let from_end = q.get("origin") == Some("end");
    let offset: u64 = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let task = nomad_jobs::group_and_task(&lock(&ctx.jobs).current_spec()).1;
    let file = format!(
        "alloc/logs/{task}.{}.0",
        if stderr { "stderr" } else { "stdout" }
    );
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let Some(lab) = &ctx.lab else { return };
        let text = || -> String {
            let st = lock(&lab.metro.state);
            let lines: Vec<String> = if stderr {
                st.events
                    .iter()
                    .map(|(t, k, m)| format!("{} {k}: {m}", humantime::format_rfc3339_millis(*t)))
                    .collect()
            } else {
                st.access_log.iter().cloned().collect()
            };
            lines.iter().map(|l| format!("{l}\n")).collect()
        };
        let all = text();
        let total = all.len() as u64;
        let start = if from_end {
            total.saturating_sub(offset)
        } else {
            offset.min(total)
        };
        let mut sent = start;
        let mut watch = lab.shared.index.subscribe();
        loop {
            let all = text();
            let bytes = all.as_bytes();
            // The ring dropped old lines: start over from what is kept.
            if (bytes.len() as u64) < sent {
                sent = 0;
            }
            let fresh = bytes.get(sent as usize..).unwrap_or_default();
            if !fresh.is_empty() {
                sent = bytes.len() as u64;
                let data = base64::engine::general_purpose::STANDARD.encode(fresh);
                let frame = json!({"File": file, "Offset": sent, "Data": data});
                if tx.send(Bytes::from(frame.to_string())).await.is_err() {
                    return;
                }
            }
            if !follow {
                return;
            }
            // New access lines do not bump the index; poll at Nomad's own 200 ms batching.
            tokio::select! {
                _ = watch.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            if tx.is_closed() {
                return;
            }
        }
    });
    Response::new(ndjson_stream(rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_start_where_nomad_would() {
        let frames: VecDeque<EventFrameRec> = [5, 7, 9]
            .into_iter()
            .map(|index| EventFrameRec {
                index,
                events: Vec::new(),
            })
            .collect();
        assert_eq!(start_at(&frames, 7), Some(7), "held: replayed");
        assert_eq!(start_at(&frames, 6), Some(7));
        assert_eq!(start_at(&frames, 0), Some(5));
        assert_eq!(start_at(&frames, 2), Some(5), "no longer held");
        assert_eq!(start_at(&frames, 12), Some(9), "past the newest");
        assert_eq!(start_at(&VecDeque::new(), 3), None);
    }
}
