//! The screen tells the truth, on a real lab with the real binary: a metro whose BGP
//! session is disabled is reachable (not "unreachable"), not advertising, and the best path
//! moves; an observer that stops answering is "silent", never "black-holed".
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{birdc, metro, Console};

/// Lines of the screen that name `metro` as a word.
fn lines_naming<'a>(screen: &'a str, metro: &str) -> Vec<&'a str> {
    screen
        .lines()
        .filter(|l| {
            l.match_indices(metro).any(|(i, _)| {
                let before = l[..i].chars().next_back();
                let after = l[i + metro.len()..].chars().next();
                !before.is_some_and(|c| c.is_ascii_lowercase())
                    && !after.is_some_and(|c| c.is_ascii_lowercase())
            })
        })
        .collect()
}

/// SIGCONT on drop: a stopped daemon never outlives a failing test.
struct Stopped(i32);

impl Stopped {
    fn stop(pid: i32) -> Stopped {
        let ok = Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -STOP {pid}");
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}

#[test]
fn a_disabled_session_is_a_reachable_metro_that_does_not_advertise() {
    let Console { lab, tmux: t } = Console::on_lab("truth9001", 120, 32);
    t.wait_for("best path am");
    birdc(&lab.socket("am"), &["disable", "upstream"]);
    let s = lab.wait_status("best da with am's session disabled", |s| {
        s["anycast"]["best"] == "da" && metro(s, "am")["bgp"]["session"] != "Established"
    });
    let am = metro(&s, "am");
    assert_eq!(am["error"], serde_json::Value::Null, "{s:#}");
    assert_eq!(am["bgp"]["advertised"], false, "{s:#}");
    assert_eq!(am["bgp"]["session"], "Down", "{s:#}");
    assert_eq!(am["bgp"]["exported"], 0, "{s:#}");
    assert_eq!(am["bgp"]["origin"], "up", "{s:#}");
    assert_eq!(am["problems"], serde_json::json!([]), "{s:#}");
    assert_eq!(s["anycast"]["advertising"], serde_json::json!(["da"]));
    let human = String::from_utf8_lossy(&lab.pt(&["status"]).stdout).to_string();
    assert!(
        lines_naming(&human, "am")
            .iter()
            .all(|l| !l.to_lowercase().contains("unreachable")),
        "{human}"
    );

    let screen = t.wait_until("am's session down on screen", |s| {
        s.contains("best path da")
            && lines_naming(s, "am")
                .iter()
                .any(|l| l.contains(" Down ") && l.contains("withdrawn"))
    });
    for l in lines_naming(&screen, "am") {
        assert!(
            !l.to_lowercase().contains("unreachable"),
            "the console calls am unreachable while its BIRD answers:\n{screen}"
        );
    }

    birdc(&lab.socket("am"), &["enable", "upstream"]);
    lab.wait_status("am back", |s| s["anycast"]["best"] == "am");
    t.keys(&["q"]);
}

#[test]
fn a_silent_observer_is_never_a_black_hole() {
    let Console { lab, tmux: t } = Console::on_lab("truthstop", 120, 32);
    t.wait_for("best path am");
    {
        let _stopped = Stopped::stop(lab.pid("upstream"));
        let screen = t.wait_for("observer silent");
        assert!(!screen.contains("black-holed"), "{screen}");
        let out = lab.pt(&["status", "--json"]);
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let err = s["anycast"]["observer_error"].as_str().unwrap_or_default();
        assert!(err.starts_with("router silent"), "{s:#}");
        assert_eq!(s["anycast"]["best"], serde_json::Value::Null, "{s:#}");
        let human = String::from_utf8_lossy(&lab.pt(&["status"]).stdout).to_string();
        assert!(human.contains("best: unknown (observer silent"), "{human}");
        assert!(!human.contains("black-holed"), "{human}");
        let screen = t.screen();
        assert!(!screen.contains("black-holed"), "{screen}");
    }
    // Continued: the observer answers again and the best path is known.
    t.wait_for("best path am");
    assert_eq!(lab.status()["anycast"]["best"], "am");
    t.keys(&["q"]);
}
