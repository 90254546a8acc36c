//! Deployment through the real binary on a real lab: `deploy registry.example/hello:v2`
//! puts v2 on both metros (each metro's own address and the anycast address answer v2)
//! while an anycast probe loop runs beside it and loses nothing; a `broken` ref fails in
//! the first metro, which is reverted and restored, and the second is untouched;
//! `deploy history --json` lists both; `--json` prints one object per step and a final
//! result; read-only mode refuses; Nomad's 403 and 400 answers (from a small HTTP server
//! of the test's own, on loopback) are shown as Nomad said them and the token never is.
//! And the pane (`5`) drives a rollout in tmux.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{bin, metro, poll_for, poll_until, text, Console, Lab};
use serde_json::Value;

const V2: &str = "registry.example/hello:v2";
const BROKEN: &str = "registry.example/hello:broken";

/// A process of the test's own, killed (and reaped) on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lab's config, read back: each metro's own address, the anycast URL.
struct World {
    metros: Vec<(String, String)>,
    anycast: String,
}

fn world(config: &Path) -> World {
    let cfg: toml::Value = toml::from_str(&std::fs::read_to_string(config).unwrap()).unwrap();
    let metros = cfg["metro"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["address"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let url = url::Url::parse(cfg["anycast"]["url"].as_str().unwrap()).unwrap();
    World {
        metros,
        anycast: format!(
            "{}:{}",
            url.host_str().unwrap(),
            url.port_or_known_default().unwrap()
        ),
    }
}

/// An HTTP answer: status code, headers (lower-case names), body.
type Answer = (u16, Vec<(String, String)>, String);

/// `GET path` on `addr` (HTTP/1.1, one connection).
fn http_get(addr: &str, path: &str) -> Result<Answer, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).map_err(|e| e.to_string())?;
    let (head, body) = raw.split_once("\r\n\r\n").ok_or("no header end")?;
    let mut lines = head.lines();
    let code = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line: {head}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok((code, headers, body.to_string()))
}

/// The version `addr` says it runs (`/.well-known/spin/info`), and its `x-app-version`.
fn version_at(addr: &str) -> (String, Option<String>) {
    let (code, headers, body) = http_get(addr, "/.well-known/spin/info").unwrap();
    assert_eq!(code, 200, "{addr}: {body}");
    let info: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let header = headers
        .iter()
        .find(|(k, _)| k == "x-app-version")
        .map(|(_, v)| v.clone());
    (info["version"].as_str().unwrap_or("").to_string(), header)
}

/// Every line of `--json` output, parsed; each must be one JSON object with a `type`.
fn json_lines(o: &Output) -> Vec<Value> {
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<Value> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{}", text(o))))
        .collect();
    for l in &lines {
        assert!(
            l["type"].is_string(),
            "every line has a type: {l}\n{}",
            text(o)
        );
    }
    lines
}

/// Checks the documented shape of a `deploy --json` run (README, "Deployment") and
/// returns the final result object.
fn check_shape(lines: &[Value], o: &Output) -> Value {
    let known = [
        "plan", "phase", "allocs", "version", "log", "metro", "progress", "result",
    ];
    for l in lines {
        let t = l["type"].as_str().unwrap();
        assert!(known.contains(&t), "unknown type {t}: {l}");
        match t {
            "plan" => {
                assert!(l["plan"]["app"]["full"].is_string(), "{l}");
                assert!(l["plan"]["job"].is_string(), "{l}");
                for s in l["plan"]["steps"].as_array().unwrap() {
                    assert!(s["metro"].is_string() && s["drain"].is_string(), "{l}");
                }
            }
            "phase" => {
                assert!(l["metro"].is_string(), "{l}");
                assert!(l["phase"].is_string(), "{l}");
                assert!(l["detail"].is_string(), "{l}");
            }
            "allocs" => {
                for k in ["desired", "placed", "healthy", "unhealthy"] {
                    assert!(l["counts"][k].is_u64(), "{k}: {l}");
                }
                assert!(l["counts"]["status"].is_string(), "{l}");
            }
            "version" => assert!(l["metro"].is_string() && l["version"].is_string(), "{l}"),
            "log" | "progress" => assert!(l["message"].is_string(), "{l}"),
            "metro" => {
                let r = &l["report"];
                assert!(r["metro"].is_string() && r["phase"].is_string(), "{l}");
                assert!(r["drained"].is_boolean(), "{l}");
                assert!(r["timings"]["total_ms"].is_number(), "{l}");
                assert!(r["detail"].is_string(), "{l}");
            }
            _ => {}
        }
    }
    let last = lines
        .last()
        .unwrap_or_else(|| panic!("no output: {}", text(o)));
    assert_eq!(last["type"], "result", "the result comes last: {}", text(o));
    assert_eq!(
        lines.iter().filter(|l| l["type"] == "result").count(),
        1,
        "{}",
        text(o)
    );
    for k in [
        "ok",
        "result",
        "message",
        "ref",
        "version",
        "metros",
        "duration_s",
    ] {
        assert!(!last[k].is_null(), "result has `{k}`: {last}");
    }
    assert!(last["ok"].is_boolean() && last["duration_s"].is_number());
    last.clone()
}

/// The steps (`phase` objects) of `metro`, in order.
fn phases_of(lines: &[Value], metro: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["type"] == "phase" && l["metro"] == metro)
        .map(|l| l["phase"].as_str().unwrap().to_string())
        .collect()
}

fn report_of<'a>(result: &'a Value, metro: &str) -> &'a Value {
    result["metros"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metro"] == metro)
        .unwrap_or_else(|| panic!("no report of {metro}: {result}"))
}

fn all_advertise(s: &Value) -> bool {
    s["metros"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["bgp"]["advertised"] == true)
}

fn probe_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("seq="))
        .map(str::to_string)
        .collect()
}

#[test]
fn rollout_loses_no_probe_and_a_broken_ref_is_reverted() {
    let lab = Lab::up("dep-roll", &[]);
    let w = world(&lab.config);
    assert_eq!(w.metros.len(), 2);
    lab.wait_status("both metros advertising", all_advertise);
    for (m, addr) in &w.metros {
        assert_eq!(version_at(addr).0, "v1", "{m} starts on v1");
    }

    // An anycast probe loop beside the rollout, as an operator would run it.
    let probe_out = lab.dir.path().join("probe.txt");
    let mut probe = Proc(
        Command::new(bin())
            .args(["--config", lab.config.to_str().unwrap()])
            .args(["probe", "--anycast", "-c", "600", "-i", "0.1"])
            .stdout(std::fs::File::create(&probe_out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    poll_until(
        "the probe loop's first probe",
        Duration::from_secs(10),
        || !probe_lines(&probe_out).is_empty(),
    );

    let o = lab.pt(&["deploy", V2, "--yes", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let lines = json_lines(&o);
    let result = check_shape(&lines, &o);
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["result"], "ok");
    assert_eq!(result["version"], "v2");
    assert_eq!(result["ref"], V2);
    let plan = lines.iter().find(|l| l["type"] == "plan").unwrap();
    let order: Vec<String> = plan["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["metro"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(order.len(), 2, "{plan}");
    for m in &order {
        let steps = phases_of(&lines, m);
        for p in [
            "draining",
            "registering",
            "placing",
            "healthy",
            "verifying",
            "restoring",
            "done",
        ] {
            assert!(steps.contains(&p.to_string()), "{m} has no {p}: {steps:?}");
        }
        let r = report_of(&result, m);
        assert_eq!(r["phase"], "done", "{r}");
        assert_eq!(r["drained"], true, "{r}");
        assert_eq!(r["advertising"], true, "{r}");
        assert_eq!(r["seen_version"], "v2", "{r}");
        for k in ["drain_ms", "rollout_ms", "verify_ms", "restore_ms"] {
            assert!(r["timings"][k].as_f64().unwrap() > 0.0, "{k}: {r}");
        }
    }
    // The metros go one at a time: the second starts once the first is done.
    let first_done = lines
        .iter()
        .position(|l| l["type"] == "phase" && l["metro"] == order[0] && l["phase"] == "done")
        .unwrap();
    let second_starts = lines
        .iter()
        .position(|l| l["type"] == "phase" && l["metro"] == order[1])
        .unwrap();
    assert!(first_done < second_starts, "{}", text(&o));

    for (m, addr) in &w.metros {
        let (v, header) = version_at(addr);
        assert_eq!(v, "v2", "{m}'s own address");
        assert_eq!(header.as_deref(), Some("v2"), "{m}'s x-app-version");
    }
    assert_eq!(version_at(&w.anycast).0, "v2", "the anycast address");

    // The probe loop ran through the whole rollout and lost nothing.
    std::thread::sleep(Duration::from_millis(500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(probe.0.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let _ = probe.0.wait();
    drop(probe);
    let probes = probe_lines(&probe_out);
    let lost: Vec<&String> = probes.iter().filter(|l| l.contains("error=")).collect();
    let took = result["duration_s"].as_f64().unwrap();
    assert!(
        probes.len() as f64 >= took * 5.0,
        "{} probes in a {took} s rollout",
        probes.len()
    );
    assert!(
        lost.is_empty(),
        "{} of {} lost: {lost:?}",
        lost.len(),
        probes.len()
    );
    assert!(all_advertise(&lab.status()));

    // A broken ref: the first metro fails its health check, is reverted to v2 and
    // restored; the second is never touched.
    let o = lab.pt(&["deploy", BROKEN, "--yes", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let lines = json_lines(&o);
    let result = check_shape(&lines, &o);
    assert_eq!(result["ok"], false, "{result}");
    assert_eq!(result["result"], "failed");
    let (first, second) = (&order[0], &order[1]);
    let r = report_of(&result, first);
    assert_eq!(r["phase"], "reverted", "{r}");
    assert_eq!(r["advertising"], true, "{r}");
    assert_eq!(r["seen_version"], "v2", "{r}");
    assert!(r["timings"]["revert_ms"].as_f64().unwrap() > 0.0, "{r}");
    let steps = phases_of(&lines, first);
    assert!(steps.contains(&"reverting".to_string()), "{steps:?}");
    assert!(steps.contains(&"restoring".to_string()), "{steps:?}");
    let r = report_of(&result, second);
    assert_eq!(r["phase"], "untouched", "{r}");
    assert!(
        phases_of(&lines, second).iter().all(|p| p == "untouched"),
        "{}",
        text(&o)
    );
    for (m, addr) in &w.metros {
        assert_eq!(version_at(addr).0, "v2", "{m} after the failed rollout");
    }
    let s = lab.wait_status("every metro advertising again", all_advertise);
    assert_eq!(metro(&s, first)["bgp"]["advertised"], true);

    // History: both deployments, oldest first, with their per-metro results.
    let o = lab.pt(&["deploy", "history", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let h: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    let h = h.as_array().unwrap();
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(h[0]["ref"], V2);
    assert_eq!(h[0]["result"], "ok");
    assert_eq!(h[1]["ref"], BROKEN);
    assert_eq!(h[1]["result"], "failed");
    let phases: Vec<&str> = h[1]["metros"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["phase"].as_str().unwrap())
        .collect();
    assert!(
        phases.contains(&"reverted") && phases.contains(&"untouched"),
        "{phases:?}"
    );
    let o = lab.pt(&["deploy", "history"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(V2) && out.contains(BROKEN), "{}", text(&o));
}

#[test]
fn read_only_refuses_and_changes_nothing() {
    let lab = Lab::up("dep-ro", &[]);
    let w = world(&lab.config);
    let o = lab.pt(&["--read-only", "deploy", V2, "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("read-only"), "{}", text(&o));
    for (m, addr) in &w.metros {
        assert_eq!(version_at(addr).0, "v1", "{m} unchanged");
    }
    let o = lab.pt(&["deploy", "history", "--json"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "[]",
        "{}",
        text(&o)
    );
}

/// What the test's Nomad saw: method, path, and the token it was sent.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    token: Option<String>,
}

/// A Nomad agent of the test's own on 127.0.0.1:0 that refuses every job: `POST
/// /v1/jobs` gets `status` and `body` as a real agent words them; the job has no
/// versions yet (404), and every other path is 404 too. Stopped on drop.
struct RefusingNomad {
    addr: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RefusingNomad {
    fn start(status: &'static str, body: &'static str) -> RefusingNomad {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(c) = conn {
                        let _ = answer(c, status, body, &seen);
                    }
                }
            })
        };
        RefusingNomad {
            addr,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for RefusingNomad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One request on `c` (then the connection closes).
fn answer(c: TcpStream, status: &str, body: &str, seen: &Mutex<Vec<Seen>>) -> std::io::Result<()> {
    c.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut r = BufReader::new(c.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let (mut length, mut token) = (0usize, None);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap_or(0),
                "x-nomad-token" => token = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut request_body = vec![0; length];
    r.read_exact(&mut request_body)?;
    seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        token,
    });
    let (status, body) = match (method.as_str(), path.split('?').next().unwrap_or("")) {
        ("POST", "/v1/jobs") => (status, body),
        (_, p) if p.ends_with("/versions") => ("404 Not Found", "job versions not found"),
        _ => ("404 Not Found", "Invalid URL"),
    };
    let mut c = c;
    write!(
        c,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    c.flush()
}

/// A copy of the lab's config (beside it: relative paths stay right) whose `metro`
/// talks to `nomad` with a token from `PT_TEST_NOMAD_TOKEN`, and goes first.
fn config_with_nomad(lab: &Lab, metro: &str, nomad: &str) -> PathBuf {
    let text = std::fs::read_to_string(&lab.config).unwrap();
    let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
    let metros = doc["metro"].as_array_of_tables_mut().unwrap();
    let mut names = Vec::new();
    for m in metros.iter_mut() {
        let name = m["name"].as_str().unwrap().to_string();
        if name == metro {
            let n = m["nomad"].as_table_mut().unwrap();
            n["address"] = toml_edit::value(format!("http://{nomad}"));
            n["token_env"] = toml_edit::value("PT_TEST_NOMAD_TOKEN");
        }
        names.push(name);
    }
    names.sort_by_key(|n| n != metro);
    let mut order = toml_edit::Array::new();
    for n in &names {
        order.push(n.as_str());
    }
    doc["deploy"]["order"] = toml_edit::value(order);
    let path = lab.dir.path().join(format!("refusing-{metro}.toml"));
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

const TOKEN: &str = "5e1c7a0b-9d2f-4a61-b3e8-c0ffee5ecre7";

/// `deploy REF --yes` on `config` with the token set, `json` or not.
fn deploy_with_token(config: &Path, json: bool) -> Output {
    let mut c = Command::new(bin());
    c.args(["--config", config.to_str().unwrap(), "deploy", V2, "--yes"]);
    if json {
        c.arg("--json");
    }
    c.env("PT_TEST_NOMAD_TOKEN", TOKEN).output().unwrap()
}

/// Nomad's refusal, in both outputs, word for word; the token nowhere.
fn refused_as_nomad_said(
    lab: &Lab,
    nomad: &RefusingNomad,
    config: &Path,
    first: &str,
    words: &[&str],
) {
    let o = deploy_with_token(config, false);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let all = text(&o);
    for w in words {
        assert!(all.contains(w), "{w:?} not shown: {all}");
    }
    let o = deploy_with_token(config, true);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let lines = json_lines(&o);
    let result = check_shape(&lines, &o);
    let r = report_of(&result, first);
    assert_eq!(r["phase"], "failed", "{r}");
    for w in words {
        assert!(
            r["detail"].as_str().unwrap().contains(w),
            "{w:?} not in the report: {r}"
        );
    }
    assert_eq!(r["advertising"], true, "drained, then restored: {r}");
    let others: Vec<&Value> = result["metros"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["metro"] != first)
        .collect();
    assert!(!others.is_empty());
    for m in others {
        assert_eq!(m["phase"], "untouched", "{m}");
    }
    assert!(all_advertise(
        &lab.wait_status("every metro advertising", all_advertise)
    ));
    // The token went to Nomad, and nowhere else.
    let seen = nomad.seen();
    assert!(
        seen.iter()
            .any(|s| s.method == "POST" && s.path.starts_with("/v1/jobs")),
        "{seen:?}"
    );
    assert!(
        seen.iter().all(|s| s.token.as_deref() == Some(TOKEN)),
        "every request carries the token: {seen:?}"
    );
    assert!(!text(&o).contains(TOKEN), "{}", text(&o));
    for f in walk(lab.dir.path()) {
        let Ok(content) = std::fs::read(&f) else {
            continue;
        };
        assert!(
            !String::from_utf8_lossy(&content).contains(TOKEN),
            "the token is in {}",
            f.display()
        );
    }
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn nomad_refusals_are_shown_verbatim_and_the_token_never() {
    let lab = Lab::up("dep-403", &[]);
    lab.wait_status("both metros advertising", all_advertise);
    let first = world(&lab.config).metros[1].0.clone();

    // 403: what the token lacks.
    let nomad = RefusingNomad::start("403 Forbidden", "Permission denied");
    let config = config_with_nomad(&lab, &first, &nomad.addr);
    refused_as_nomad_said(
        &lab,
        &nomad,
        &config,
        &first,
        &["403 Permission denied", "submit-job"],
    );
    drop(nomad);

    // 400: Nomad's validation message (its lines made one).
    let nomad = RefusingNomad::start(
        "400 Bad Request",
        "1 error occurred:\n\t* Task group app validation failed: Missing tasks for task group\n\n",
    );
    let config = config_with_nomad(&lab, &first, &nomad.addr);
    refused_as_nomad_said(
        &lab,
        &nomad,
        &config,
        &first,
        &[
            "HTTP 400",
            "1 error occurred: * Task group app validation failed: Missing tasks for task group",
        ],
    );

    // The audit log has the refusals, without the token.
    let audit = walk(lab.dir.path())
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "audit.jsonl"))
        .expect("an audit log");
    let audit = std::fs::read_to_string(audit).unwrap();
    assert!(audit.contains("\"deploy\""), "{audit}");
    assert!(audit.contains("403 Permission denied"), "{audit}");
    assert!(!audit.contains(TOKEN));
}

#[test]
fn the_pane_deploys_to_every_metro() {
    let Console { lab, tmux: t } = Console::on_lab("dep-tui", 100, 30);
    t.keys(&["5"]);
    t.wait_for("metros: the plan");
    t.keys(&["d"]);
    t.wait_for("Enter asks to deploy it");
    t.keys(&["-l", V2]);
    t.keys(&["Enter"]);
    let screen = t.wait_for("Deploy to every metro?");
    assert!(screen.contains(V2), "{screen}");
    assert!(screen.contains("1. da"), "{screen}");
    t.keys(&["y"]);
    let screen = poll_for(
        "the rollout done on screen",
        Duration::from_secs(60),
        || t.screen(),
        |s| s.contains("2/2 metros") && s.contains(" ok "),
    );
    for m in ["da", "am"] {
        assert!(
            screen
                .lines()
                .any(|l| l.starts_with(&format!("│ {m} ")) && l.contains(" done ")),
            "{m}'s row done: {screen}"
        );
    }
    for (m, addr) in &world(&lab.config).metros {
        assert_eq!(version_at(addr).0, "v2", "{m}");
    }
    // History, read again after the rollout, lists it.
    t.wait_until("the history row", |s| {
        s.lines()
            .any(|l| l.contains(" ok ") && l.contains(V2) && l.contains("da done"))
    });
    t.keys(&["q"]);
    t.wait_gone("the console quits", Duration::from_secs(10));
}
