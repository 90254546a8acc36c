//! The real binary against a real lab of bird2 daemons: status, withdraw, restore, the
//! last-metro refusal, a dead router, drift, the `command` method and a clean `lab down`.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{has_problem, metro, poll_until, procs_mentioning, sockets_in, temp_dir, text, Lab};

#[test]
fn withdraw_and_restore_move_the_best_path() {
    let lab = Lab::up("wr", &[]);
    let s = lab.status();
    assert_eq!(s["ok"], true, "a healthy lab: {s:#}");
    let human = lab.pt(&["status"]);
    assert!(human.status.success(), "{}", text(&human));
    let human = String::from_utf8_lossy(&human.stdout);
    let am = human.lines().find(|l| l.starts_with("am ")).unwrap();
    for col in ["Established", "yes", "ms", "0%", "1/1"] {
        assert!(am.contains(col), "{col} in {am:?}:\n{human}");
    }
    assert!(
        human.lines().next().unwrap().contains("latency: "),
        "{human}"
    );
    let names: Vec<&str> = s["metros"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["am", "da"]);
    for m in ["am", "da"] {
        assert_eq!(metro(&s, m)["bgp"]["session"], "Established", "{s:#}");
        assert_eq!(metro(&s, m)["bgp"]["advertised"], true);
    }
    assert_eq!(s["anycast"]["best"], "am");
    assert_eq!(s["anycast"]["advertising"], serde_json::json!(["am", "da"]));

    let out = lab.pt(&["withdraw", "am", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("am withdrawn, verified in") && said.contains("anycast now via da"),
        "{said}"
    );
    let s = lab.status();
    assert_eq!(metro(&s, "am")["bgp"]["advertised"], false);
    assert_eq!(
        metro(&s, "am")["bgp"]["session"],
        "Established",
        "the session stays up"
    );
    assert_eq!(metro(&s, "am")["desired"], "withdrawn");
    assert_eq!(s["anycast"]["best"], "da");
    assert_eq!(s["anycast"]["advertising"], serde_json::json!(["da"]));

    let out = lab.pt(&["withdraw", "da", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("last metro advertising"),
        "{}",
        text(&out)
    );
    assert_eq!(
        lab.status()["anycast"]["best"],
        "da",
        "the refusal changed nothing"
    );

    let out = lab.pt(&["restore", "am", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let s = lab.status();
    assert_eq!(s["anycast"]["best"], "am");
    assert_eq!(metro(&s, "am")["bgp"]["advertised"], true);

    let audit = std::fs::read_to_string(lab.dir.path().join("state/audit.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Write-ahead: an intent before each action, its outcome after; a refusal is one line.
    let phases: Vec<(&str, &str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["phase"].as_str().unwrap(),
                r["action"].as_str().unwrap(),
                r["result"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        phases,
        [
            ("intent", "withdraw", "-"),
            ("outcome", "withdraw", "ok"),
            ("outcome", "withdraw", "refused"),
            ("intent", "restore", "-"),
            ("outcome", "restore", "ok"),
        ],
        "{audit}"
    );
    assert_eq!(records[0]["id"], records[1]["id"]);
    assert_eq!(records[3]["id"], records[4]["id"]);
    assert!(records[1]["convergence_ms"].as_f64().unwrap() > 0.0);
    assert!(records[2]["detail"]
        .as_str()
        .unwrap()
        .contains("last metro advertising"));
    for r in &records {
        assert!(r["user"].as_str().is_some_and(|u| !u.is_empty()));
        assert!(r["time"].as_str().unwrap().ends_with('Z'));
    }

    lab.down();
    assert!(procs_mentioning(lab.dir.path().to_str().unwrap()).is_empty());
    assert!(sockets_in(lab.dir.path()).is_empty());
    assert!(!lab.dir.path().join("run/am.pid").exists());
}

#[test]
fn forced_withdraw_of_the_last_metro_black_holes() {
    let lab = Lab::up("force", &["--metros", "am"]);
    let out = lab.pt(&["withdraw", "am", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = lab.pt(&["withdraw", "am", "--yes", "--force"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no metro advertises"),
        "{}",
        text(&out)
    );
    let s = lab.status();
    assert_eq!(s["anycast"]["best"], serde_json::Value::Null);
    assert_eq!(s["anycast"]["advertising"], serde_json::json!([]));
}

#[test]
fn a_dead_router_is_shown_while_the_rest_works() {
    let lab = Lab::up("dead", &[]);
    let pid = lab.pid("am");
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let s = lab.wait_status("am unreachable", |s| !metro(s, "am")["error"].is_null());
    let err = metro(&s, "am")["error"].as_str().unwrap();
    assert!(err.contains("router unreachable"), "{err}");
    assert_eq!(metro(&s, "am")["bgp"]["session"], serde_json::Value::Null);
    assert_eq!(metro(&s, "da")["bgp"]["session"], "Established");
    assert_eq!(metro(&s, "da")["bgp"]["advertised"], true);
    let s = lab.wait_status("best da", |s| s["anycast"]["best"] == "da");
    assert_eq!(s["anycast"]["advertising"], serde_json::json!(["da"]));
    assert_eq!(s["ok"], false);
    assert!(has_problem(&s, "am: router unreachable"), "{s:#}");
    let human = lab.pt(&["status"]);
    assert_eq!(
        human.status.code(),
        Some(1),
        "a dead router is wrong: {}",
        text(&human)
    );
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("PROBLEMS\n  am: router unreachable"),
        "{human}"
    );
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("am") && l.contains("unreachable")),
        "{human}"
    );
}

#[test]
fn reconfigure_after_withdraw_is_flagged_as_drift() {
    let lab = Lab::up("drift", &[]);
    assert!(lab.pt(&["withdraw", "am", "--yes"]).status.success());
    // `birdc configure` re-enables a CLI-disabled protocol (BIRD forgets CLI state).
    let out = Command::new("birdc")
        .arg("-s")
        .arg(lab.socket("am"))
        .arg("configure")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let s = lab.wait_status("drift", |s| !metro(s, "am")["drift"].is_null());
    assert_eq!(
        metro(&s, "am")["drift"],
        "advertising, but withdrawn was asked"
    );
    let human = String::from_utf8_lossy(&lab.pt(&["status"]).stdout).to_string();
    assert!(human.contains("DRIFT"), "{human}");
}

#[test]
fn command_method_stops_and_starts_the_metros_bird() {
    let lab = Lab::up("cmd", &["--withdraw-method", "command"]);
    assert_eq!(metro(&lab.status(), "am")["method"], "command");
    let out = lab.pt(&["withdraw", "am", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let s = lab.status();
    assert_eq!(s["anycast"]["best"], "da");
    assert!(
        metro(&s, "am")["error"]
            .as_str()
            .unwrap()
            .contains("unreachable"),
        "its bird is stopped: {s:#}"
    );
    let out = lab.pt(&["restore", "am", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let s = lab.status();
    assert_eq!(s["anycast"]["best"], "am");
    assert_eq!(metro(&s, "am")["bgp"]["session"], "Established");
}

#[test]
fn two_labs_run_at_once_and_lab_status_reports_daemons() {
    let a = Lab::up("twoa", &[]);
    let b = Lab::up("twob", &["--metros", "am,da,sv"]);
    assert_eq!(a.status()["anycast"]["best"], "am");
    let s = b.status();
    assert_eq!(s["metros"].as_array().unwrap().len(), 3);
    assert_eq!(
        s["anycast"]["advertising"],
        serde_json::json!(["am", "da", "sv"])
    );
    let out = common::run(&["lab", "status", "--dir", b.dir.path().to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stdout);
    // The supervisor and four routers, then every endpoint of the data plane.
    assert!(
        out.status.success() && said.matches("running (pid").count() == 5,
        "{}",
        text(&out)
    );
    for name in [
        "front door (anycast)",
        "app server am",
        "app server sv",
        "nomad endpoint da",
    ] {
        assert!(
            said.lines()
                .any(|l| l.contains(name) && l.contains("listening")),
            "{name}: {said}"
        );
    }
    let d = b.dir.path().to_str().unwrap();
    assert!(common::run(&["lab", "app", "stop", "sv", "--dir", d])
        .status
        .success());
    let said =
        String::from_utf8_lossy(&common::run(&["lab", "status", "--dir", d]).stdout).to_string();
    assert!(
        said.lines()
            .any(|l| l.contains("app server sv") && l.contains("not answering")),
        "{said}"
    );
    a.down();
    assert_eq!(
        b.status()["anycast"]["best"],
        "am",
        "stopping one lab leaves the other"
    );
}

#[test]
fn unknown_metro_and_missing_yes_are_usage_errors() {
    let lab = Lab::up("usage", &[]);
    let out = lab.pt(&["withdraw", "xx", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no metro `xx`"));
    // stdin is not a terminal here: without --yes the command refuses to guess.
    let out = lab.pt(&["withdraw", "am"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --yes"));
    let out = lab.pt(&["--read-only", "withdraw", "am", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only"));
    assert_eq!(lab.status()["anycast"]["best"], "am");
}

#[test]
fn lab_up_rejects_unknown_metros() {
    let out = common::run(&[
        "lab",
        "up",
        "--metros",
        "am,zz",
        "--dir",
        "/tmp/pt-never-created",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown metro `zz`"));
    assert!(!std::path::Path::new("/tmp/pt-never-created").exists());
}

#[test]
fn foreground_lab_runs_until_terminated_and_cleans_up() {
    use std::io::BufRead;
    common::require_bird();
    let dir = temp_dir("fg");
    let d = dir.path().to_str().unwrap().to_string();
    let mut child = Command::new(common::bin())
        .args(["lab", "up", "--dir", &d, "--metros", "da"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("config: ") && line.trim_end().ends_with("platform-tui.toml"),
        "{line}"
    );
    let config = line.trim_end().trim_start_matches("config: ").to_string();
    let out = common::run(&["--config", &config, "status", "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["anycast"]["best"], "da", "{s:#}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = poll_until(
        "lab up did not stop on SIGTERM",
        Duration::from_secs(10),
        || child.try_wait().unwrap(),
    );
    assert!(status.success(), "{status}");
    assert!(
        procs_mentioning(&d).is_empty(),
        "{:?}",
        procs_mentioning(&d)
    );
    assert!(sockets_in(dir.path()).is_empty());
}

#[test]
fn every_socket_in_a_lab_is_a_bird_and_control_needs_the_token() {
    use std::io::{BufRead, Write};
    let lab = Lab::up("socks", &[]);
    // Tools that find sockets in the lab's directory and ask them as BIRD must not hang.
    let socks = sockets_in(lab.dir.path());
    assert_eq!(socks.len(), 3, "{socks:?}");
    for s in socks {
        let out = Command::new("timeout")
            .args(["5", "birdc", "-s"])
            .arg(&s)
            .arg("show status")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", s.display(), text(&out));
    }
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lab.dir.path().join("lab.json")).unwrap())
            .unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(lab.dir.path().join("lab.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o077,
        0,
        "the state file holds the control token: owner only"
    );
    let net = state["net"].as_array().unwrap();
    let port = state["port"].as_u64().unwrap() + 3;
    let addr = format!("127.{}.{}.1:{port}", net[0], net[1]);
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(b"guessed app stop am\n").unwrap();
    let mut line = String::new();
    std::io::BufReader::new(s).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "error not this lab's token");
    assert_eq!(
        metro(&lab.status(), "am")["nomad"]["allocs"]["running"],
        1,
        "nothing was stopped"
    );
}

#[test]
fn a_lab_directory_with_spaces_works_and_one_with_a_quote_is_refused() {
    let base = temp_dir("lab dir");
    let spaced = base.path().join("my lab");
    let out = common::run(&["lab", "up", "--detach", "--dir", spaced.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let cfg = spaced.join("platform-tui.toml");
    let out = common::run(&["--config", cfg.to_str().unwrap(), "status", "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(metro(&s, "am")["bgp"]["session"], "Established", "{s:#}");
    assert!(
        common::run(&["lab", "down", "--dir", spaced.to_str().unwrap()])
            .status
            .success()
    );

    let quoted = base.path().join("a\"b");
    let out = common::run(&["lab", "up", "--detach", "--dir", quoted.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("which BIRD configs cannot hold"),
        "{}",
        text(&out)
    );
    assert!(procs_mentioning(base.path().to_str().unwrap()).is_empty());
}

#[test]
fn a_killed_supervisor_takes_its_routers_with_it() {
    let lab = Lab::up("labkill", &[]);
    let d = lab.dir.path().to_str().unwrap().to_string();
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lab.dir.path().join("lab.json")).unwrap())
            .unwrap();
    let supervisor = state["supervisor"].as_i64().unwrap();
    let birds = || {
        procs_mentioning(&d)
            .into_iter()
            .filter(|p| p.contains("bird -f"))
            .collect::<Vec<_>>()
    };
    assert_eq!(birds().len(), 3, "{:?}", birds());
    // SIGKILL: the supervisor gets no chance to stop its routers itself.
    assert!(Command::new("kill")
        .args(["-KILL", &supervisor.to_string()])
        .status()
        .unwrap()
        .success());
    poll_until(
        "the routers gone with their supervisor",
        Duration::from_secs(5),
        || {
            let left = birds();
            if left.is_empty() {
                Ok(())
            } else {
                Err(left.join("\n"))
            }
        },
    );
}
