//! Builders shared by the state machine's and the views' tests: a two-metro config and
//! snapshots at fixed times, so nothing depends on the clock or a daemon.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::State;
use crate::config::{self, Config};
use crate::domain::{BgpSession, MetroStatus, ObservedRoute, ObserverView, RouterStatus, Snapshot};

pub const T0: u64 = 1_795_885_800;

pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

pub fn config(metros: &[(&str, &str)], read_only: bool) -> Config {
    let mut text = format!(
        "[console]\nread_only = {read_only}\n[anycast]\nprefix = \"198.18.0.10/32\"\nurl = \"http://127.0.0.2:8080/\"\n[anycast.observer]\nbird_socket = \"run/upstream.ctl\"\n"
    );
    for (i, (name, display)) in metros.iter().enumerate() {
        text.push_str(&format!(
            "[[metro]]\nname = \"{name}\"\ndisplay_name = \"{display}\"\nbird_socket = \"run/{name}.ctl\"\nexport_protocol = \"upstream\"\nobserver_protocol = \"metro_{name}\"\naddress = \"127.0.0.{}:8080\"\n[metro.nomad]\naddress = \"http://127.0.0.{}:4646\"\n",
            10 + i,
            10 + i
        ));
    }
    config::parse(&text, Path::new("/lab/platform-tui.toml")).expect("test config parses")
}

pub fn state(read_only: bool) -> State {
    let cfg = config(&[("am", "Amsterdam"), ("da", "Dallas")], read_only);
    State::new(
        &cfg,
        BTreeMap::new(),
        "lab /lab/platform-tui.toml".into(),
        at(0),
    )
}

pub fn router(advertised: bool) -> RouterStatus {
    RouterStatus {
        bgp: Some(BgpSession {
            protocol: "upstream".into(),
            state: "up".into(),
            session: "Established".into(),
            since: T0.to_string(),
            since_at: Some(at(0)),
            info: String::new(),
        }),
        origins: vec![(
            "anycast".into(),
            if advertised { "up" } else { "down" }.into(),
        )],
        advertised: Some(advertised),
        exported: Some(u64::from(advertised)),
        problems: Vec::new(),
    }
}

/// A snapshot: each metro's router (or error), and the observer's routes in preference
/// order (the first is best) with LOCAL_PREF by distance.
pub fn snapshot(secs: u64, metros: &[(&str, Result<bool, &str>)]) -> Snapshot {
    let prefs = |m: &str| match m {
        "am" => 9930,
        "da" => 9700,
        _ => 9000,
    };
    let mut routes: Vec<ObservedRoute> = metros
        .iter()
        .filter(|(_, r)| matches!(r, Ok(true)))
        .map(|(m, _)| ObservedRoute {
            metro: Some(m.to_string()),
            protocol: format!("metro_{m}"),
            best: false,
            local_pref: Some(prefs(m)),
        })
        .collect();
    routes.sort_by_key(|r| std::cmp::Reverse(r.local_pref));
    if let Some(first) = routes.first_mut() {
        first.best = true;
    }
    Snapshot {
        taken: at(secs),
        metros: metros
            .iter()
            .map(|(m, r)| MetroStatus {
                name: m.to_string(),
                router: r.map(router).map_err(str::to_string),
            })
            .collect(),
        observer: Some(Ok(ObserverView {
            routes,
            ..Default::default()
        })),
        journal: None,
    }
}

pub fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

pub fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

/// A probe sample at `secs`: `Some(ms)` served by `by`, or `None` for a timeout.
pub fn sample(
    seq: u64,
    secs: u64,
    ttfb: Option<f64>,
    by: Option<&str>,
) -> crate::probe::ProbeSample {
    let d = |ms: f64| Duration::from_secs_f64(ms / 1000.0);
    crate::probe::ProbeSample {
        seq,
        at: at(secs),
        connect: ttfb.map(|_| d(0.1)),
        ttfb: ttfb.map(d),
        total: ttfb.map(|v| d(v + 0.1)),
        status: ttfb.map(|_| 200),
        peer: None,
        served_by: ttfb.and(by.map(str::to_string)),
        error: if ttfb.is_none() {
            Some(crate::probe::ErrorKind::Timeout)
        } else {
            None
        },
        reconnected: false,
    }
}

/// Feeds `n` samples a second apart for every target: anycast served by `via`.
pub fn probe_history(s: &mut State, from: u64, n: u64, via: &str) {
    let delay = |m: &str| if m == "am" { 70.0 } else { 300.0 };
    for i in 0..n {
        let t = from + i;
        let wobble = (i % 5) as f64 * 0.7;
        let lost = i % 17 == 16;
        let sample_for = |m: &str| {
            sample(
                t,
                t,
                if lost { None } else { Some(delay(m) + wobble) },
                Some(m),
            )
        };
        let mut anycast = sample_for(via);
        anycast.seq = t;
        super::update(
            s,
            super::Msg::Probe {
                target: "anycast".into(),
                sample: anycast,
            },
        );
        for m in ["am", "da"] {
            super::update(
                s,
                super::Msg::Probe {
                    target: m.into(),
                    sample: sample_for(m),
                },
            );
        }
    }
}

/// A metro's Nomad state: one node, the app job, and allocations with these client
/// statuses.
pub fn nomad(metro: &str, statuses: &[&str], error: Option<&str>) -> crate::nomad::NomadSnapshot {
    let allocs: Vec<serde_json::Value> = statuses
        .iter()
        .enumerate()
        .map(|(i, st)| alloc_json(metro, i, st, None))
        .collect();
    let mut s = nomad_with(metro, allocs);
    // An error with data: the allocations were read, then could not be.
    s.allocs.error = error.map(str::to_string);
    s.error = error.map(str::to_string);
    s
}

/// One allocation of the app job, as the agent lists it; `next` is its replacement.
pub fn alloc_json(metro: &str, i: usize, status: &str, next: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "ID": format!("{:08x}-5e2a-4b7c-8d3f-9f0e1d2c3b4a", (metro.len() * 7919 + i * 104_729) as u32),
        "Name": format!("spin-app.web[{i}]"), "JobID": "spin-app", "TaskGroup": "web",
        "NodeName": format!("lab-{metro}"),
        "DesiredStatus": if next.is_some() { "stop" } else { "run" }, "ClientStatus": status,
        "NextAllocation": next.unwrap_or(""),
        "CreateTime": (T0 as i64 - 3600 + i as i64) * 1_000_000_000
    })
}

/// A metro's Nomad state: one node, the app job, and these allocations.
pub fn nomad_with(metro: &str, allocs: Vec<serde_json::Value>) -> crate::nomad::NomadSnapshot {
    let count = |st: &str| allocs.iter().filter(|a| a["ClientStatus"] == st).count();
    let job = serde_json::json!({
        "ID": "spin-app", "Name": "spin-app", "Type": "service", "Status": "running",
        "JobSummary": {"Summary": {"web": {"Running": count("running"), "Failed": count("failed")}}}
    });
    let node = serde_json::json!({"ID": "n1", "Name": format!("lab-{metro}"), "Status": "ready", "Datacenter": metro});
    let mut s = crate::nomad::NomadSnapshot::from_pieces(
        crate::nomad::Piece::ok(Some("127.0.0.10:4647".into())),
        crate::nomad::Piece::default(),
        field_piece(
            &serde_json::json!({"json": [node]}),
            crate::nomad::decode::decode_all,
        ),
        field_piece(
            &serde_json::json!({"json": [job]}),
            crate::nomad::decode::decode_all,
        ),
        field_piece(
            &serde_json::json!({"json": allocs}),
            crate::nomad::decode::alloc_list,
        ),
    );
    s.updated = Some(at(0));
    s
}

/// One route of a field case (`{"json": …}` or `{"status": 403, "text": …}`) as the
/// client reads it: decoded rows, or the error it words.
fn field_piece<T>(
    route: &serde_json::Value,
    decode: fn(&[u8], u64) -> Result<T, crate::nomad::NomadError>,
) -> crate::nomad::Piece<std::sync::Arc<T>> {
    let text = route["text"].as_str().unwrap_or_default().to_string();
    let result = match route["status"].as_u64() {
        Some(403) => Err(crate::nomad::NomadError::Forbidden(text)),
        Some(status) if status != 200 => Err(crate::nomad::NomadError::Http {
            status: status as u16,
            body: text,
        }),
        _ => decode(
            &serde_json::to_vec(&route["json"]).expect("json"),
            crate::nomad::DEFAULT_MAX_BODY,
        ),
    };
    match result {
        Ok(v) => crate::nomad::Piece::ok(std::sync::Arc::new(v)),
        Err(e) => crate::nomad::Piece::failed(e.to_string()),
    }
}

/// A metro's Nomad state as a field case's agent answers it
/// (`tests/fixtures/nomad_field/NAME`).
pub fn nomad_field(name: &str) -> crate::nomad::NomadSnapshot {
    let path = format!(
        "{}/tests/fixtures/nomad_field/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let case: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("field case")).expect("json");
    let route = |p: &str| case["routes"][p].clone();
    let leader = match route("/v1/status/leader")["json"].as_str() {
        Some(l) => crate::nomad::Piece::ok(Some(l.to_string()).filter(|l| !l.is_empty())),
        None => crate::nomad::Piece::failed("HTTP 500"),
    };
    let agent = match route("/v1/agent/self")["status"].as_u64() {
        Some(403) => crate::nomad::Piece::failed(
            crate::nomad::NomadError::Forbidden("Permission denied".into()).to_string(),
        ),
        _ => crate::nomad::Piece::default(),
    };
    let mut s = crate::nomad::NomadSnapshot::from_pieces(
        leader,
        agent,
        field_piece(&route("/v1/nodes"), crate::nomad::decode::decode_all),
        field_piece(&route("/v1/jobs"), crate::nomad::decode::decode_all),
        field_piece(&route("/v1/allocations"), crate::nomad::decode::alloc_list),
    );
    s.updated = Some(at(0));
    s
}

/// Nomad in both metros: `am` runs its allocation, `da` has one running and one failed.
pub fn with_nomad(s: &mut State) {
    super::update(
        s,
        super::Msg::Nomad {
            metro: "am".into(),
            snapshot: nomad("am", &["running"], None),
        },
    );
    super::update(
        s,
        super::Msg::Nomad {
            metro: "da".into(),
            snapshot: nomad("da", &["running", "failed"], None),
        },
    );
}

/// After one poll: `am` withdrawn, `da` the only metro advertising.
pub fn am_withdrawn() -> State {
    let mut s = state(false);
    super::update(
        &mut s,
        super::Msg::Snapshot(snapshot(1, &[("am", Ok(false)), ("da", Ok(true))])),
    );
    s
}

/// A console on `state(false)`'s metros whose config has the lab's installer.
pub fn provisioned() -> State {
    let mut text = String::from(
        "[anycast]\nprefix = \"198.18.0.10/32\"\nurl = \"http://127.0.0.2:8080/\"\n[anycast.observer]\nbird_socket = \"run/upstream.ctl\"\n[provision]\ndir = \"installer\"\n",
    );
    for (i, name) in ["am", "da"].iter().enumerate() {
        text.push_str(&format!(
            "[[metro]]\nname = \"{name}\"\nbird_socket = \"run/{name}.ctl\"\naddress = \"127.0.0.{}:8080\"\n",
            10 + i
        ));
    }
    let cfg = config::parse(&text, Path::new("/lab/platform-tui.toml")).expect("parses");
    State::new(&cfg, BTreeMap::new(), "lab".into(), at(0))
}

/// The lines of a recorded terraform stream, parsed.
pub fn terraform_fixture(name: &str) -> Vec<crate::provision::Event> {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/terraform/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    text.lines().map(crate::provision::parse_line).collect()
}
