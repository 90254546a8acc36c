//! Remote metros over SSH against a real OpenSSH server on loopback (its own host key,
//! authorized keys and `-f` config; the client with its own `-F` config) and a real
//! lab: the metros are reached only through ssh (sshd's log shows every BIRD socket
//! opened through it, and stopping sshd takes exactly those metros down while the
//! others work on), withdraw/restore over ssh, a ProxyJump chain, an unknown host key, a
//! socket the far end refuses, a console that recovers without a restart, a command
//! interrupted by SIGTERM, and a teammate's console served by sshd itself through the
//! line `share` installs. Nothing is left behind: no ssh process, no socket.
//!
//! Without sshd these tests print a loud `SKIPPED:` line and return.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::sshd::{self, Sshd};
use common::{bin, metro, run, temp_dir, text, Lab, Tmux};

/// Writes `<lab>/ssh.toml`: the lab's config with `console.ssh_config` and, for each
/// (metro, destination), `ssh = destination` and the BIRD socket's absolute path (as
/// seen on that host: the same machine).
fn remote_config(lab: &Lab, ssh_config: &Path, remote: &[(&str, &str)]) -> PathBuf {
    let text = std::fs::read_to_string(&lab.config).unwrap();
    let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
    let dir = lab.config.parent().unwrap().to_path_buf();
    doc["console"]["ssh_config"] = toml_edit::value(ssh_config.to_str().unwrap());
    for m in doc["metro"].as_array_of_tables_mut().unwrap().iter_mut() {
        let name = m["name"].as_str().unwrap().to_string();
        if let Some((_, dest)) = remote.iter().find(|(n, _)| *n == name) {
            let sock = dir.join(m["bird_socket"].as_str().unwrap());
            m["bird_socket"] = toml_edit::value(sock.to_str().unwrap());
            m["ssh"] = toml_edit::value(*dest);
        }
    }
    let path = dir.join("ssh.toml");
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

fn pt(config: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--config", config.to_str().unwrap()];
    all.extend_from_slice(args);
    run(&all)
}

fn status(config: &Path) -> (serde_json::Value, std::process::Output) {
    let out = pt(config, &["status", "--json"]);
    let s = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    (s, out)
}

/// Waits (bounded) until no ssh client or master mentions `needle`.
fn assert_no_ssh_left(needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = sshd::ssh_clients(needle);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "ssh processes left behind: {left:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runtime directories of the transport (`pt-ssh-<pid>-…`) of processes that are gone.
fn stale_runtime_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for base in [
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        Some("/tmp".into()),
    ]
    .into_iter()
    .flatten()
    {
        for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix("pt-ssh-")
                .and_then(|r| r.split('-').next())
            else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists() {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn every_metro_through_ssh_status_withdraw_restore_and_a_proxyjump_chain() {
    if !sshd::available() {
        return;
    }
    let lab = Lab::up("sshst", &[]);
    let server = Sshd::start(&lab.dir.path().join("sshd"));
    let cfg_ssh = server.client_config(&[
        ("bastion", "root", ""),
        ("metro-am", "root", "  ProxyJump bastion\n"),
        ("metro-da", "root", ""),
    ]);
    let cfg = remote_config(&lab, &cfg_ssh, &[("am", "metro-am"), ("da", "metro-da")]);
    let out = pt(&cfg, &["config", "check"]);
    assert!(out.status.success(), "{}", text(&out));

    let (s, out) = status(&cfg);
    assert!(out.status.success(), "{}", text(&out));
    for name in ["am", "da"] {
        let m = metro(&s, name);
        assert_eq!(m["bgp"]["session"], "Established", "{m:#}");
        assert_eq!(m["bgp"]["advertised"], true, "{m:#}");
        assert_eq!(m["ssh"]["state"], "up", "{m:#}");
        assert_eq!(m["ssh"]["destination"], format!("metro-{name}"));
        assert_eq!(m["ssh"]["bird"]["ok"], true, "{m:#}");
        assert_eq!(m["ssh"]["nomad"]["ok"], true, "{m:#}");
        assert!(
            m["nomad"]["error"].is_null(),
            "Nomad through the tunnel: {m:#}"
        );
        assert!(m["ssh"]["connect_ms"].as_f64().unwrap() > 0.0);
    }
    // Through ssh, really: sshd opened each BIRD socket, and the jump host forwarded.
    let log = server.log_text();
    for name in ["am", "da"] {
        assert!(
            log.lines()
                .any(|l| l.contains("direct_streamlocal") && l.contains(&format!("/{name}.ctl"))),
            "sshd never opened {name}'s BIRD socket:\n{log}"
        );
    }
    assert!(
        log.contains("direct_tcpip"),
        "no ProxyJump hop in sshd's log"
    );
    assert_no_ssh_left(server.dir.to_str().unwrap());

    let out = pt(&cfg, &["withdraw", "am", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("anycast now via da"));
    assert_eq!(lab.status()["anycast"]["best"], "da", "seen locally too");
    let out = pt(&cfg, &["restore", "am", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(lab.status()["anycast"]["best"], "am");
    assert_no_ssh_left(server.dir.to_str().unwrap());

    // A rollout over the same links: each metro's Nomad API and router only through ssh.
    let channels = |log: &str| {
        log.lines()
            .filter(|l| l.contains("direct_tcpip") || l.contains("direct_streamlocal"))
            .count()
    };
    let before = channels(&server.log_text());
    let out = pt(&cfg, &["deploy", "registry.example/hello:v2", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let log = server.log_text();
    assert!(
        channels(&log) > before,
        "the rollout opened no channel through sshd:\n{log}"
    );
    assert_eq!(
        lab.status()["anycast"]["best"],
        "am",
        "every metro restored"
    );
    assert_no_ssh_left(server.dir.to_str().unwrap());
    assert_no_ssh_left(lab.dir.path().to_str().unwrap());
    assert_eq!(stale_runtime_dirs(), Vec::<PathBuf>::new());
}

#[test]
fn an_unknown_host_key_and_a_refused_socket_are_explained() {
    if !sshd::available() {
        return;
    }
    let lab = Lab::up("sshbad", &[]);
    let server = Sshd::start(&lab.dir.path().join("sshd"));
    let cfg_ssh = server.client_config(&[
        ("metro-am", "root", "  UserKnownHostsFile /dev/null\n"),
        // nobody may not enter the lab's directory: sshd cannot open da's BIRD socket.
        ("metro-da", "nobody", ""),
    ]);
    let cfg = remote_config(&lab, &cfg_ssh, &[("am", "metro-am"), ("da", "metro-da")]);
    let started = Instant::now();
    let (s, out) = status(&cfg);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "status took {:?}",
        started.elapsed()
    );

    let am = metro(&s, "am");
    let e = am["error"].as_str().unwrap();
    assert!(e.starts_with("ssh link down: metro-am: "), "{e}");
    assert!(e.contains("host key"), "{e}");
    let by_hand = format!("ssh -F {} metro-am", cfg_ssh.display());
    assert!(
        am["ssh"]["hint"]
            .as_str()
            .unwrap()
            .contains(&format!("run `{by_hand}` once by hand")),
        "{am:#}"
    );
    assert_eq!(am["ssh"]["state"], "down");

    let da = metro(&s, "da");
    assert_eq!(da["ssh"]["state"], "up", "{da:#}");
    assert_eq!(da["ssh"]["bird"]["ok"], false, "{da:#}");
    let e = da["error"].as_str().unwrap();
    assert!(e.starts_with("ssh tunnel refused: metro-da: "), "{e}");
    assert!(
        e.contains("far end refused") && e.contains("permission denied"),
        "{e}"
    );
    // The Nomad tunnel (TCP at the far end) works for nobody.
    assert_eq!(da["ssh"]["nomad"]["ok"], true, "{da:#}");

    // An action over a link that is down fails, says why, and hangs on nothing.
    let out = pt(&cfg, &["withdraw", "am", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_no_ssh_left(server.dir.to_str().unwrap());
}

#[test]
fn a_console_shows_a_broken_link_and_recovers_without_a_restart() {
    if !sshd::available() {
        return;
    }
    let lab = Lab::up("sshtui", &[]);
    let mut server = Sshd::start(&lab.dir.path().join("sshd"));
    let cfg_ssh = server.client_config(&[("metro-am", "root", "")]);
    // am is remote, da local: a broken link takes am only.
    let cfg = remote_config(&lab, &cfg_ssh, &[("am", "metro-am")]);
    let t = Tmux::start(
        "sshtui",
        110,
        30,
        &format!("{} --config {}", bin(), cfg.display()),
    );
    // A metro's row is the line with its display name in the metros table (below its
    // header; the anycast panel above names the serving metro too).
    let row = |s: &str, name: &str| {
        let display = if name == "am" { "Amsterdam" } else { "Dallas" };
        s.lines()
            .skip_while(|l| !l.contains("METRO"))
            .find(|l| l.contains(display))
            .unwrap_or("")
            .to_string()
    };
    t.wait_until("both metros Established", |s| {
        row(s, "am").contains("Established") && row(s, "da").contains("Established")
    });
    t.wait_for("am: ssh link to metro-am up in");

    server.stop();
    let screen = t.wait_until("am's link down, da still up", |s| {
        row(s, "am").contains("ssh down") && row(s, "da").contains("Established")
    });
    assert!(screen.contains("am: ssh link to metro-am down"), "{screen}");

    server.resume();
    let screen = t.wait_until("am back without a restart", |s| {
        row(s, "am").contains("Established")
    });
    assert!(row(&screen, "da").contains("Established"), "{screen}");

    t.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!t.alive(), "the console did not quit");
    assert_no_ssh_left(server.dir.to_str().unwrap());
    assert_eq!(stale_runtime_dirs(), Vec::<PathBuf>::new());
}

#[test]
fn a_remote_command_interrupted_by_sigterm_is_recorded_and_leaves_nothing() {
    if !sshd::available() {
        return;
    }
    let lab = Lab::up("sshterm", &[]);
    let server = Sshd::start(&lab.dir.path().join("sshd"));
    let cfg_ssh = server.client_config(&[("metro-am", "root", "")]);
    let cfg = remote_config(&lab, &cfg_ssh, &[("am", "metro-am")]);
    // am's withdraw runs a command on that host, through the master; it takes its time.
    let marker = lab.dir.path().join("ran-on-the-far-side");
    let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(&cfg).unwrap().parse().unwrap();
    let am = &mut doc["metro"]
        .as_array_of_tables_mut()
        .unwrap()
        .get_mut(0)
        .unwrap();
    let mut w = toml_edit::Table::new();
    w["method"] = toml_edit::value("command");
    w["withdraw"] = toml_edit::value(format!("touch {} && sleep 30", marker.display()));
    w["restore"] = toml_edit::value("true");
    am["withdraw"] = toml_edit::Item::Table(w);
    std::fs::write(&cfg, doc.to_string()).unwrap();

    let child = std::process::Command::new(bin())
        .args(["--config", cfg.to_str().unwrap(), "withdraw", "am", "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !marker.exists() {
        assert!(
            Instant::now() < deadline,
            "the command never ran on the far side"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "SIGTERM took {:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("interrupted: SIGTERM"), "{said}");
    let audit = std::fs::read_to_string(lab.dir.path().join("state/audit.jsonl")).unwrap();
    assert!(
        audit
            .lines()
            .last()
            .unwrap()
            .contains(r#""result":"interrupted""#),
        "{audit}"
    );
    assert_no_ssh_left(server.dir.to_str().unwrap());
    assert_no_ssh_left(lab.dir.path().to_str().unwrap());
    assert_eq!(stale_runtime_dirs(), Vec::<PathBuf>::new());
}

#[test]
fn a_teammates_console_through_the_share_line_is_read_only_and_read_write_is_audited() {
    if !sshd::available() {
        return;
    }
    let lab = Lab::up("sshshare", &[]);
    let server = Sshd::start(&lab.dir.path().join("sshd"));
    let keys = temp_dir("sshshare-keys");
    let mate = sshd::keygen(keys.path(), "mate", "teammate");
    let lead = sshd::keygen(keys.path(), "lead", "lead@laptop");
    let authorized = server.keys.join("root");
    let cfg = lab.config.to_str().unwrap();
    let share = |key: &Path, extra: &[&str]| {
        let mut args = vec![
            "--config",
            cfg,
            "share",
            "--install",
            key.to_str().unwrap(),
            "--authorized-keys",
            authorized.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let out = share(&mate.public, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        line.starts_with(&format!("command=\"{} --read-only --config ", bin())),
        "{line}"
    );
    assert!(
        line.contains("\",restrict,pty ssh-ed25519 ") && line.ends_with(" teammate"),
        "{line}"
    );
    // Installing it again changes nothing.
    let again = share(&mate.public, &[]);
    assert!(again.status.success(), "{}", text(&again));
    let installed = std::fs::read_to_string(&authorized).unwrap();
    assert_eq!(
        installed.lines().filter(|l| l.contains("teammate")).count(),
        1,
        "{installed}"
    );
    let out = share(&lead.public, &["--read-write"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("read-write"),
        "{}",
        text(&out)
    );

    let ssh_cfg = server.client_config(&[("console", "root", "")]);
    let login = |key: &Path| {
        format!(
            "ssh -tt -F {} -i {} -o IdentitiesOnly=yes console",
            ssh_cfg.display(),
            key.display()
        )
    };
    let t = Tmux::start("sshshare-ro", 100, 30, &login(&mate.private));
    let screen = t.wait_for("Established");
    assert!(screen.contains("[READ-ONLY]"), "{screen}");
    t.keys(&["w"]);
    t.wait_for("read-only mode: withdraw of am refused");
    drop(t);

    // The operator's own console, on the same config, watching.
    let own = Tmux::start(
        "sshshare-own",
        120,
        30,
        &format!("{} --config {}", bin(), lab.config.display()),
    );
    own.wait_for("Established");
    let t = Tmux::start("sshshare-rw", 100, 30, &login(&lead.private));
    let screen = t.wait_for("Established");
    assert!(!screen.contains("[READ-ONLY]"), "{screen}");
    t.keys(&["w"]);
    t.wait_for("Withdraw am (Amsterdam)?");
    t.keys(&["y"]);
    t.wait_for("anycast now via da");
    let audit = std::fs::read_to_string(lab.dir.path().join("state/audit.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(last["result"], "ok", "{last:#}");
    assert_eq!(last["ssh"]["key"], "lead@laptop", "{last:#}");
    assert!(
        last["ssh"]["from"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1 port "),
        "{last:#}"
    );
    // Two consoles on one config: the teammate's withdraw is an event in the operator's,
    // saying whose key did it, and never drift.
    let screen = own.wait_for("am withdrawn by root (ssh key lead@laptop from 127.0.0.1 port");
    assert!(!screen.contains("DRIFT"), "{screen}");
    t.keys(&["r"]);
    t.wait_for("Restore am (Amsterdam)?");
    t.keys(&["y"]);
    t.wait_for("am restored, verified");
}
