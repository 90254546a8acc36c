//! The HTTP side of a lab endpoint: the accept loop, the routes of the Nomad API it
//! answers (reads as blocking queries, writes through `nomad_jobs`), and the response
//! shapes (JSON lists streamed in pieces, Nomad's index headers, error texts). Answers
//! "what does this request get back?"; the documents themselves are built in
//! `documents`, the streams in `streams`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::documents::{agent_self, alloc_ids, allocs, job, node};
use super::streams::{event_stream, logs};
use super::{Body, Ctx, JOB};
use crate::lab::dataplane::lock;
use crate::lab::nomad_jobs;

pub(super) async fn serve(listener: TcpListener, ctx: Arc<Ctx>) {
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

/// The query string, decoded (`%2A`, `+`, any escape).
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    fn of(req: &Request<hyper::body::Incoming>) -> Query {
        let q = req.uri().query().unwrap_or("");
        Query(
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Nomad's duration strings: `300ms`, `10s`, `5m`.
fn parse_wait(s: &str) -> Option<Duration> {
    humantime::parse_duration(s).ok()
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    ctx: Arc<Ctx>,
) -> Result<Response<Body>, Infallible> {
    let q = Query::of(&req);
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let with_lab = ctx.lab.is_some();
    let own_alloc = |id: &str| with_lab && alloc_ids(&ctx).iter().any(|a| a == id);
    let method = req.method().clone();
    let write = method == Method::POST || method == Method::PUT;
    let read_only = req
        .headers()
        .get("x-nomad-token")
        .is_some_and(|t| t.as_bytes() == nomad_jobs::READ_ONLY_TOKEN.as_bytes());
    if write && read_only && parts.first() == Some(&"v1") && parts.get(1) != Some(&"lab") {
        return Ok(text_response(
            StatusCode::FORBIDDEN,
            "Permission denied".into(),
        ));
    }
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
        ["v1", "nodes"] => {
            blocking(&ctx, &q, |c| {
                list(
                    c.lab.as_ref().map(|_| node(c)),
                    lock(&c.cluster.state)
                        .synth
                        .iter()
                        .flat_map(|s| s.nodes.clone()),
                )
            })
            .await
        }
        ["v1", "jobs"] if !write => {
            blocking(&ctx, &q, |c| {
                list(
                    c.lab.as_ref().map(|_| job(c)),
                    lock(&c.cluster.state)
                        .synth
                        .iter()
                        .flat_map(|s| s.jobs.clone()),
                )
            })
            .await
        }
        ["v1", "allocations"] => {
            let task_states = q.get("task_states") != Some("false");
            blocking(&ctx, &q, |c| {
                let mut entries: Vec<Bytes> = match &c.lab {
                    Some(_) => {
                        let st = lock(&c.jobs);
                        allocs(c, &st, task_states, c.cluster.index())
                            .into_iter()
                            .map(|a| Bytes::from(a.to_string()))
                            .collect()
                    }
                    None => Vec::new(),
                };
                entries.extend(
                    lock(&c.cluster.state)
                        .synth
                        .iter()
                        .flat_map(|s| s.allocs.iter().map(|a| a.json.clone())),
                );
                list(None, entries)
            })
            .await
        }
        ["v1", "job", id, "allocations"] if *id == JOB && with_lab => {
            blocking(&ctx, &q, |c| {
                let st = lock(&c.jobs);
                let own: Vec<Bytes> = allocs(c, &st, false, c.cluster.index())
                    .into_iter()
                    .map(|a| Bytes::from(a.to_string()))
                    .collect();
                list(None, own)
            })
            .await
        }
        ["v1", "job", id, "summary"] if *id == JOB && with_lab => {
            blocking(&ctx, &q, |c| {
                Full::new(Bytes::from(job(c)["JobSummary"].to_string())).boxed()
            })
            .await
        }
        ["v1", "allocation", id] if own_alloc(id) => {
            let id = id.to_string();
            blocking(&ctx, &q, move |c| {
                let st = lock(&c.jobs);
                let a = allocs(c, &st, true, c.cluster.index())
                    .into_iter()
                    .find(|a| a["ID"] == id.as_str())
                    .unwrap_or(Value::Null);
                Full::new(Bytes::from(a.to_string())).boxed()
            })
            .await
        }
        ["v1", "jobs"] if write && with_lab => {
            let body = read_body(req).await;
            write_answer(body.and_then(|b| nomad_jobs::register(&ctx, &b)))
        }
        ["v1", "job", id, "revert"] if write && *id == JOB && with_lab => {
            let body = read_body(req).await;
            write_answer(body.and_then(|b| nomad_jobs::revert(&ctx, &b)))
        }
        ["v1", "job", id] if *id == JOB && with_lab => {
            blocking(&ctx, &q, |c| full(lock(&c.jobs).job_json().to_string())).await
        }
        ["v1", "job", id, "versions"] if *id == JOB && with_lab => {
            blocking(&ctx, &q, |c| {
                full(lock(&c.jobs).versions_json().to_string())
            })
            .await
        }
        ["v1", "job", id, "deployment"] if *id == JOB && with_lab => {
            blocking(&ctx, &q, |c| {
                full(lock(&c.jobs).latest_deployment_json().to_string())
            })
            .await
        }
        ["v1", "job", id, "deployments"] if *id == JOB && with_lab => {
            blocking(&ctx, &q, |c| {
                full(lock(&c.jobs).deployments_json().to_string())
            })
            .await
        }
        ["v1", "deployment", id] if with_lab => {
            let found = lock(&ctx.jobs).deployment_by_id(id).is_some();
            if found {
                let id = id.to_string();
                blocking(&ctx, &q, move |c| {
                    full(
                        lock(&c.jobs)
                            .deployment_by_id(&id)
                            .unwrap_or(Value::Null)
                            .to_string(),
                    )
                })
                .await
            } else {
                text_response(StatusCode::NOT_FOUND, "deployment not found".into())
            }
        }
        ["v1", "event", "stream"] => event_stream(ctx.clone(), &q),
        ["v1", "client", "fs", "logs", id] if own_alloc(id) => logs(ctx.clone(), &q),
        // The benchmark's hook: set the mark allocation's group; answers the index.
        ["v1", "lab", "mark"] if method == Method::PUT => mark(&ctx, q.get("group")),
        ["v1", ..] => text_response(StatusCode::NOT_FOUND, format!("Unknown path {path}")),
        _ => text_response(StatusCode::NOT_FOUND, "404 page not found".into()),
    };
    Ok(resp)
}

fn mark(ctx: &Ctx, group: Option<&str>) -> Response<Body> {
    let Some(group) = group.filter(|g| !g.is_empty()) else {
        return text_response(StatusCode::BAD_REQUEST, "group= is required".into());
    };
    if lock(&ctx.cluster.state).synth.is_none() {
        return text_response(StatusCode::NOT_FOUND, "no synthetic load".into());
    }
    let index = ctx.cluster.commit(|st, index| {
        st.synth
            .as_mut()
            .map(|s| {
                let last = s.allocs.len() - 1;
                vec![s.change(last, index, |a| a.group = group.to_string())]
            })
            .unwrap_or_default()
    });
    json_response(json!({"Index": index}), Some(index))
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// A JSON list of the lab's own entry (if any) and pre-rendered entries, streamed in
/// pieces of about 64 KB.
fn list(own: Option<Value>, rest: impl IntoIterator<Item = Bytes>) -> Body {
    let mut pieces: Vec<Bytes> = Vec::new();
    let mut cur: Vec<u8> = Vec::with_capacity(64 << 10);
    cur.push(b'[');
    let mut first = true;
    let own = own.map(|v| Bytes::from(v.to_string()));
    for entry in own.into_iter().chain(rest) {
        if !first {
            cur.push(b',');
        }
        first = false;
        cur.extend_from_slice(&entry);
        if cur.len() >= 64 << 10 {
            pieces.push(Bytes::from(std::mem::replace(
                &mut cur,
                Vec::with_capacity(64 << 10),
            )));
        }
    }
    cur.push(b']');
    pieces.push(Bytes::from(cur));
    let s = stream::iter(
        pieces
            .into_iter()
            .map(|b| Ok::<_, Infallible>(Frame::data(b))),
    );
    BodyExt::boxed(StreamBody::new(s))
}

fn json_response(v: Value, index: Option<u64>) -> Response<Body> {
    with_index(Response::new(full(v.to_string())), index)
}

pub(super) fn with_index(mut r: Response<Body>, index: Option<u64>) -> Response<Body> {
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    if let Some(i) = index {
        r.headers_mut()
            .insert("x-nomad-index", hyper::header::HeaderValue::from(i));
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

/// A blocking query: with `index=N`, hold until the index passes N or `wait` ends.
async fn blocking(ctx: &Ctx, q: &Query, render: impl Fn(&Ctx) -> Body) -> Response<Body> {
    let mut rx = ctx.cluster.index.subscribe();
    let want: u64 = q.get("index").and_then(|i| i.parse().ok()).unwrap_or(0);
    if want > 0 {
        let wait = q
            .get("wait")
            .and_then(parse_wait)
            .unwrap_or(Duration::from_secs(300))
            .min(Duration::from_secs(600));
        use std::sync::atomic::Ordering::SeqCst;
        ctx.cluster.held.fetch_add(1, SeqCst);
        let _ = tokio::time::timeout(wait, rx.wait_for(|i| *i > want)).await;
        ctx.cluster.held.fetch_sub(1, SeqCst);
    }
    // The index first: the answer then holds at least what it says.
    let index = ctx.cluster.index();
    with_index(Response::new(render(ctx)), Some(index))
}

/// A write's body, up to 1 MiB.
async fn read_body(req: Request<hyper::body::Incoming>) -> Result<Bytes, (u16, String)> {
    let limited = http_body_util::Limited::new(req.into_body(), 1 << 20);
    limited
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| (400, format!("failed to read the request: {e}")))
}

/// A write's answer: its JSON, or Nomad's error text with its status.
fn write_answer(r: Result<Value, (u16, String)>) -> Response<Body> {
    match r {
        Ok(v) => {
            let index = v.get("Index").and_then(Value::as_u64);
            json_response(v, index)
        }
        Err((status, text)) => text_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            text,
        ),
    }
}

pub(super) fn ndjson_stream(rx: mpsc::Receiver<Bytes>) -> Body {
    let s = stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    BodyExt::boxed(StreamBody::new(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_parse_like_nomad() {
        assert_eq!(parse_wait("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_wait("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_wait("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_wait("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_wait("s"), None);
        assert_eq!(parse_wait(""), None);
    }

    #[test]
    fn query_strings_are_decoded_whole() {
        let q = Query(
            url::form_urlencoded::parse(b"namespace=%2A&topic=Job%3Aweb&topic=Node&x=a+b%2Fc")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        );
        assert_eq!(q.get("namespace"), Some("*"));
        assert_eq!(q.all("topic").collect::<Vec<_>>(), ["Job:web", "Node"]);
        assert_eq!(q.get("x"), Some("a b/c"));
    }
}
