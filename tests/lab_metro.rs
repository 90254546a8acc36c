//! `lab metro add|remove` on a real lab, without terraform: a metro joins a running lab
//! (router Established at the upstream, app server, Nomad endpoint, front door), the
//! upstream moves to it when it is the best, adding it again changes nothing, an unknown
//! code names the known ones, the last metro cannot go, and `lab down` stops metros added
//! later too.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{procs_mentioning, run, sockets_in, text, Lab};

fn metro(lab: &Lab, verb: &str, code: &str) -> std::process::Output {
    run(&[
        "lab",
        "metro",
        verb,
        code,
        "--dir",
        lab.dir.path().to_str().unwrap(),
    ])
}

fn lab_state(lab: &Lab) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(lab.dir.path().join("lab.json")).unwrap())
        .unwrap()
}

fn codes(lab: &Lab) -> Vec<String> {
    lab_state(lab)["metros"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap().to_string())
        .collect()
}

fn birdc(lab: &Lab, daemon: &str, cmd: &str) -> String {
    let out = std::process::Command::new("birdc")
        .arg("-s")
        .arg(lab.socket(daemon))
        .args(cmd.split(' '))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `GET /` of `addr` and its `x-served-by` header.
fn served_by(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.lines()
        .find_map(|l| l.strip_prefix("x-served-by: "))
        .map(str::to_string)
}

fn address_of(lab: &Lab, code: &str) -> String {
    let s = lab_state(lab);
    let m = s["metros"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == code)
        .unwrap();
    format!(
        "{}:{}",
        m["addr"].as_str().unwrap(),
        s["port"].as_u64().unwrap() + 1
    )
}

#[test]
fn a_metro_joins_and_leaves_a_running_lab() {
    let lab = Lab::up("metro", &[]);
    let out = metro(&lab, "add", "fr");
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("fr (Frankfurt) added") && said.contains("Established"),
        "{said}"
    );
    assert_eq!(codes(&lab), ["am", "da", "fr"]);
    let protos = birdc(&lab, "upstream", "show protocols");
    assert!(
        protos
            .lines()
            .any(|l| l.starts_with("metro_fr") && l.contains("Established")),
        "{protos}"
    );
    // The sessions already up were kept through the upstream's reconfiguration.
    assert!(
        protos.lines().filter(|l| l.contains("Established")).count() >= 3,
        "{protos}"
    );
    let fr = address_of(&lab, "fr");
    assert_eq!(served_by(&fr).as_deref(), Some("fr"));
    let nomad = {
        let s = lab_state(&lab);
        let m = s["metros"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["code"] == "fr")
            .unwrap()
            .clone();
        format!(
            "{}:{}",
            m["addr"].as_str().unwrap(),
            s["port"].as_u64().unwrap() + 2
        )
    };
    assert!(
        TcpStream::connect(&nomad).is_ok(),
        "fr's Nomad endpoint at {nomad}"
    );
    let status = run(&["lab", "status", "--dir", lab.dir.path().to_str().unwrap()]);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains("router fr") && status.contains("app server fr"),
        "{status}"
    );

    // Again: nothing to do.
    let out = metro(&lab, "add", "fr");
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("already in the lab"));

    // The front door follows the upstream to fr once am (nearer) stops advertising.
    let anycast = {
        let s = lab_state(&lab);
        let net = s["net"].as_array().unwrap();
        format!(
            "127.{}.{}.2:{}",
            net[0],
            net[1],
            s["port"].as_u64().unwrap() + 1
        )
    };
    assert_eq!(served_by(&anycast).as_deref(), Some("am"));
    birdc(&lab, "am", "disable anycast");
    common::poll_until(
        "the front door never moved to fr",
        Duration::from_secs(10),
        || served_by(&anycast).as_deref() == Some("fr"),
    );
    birdc(&lab, "am", "enable anycast");

    // Unknown codes are refused naming the known ones, before anything is asked.
    let out = metro(&lab, "add", "zz");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown metro `zz`") && err.contains("am,da,ld"),
        "{err}"
    );

    let out = metro(&lab, "remove", "fr");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(codes(&lab), ["am", "da"]);
    assert!(!birdc(&lab, "upstream", "show protocols").contains("metro_fr"));
    assert!(procs_mentioning("/fr.conf")
        .iter()
        .all(|p| !p.contains(lab.dir.path().to_str().unwrap())));
    assert!(!lab.socket("fr").exists());
    assert!(served_by(&fr).is_none(), "fr's app server still answers");
    let out = metro(&lab, "remove", "fr");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("not in the lab"));

    // The last metro stays.
    assert!(metro(&lab, "remove", "da").status.success());
    let out = metro(&lab, "remove", "am");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("last metro"),
        "{}",
        text(&out)
    );
    assert_eq!(codes(&lab), ["am"]);

    // Metros added later go with `lab down` too.
    assert!(metro(&lab, "add", "sv").status.success());
    assert!(metro(&lab, "add", "da").status.success());
    assert_eq!(codes(&lab), ["am", "sv", "da"]);
    lab.down();
    assert!(procs_mentioning(lab.dir.path().to_str().unwrap()).is_empty());
    assert!(sockets_in(lab.dir.path()).is_empty());
}
