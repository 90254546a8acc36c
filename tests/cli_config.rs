//! `config check` and `config template` through the real binary: invalid fixtures exit 2
//! with their expected message (a few; every one is checked in-process by
//! `tests/config_fixtures.rs`); the template is a valid config.
#![allow(clippy::unwrap_used)]

mod common;

use common::{run, temp_dir, text};

/// A smoke test of the binary: every fixture's exact text is checked in-process by
/// `tests/config_fixtures.rs`; here a few, one per kind of error (invalid TOML, a wrong
/// type, an unknown table, a refused value, a secret that must not be echoed), go
/// through `config check` and must exit 2 with the same text.
#[test]
fn invalid_fixtures_exit_2_with_their_message() {
    for name in [
        "syntax_error",
        "wrong_type",
        "unknown_table",
        "bad_prefix",
        "nomad_token",
    ] {
        let rel = format!("tests/fixtures/config/invalid/{name}.toml");
        let expected =
            std::fs::read_to_string(format!("tests/fixtures/config/invalid/{name}.err")).unwrap();
        let out = run(&["config", "check", &rel]);
        assert_eq!(out.status.code(), Some(2), "{rel}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.trim(),
            format!("error: {}", expected.trim()),
            "{rel}"
        );
    }
}

#[test]
fn valid_fixtures_pass_check() {
    for name in ["minimal", "full"] {
        let p = format!("tests/fixtures/config/valid/{name}.toml");
        let out = run(&["config", "check", &p]);
        assert!(out.status.success(), "{p}: {}", text(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains(": ok ("));
    }
}

#[test]
fn template_is_a_valid_config() {
    let out = run(&["config", "template"]);
    assert!(out.status.success());
    let dir = temp_dir("tmpl");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &out.stdout).unwrap();
    let out = run(&["config", "check", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_bad_config_stops_every_command_with_exit_2() {
    let path = "tests/fixtures/config/invalid/bad_prefix.toml";
    for args in [
        vec!["status"],
        vec!["withdraw", "am", "--yes"],
        vec!["status", "--json"],
    ] {
        let mut all = vec!["--config", path];
        all.extend(args);
        let out = run(&all);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("bad_prefix.toml:"),
            "{}",
            text(&out)
        );
    }
}

#[test]
fn missing_config_file_is_a_clear_error() {
    let out = run(&["--config", "/nonexistent/pt.toml", "status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/pt.toml"),
        "{}",
        text(&out)
    );
}

#[test]
fn no_config_and_no_lab_tells_what_to_do() {
    let home = temp_dir("nocfg");
    let h = home.path().to_str().unwrap();
    let out = std::process::Command::new(common::bin())
        .arg("status")
        .env("HOME", h)
        .env("XDG_CONFIG_HOME", format!("{h}/.config"))
        .env("XDG_RUNTIME_DIR", format!("{h}/run"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no config") && err.contains("lab up"), "{err}");
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(run(&["withdraw"]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn a_config_must_be_a_small_regular_file() {
    let out = run(&["config", "check", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("/dev/zero: cannot read config: not a regular file"),
        "{}",
        text(&out)
    );
    let dir = temp_dir("cfgfile");
    let fifo = dir.path().join("fifo.toml");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let out = run(&["config", "check", fifo.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a FIFO is refused, not waited on: {}",
        text(&out)
    );
    let big = dir.path().join("big.toml");
    std::fs::write(&big, vec![b'#'; 5 * 1024 * 1024]).unwrap();
    let out = run(&["config", "check", big.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("larger than 4096 KiB"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_console_needs_a_real_terminal_and_says_so() {
    // Not a terminal at all.
    let out = run(&["--config", "/nonexistent/pt.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the console needs a terminal"),
        "{}",
        text(&out)
    );
    // A terminal that understands no escape codes (`script` gives it a pty).
    let out = std::process::Command::new("script")
        .args(["-qec"])
        .arg(format!(
            "env TERM=dumb {} --config /nonexistent/pt.toml",
            common::bin()
        ))
        .arg("/dev/null")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("TERM=dumb"), "{}", text(&out));
    assert!(
        !said.contains('\u{1b}'),
        "no escape codes for a dumb terminal: {said:?}"
    );
}
