//! How a metro's app server answers: after that metro's WAN delay (with a little
//! jitter), Spin's well-known paths first, then the app's greeting or its failure, each
//! request written to the metro's access log. Answers "what does a request to this
//! metro's app get back, and when?"

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::app::AppMetro;
use super::lock;

/// Access lines kept per metro (the Nomad endpoint serves them as the task's logs).
const ACCESS_LOG_LINES: usize = 2000;

pub(super) async fn serve_app(listener: TcpListener, m: Arc<AppMetro>) {
    // Its connections end with it: a stopped or replaced app cuts them, as a killed
    // process would.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let m = m.clone();
        connections.spawn(async move {
            let svc = hyper::service::service_fn(move |req| respond(req, peer, m.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn respond(
    req: Request<hyper::body::Incoming>,
    peer: SocketAddr,
    m: Arc<AppMetro>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let start = Instant::now();
    tokio::time::sleep(m.delay + jitter()).await;
    let app = lock(&m.state).app.clone();
    // Spin answers its well-known paths before any route.
    let (status, text, json) = match req.uri().path() {
        "/.well-known/spin/health" if app.healthy => (200, "OK".to_string(), false),
        "/.well-known/spin/health" => (500, "unhealthy".to_string(), false),
        "/.well-known/spin/info" => (
            200,
            serde_json::json!({"name": app.name, "version": app.version}).to_string(),
            true,
        ),
        _ if !app.healthy => (
            500,
            format!("{} {} is broken\n", app.name, app.version),
            false,
        ),
        _ => (
            200,
            format!(
                "hello from {} ({}), {} {}\n",
                m.code, m.display_name, app.name, app.version
            ),
            false,
        ),
    };
    let body = if req.method() == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(text)
    };
    let took = start.elapsed().as_secs_f64() * 1000.0;
    let line = format!(
        "{} {peer} {} {} {status} {took:.1}ms",
        humantime::format_rfc3339_millis(SystemTime::now()),
        req.method(),
        req.uri().path()
    );
    {
        let mut st = lock(&m.state);
        st.log_bytes += line.len() as u64 + 1;
        st.access_log.push_back(line);
        while st.access_log.len() > ACCESS_LOG_LINES {
            st.access_log.pop_front();
        }
    }
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    let h = resp.headers_mut();
    if let Ok(v) = m.code.parse() {
        h.insert("x-served-by", v);
    }
    if let Ok(v) = app.version.parse() {
        h.insert("x-app-version", v);
    }
    if json {
        h.insert(
            "content-type",
            hyper::header::HeaderValue::from_static("application/json"),
        );
    }
    if let Ok(v) = format!("app;dur={took:.1}").parse() {
        h.insert("server-timing", v);
    }
    Ok(resp)
}

/// Up to ±1 ms, so repeated probes are not identical (a real WAN never is).
fn jitter() -> Duration {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut x = nanos ^ 0x9E37_79B9;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    Duration::from_micros(u64::from(x % 2000))
}
