//! Provisioning through the real binary on a real lab with the real `terraform` (or
//! `tofu`): the command line adds `fr` and a console already open follows the config it
//! wrote, with the audit log and the history saying so; read-only and unconfirmed runs
//! are refused; an invalid config edit is reported in the console, which keeps running;
//! and the provisioning pane plans, confirms, applies and writes the metro diff from the
//! keyboard. Without terraform or tofu on PATH each test prints
//! `SKIPPED: no terraform or tofu on PATH` and returns.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{metro, poll_until, text, Console};

fn have_terraform() -> bool {
    let found = std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| d.join("terraform").is_file() || d.join("tofu").is_file())
    });
    if !found {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "SKIPPED: no terraform or tofu on PATH");
    }
    found
}

const WITH_FR: &str = r#"metros=["am","da","fr"]"#;
const WITHOUT_FR: &str = r#"metros=["am","da"]"#;

fn audit(c: &Console) -> Vec<serde_json::Value> {
    std::fs::read_to_string(c.lab.dir.path().join("state/audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_command_line_provisions_and_an_open_console_follows() {
    if !have_terraform() {
        return;
    }
    let c = Console::on_lab("prov-cli", 100, 30);
    let lab = &c.lab;

    // A plan, as JSON: one object per line, a summary, and a result last.
    let out = lab.pt(&["provision", "plan", "--var", WITH_FR, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines
        .iter()
        .any(|l| l["type"] == "summary" && l["add"] == 1 && l["operation"] == "plan"));
    assert!(lines
        .iter()
        .any(|l| l["type"] == "planned_change" && l["action"] == "create"));
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "result");
    assert_eq!(last["ok"], true);

    // Refused: read-only, and unconfirmed without a terminal.
    let out = lab.pt(&[
        "--read-only",
        "provision",
        "apply",
        "--var",
        WITH_FR,
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("refused: read-only mode"),
        "{}",
        text(&out)
    );
    let out = lab.pt(&["provision", "apply", "--var", WITH_FR]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("needs --yes"), "{}", text(&out));
    let out = lab.pt(&["provision", "apply", "--var", "metros"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("NAME=VALUE"), "{}", text(&out));

    // The apply: fr is made, written into the config, and the open console shows it.
    let out = lab.pt(&["provision", "apply", "--var", WITH_FR, "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("apply ok: 1 added, 0 changed, 0 destroyed"),
        "{said}"
    );
    assert!(said.contains("admin_password = (sensitive)"), "{said}");
    assert!(said.contains("+ fr "), "{said}");
    let cfg = std::fs::read_to_string(&lab.config).unwrap();
    assert!(cfg.contains("name = \"fr\""), "{cfg}");
    assert!(
        cfg.contains("# Written by `platform-tui lab up`"),
        "comments kept: {cfg}"
    );
    let s = lab.wait_status("fr Established and advertising", |s| {
        s["metros"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "fr" && m["bgp"]["advertised"] == true)
    });
    assert_eq!(metro(&s, "fr")["display_name"], "Frankfurt");
    c.tmux.wait_for("config reloaded: metros + fr");
    c.tmux.wait_until("fr's row Established", |s| {
        s.lines()
            .any(|l| l.contains(" fr ") && l.contains("Established"))
    });

    // Audited write-ahead, and in the history.
    let records = audit(&c);
    let apply: Vec<_> = records.iter().filter(|r| r["action"] == "apply").collect();
    assert_eq!(apply.len(), 2, "{records:#?}");
    assert_eq!(apply[0]["phase"], "intent");
    assert_eq!(apply[1]["phase"], "outcome");
    assert_eq!(apply[1]["result"], "ok");
    assert!(apply[1]["detail"].as_str().unwrap().contains("+ fr"));
    let history = std::fs::read_to_string(lab.dir.path().join("state/provision.jsonl")).unwrap();
    let ops: Vec<String> = history
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["op"].to_string())
        .collect();
    assert!(ops.contains(&"\"apply\"".to_string()), "{history}");
    assert!(ops.contains(&"\"plan\"".to_string()), "{history}");

    // And back: fr goes from the lab, the config and the console.
    let out = lab.pt(&["provision", "apply", "--var", WITHOUT_FR, "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!std::fs::read_to_string(&lab.config)
        .unwrap()
        .contains("name = \"fr\""));
    c.tmux.wait_for("config reloaded: metros - fr");

    // An invalid edit: said in the console with its place; the console runs on.
    let good = std::fs::read_to_string(&lab.config).unwrap();
    std::fs::write(
        &lab.config,
        good.replace("[anycast]", "[anycast]\nbogus = 1"),
    )
    .unwrap();
    let screen = c.tmux.wait_for("config change not applied");
    assert!(screen.contains("platform-tui.toml:"), "{screen}");
    std::fs::write(&lab.config, &good).unwrap();
    poll_until("the console still polls", Duration::from_secs(10), || {
        c.tmux.screen().contains("Established")
    });
}

#[test]
fn the_pane_plans_confirms_applies_and_writes() {
    if !have_terraform() {
        return;
    }
    let c = Console::on_lab("prov-pane", 110, 32);
    let t = &c.tmux;
    t.keys(&["4"]);
    t.wait_for("provisioning:");
    t.wait_for(r#"metros = ["am","da"]"#);
    // Edit the metros variable: add fr.
    t.keys(&["e", "End", "BSpace"]);
    t.keys(&["-l", r#","fr"]"#]);
    t.keys(&["Enter"]);
    t.wait_for(r#"metros = ["am","da","fr"]"#);
    t.keys(&["p"]);
    t.wait_for_within("planned: A applies", Duration::from_secs(60));
    t.wait_for("1 to add, 0 to change, 0 to destroy");
    t.keys(&["A"]);
    t.wait_for("Apply this plan?");
    t.keys(&["y"]);
    let screen = t.wait_for("W writes them into the config");
    assert!(screen.contains("+ fr "), "{screen}");
    assert!(screen.contains("admin_password = (sensitive)"), "{screen}");
    assert!(
        !std::fs::read_to_string(&c.lab.config)
            .unwrap()
            .contains("name = \"fr\""),
        "the pane writes the config only when asked"
    );
    t.keys(&["W"]);
    t.wait_for("written into the config");
    assert!(std::fs::read_to_string(&c.lab.config)
        .unwrap()
        .contains("name = \"fr\""));
    t.keys(&["1"]);
    t.wait_until("fr Established in the overview", |s| {
        s.lines()
            .any(|l| l.contains("Frankfurt") && l.contains("Established"))
    });
    // The audit log names the console as the actor.
    let records = audit(&c);
    assert!(records
        .iter()
        .any(|r| r["action"] == "apply" && r["via"] == "console" && r["result"] == "ok"));
}

#[test]
fn quitting_mid_apply_stops_terraform_gracefully_and_audits_it() {
    if !have_terraform() {
        return;
    }
    let lab = common::Lab::up("prov-quit", &[]);
    // `lab metro add` waits 30 s first (a test hook), so the apply is still running.
    let command = format!(
        "env PLATFORM_TUI_LAB_ADD_DELAY_MS=30000 {} --config {}",
        common::bin(),
        lab.config.display()
    );
    let t = common::Tmux::start("prov-quit", 110, 32, &command);
    t.wait_for("Established");
    t.keys(&["4", "e", "End", "BSpace"]);
    t.keys(&["-l", r#","pa"]"#]);
    t.keys(&["Enter", "p"]);
    t.wait_for_within("planned: A applies", Duration::from_secs(60));
    t.keys(&["A"]);
    t.wait_for("Apply this plan?");
    t.keys(&["y"]);
    t.wait_for("applying");
    t.wait_for_within("Executing:", Duration::from_secs(60));
    // The console says it is stopping terraform, and goes once the outcome is recorded
    // (on a quick machine before a screen capture can see the message): the audit log
    // below is what proves the order.
    t.keys(&["q"]);
    t.wait_gone(
        "the console quits once terraform stopped",
        Duration::from_secs(20),
    );
    let records: Vec<serde_json::Value> =
        std::fs::read_to_string(lab.dir.path().join("state/audit.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let last = records.last().unwrap();
    assert_eq!(last["action"], "apply", "{records:#?}");
    assert_eq!(last["phase"], "outcome");
    assert_eq!(last["result"], "interrupted", "{last}");
    assert!(
        last["detail"].as_str().unwrap().contains("gracefully"),
        "{last}"
    );
    let left: Vec<String> = common::procs_mentioning("lab metro add")
        .into_iter()
        .filter(|p| p.contains(lab.dir.path().to_str().unwrap()))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
