//! Destructive actions under concurrency, crashes and failures, on a real lab with the
//! real binary: concurrent withdraws never black-hole the address, every action has its
//! intent and outcome in the audit log, concurrent restores keep every desired entry,
//! signals mid-action leave the audit log and `status` telling the truth, and unsafe
//! state directories refuse the action.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{bin, metro, poll_for, poll_until, text, Lab, Tmux};

/// The lab's config with `status` taking no probes (fast), written next to it.
fn quick_config(lab: &Lab, extra: &str) -> std::path::PathBuf {
    let base = std::fs::read_to_string(&lab.config).unwrap();
    let path = lab.dir.path().join("quick.toml");
    std::fs::write(
        &path,
        format!("{base}{extra}\n[probe]\nstatus_probes = 0\n"),
    )
    .unwrap();
    path
}

fn pt(config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

fn spawn(config: &Path, args: &[&str]) -> Child {
    Command::new(bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn status(config: &Path) -> serde_json::Value {
    let out = pt(config, &["status", "--json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
}

fn advertising(config: &Path) -> Vec<String> {
    serde_json::from_value(status(config)["anycast"]["advertising"].clone()).unwrap()
}

fn audit(lab: &Lab) -> Vec<serde_json::Value> {
    let text =
        std::fs::read_to_string(lab.dir.path().join("state/audit.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every intent has exactly one outcome with its id; an outcome without an intent is a
/// refusal.
fn assert_audit_complete(records: &[serde_json::Value]) {
    let mut intents: BTreeMap<String, usize> = BTreeMap::new();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for r in records {
        let id = r["id"].as_str().unwrap().to_string();
        match r["phase"].as_str().unwrap() {
            "intent" => *intents.entry(id).or_default() += 1,
            _ => *outcomes.entry(id).or_default() += 1,
        }
    }
    for (id, n) in &intents {
        assert_eq!(*n, 1, "intent {id} written twice");
        assert_eq!(
            outcomes.get(id),
            Some(&1),
            "intent {id} has no single outcome"
        );
    }
    for r in records.iter().filter(|r| r["phase"] == "outcome") {
        if !intents.contains_key(r["id"].as_str().unwrap()) {
            assert_eq!(r["result"], "refused", "an outcome without an intent: {r}");
        }
    }
}

#[test]
fn concurrent_actions_never_black_hole_and_are_all_audited() {
    const ROUNDS: usize = 50;
    let lab = Lab::up("conc", &["--metros", "am,da,sv"]);
    let cfg = quick_config(&lab, "");
    let metros = ["am", "da", "sv"];
    for round in 0..ROUNDS {
        // Different metros at once: at most two may go, the last one is refused.
        let children: Vec<Child> = metros
            .iter()
            .map(|m| spawn(&cfg, &["withdraw", m, "--yes"]))
            .collect();
        let codes: Vec<i32> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap().status.code().unwrap())
            .collect();
        let adv = advertising(&cfg);
        assert_eq!(
            adv.len(),
            1,
            "round {round}: advertising {adv:?}, exits {codes:?}"
        );
        assert_eq!(
            codes.iter().filter(|c| **c == 0).count(),
            2,
            "round {round}: exits {codes:?}"
        );
        assert_eq!(codes.iter().filter(|c| **c == 1).count(), 1);
        // Restores at once: none may lose another's desired-state entry.
        let children: Vec<Child> = metros
            .iter()
            .map(|m| spawn(&cfg, &["restore", m, "--yes"]))
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}: {}", text(&out));
        }
        if round % 10 == 0 {
            // The same metro three times at once: one withdraws, the others find it done.
            let children: Vec<Child> = (0..3)
                .map(|_| spawn(&cfg, &["withdraw", "am", "--yes"]))
                .collect();
            for c in children {
                let out = c.wait_with_output().unwrap();
                assert!(out.status.success(), "round {round}: {}", text(&out));
            }
            assert_eq!(advertising(&cfg), ["da", "sv"]);
            assert!(pt(&cfg, &["restore", "am", "--yes"]).status.success());
        }
        let s = status(&cfg);
        for m in metros {
            assert_eq!(
                metro(&s, m)["desired"],
                "advertised",
                "round {round}: {s:#}"
            );
        }
    }
    assert_eq!(advertising(&cfg), metros);
    let records = audit(&lab);
    assert_audit_complete(&records);
    let refused = records.iter().filter(|r| r["result"] == "refused").count();
    assert_eq!(refused, ROUNDS, "one refusal per round");
}

/// A config whose am withdraws by a slow command (2 s, then BIRD `disable`) that also
/// writes its environment to `env.txt`.
fn slow_command_config(lab: &Lab) -> std::path::PathBuf {
    let sock = lab.socket("am");
    let env = lab.dir.path().join("env.txt");
    let base = std::fs::read_to_string(&lab.config).unwrap();
    let block = format!(
        "\n[metro.withdraw]\nmethod = \"command\"\nwithdraw = \"env > '{}'; sleep 2; birdc -s '{}' disable anycast\"\nrestore = \"birdc -s '{}' enable anycast\"\n",
        env.display(),
        sock.display(),
        sock.display()
    );
    // The block belongs to the first [[metro]] (am): before its [metro.nomad].
    let at = base.find("[metro.nomad]").unwrap();
    let text = format!(
        "{}{block}\n{}\n[probe]\nstatus_probes = 0\n",
        &base[..at],
        &base[at..]
    );
    let path = lab.dir.path().join("slow.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn wait_for_file(p: &Path) {
    poll_until(
        &format!("{} never appeared", p.display()),
        Duration::from_secs(10),
        || p.exists(),
    )
}

fn am(s: &serde_json::Value) -> &serde_json::Value {
    metro(s, "am")
}

#[test]
fn a_signal_mid_action_stops_the_command_and_is_recorded() {
    let lab = Lab::up("sig", &[]);
    let cfg = slow_command_config(&lab);
    for signal in ["TERM", "HUP", "INT"] {
        let env = lab.dir.path().join("env.txt");
        let _ = std::fs::remove_file(&env);
        let child = Command::new(bin())
            .arg("--config")
            .arg(&cfg)
            .args(["withdraw", "am", "--yes"])
            .env("NOMAD_TOKEN", "tok-secret-4711")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The command has started once it wrote its environment.
        wait_for_file(&env);
        Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1), "SIG{signal}: {}", text(&out));
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains(&format!("SIG{signal} while the command ran")),
            "{said}"
        );
        let env_seen = std::fs::read_to_string(&env).unwrap();
        assert!(
            !env_seen.contains("tok-secret-4711"),
            "the command saw the token"
        );
        // The command's group was stopped: am never withdraws, and nothing says it did.
        std::thread::sleep(Duration::from_millis(2500));
        let s = status(&cfg);
        assert_eq!(am(&s)["bgp"]["advertised"], true, "SIG{signal}: {s:#}");
        assert_eq!(am(&s)["drift"], serde_json::Value::Null);
        assert_eq!(s["actions"]["unfinished"], serde_json::Value::Null);
        let last = audit(&lab).pop().unwrap();
        assert_eq!(last["phase"], "outcome");
        assert_eq!(last["result"], "interrupted", "{last}");
        assert!(
            last["detail"]
                .as_str()
                .unwrap()
                .ends_with("am is advertising"),
            "{last}"
        );
    }
    assert_audit_complete(&audit(&lab));
}

#[test]
fn a_killed_action_is_reported_and_closed_by_the_next_one() {
    let lab = Lab::up("kill", &[]);
    let cfg = slow_command_config(&lab);
    let env = lab.dir.path().join("env.txt");
    let mut child = spawn(&cfg, &["withdraw", "am", "--yes"]);
    wait_for_file(&env);
    child.kill().unwrap();
    let _ = child.wait();
    // The command lives on in its own group and withdraws am; nobody records it, but the
    // unanswered intent says so.
    let s = lab_status_until(&cfg, "am withdrawn", |s| {
        am(s)["bgp"]["advertised"] == false
    });
    let u = &s["actions"]["unfinished"];
    assert_eq!(u["running"], false, "{s:#}");
    assert_eq!(u["metro"], "am");
    let note = am(&s)["note"].as_str().unwrap();
    assert!(
        note.starts_with("withdraw of am by ")
            && note.ends_with("has no recorded outcome; current state: withdrawn"),
        "{note}"
    );
    let human = String::from_utf8_lossy(&pt(&cfg, &["status"]).stdout).to_string();
    assert!(human.contains("has no recorded outcome"), "{human}");
    // The next action closes it with what it found, then acts.
    let out = pt(&cfg, &["restore", "am", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let records = audit(&lab);
    assert_audit_complete(&records);
    let closing = records
        .iter()
        .find(|r| r["result"] == "interrupted")
        .expect("the killed action's outcome");
    assert!(
        closing["detail"]
            .as_str()
            .unwrap()
            .contains("ended mid-action")
            && closing["detail"]
                .as_str()
                .unwrap()
                .ends_with("am withdrawn"),
        "{closing}"
    );
    let s = status(&cfg);
    assert_eq!(s["actions"]["unfinished"], serde_json::Value::Null);
    assert_eq!(am(&s)["bgp"]["advertised"], true);
}

fn lab_status_until(
    cfg: &Path,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    poll_for(
        &format!("timed out waiting for {what}"),
        Duration::from_secs(15),
        || status(cfg),
        pred,
    )
}

#[test]
fn unsafe_state_directories_and_an_unwritable_audit_log_refuse() {
    let lab = Lab::up("unsafe", &[]);
    let cfg = quick_config(&lab, "");
    let state = lab.dir.path().join("state");
    // An audit log that cannot be written: refused, nothing withdrawn.
    std::fs::create_dir_all(state.join("audit.jsonl")).unwrap();
    let out = pt(&cfg, &["withdraw", "am", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("audit log"),
        "{}",
        text(&out)
    );
    assert_eq!(advertising(&cfg), ["am", "da"]);
    std::fs::remove_dir(state.join("audit.jsonl")).unwrap();

    // Writable by others.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = pt(&cfg, &["withdraw", "am", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("writable by others"),
        "{}",
        text(&out)
    );
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();

    // A state dir that is a symlink, and a state file that is one.
    let real = lab.dir.path().join("real-state");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, lab.dir.path().join("linked")).unwrap();
    let linked = lab.dir.path().join("linked.toml");
    let text_cfg = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("state_dir = \"state\"", "state_dir = \"linked\"");
    std::fs::write(&linked, text_cfg).unwrap();
    let out = pt(&linked, &["withdraw", "am", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("symbolic link"),
        "{}",
        text(&out)
    );
    let victim = lab.dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    std::os::unix::fs::symlink(&victim, state.join("desired.json")).unwrap();
    let out = pt(&cfg, &["withdraw", "am", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert_eq!(advertising(&cfg), ["am", "da"], "nothing was withdrawn");
    std::fs::remove_file(state.join("desired.json")).unwrap();

    // Private whatever the umask: the files an action writes are 0600 in a 0700 dir.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 000; exec '{}' --config '{}' withdraw am --yes",
            bin(),
            cfg.display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    use std::os::unix::fs::MetadataExt as _;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
    assert_eq!(mode(&state), 0o700);
    for f in ["audit.jsonl", "lock"] {
        assert_eq!(mode(&state.join(f)), 0o600, "{f}");
    }
}

#[test]
fn the_console_refuses_without_an_audit_log_and_shows_why() {
    let lab = Lab::up("conaudit", &[]);
    let cfg = quick_config(&lab, "");
    std::fs::create_dir_all(lab.dir.path().join("state/audit.jsonl")).unwrap();
    let t = Tmux::console("conaudit", 100, 30, &cfg);
    t.keys(&["w"]);
    t.wait_for("anycast will be served from da");
    t.keys(&["y"]);
    let screen = t.wait_for("withdraw of am not performed");
    assert!(screen.contains("refused: the audit log"), "{screen}");
    assert_eq!(advertising(&cfg), ["am", "da"]);
}

#[test]
fn two_consoles_confirming_at_once_never_black_hole() {
    let lab = Lab::up("twocon", &[]);
    let cfg = quick_config(&lab, "");
    let a = Tmux::console("twocon-a", 100, 30, &cfg);
    let b = Tmux::console("twocon-b", 100, 30, &cfg);
    for round in 0..3 {
        // a asks to withdraw am, b to withdraw da; both dialogs are open at once.
        a.keys(&["w"]);
        b.keys(&["j"]);
        b.keys(&["w"]);
        a.wait_for("y/enter confirm");
        b.wait_for("y/enter confirm");
        a.keys(&["y"]);
        b.keys(&["y"]);
        // Both outcomes are in the audit log: one withdrew, the other was refused.
        poll_until(
            &format!("round {round}: not one withdraw and one refusal"),
            Duration::from_secs(20),
            || {
                let records = audit(&lab);
                let withdraws = |result: &str| {
                    records
                        .iter()
                        .filter(|r| {
                            r["phase"] == "outcome"
                                && r["action"] == "withdraw"
                                && r["result"] == result
                        })
                        .count()
                };
                if withdraws("ok") == round + 1 && withdraws("refused") == round + 1 {
                    Ok(())
                } else {
                    Err(format!("{}\n{}\n{records:#?}", a.screen(), b.screen()))
                }
            },
        );
        assert_eq!(advertising(&cfg).len(), 1, "round {round}");
        for m in ["am", "da"] {
            assert!(pt(&cfg, &["restore", m, "--yes"]).status.success());
        }
        b.keys(&["k"]);
        // Both consoles see the restores from the command line, not drift.
        a.wait_for("advertising: am, da");
        b.wait_for("advertising: am, da");
        assert!(!a.screen().contains("DRIFT"), "{}", a.screen());
        assert!(!b.screen().contains("DRIFT"), "{}", b.screen());
        assert_eq!(
            advertising(&cfg),
            ["am", "da"],
            "{}\n{}\n{:#?}",
            a.screen(),
            b.screen(),
            audit(&lab)
        );
    }
    assert_audit_complete(&audit(&lab));
}

#[test]
fn a_console_quit_mid_action_finishes_it_and_a_hangup_interrupts_it() {
    let lab = Lab::up("conquit", &[]);
    let cfg = slow_command_config(&lab);
    let env = lab.dir.path().join("env.txt");

    // q while the slow withdraw runs: the console says so, waits, records ok, then quits.
    let t = Tmux::console("conquit-q", 100, 30, &cfg);
    t.keys(&["w"]);
    t.wait_for("y/enter confirm");
    t.keys(&["y"]);
    wait_for_file(&env);
    t.keys(&["q"]);
    t.wait_for("before quitting; quit again to interrupt it");
    t.wait_gone("the console never quit", Duration::from_secs(20));
    let last = audit(&lab).pop().unwrap();
    assert_eq!(
        (last["result"].as_str(), last["metro"].as_str()),
        (Some("ok"), Some("am")),
        "{last}"
    );
    assert!(pt(&cfg, &["restore", "am", "--yes"]).status.success());

    // A hang-up while it runs: the command's group is stopped and `interrupted` recorded.
    let _ = std::fs::remove_file(&env);
    let t = Tmux::console("conquit-hup", 100, 30, &cfg);
    t.keys(&["w"]);
    t.wait_for("y/enter confirm");
    t.keys(&["y"]);
    wait_for_file(&env);
    Command::new("kill")
        .args(["-HUP", &t.pane_pid()])
        .status()
        .unwrap();
    let last = poll_until(
        "no outcome recorded after the hang-up",
        Duration::from_secs(20),
        || {
            let last = audit(&lab).pop().unwrap();
            (last["phase"] == "outcome" && last["action"] == "withdraw").then_some(last)
        },
    );
    assert_eq!(last["result"], "interrupted", "{last}");
    assert!(
        last["detail"].as_str().unwrap().contains("SIGHUP"),
        "{last}"
    );
    std::thread::sleep(Duration::from_millis(2500));
    let s = status(&cfg);
    assert_eq!(
        am(&s)["bgp"]["advertised"],
        true,
        "the stopped command never withdrew: {s:#}"
    );
    assert_eq!(s["actions"]["unfinished"], serde_json::Value::Null);
    assert_audit_complete(&audit(&lab));
}
