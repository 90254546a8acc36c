//! A Nomad-API-compatible endpoint per lab metro, describing the lab's real processes:
//! one node (the metro), one job (the app) and one allocation whose status follows the
//! metro's app server — running while it serves, failed once it is stopped. Blocking
//! queries hold until the state changes; the event stream reports the changes; the task
//! logs are the app server's real access lines.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::stream;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::dataplane::{lock, AppMetro, Shared};

pub const JOB: &str = "spin-app";
pub const GROUP: &str = "web";
pub const TASK: &str = "app";
const VERSION: &str = "1.4.1";
/// Nomad sends a heartbeat frame on an idle event stream every 30 s.
const HEARTBEAT: Duration = Duration::from_secs(30);

type Body = BoxBody<Bytes, Infallible>;

/// Starts one endpoint per metro; the handles stop them when aborted.
pub async fn start(
    shared: &Arc<Shared>,
    addrs: &[(String, SocketAddr)],
) -> Result<Vec<JoinHandle<()>>, String> {
    let mut tasks = Vec::new();
    for (code, addr) in addrs {
        let metro = shared
            .metro(code)
            .ok_or_else(|| format!("no metro {code}"))?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("nomad endpoint for {code} cannot listen on {addr}: {e}"))?;
        let ctx = Arc::new(Ctx {
            shared: shared.clone(),
            metro,
            addr: *addr,
        });
        tasks.push(tokio::spawn(serve(listener, ctx)));
    }
    Ok(tasks)
}

struct Ctx {
    shared: Arc<Shared>,
    metro: Arc<AppMetro>,
    addr: SocketAddr,
}

async fn serve(listener: TcpListener, ctx: Arc<Ctx>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(req, ctx.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn query(req: &Request<hyper::body::Incoming>) -> HashMap<String, String> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.replace("%2A", "*").replace("%3A", ":")))
        .collect()
}

/// Nomad's duration strings: `300ms`, `10s`, `5m`.
fn parse_wait(s: &str) -> Option<Duration> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))?;
    let n: u64 = num.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        _ => None,
    }
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    ctx: Arc<Ctx>,
) -> Result<Response<Body>, Infallible> {
    let q = query(&req);
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let resp = match parts.as_slice() {
        ["v1", "status", "leader"] => json_response(json!(format!("{}:4647", ctx.addr.ip())), None),
        ["v1", "status", "peers"] => {
            json_response(json!([format!("{}:4647", ctx.addr.ip())]), None)
        }
        ["v1", "regions"] => json_response(json!(["global"]), None),
        ["v1", "agent", "self"] => json_response(agent_self(&ctx), None),
        ["v1", "agent", "health"] => json_response(
            json!({"client": {"ok": true, "message": "ok"}, "server": {"ok": true, "message": "ok"}}),
            None,
        ),
        ["v1", "nodes"] => blocking(&ctx, &q, |c| json!([node(c)])).await,
        ["v1", "jobs"] => blocking(&ctx, &q, |c| json!([job(c)])).await,
        ["v1", "allocations"] => {
            blocking(&ctx, &q, |c| {
                json!([alloc(
                    c,
                    q.get("task_states").map(String::as_str) != Some("false")
                )])
            })
            .await
        }
        ["v1", "job", id, "allocations"] if *id == JOB => {
            blocking(&ctx, &q, |c| json!([alloc(c, false)])).await
        }
        ["v1", "job", id, "summary"] if *id == JOB => {
            blocking(&ctx, &q, |c| job(c)["JobSummary"].clone()).await
        }
        ["v1", "allocation", id] if *id == alloc_id(&ctx.metro.code) => {
            blocking(&ctx, &q, |c| alloc(c, true)).await
        }
        ["v1", "event", "stream"] => event_stream(ctx.clone(), &q),
        ["v1", "client", "fs", "logs", id] if *id == alloc_id(&ctx.metro.code) => {
            logs(ctx.clone(), &q)
        }
        ["v1", ..] => text_response(StatusCode::NOT_FOUND, format!("Unknown path {path}")),
        _ => text_response(StatusCode::NOT_FOUND, "404 page not found".into()),
    };
    Ok(resp)
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

fn json_response(v: Value, index: Option<u64>) -> Response<Body> {
    let mut r = Response::new(full(v.to_string()));
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    if let Some(i) = index {
        if let Ok(v) = i.to_string().parse() {
            r.headers_mut().insert("x-nomad-index", v);
        }
        r.headers_mut().insert(
            "x-nomad-knownleader",
            hyper::header::HeaderValue::from_static("true"),
        );
        r.headers_mut().insert(
            "x-nomad-lastcontact",
            hyper::header::HeaderValue::from_static("0"),
        );
    }
    r
}

fn text_response(status: StatusCode, text: String) -> Response<Body> {
    let mut r = Response::new(full(text));
    *r.status_mut() = status;
    r
}

/// A blocking query: with `index=N`, hold until the lab's index passes N or `wait` ends.
async fn blocking(
    ctx: &Ctx,
    q: &HashMap<String, String>,
    render: impl Fn(&Ctx) -> Value,
) -> Response<Body> {
    let mut rx = ctx.shared.index.subscribe();
    let want: u64 = q.get("index").and_then(|i| i.parse().ok()).unwrap_or(0);
    if want > 0 {
        let wait = q
            .get("wait")
            .and_then(|w| parse_wait(w))
            .unwrap_or(Duration::from_secs(300))
            .min(Duration::from_secs(600));
        let _ = tokio::time::timeout(wait, rx.wait_for(|i| *i > want)).await;
    }
    let index = *rx.borrow();
    json_response(render(ctx), Some(index))
}

/// 32 hex digits from a name (FNV-1a, twice): stable per metro, shaped like Nomad's UUIDs.
fn uuid_for(kind: &str, code: &str) -> String {
    let fnv = |seed: u64| {
        format!("{kind}/{code}").bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    };
    let hex = format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x8422_2325_cbf2_9ce4)
    );
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

pub fn alloc_id(code: &str) -> String {
    uuid_for("alloc", code)
}

fn node_id(code: &str) -> String {
    uuid_for("node", code)
}

fn nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn rfc3339(t: Option<SystemTime>) -> String {
    t.map(|t| humantime::format_rfc3339_micros(t).to_string())
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into())
}

fn agent_self(ctx: &Ctx) -> Value {
    let m = &ctx.metro;
    let running = lock(&m.state).running;
    json!({
        "config": {"Region": "global", "Datacenter": m.code, "Version": {"Version": VERSION}, "ACL": {"Enabled": false}},
        "member": {"Name": format!("lab-{}.global", m.code), "Addr": ctx.addr.ip().to_string(), "Port": 4648, "Status": "alive",
                   "Tags": {"role": "nomad", "region": "global", "dc": m.code, "build": VERSION}},
        "stats": {
            "nomad": {"server": "true", "leader": "true", "leader_addr": format!("{}:4647", ctx.addr.ip()), "bootstrap": "true", "known_regions": "1"},
            "raft": {"state": "Leader", "last_contact": "never", "num_peers": "0", "commit_index": ctx.shared.index.borrow().to_string()},
            "client": {"node_id": node_id(&m.code), "known_servers": "1", "num_allocations": if running { "1" } else { "0" }, "last_heartbeat": "1.2s", "heartbeat_ttl": "15s"}
        }
    })
}

fn node(ctx: &Ctx) -> Value {
    let m = &ctx.metro;
    json!({
        "ID": node_id(&m.code), "Name": format!("lab-{}", m.code), "Address": ctx.addr.ip().to_string(),
        "Datacenter": m.code, "NodeClass": "", "Version": VERSION, "Drain": false,
        "SchedulingEligibility": "eligible", "Status": "ready", "StatusDescription": "",
        "Drivers": {"raw_exec": {"Detected": true, "Healthy": true}},
        "CreateIndex": 1, "ModifyIndex": 1
    })
}

fn job(ctx: &Ctx) -> Value {
    let running = lock(&ctx.metro.state).running;
    json!({
        "ID": JOB, "ParentID": "", "Name": JOB, "Namespace": "default", "Datacenters": [ctx.metro.code],
        "Type": "service", "Priority": 50, "Periodic": false, "ParameterizedJob": false, "Stop": false,
        "Status": "running", "StatusDescription": "",
        "JobSummary": {
            "JobID": JOB, "Namespace": "default",
            "Summary": {GROUP: {"Queued": 0, "Complete": 0, "Failed": if running { 0 } else { 1 },
                                "Running": if running { 1 } else { 0 }, "Starting": 0, "Lost": 0, "Unknown": 0}},
            "Children": {"Pending": 0, "Running": 0, "Dead": 0},
            "CreateIndex": 1, "ModifyIndex": *ctx.shared.index.borrow()
        },
        "CreateIndex": 1, "ModifyIndex": *ctx.shared.index.borrow(), "JobModifyIndex": 1,
        "SubmitTime": nanos(ctx.shared.started)
    })
}

fn alloc(ctx: &Ctx, task_states: bool) -> Value {
    let m = &ctx.metro;
    let st = lock(&m.state);
    let (client, desc) = if st.running {
        ("running", "Tasks are running")
    } else {
        ("failed", "Failed tasks")
    };
    let index = *ctx.shared.index.borrow();
    let mut v = json!({
        "ID": alloc_id(&m.code), "EvalID": uuid_for("eval", &m.code),
        "Name": format!("{JOB}.{GROUP}[0]"), "Namespace": "default",
        "NodeID": node_id(&m.code), "NodeName": format!("lab-{}", m.code),
        "JobID": JOB, "JobType": "service", "JobVersion": 0, "TaskGroup": GROUP,
        "DesiredStatus": "run", "DesiredDescription": "",
        "ClientStatus": client, "ClientDescription": desc,
        "DeploymentStatus": {"Healthy": st.running, "Timestamp": rfc3339(st.started_at), "Canary": false, "ModifyIndex": index},
        "FollowupEvalID": "", "NextAllocation": "", "RescheduleTracker": null,
        "PreemptedAllocations": null, "PreemptedByAllocation": "",
        "CreateIndex": 2, "ModifyIndex": index,
        "CreateTime": nanos(ctx.shared.started),
        "ModifyTime": nanos(st.stopped_at.or(st.started_at).unwrap_or(ctx.shared.started)),
    });
    if task_states {
        let events: Vec<Value> = st
            .events
            .iter()
            .rev()
            .take(10)
            .rev()
            .map(|(t, kind, msg)| json!({"Type": kind, "Time": nanos(*t), "DisplayMessage": msg, "Message": msg, "Details": {}}))
            .collect();
        v["TaskStates"] = json!({TASK: {
            "State": if st.running { "running" } else { "dead" },
            "Failed": !st.running,
            "Restarts": st.restarts,
            "LastRestart": if st.restarts > 0 { rfc3339(st.started_at) } else { rfc3339(None) },
            "StartedAt": rfc3339(st.started_at),
            "FinishedAt": rfc3339(st.stopped_at),
            "Events": events,
        }});
    }
    v
}

fn ndjson_stream(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Body {
    let s = stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    BodyExt::boxed(StreamBody::new(s))
}

/// `/v1/event/stream`: one Allocation and one Job event per change of the app's state,
/// from `index` on; `{}` heartbeats when idle.
fn event_stream(ctx: Arc<Ctx>, q: &HashMap<String, String>) -> Response<Body> {
    let from: u64 = q.get("index").and_then(|i| i.parse().ok()).unwrap_or(0);
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let mut watch = ctx.shared.index.subscribe();
        let mut sent = from;
        loop {
            let index = *watch.borrow_and_update();
            if index > sent {
                let frame = json!({"Index": index, "Events": [
                    {"Topic": "Allocation", "Type": "AllocationUpdated", "Key": alloc_id(&ctx.metro.code),
                     "Namespace": "default", "FilterKeys": [JOB], "Index": index,
                     "Payload": {"Allocation": alloc(&ctx, true)}},
                    {"Topic": "Job", "Type": "JobRegistered", "Key": JOB, "Namespace": "default",
                     "FilterKeys": null, "Index": index, "Payload": {"Job": job(&ctx)}}
                ]});
                if tx.send(Bytes::from(format!("{frame}\n"))).await.is_err() {
                    return;
                }
                sent = index;
            }
            tokio::select! {
                r = watch.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(HEARTBEAT) => {
                    if tx.send(Bytes::from_static(b"{}\n")).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut r = Response::new(ndjson_stream(rx));
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// `/v1/client/fs/logs/:alloc`: the app server's access lines as Nomad StreamFrames
/// (base64 data); stderr carries the task's lifecycle events.
fn logs(ctx: Arc<Ctx>, q: &HashMap<String, String>) -> Response<Body> {
    let stderr = q.get("type").map(String::as_str) == Some("stderr");
    let follow = q.get("follow").map(String::as_str) == Some("true");
    let from_end = q.get("origin").map(String::as_str) == Some("end");
    let offset: u64 = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let file = format!(
        "alloc/logs/{TASK}.{}.0",
        if stderr { "stderr" } else { "stdout" }
    );
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let text = |ctx: &Ctx| -> String {
            let st = lock(&ctx.metro.state);
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
        let all = text(&ctx);
        let total = all.len() as u64;
        let start = if from_end {
            total.saturating_sub(offset)
        } else {
            offset.min(total)
        };
        let mut sent = start;
        let mut watch = ctx.shared.index.subscribe();
        loop {
            let all = text(&ctx);
            let bytes = all.as_bytes();
            // The ring dropped old lines: start over from what is kept.
            if (bytes.len() as u64) < sent {
                sent = 0;
            }
            let fresh = bytes.get(sent as usize..).unwrap_or_default();
            if !fresh.is_empty() {
                sent = bytes.len() as u64;
                let frame = json!({"File": file, "Offset": sent, "Data": base64(fresh)});
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

/// Standard base64 with padding, as Go's encoding/json writes []byte.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"GET /hello 200\n"), "R0VUIC9oZWxsbyAyMDAK");
    }

    #[test]
    fn waits_parse_like_nomad() {
        assert_eq!(parse_wait("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_wait("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_wait("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_wait("5h"), None);
        assert_eq!(parse_wait("s"), None);
    }

    #[test]
    fn ids_are_stable_and_uuid_shaped() {
        let id = alloc_id("am");
        assert_eq!(id, alloc_id("am"));
        assert_ne!(id, alloc_id("da"));
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
    }
}
