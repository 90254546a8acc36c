//! Latency on a real lab: probes through the anycast front door are served by the metro
//! the upstream BIRD prefers, and move within a second of a withdrawal; direct probes hit
//! each metro; lost probes are counted and never hang.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;

use common::{has_problem, metro, run, text, Lab};

struct Probe {
    served_by: Vec<String>,
    ttfb: Vec<f64>,
    stdout: String,
}

fn parse(out: &std::process::Output) -> Probe {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |line: &str, key: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .map(str::to_string)
    };
    Probe {
        served_by: stdout
            .lines()
            .filter_map(|l| field(l, "served-by="))
            .collect(),
        ttfb: stdout
            .lines()
            .filter_map(|l| field(l, "ttfb="))
            .map(|v| v.parse().unwrap())
            .collect(),
        stdout,
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn anycast_moves_with_the_best_path_at_the_next_probe() {
    let lab = Lab::up("shift", &[]);
    let p = parse(&lab.pt(&["probe", "--anycast", "-c", "5", "-i", "0.1"]));
    assert_eq!(p.served_by, vec!["am"; 5], "{}", p.stdout);
    let m = median(&p.ttfb);
    assert!((65.0..100.0).contains(&m), "via am {m} ms\n{}", p.stdout);
    assert!(
        p.stdout.contains("5 probes, 5 ok, 0.0% loss"),
        "{}",
        p.stdout
    );

    let out = lab.pt(&["withdraw", "am", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    // The very next probes after the verified withdrawal go to da.
    let p = parse(&lab.pt(&["probe", "-c", "3", "-i", "0.1"]));
    assert_eq!(p.served_by, vec!["da"; 3], "{}", p.stdout);
    let m = median(&p.ttfb);
    assert!((295.0..340.0).contains(&m), "via da {m} ms\n{}", p.stdout);

    assert!(lab.pt(&["restore", "am", "--yes"]).status.success());
    let p = parse(&lab.pt(&["probe", "-c", "3", "-i", "0.1"]));
    assert_eq!(p.served_by, vec!["am"; 3], "{}", p.stdout);
}

#[test]
fn direct_probes_and_status_latency() {
    let lab = Lab::up("direct", &[]);
    let p = parse(&lab.pt(&["probe", "--metro", "da", "-c", "3", "-i", "0.1", "--get"]));
    assert_eq!(p.served_by, vec!["da"; 3], "{}", p.stdout);
    assert!(median(&p.ttfb) > 295.0, "{}", p.stdout);
    assert!(
        p.stdout.starts_with("PROBE http://") && p.stdout.contains(" via 127."),
        "{}",
        p.stdout
    );

    let s = lab.status();
    let any = &s["anycast"]["latency"];
    assert_eq!(any["served_by"], "am", "{s:#}");
    assert!(
        (65.0..100.0).contains(&any["p50_ms"].as_f64().unwrap()),
        "{s:#}"
    );
    assert_eq!(any["loss_pct"], 0.0);
    assert_eq!(metro(&s, "da")["latency"]["served_by"], "da");
    assert!(metro(&s, "da")["latency"]["p50_ms"].as_f64().unwrap() > 295.0);
}

#[test]
fn a_stopped_app_is_loss_not_latency() {
    let lab = Lab::up("stopped", &[]);
    let d = lab.dir.path().to_str().unwrap().to_string();
    let out = run(&["lab", "app", "stop", "am", "--dir", &d]);
    assert!(out.status.success(), "{}", text(&out));
    let out = lab.pt(&["probe", "--metro", "am", "-c", "2", "-i", "0.1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("seq=0 error=refused") && said.contains("2 probes, 0 ok, 100.0% loss"),
        "{said}"
    );
    assert!(
        !said.contains("round-trip"),
        "no values from losses: {said}"
    );
    // Through the front door, am is still the best path but nobody answers there.
    let said =
        String::from_utf8_lossy(&lab.pt(&["probe", "-c", "2", "-i", "0.1"]).stdout).to_string();
    assert!(said.contains("0 ok, 100.0% loss"), "{said}");
    // `status` says the address fails, and exits 1; never a healthy figure.
    let s = lab.status();
    assert_eq!(s["anycast"]["health"], "failing", "{s:#}");
    assert!(has_problem(&s, "anycast: the last"), "{s:#}");
    let human = lab.pt(&["status"]);
    assert_eq!(human.status.code(), Some(1), "{}", text(&human));
    let human = String::from_utf8_lossy(&human.stdout).to_string();
    assert!(
        human.lines().next().unwrap().contains("latency: LOST"),
        "{human}"
    );
    assert!(run(&["lab", "app", "start", "am", "--dir", &d])
        .status
        .success());
    let p = parse(&lab.pt(&["probe", "-c", "2", "-i", "0.1"]));
    assert_eq!(p.served_by, vec!["am"; 2], "{}", p.stdout);
}

#[test]
fn explicit_url_needs_no_config_and_silent_servers_time_out() {
    // Accepts (the kernel completes the handshake) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", silent.local_addr().unwrap());
    let home = common::temp_dir("nocfg-probe");
    let started = std::time::Instant::now();
    let out = std::process::Command::new(common::bin())
        .args(["probe", &url, "-c", "3", "-i", "0.1", "--timeout", "0.3"])
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", home.path())
        .output()
        .unwrap();
    assert!(started.elapsed().as_secs_f64() < 5.0, "nothing hangs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(said.matches("error=timeout").count(), 3, "{said}");
    assert!(said.contains("3 probes, 0 ok, 100.0% loss"), "{said}");
    assert!(
        common::procs_mentioning(home.path().to_str().unwrap()).is_empty(),
        "no lab was started"
    );

    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = run(&[
        "probe",
        &format!("http://{closed}/"),
        "-c",
        "2",
        "-i",
        "0.1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches("error=refused")
            .count(),
        2
    );

    let out = run(&["probe", "ftp://x/", "-c", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = run(&["probe", "http://127.0.0.1:1/", "-c", "1", "-i", "0"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a zero interval is refused: {}",
        text(&out)
    );
}
