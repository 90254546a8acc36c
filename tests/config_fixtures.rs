//! Config fixtures: every file in `tests/fixtures/config/valid` must parse; every file in
//! `tests/fixtures/config/invalid` must fail with exactly the text in its sibling `.err`.
//! This is the one check of every fixture; `tests/cli_config.rs` runs a few through the
//! binary.
//!
//! Paths are relative to the crate root (where `cargo test` runs), so the expected text
//! names files the way an operator would type them. To regenerate the `.err` files after
//! a deliberate wording change, run with `BLESS_CONFIG_FIXTURES=1` and review the diff.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use platform_tui::config;
use platform_tui::config::{MetroNomad, Probe, ProbeMethod};

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
    assert!(files.len() >= 20, "expected at least 20 invalid fixtures");
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
    assert_eq!(cfg.probe, Probe::default());
    assert_eq!(cfg.anycast.url.as_deref(), Some("http://198.18.0.10:8080/"));
    for (name, port, token_env) in [
        ("da", 8081, "NOMAD_TOKEN_DA"),
        ("am", 8082, "NOMAD_TOKEN_AM"),
    ] {
        let m = cfg.metro(name).unwrap();
        assert_eq!(m.address.map(|a| a.port()), Some(port), "{name}");
        let nomad = m.nomad.as_ref().unwrap();
        assert_eq!(nomad.token_env.as_deref(), Some(token_env));
    }
    let da = cfg.metro("da").unwrap().nomad.as_ref().unwrap();
    assert_eq!(da.address.as_deref(), Some("http://127.0.0.1:4646"));
}

#[test]
fn probe_and_nomad_fixture_values() {
    let cfg = config::load(Path::new(&format!("{VALID}/probe_and_nomad.toml"))).unwrap();
    assert_eq!(
        cfg.probe,
        Probe {
            interval: Duration::from_millis(500),
            timeout: Duration::from_millis(1500),
            method: ProbeMethod::Get,
            keep_alive: true,
            window: 120,
            served_by_header: "x-served-by".into(),
            status_probes: 5,
        }
    );
    let da = cfg.metro("da").unwrap();
    assert_eq!(da.address, Some("127.0.0.1:18081".parse().unwrap()));
    assert_eq!(
        da.nomad,
        Some(MetroNomad {
            address: Some("http://127.0.0.1:14646".into()),
            token_env: Some("NOMAD_TOKEN_DA".into()),
            region: Some("global".into()),
            namespace: Some("default".into()),
            timeout: Some(Duration::from_millis(3000)),
            ..MetroNomad::default()
        })
    );
    let am = cfg.metro("am").unwrap();
    assert_eq!(am.address, Some("[::1]:18082".parse().unwrap()));
    let nomad = am.nomad.as_ref().unwrap();
    assert_eq!(
        nomad.address.as_deref(),
        Some("https://nomad.am.example:4646")
    );
    assert_eq!(
        nomad.ca_cert,
        Some(PathBuf::from(format!("{VALID}/certs/am-ca.pem")))
    );
    assert_eq!(nomad.skip_verify, Some(false));

    let cfg = config::load(Path::new(&format!("{VALID}/nomad_inline.toml"))).unwrap();
    assert_eq!(cfg.probe.status_probes, 0);
    assert_eq!(cfg.probe.method, ProbeMethod::Head);
    assert_eq!(cfg.metro("sv").unwrap().nomad, Some(MetroNomad::default()));
    assert_eq!(
        cfg.metro("am")
            .unwrap()
            .nomad
            .as_ref()
            .unwrap()
            .namespace
            .as_deref(),
        Some("apps")
    );
}

#[test]
fn nomad_token_values_are_never_echoed() {
    for name in ["nomad_token", "token_in_token_env"] {
        let path = PathBuf::from(format!("{INVALID}/{name}.toml"));
        let text = fs::read_to_string(&path).unwrap();
        let secret = "0f6c1a2e-5b7d-4c1e-9a3f-7d2b8e4c6a10";
        assert!(text.contains(secret), "{name} should hold the fake token");
        let e = config::load(&path).unwrap_err();
        assert!(!e.to_string().contains(secret), "{e}");
        assert!(e.to_string().contains("token_env"), "{e}");
        let err_file = fs::read_to_string(path.with_extension("err")).unwrap();
        assert!(!err_file.contains(secret), "{name}.err");
    }
}

/// That every key is in the template is checked on the parsed raw model, where a key
/// mentioned only in a comment does not count (`config::tests::template_sets_every_key`).
/// What only a comment can say is checked here.
#[test]
fn template_says_what_is_not_supported_yet() {
    assert!(config::template().contains("https is not supported"));
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
