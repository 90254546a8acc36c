//! Config fixtures: every file in `tests/fixtures/config/valid` must parse; every file in
//! `tests/fixtures/config/invalid` must fail with exactly the text in its sibling `.err`.
//!
//! Paths are relative to the crate root (where `cargo test` runs), so the expected text
//! names files the way an operator would type them. To regenerate the `.err` files after
//! a deliberate wording change, run with `BLESS_CONFIG_FIXTURES=1` and review the diff.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

use platform_tui::config;

const VALID: &str = "tests/fixtures/config/valid";
const INVALID: &str = "tests/fixtures/config/invalid";

fn tomls(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn valid_fixtures_parse() {
    let files = tomls(VALID);
    assert!(files.len() >= 4, "expected valid fixtures, found {files:?}");
    for file in files {
        if let Err(e) = config::load(&file) {
            panic!("{} should parse, got: {e}", file.display());
        }
    }
}

#[test]
fn invalid_fixtures_fail_with_expected_text() {
    let files = tomls(INVALID);
    assert!(files.len() >= 12, "expected at least 12 invalid fixtures");
    let bless = std::env::var_os("BLESS_CONFIG_FIXTURES").is_some();
    let mut failures = Vec::new();
    for file in files {
        let path = file;
        let err_file = path.with_extension("err");
        let got = match config::load(&path) {
            Ok(_) => {
                failures.push(format!("{}: parsed, but should fail", path.display()));
                continue;
            }
            Err(e) => e.to_string(),
        };
        if bless {
            fs::write(&err_file, format!("{got}\n")).unwrap();
            continue;
        }
        let want =
            fs::read_to_string(&err_file).unwrap_or_else(|e| panic!("{}: {e}", err_file.display()));
        if got != want.trim() {
            failures.push(format!(
                "{}:\n  want: {}\n  got:  {got}",
                path.display(),
                want.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_err_file_has_a_fixture() {
    for entry in fs::read_dir(INVALID).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "err") {
            assert!(
                path.with_extension("toml").exists(),
                "{} has no .toml",
                path.display()
            );
        }
    }
}

#[test]
fn invalid_errors_carry_position_and_key() {
    for file in tomls(INVALID) {
        let e = config::load(&file).unwrap_err();
        assert_eq!(e.path, file);
        assert!(e.line >= 1 && e.col >= 1, "{e}");
    }
}

#[test]
fn example_config_is_the_template_and_parses() {
    let path = Path::new("config.example.toml");
    assert_eq!(fs::read_to_string(path).unwrap(), config::template());
    let cfg = config::load(path).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = cfg.metros.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["da", "am"]);
    assert_eq!(cfg.anycast.prefix, "198.18.0.10/32");
    assert_eq!(
        cfg.anycast.observer.as_ref().map(|o| o.bird_socket.clone()),
        Some(PathBuf::from("run/upstream.ctl"))
    );
    assert_eq!(cfg.metro("am").unwrap().withdraw.name(), "command");
    assert_eq!(cfg.metro("da").unwrap().withdraw.name(), "disable");
    // The template spells out the defaults, so it must mean the same as saying nothing.
    assert_eq!(cfg.console.keymap, config::keymap::Keymap::default());
    assert_eq!(cfg.console.theme, config::theme::Theme::default());
}

#[test]
fn template_documents_every_key() {
    let t = config::template();
    for key in [
        "read_only",
        "refresh_ms",
        "state_dir",
        "[console.keys]",
        "[console.theme]",
        "prefix",
        "url",
        "[anycast.observer]",
        "bird_socket",
        "display_name",
        "origin_protocols",
        "export_protocol",
        "observer_protocol",
        "[metro.withdraw]",
        "method",
        "withdraw =",
        "restore =",
    ] {
        assert!(t.contains(key), "template does not mention {key}");
    }
    for action in config::keymap::Action::ALL {
        assert!(t.contains(&format!("{} = [", action.name())), "{action}");
    }
    for slot in config::theme::Theme::NAMES {
        assert!(t.contains(&format!("{slot} = \"")), "{slot}");
    }
}

#[test]
fn missing_file_is_reported_without_position() {
    let e = config::load(Path::new("tests/fixtures/config/nope.toml")).unwrap_err();
    assert_eq!((e.line, e.col), (0, 0));
    assert!(
        e.to_string()
            .starts_with("tests/fixtures/config/nope.toml: cannot read config: "),
        "{e}"
    );
}
