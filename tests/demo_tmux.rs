//! `platform-tui demo` in tmux: on the embedded lab, the space bar steps through the
//! story with real, audited actions and `q` leaves nothing running; on a lab's config,
//! `--auto` steps by itself and `q` restores what the demo withdrew.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{bin, metro, procs_mentioning, temp_dir, Lab, Tmux};

fn wait_gone(t: &Tmux) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.alive() {
        assert!(
            Instant::now() < deadline,
            "demo still running after q:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_demo_steps_through_the_story_on_the_space_bar_and_leaves_nothing_running() {
    common::require_bird();
    let home = temp_dir("demo");
    let h = home.path().display().to_string();
    let cmd = format!(
        "env HOME={h} XDG_CONFIG_HOME={h}/.config XDG_STATE_HOME={h}/.state XDG_RUNTIME_DIR={h}/run {} demo",
        bin()
    );
    let t = Tmux::start("demo", 100, 30, &cmd);
    let screen = t.wait_until("warm-up on Amsterdam", |s| {
        s.contains("1/4 warm-up") && s.contains("space withdraw am")
    });
    assert!(screen.contains("Amsterdam (am) · 7"), "{screen}");
    t.keys(&["Space"]);
    let screen = t.wait_until("the move to Dallas", |s| {
        s.contains("am withdrawn: the same address is now served from Dallas (da) at 3")
    });
    assert!(screen.contains("Dallas (da) · 3"), "{screen}");
    assert!(screen.contains("withdraw am → da 3"), "timeline: {screen}");
    t.keys(&["Space"]);
    t.wait_for("3/4 hold");
    t.keys(&["Space"]);
    t.wait_for("am restored: the viewer is served from Amsterdam (am) at ");
    // Both actions are audited as the demo's.
    let audit =
        std::fs::read_to_string(format!("{h}/.state/platform-tui/embedded-lab/audit.jsonl"))
            .unwrap();
    let by_demo = audit
        .lines()
        .filter(|l| l.contains("\"via\":\"demo\"") && l.contains("\"result\":\"ok\""))
        .count();
    assert_eq!(by_demo, 2, "{audit}");
    t.keys(&["q"]);
    wait_gone(&t);
    let left = procs_mentioning(&h);
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn auto_steps_by_itself_and_q_restores_what_the_demo_withdrew() {
    let lab = Lab::up("demoauto", &[]);
    let t = Tmux::start(
        "demoauto",
        120,
        36,
        &format!("{} demo --auto 1 --config {}", bin(), lab.config.display()),
    );
    t.wait_until("Dallas serving, by itself", |s| {
        s.contains("now served from Dallas (da) at 3") || s.contains("3/4 hold")
    });
    assert_eq!(lab.status()["anycast"]["best"], "da");
    t.keys(&["q"]);
    wait_gone(&t);
    let s = lab.status();
    assert_eq!(metro(&s, "am")["bgp"]["advertised"], true, "{s}");
    assert_eq!(s["anycast"]["best"], "am");
}

#[test]
fn auto_must_be_a_sensible_number_of_seconds() {
    let out = common::run(&["demo", "--auto", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--auto must be between 1 and 3600"));
}
