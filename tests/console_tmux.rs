//! The console in tmux on a real lab: keys withdraw and restore for real, the screen
//! follows, q quits and nothing is left behind; with no config at all the embedded lab
//! starts and stops with the console.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{bin, metro, poll_until, procs_mentioning, temp_dir, Console, Lab, Tmux};

#[test]
fn keys_withdraw_and_restore_through_the_console() {
    let Console { lab, tmux: t } = Console::on_lab("keys", 100, 30);
    let screen = t.screen();
    assert!(screen.contains("best path am"), "{screen}");
    t.keys(&["w"]);
    let screen = t.wait_for("Withdraw am (Amsterdam)?");
    assert!(
        screen.contains("anycast will be served from da"),
        "{screen}"
    );
    t.keys(&["y"]);
    let screen = t.wait_for("anycast now via da");
    assert!(screen.contains("withdrawn"), "{screen}");
    let s = lab.status();
    assert_eq!(metro(&s, "am")["bgp"]["advertised"], false);
    assert_eq!(s["anycast"]["best"], "da");

    t.keys(&["r"]);
    t.wait_for("Restore am (Amsterdam)?");
    t.keys(&["Enter"]);
    t.wait_for("am restored, verified");
    assert_eq!(lab.status()["anycast"]["best"], "am");

    // Cancelled withdraw of da changes nothing.
    t.keys(&["j", "w"]);
    t.wait_for("Withdraw da (Dallas)?");
    t.keys(&["Escape"]);
    t.wait_for("withdraw of da cancelled");
    assert_eq!(metro(&lab.status(), "da")["bgp"]["advertised"], true);

    t.keys(&["?"]);
    t.wait_for("select the next metro");
    // Separately: ESC followed at once by a key reads as Alt+key.
    t.keys(&["Escape"]);
    t.wait_until("help closed", |s| !s.contains("select the next metro"));
    t.keys(&["q"]);
    wait_gone(&t);
}

#[test]
fn read_only_console_refuses() {
    let lab = Lab::up("tuiro", &[]);
    let t = Tmux::start_console("ro", 100, 30, &lab.config, &["--read-only"]);
    t.wait_for("[READ-ONLY]");
    t.wait_for("Established");
    t.keys(&["w"]);
    t.wait_for("read-only mode: withdraw of am refused");
    assert_eq!(metro(&lab.status(), "am")["bgp"]["advertised"], true);
    t.keys(&["q"]);
    wait_gone(&t);
}

#[test]
fn tiny_terminal_shows_a_message_and_recovers() {
    let lab = Lab::up("tuitiny", &[]);
    let t = Tmux::start_console("tiny", 40, 10, &lab.config, &[]);
    t.wait_for("terminal too small");
    t.cmd(&["resize-window", "-t", "main", "-x", "100", "-y", "30"]);
    t.wait_for("Established");
    t.keys(&["q"]);
    wait_gone(&t);
}

#[test]
fn dead_router_cell_says_so_while_the_rest_updates() {
    let Console { lab, tmux: t } = Console::on_lab("dead", 100, 30);
    std::process::Command::new("kill")
        .args(["-9", &lab.pid("am").to_string()])
        .status()
        .unwrap();
    let screen = t.wait_for("unreachable");
    assert!(
        screen
            .lines()
            .any(|l| l.contains(" am ") && l.contains("unreachable")),
        "{screen}"
    );
    t.wait_for("anycast now via da");
    t.keys(&["q"]);
    wait_gone(&t);
}

#[test]
fn embedded_lab_starts_and_stops_with_the_console() {
    let home = temp_dir("home");
    let h = home.path().display().to_string();
    let cmd = console_at_home(&h);
    let t = Tmux::start("embedded", 100, 30, &cmd);
    let screen = t.wait_for("Established");
    assert!(screen.contains("embedded lab"), "{screen}");
    assert_eq!(
        procs_mentioning(&h)
            .iter()
            // The program, not any path: a checkout named `*bird*` mentions it too.
            .filter(|p| p
                .split_whitespace()
                .nth(1)
                .is_some_and(|prog| prog.rsplit('/').next() == Some("bird")))
            .count(),
        3
    );
    t.keys(&["w", "y"]);
    t.wait_for("anycast now via da");
    t.keys(&["q"]);
    wait_gone(&t);
    let left = procs_mentioning(&h);
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(
        std::fs::read_dir(format!("{h}/run/platform-tui"))
            .unwrap()
            .next()
            .is_none(),
        "embedded lab dir removed"
    );
}

#[test]
fn hangup_tears_down_the_embedded_lab() {
    let home = temp_dir("hup");
    let h = home.path().display().to_string();
    let cmd = console_at_home(&h);
    let t = Tmux::start("hup", 100, 30, &cmd);
    t.wait_for("Established");
    // Killing the tmux server hangs up the console's terminal, like an SSH link drop.
    t.cmd(&["kill-server"]);
    nothing_left_mentioning(&h);
}

#[test]
fn a_sigkilled_console_takes_its_embedded_lab_with_it_and_keeps_the_audit_log() {
    let home = temp_dir("kill9");
    let h = home.path().display().to_string();
    let cmd = console_at_home(&h);
    let t = Tmux::start("kill9", 100, 30, &cmd);
    t.wait_for("Established");
    t.keys(&["w", "y"]);
    t.wait_for("anycast now via da");
    Command::new("kill")
        .args(["-9", &t.pane_pid()])
        .status()
        .unwrap();
    nothing_left_mentioning(&format!("{h}/run"));
    // The audit log stays in the user's state directory.
    let audit =
        std::fs::read_to_string(format!("{h}/.state/platform-tui/embedded-lab/audit.jsonl"))
            .unwrap();
    assert!(audit.contains("\"result\":\"ok\""), "{audit}");
    // The next console starts a fresh lab: the old audit log is archived, so nothing is
    // drift, and the stale directory of the killed one is gone.
    let t = Tmux::start("kill9-again", 100, 30, &cmd);
    let screen = t.wait_for("Established");
    assert!(!screen.contains("DRIFT"), "{screen}");
    let archived = std::fs::read_dir(format!("{h}/.state/platform-tui/embedded-lab"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("audit-")
        })
        .count();
    assert_eq!(archived, 1);
    t.keys(&["q"]);
    wait_gone(&t);
    assert!(procs_mentioning(&format!("{h}/run")).is_empty());
}

/// The console with no config, in a home of its own at `h`: it starts the embedded lab.
fn console_at_home(h: &str) -> String {
    format!(
        "env HOME={h} XDG_CONFIG_HOME={h}/.config XDG_STATE_HOME={h}/.state XDG_RUNTIME_DIR={h}/run {}",
        bin()
    )
}

fn wait_gone(t: &Tmux) {
    t.wait_gone("console still running after q", Duration::from_secs(10));
}

/// Waits (at most 10 s) until no process mentions `needle`.
fn nothing_left_mentioning(needle: &str) {
    poll_until("left behind", Duration::from_secs(10), || {
        let left = procs_mentioning(needle);
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    })
}

#[test]
fn latency_view_shows_the_jump_after_a_withdraw() {
    let Console { lab: _lab, tmux: t } = Console::on_lab("lat", 110, 34);
    t.wait_for("anycast 7");
    t.keys(&["2"]);
    t.wait_for("latency (ms, TTFB");
    t.keys(&["w"]);
    t.wait_for("Withdraw am (Amsterdam)?");
    t.keys(&["y"]);
    // The event names the move, and a chart marker names the withdrawal.
    t.wait_until("the move and its marker", |s| {
        s.contains("anycast now served by da (was am)") && s.contains("withdraw am")
    });
    t.wait_until("header says via da", |s| s.contains("ms via da"));
    t.keys(&["f"]);
    t.wait_for("FROZEN");
    t.keys(&["q"]);
    wait_gone(&t);
}

#[test]
fn nomad_view_follows_a_stopped_app() {
    let Console { lab, tmux: t } = Console::on_lab("nomad", 110, 34);
    t.wait_until("nomad column", |s| s.contains("1/1"));
    t.keys(&["3"]);
    t.wait_for("allocations (2)");
    let d = lab.dir.path().to_str().unwrap().to_string();
    assert!(common::run(&["lab", "app", "stop", "am", "--dir", &d])
        .status
        .success());
    t.wait_for("failed");
    t.keys(&["Enter"]);
    t.wait_for("Terminated");
    t.keys(&["l"]);
    t.wait_for("logs am");
    t.keys(&["o"]);
    t.wait_for("app server stopped");
    // Logs opened from the detail go back to it, then to the list.
    t.keys(&["Escape"]);
    t.wait_for("Terminated");
    t.keys(&["Escape"]);
    t.wait_for("allocations (2)");
    t.keys(&["1"]);
    // The overview highlights the failure, and the events pane names it.
    let screen = t.wait_for("0/1 1✗");
    assert!(screen.contains("am: 1 allocation(s) failed"), "{screen}");
    assert!(common::run(&["lab", "app", "start", "am", "--dir", &d])
        .status
        .success());
    t.wait_for("am: allocations recovered");
    t.keys(&["q"]);
    wait_gone(&t);
}

#[test]
fn a_dead_anycast_app_is_lost_in_the_header_not_a_healthy_figure() {
    let Console { lab, tmux: t } = Console::on_lab("tuilost", 100, 30);
    t.wait_until("a healthy figure first", |s| {
        s.lines().next().is_some_and(|l| l.contains("ms via am"))
    });
    let d = lab.dir.path().to_str().unwrap().to_string();
    assert!(common::run(&["lab", "app", "stop", "am", "--dir", &d])
        .status
        .success());
    let screen = t.wait_until("LOST in the header", |s| {
        s.lines().next().is_some_and(|l| l.contains("LOST"))
    });
    assert!(
        !screen.lines().next().unwrap().contains("ms via am"),
        "{screen}"
    );
    assert!(screen.contains("anycast address failing"), "{screen}");
    assert!(common::run(&["lab", "app", "start", "am", "--dir", &d])
        .status
        .success());
    t.wait_for("anycast address answering again");
    t.keys(&["q"]);
    wait_gone(&t);
}
