//! Unit tests of the config: the model's defaults, every key's rule and message, and
//! error positions.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::keymap::{Command, Keymap};
use super::position::{is_nomad_table, line_col, NOMAD_TOKEN_MESSAGE};
use super::raw::RawFile;
use super::theme::Theme;
use super::values::*;
use super::*;

const MINIMAL: &str = r#"
[anycast]
prefix = "198.18.0.10/32"

[[metro]]
name = "am"
bird_socket = "run/am.ctl"
"#;

fn parse_ok(text: &str) -> Config {
    match parse(text, Path::new("/etc/ptui/config.toml")) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

fn parse_err(text: &str) -> String {
    parse(text, Path::new("c.toml")).unwrap_err().to_string()
}

#[test]
fn minimal_gets_defaults() {
    let c = parse_ok(MINIMAL);
    assert!(!c.console.read_only);
    assert_eq!(c.console.refresh, Duration::from_millis(1000));
    assert_eq!(c.console.state_dir, None);
    assert_eq!(c.console.keymap, Keymap::default());
    assert_eq!(c.console.theme, Theme::default());
    assert_eq!(c.anycast.prefix, "198.18.0.10/32");
    let am = c.metro("am").unwrap();
    assert_eq!(am.display_name, "am");
    assert_eq!(am.bird_socket, PathBuf::from("/etc/ptui/run/am.ctl"));
    assert_eq!(am.origin_protocols, vec!["anycast".to_string()]);
    assert_eq!(am.export_protocol, None);
    assert_eq!(am.observer_protocol, "am");
    assert_eq!(am.withdraw, WithdrawMethod::Disable);
    assert_eq!(am.withdraw.name(), "disable");
    assert_eq!(am.address, None);
    assert_eq!(am.nomad, None);
    assert_eq!(c.probe, Probe::default());
    assert!(c.metro("da").is_none());
    assert_eq!(c.source, Some(PathBuf::from("/etc/ptui/config.toml")));
}

#[test]
fn template_parses() {
    let c = parse_ok(template());
    assert_eq!(
        c.metros.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["da", "am"]
    );
    assert!(c.anycast.observer.is_some());
    assert_eq!(c.probe, Probe::default(), "the template shows the defaults");
    let da = c.metro("da").unwrap();
    assert_eq!(da.address, Some("127.0.0.1:8081".parse().unwrap()));
    let nomad = da.nomad.as_ref().unwrap();
    assert_eq!(nomad.token_env.as_deref(), Some("NOMAD_TOKEN_DA"));
    assert_eq!(nomad.timeout, Some(Duration::from_millis(5000)));
    let am = c.metro("am").unwrap().nomad.as_ref().unwrap();
    assert_eq!(am.address.as_deref(), Some("https://127.0.0.1:4656"));
    assert_eq!(
        am.ca_cert,
        Some(PathBuf::from("/etc/ptui/certs/nomad-ca.pem"))
    );
    assert_eq!(am.skip_verify, Some(false));
}

/// Every key of the raw model a file leaves unset, as dotted paths (`console.lock_wait_ms`,
/// `metro[].nomad.region`); a key set in any element of an array of tables counts as set.
fn unset_keys(text: &str) -> Vec<String> {
    fn walk(
        v: &serde_json::Value,
        path: &str,
        seen: &mut BTreeSet<String>,
        set: &mut BTreeSet<String>,
    ) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let here = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    seen.insert(here.clone());
                    if !v.is_null() {
                        set.insert(here.clone());
                    }
                    walk(v, &here, seen, set);
                }
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    walk(item, &format!("{path}[]"), seen, set);
                }
            }
            _ => {}
        }
    }
    let raw: RawFile = toml::from_str(text).unwrap();
    let (mut seen, mut set) = (BTreeSet::new(), BTreeSet::new());
    walk(
        &serde_json::to_value(&raw).unwrap(),
        "",
        &mut seen,
        &mut set,
    );
    seen.difference(&set).cloned().collect()
}

#[test]
fn template_sets_every_key() {
    let t = template();
    assert_eq!(
        unset_keys(t),
        Vec::<String>::new(),
        "keys the template leaves out"
    );
    let raw: serde_json::Value =
        serde_json::to_value(toml::from_str::<RawFile>(t).unwrap()).unwrap();
    for action in Command::all() {
        assert!(
            raw["console"]["keys"].get(action.name()).is_some(),
            "no [console.keys] {action}"
        );
    }
    for slot in crate::config::theme::Slot::all().map(|s| s.name()) {
        assert!(
            raw["console"]["theme"].get(slot).is_some(),
            "no [console.theme] {slot}"
        );
    }
    // The check itself sees a missing key, table and array-of-tables key.
    assert_eq!(
        unset_keys(&t.replace("lock_wait_ms = 30000\n", "")),
        ["console.lock_wait_ms"]
    );
    assert_eq!(
        unset_keys(&t.replace(
            "[anycast.observer]\nbird_socket = \"run/upstream.ctl\"\n",
            ""
        )),
        ["anycast.observer"]
    );
    assert_eq!(
        unset_keys(&t.replace("region = \"global\"\n", "")),
        ["metro[].nomad.region"]
    );
}

#[test]
fn probe_table() {
    let p = Probe::default();
    assert_eq!(p.interval, Duration::from_millis(1000));
    assert_eq!(p.timeout, Duration::from_millis(2000));
    assert_eq!(p.method, ProbeMethod::Head);
    assert!(!p.keep_alive);
    assert_eq!(p.window, 60);
    assert_eq!(p.served_by_header, "x-served-by");
    assert_eq!(p.status_probes, 3);
    let text = format!(
        "[probe]\ninterval_ms = 100\ntimeout_ms = 50\nmethod = \"get\"\nkeep_alive = true\n\
         window = 10000\nserved_by_header = \"X-Metro\"\nstatus_probes = 0\n{MINIMAL}"
    );
    let c = parse_ok(&text);
    assert_eq!(
        c.probe,
        Probe {
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(50),
            method: ProbeMethod::Get,
            keep_alive: true,
            window: 10_000,
            served_by_header: "x-metro".into(),
            status_probes: 0,
        }
    );
    assert_eq!(ProbeMethod::Get.to_string(), "GET");
    assert_eq!(ProbeMethod::Head.as_str(), "HEAD");
    let probe = |body: &str| parse_err(&format!("[probe]\n{body}\n{MINIMAL}"));
    assert_eq!(
        probe("interval_ms = 60001"),
        "c.toml:2:15: probe.interval_ms: must be between 100 and 60000 milliseconds, got 60001"
    );
    assert_eq!(
        probe("timeout_ms = 49"),
        "c.toml:2:14: probe.timeout_ms: must be between 50 and 60000 milliseconds, got 49"
    );
    assert_eq!(
        probe("window = 1"),
        "c.toml:2:10: probe.window: must be between 2 and 10000 samples, got 1"
    );
    assert_eq!(
        probe("status_probes = 101"),
        "c.toml:2:17: probe.status_probes: must be between 0 and 100, got 101"
    );
    assert_eq!(
        probe("method = \"POST\""),
        "c.toml:2:10: probe.method: unknown probe method `POST`, expected `HEAD` or `GET`"
    );
    for bad in ["", "x_served_by", "x served", "é"] {
        let err = probe(&format!("served_by_header = \"{bad}\""));
        assert!(
            err.contains("probe.served_by_header: invalid header name"),
            "{err}"
        );
    }
    assert!(probe("jitter = 1").contains("probe: unknown key `jitter`"));
}

#[test]
fn anycast_urls() {
    for ok in [
        "http://198.18.0.10:8080/",
        "http://198.18.0.10",
        "HTTP://anycast.example:80/health?x=1",
        "http://[2001:db8::1]:8080/",
        "http://[::1]",
        "http://localhost/a/b",
    ] {
        assert_eq!(check_anycast_url(ok), Ok(()), "{ok}");
    }
    assert_eq!(
        check_anycast_url("https://198.18.0.10/").unwrap_err(),
        "https is not supported yet: use an http:// URL (http://host[:port][/path])"
    );
    for bad in [
        "198.18.0.10:8080",
        "ftp://198.18.0.10/",
        "http://",
        "http:///path",
        "http://host:0/",
        "http://host:65536/",
        "http://host:/",
        "http://host:80x/",
        "http://2001:db8::1/",
        "http://[2001:db8::zz]/",
        "http://[::1/",
        "http://[::1]x/",
        "http://user:pw@host/",
        "http://ho st/",
        "http://host?x",
    ] {
        assert!(check_anycast_url(bad).is_err(), "{bad}");
    }
    assert!(!check_anycast_url("http://user:secret@host/")
        .unwrap_err()
        .contains("secret"));
}

#[test]
fn metro_address() {
    let with = |addr: &str| format!("{MINIMAL}address = \"{addr}\"\n");
    let c = parse_ok(&with("127.0.0.1:8080"));
    assert_eq!(c.metros[0].address, Some("127.0.0.1:8080".parse().unwrap()));
    let c = parse_ok(&with("[::1]:8080"));
    assert_eq!(c.metros[0].address, Some("[::1]:8080".parse().unwrap()));
    assert_eq!(
        parse_err(&with("localhost:8080")),
        "c.toml:8:11: metro[0].address: `localhost:8080` is not an address: expected \
         IP:port, e.g. 127.0.0.1:8080 or [::1]:8080"
    );
    for bad in ["127.0.0.1", "http://127.0.0.1:8080", "127.0.0.1:0", ""] {
        assert!(
            parse_err(&with(bad)).contains("metro[0].address: "),
            "{bad}"
        );
    }
}

#[test]
fn metro_nomad() {
    let nomad = |body: &str| format!("{MINIMAL}[metro.nomad]\n{body}\n");
    let c = parse_ok(&nomad(""));
    assert_eq!(c.metros[0].nomad, Some(MetroNomad::default()));
    let c = parse_ok(&nomad(
        "address = \"https://nomad.am.example:4646/\"\ntoken_env = \"NOMAD_TOKEN_AM\"\n\
         region = \"eu\"\nnamespace = \"apps\"\nca_cert = \"ca.pem\"\n\
         tls_server_name = \"server.eu.nomad\"\nskip_verify = true\ntimeout_ms = 600000\nmax_body_mb = 64",
    ));
    assert_eq!(
        c.metros[0].nomad,
        Some(MetroNomad {
            address: Some("https://nomad.am.example:4646".into()),
            token_env: Some("NOMAD_TOKEN_AM".into()),
            region: Some("eu".into()),
            namespace: Some("apps".into()),
            ca_cert: Some(PathBuf::from("/etc/ptui/ca.pem")),
            tls_server_name: Some("server.eu.nomad".into()),
            skip_verify: Some(true),
            timeout: Some(Duration::from_millis(600_000)),
            max_body: Some(64 << 20),
            unix_socket: None,
        })
    );
    // Inline, in the second metro.
    let text = format!(
        "{MINIMAL}[[metro]]\nname = \"da\"\nbird_socket = \"da.ctl\"\n\
         nomad = {{ address = \"http://127.0.0.1:4646\" }}\n"
    );
    let c = parse_ok(&text);
    assert_eq!(c.metros[0].nomad, None);
    assert_eq!(
        c.metros[1].nomad.as_ref().unwrap().address.as_deref(),
        Some("http://127.0.0.1:4646")
    );
    assert_eq!(
        parse_err(&nomad("max_body_mb = 0")),
        "c.toml:9:15: metro[0].nomad.max_body_mb: must be between 1 and 4096 MB, got 0"
    );
    assert_eq!(
        parse_err(&nomad("timeout_ms = 99")),
        "c.toml:9:14: metro[0].nomad.timeout_ms: must be between 100 and 600000 \
         milliseconds, got 99"
    );
    for bad in [
        "127.0.0.1:4646",
        "ftp://127.0.0.1:4646",
        "http://127.0.0.1:4646/v1",
    ] {
        let err = parse_err(&nomad(&format!("address = \"{bad}\"")));
        assert!(
            err.starts_with("c.toml:9:11: metro[0].nomad.address: "),
            "{err}"
        );
    }
    assert!(parse_err(&nomad("region = \" \"")).ends_with("must not be empty"));
    assert!(parse_err(&nomad("tokn_env = \"X\""))
        .starts_with(
        "c.toml:9:1: metro[0].nomad: unknown key `tokn_env` (did you mean `token_env`?), expected one of"
    ));
}

#[test]
fn nomad_tokens_are_never_echoed() {
    let secret = "b4d5e6f7-1234-5678-9abc-def012345678";
    for text in [
        format!("{MINIMAL}[metro.nomad]\ntoken = \"{secret}\"\n"),
        format!("{MINIMAL}nomad = {{ token = \"{secret}\" }}\n"),
        format!("{MINIMAL}nomad.token = \"{secret}\"\n"),
    ] {
        let err = parse_err(&text);
        assert!(!err.contains(secret), "{err}");
        assert!(err.contains("metro[0].nomad.token: "), "{err}");
        assert!(err.contains(NOMAD_TOKEN_MESSAGE), "{err}");
    }
    // Pasting the token where its variable's name belongs is not echoed either.
    let err = parse_err(&format!(
        "{MINIMAL}[metro.nomad]\ntoken_env = \"{secret}\"\n"
    ));
    assert!(!err.contains(secret), "{err}");
    assert!(err.starts_with("c.toml:9:13: metro[0].nomad.token_env: not an environment"));
    // `token` elsewhere is an ordinary unknown key.
    let err = parse_err(&format!("[console]\ntoken = 1\n{MINIMAL}"));
    assert!(err.contains("console: unknown key `token`"), "{err}");
    assert!(is_nomad_table("metro[12].nomad"));
    assert!(!is_nomad_table("metro[].nomad"));
    assert!(!is_nomad_table("metro[0].nomad.x"));
}

#[test]
fn paths_resolve_against_the_config_dir() {
    let text = MINIMAL.replace("run/am.ctl", "/run/am.ctl");
    let c = parse(&text, Path::new("config.toml")).unwrap();
    assert_eq!(c.metros[0].bird_socket, PathBuf::from("/run/am.ctl"));
    let text = format!("[console]\nstate_dir = \"state\"\n{MINIMAL}");
    let c = parse(&text, Path::new("lab/config.toml")).unwrap();
    assert_eq!(c.console.state_dir, Some(PathBuf::from("lab/state")));
    assert_eq!(c.metros[0].bird_socket, PathBuf::from("lab/run/am.ctl"));
}

#[test]
fn prefixes_normalise() {
    for (input, want) in [
        ("198.18.0.10/32", "198.18.0.10/32"),
        ("198.18.0.10", "198.18.0.10/32"),
        ("198.18.0.0/15", "198.18.0.0/15"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:DB8:0::1/128", "2001:db8::1/128"),
        ("2001:db8::/32", "2001:db8::/32"),
    ] {
        assert_eq!(normalise_prefix(input).unwrap(), want, "{input}");
    }
    for bad in [
        "198.18.0.10/24",
        "198.18.0.10/33",
        "198.18.0/32",
        "198.18.0.10/",
        "198.18.0.10/+3",
        "nope",
        "2001:db8::1/129",
        "",
    ] {
        assert!(normalise_prefix(bad).is_err(), "{bad}");
    }
}

#[test]
fn remote_metros() {
    let text = r#"
[console]
ssh_config = "ssh/config"
[anycast]
prefix = "198.18.0.10/32"
[[metro]]
name = "am"
ssh = "root@am1"
ssh_options = ["-J", "bastion", "-o", "ServerAliveInterval=10"]
[metro.nomad]
token_env = "T_AM"
[[metro]]
name = "da"
ssh = "metro-da"
bird_socket = "/run/bird/bird2.ctl"
"#;
    let c = parse_ok(text);
    assert_eq!(
        c.console.ssh_config,
        Some(PathBuf::from("/etc/ptui/ssh/config"))
    );
    let am = c.metro("am").unwrap();
    assert_eq!(
        am.ssh,
        Some(SshRoute {
            destination: "root@am1".into(),
            options: vec![
                "-J".into(),
                "bastion".into(),
                "-o".into(),
                "ServerAliveInterval=10".into()
            ],
        })
    );
    // As seen on that host: the defaults are the remote ones, never resolved here.
    assert_eq!(am.bird_socket, PathBuf::from(DEFAULT_REMOTE_BIRD_SOCKET));
    assert_eq!(
        am.nomad.as_ref().unwrap().address.as_deref(),
        Some(DEFAULT_REMOTE_NOMAD_ADDRESS)
    );
    let da = c.metro("da").unwrap();
    assert_eq!(da.bird_socket, PathBuf::from("/run/bird/bird2.ctl"));
    assert_eq!(parse_ok(MINIMAL).metro("am").unwrap().ssh, None);

    let bad = |metro: &str| {
        parse_err(&format!(
            "[anycast]\nprefix = \"198.18.0.10/32\"\n[[metro]]\nname = \"am\"\n{metro}"
        ))
    };
    assert_eq!(
        bad("ssh = \"am1\"\nbird_socket = \"run/am.ctl\"\n"),
        "c.toml:6:15: metro[0].bird_socket: with `ssh`, the BIRD socket is a path on that host and must be absolute (e.g. /run/bird/bird.ctl)"
    );
    assert_eq!(
        bad("ssh = \"-oProxyCommand=x\"\n"),
        "c.toml:5:7: metro[0].ssh: `-oProxyCommand=x` is not an ssh destination: options go in `ssh_options`"
    );
    assert!(bad("ssh = \"root@am1 -p 2\"\n").contains("one word"));
    assert_eq!(
        bad("ssh = \"am1\"\nssh_options = [\"-o\", \"ControlPath=/tmp/x\"]\n"),
        "c.toml:6:22: metro[0].ssh_options: `ControlPath=/tmp/x`: the console sets this option itself (its own master, BatchMode=yes: no prompt ever waits inside the console)"
    );
    for own in ["-M", "-S/tmp/c", "-F", "-L", "-oBatchMode=no"] {
        let e = bad(&format!("ssh = \"am1\"\nssh_options = [\"{own}\"]\n"));
        assert!(
            e.contains("metro[0].ssh_options") && e.contains("itself"),
            "{e}"
        );
    }
    assert_eq!(
        bad("bird_socket = \"x\"\nssh_options = [\"-J\", \"b\"]\n"),
        "c.toml:6:15: metro[0].ssh_options: `ssh_options` is only used with `ssh = \"DESTINATION\"`"
    );
    assert_eq!(
        bad(""),
        "c.toml:3:1: metro[0]: missing required key `bird_socket`"
    );
}

#[test]
fn metro_names() {
    for ok in ["am", "da", "sv2", "us-east-1", "0", "abcdefghijklmnop"] {
        assert!(check_metro_name(ok).is_ok(), "{ok}");
    }
    for bad in ["", "Am", "-am", "a_m", "am ", "abcdefghijklmnopq", "ämst"] {
        assert!(check_metro_name(bad).is_err(), "{bad}");
    }
}

#[test]
fn command_method() {
    let text = format!(
        "{MINIMAL}[metro.withdraw]\nmethod = \"command\"\nwithdraw = \"systemctl stop bird\"\nrestore = \"systemctl start bird\"\n"
    );
    let c = parse_ok(&text);
    assert_eq!(
        c.metros[0].withdraw,
        WithdrawMethod::Command(CommandMethod {
            withdraw: "systemctl stop bird".into(),
            restore: "systemctl start bird".into(),
            timeout: DEFAULT_COMMAND_TIMEOUT,
            pass_env: Vec::new(),
        })
    );
    assert_eq!(c.metros[0].withdraw.name(), "command");
}

#[test]
fn commands_take_a_timeout_and_never_a_token_variable() {
    let base = format!(
        "{MINIMAL}[metro.withdraw]\nmethod = \"command\"\nwithdraw = \"w\"\nrestore = \"r\"\n"
    );
    let c = parse(
        &format!("{base}timeout_ms = 5000\npass_env = [\"SSH_AUTH_SOCK\"]\n"),
        Path::new("c.toml"),
    )
    .expect("valid");
    let WithdrawMethod::Command(m) = &c.metros[0].withdraw else {
        panic!("command method");
    };
    assert_eq!(m.timeout, Duration::from_secs(5));
    assert_eq!(m.pass_env, ["SSH_AUTH_SOCK"]);
    let err = parse_err(&format!("{base}pass_env = [\"NOMAD_TOKEN\"]\n"));
    assert!(
        err.ends_with(
            "metro[0].withdraw.pass_env: `NOMAD_TOKEN` holds a token: commands never get tokens"
        ),
        "{err}"
    );
    let err = parse_err(&format!(
        "{base}pass_env = [\"AM_SECRET\"]\n[metro.nomad]\ntoken_env = \"AM_SECRET\"\n"
    ));
    assert!(err.contains("`AM_SECRET` holds a token"), "{err}");
    let err = parse_err(&format!("{MINIMAL}[metro.withdraw]\ntimeout_ms = 5000\n"));
    assert!(err.contains("only used with method = \"command\""), "{err}");
}

#[test]
fn errors_name_place_and_key() {
    let err = parse_err(&format!("[console]\nrefresh_ms = 5\n{MINIMAL}"));
    assert_eq!(
        err,
        "c.toml:2:14: console.refresh_ms: must be between 100 and 60000 milliseconds, got 5"
    );
    let err = parse_err(&format!("{MINIMAL}colour = 1\n"));
    assert!(
        err.starts_with("c.toml:8:1: metro[0]: unknown key `colour`, expected one of"),
        "{err}"
    );
    let err = parse_err("[anycast]\nprefix = 5\n");
    assert_eq!(
        err,
        "c.toml:2:10: anycast.prefix: invalid type: integer `5`, expected a string"
    );
}

#[test]
fn missing_keys_point_at_their_table() {
    let err = parse_err("[console]\n\n[anycast]\nurl = \"http://x/\"\n");
    assert_eq!(err, "c.toml:3:1: anycast: missing required key `prefix`");
    let err = parse_err("");
    assert_eq!(err, "c.toml:1:1: missing required table `[anycast]`");
    let text = format!("{MINIMAL}\n  [[metro]]\n  name = \"da\"\n");
    assert_eq!(
        parse_err(&text),
        "c.toml:9:3: metro[1]: missing required key `bird_socket`"
    );
    let text = "metro = [{ name = \"am\" }]\n[anycast]\nprefix = \"198.18.0.10\"\n";
    assert_eq!(
        parse_err(text),
        "c.toml:1:12: metro[0]: missing required key `bird_socket`"
    );
    let text = "[anycast.observer]\nbird_socket = \"x\"\n";
    assert_eq!(
        parse_err(text),
        "c.toml:1:1: anycast: missing required key `prefix`"
    );
}

#[test]
fn tables_are_found_however_they_are_written() {
    // Inline, dotted, implicit: where toml gives a table no span of its own.
    let m = "[[metro]]\nname = \"am\"\nbird_socket = \"s\"\n";
    for (text, want) in [
        (
            format!("anycast = {{ url = \"http://x/\" }}\n{m}"),
            "c.toml:1:1: anycast",
        ),
        (
            format!("anycast.url = \"http://x/\"\n{m}"),
            "c.toml:1:1: anycast",
        ),
        (
            format!("\n  [anycast.observer]\nbird_socket = \"x\"\n{m}"),
            "c.toml:2:3: anycast",
        ),
        (
            format!("[anycast]\nprefix = \"198.18.0.10\"\nobserver = {{ }}\n{m}"),
            "c.toml:3:1: anycast.observer",
        ),
        (
            "metro = [{ name = \"am\", bird_socket = \"s\" }, { name = \"da\" }]\n\
             [anycast]\nprefix = \"198.18.0.10\"\n"
                .into(),
            "c.toml:1:48: metro[1]",
        ),
    ] {
        let err = parse_err(&text);
        assert!(
            err.starts_with(&format!("{want}: missing required key")),
            "{err}"
        );
    }
    // Keys of `[console.keys]` and `[console.theme]` are named in type errors.
    assert_eq!(
        parse_err(&format!("[console.keys]\nwithdraw = [\"w\", 5]\n{MINIMAL}")),
        "c.toml:2:18: console.keys.withdraw: invalid type: integer `5`, expected a string"
    );
    assert_eq!(
        parse_err(&format!("[console.theme]\nok = 5\n{MINIMAL}")),
        "c.toml:2:6: console.theme.ok: invalid type: integer `5`, expected a string"
    );
    // A dotted unknown key is named in its table, and pointed at.
    assert!(parse_err(&format!("{MINIMAL}nomad.tokn = 1\n"))
        .starts_with("c.toml:8:7: metro[0].nomad: unknown key `tokn`"));
    // An array of tables inside an element is indexed in both.
    assert!(parse_err(&format!("{MINIMAL}[[metro.nomad]]\n"))
        .starts_with("c.toml:8:1: metro[0].nomad: invalid type: "));
    // A date-time anywhere does not change how other errors are named.
    let err = parse_err(&format!("{MINIMAL}[metro.nomad]\nbogus = 1979-05-27\n"));
    assert!(
        err.starts_with("c.toml:9:1: metro[0].nomad: unknown key `bogus`"),
        "{err}"
    );
}

#[test]
fn syntax_errors_name_the_table() {
    let text = format!("{MINIMAL}[metro.withdraw]\nmethod = \"command\n");
    let err = parse(&text, Path::new("c.toml")).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("metro[0].withdraw.method"));
    assert_eq!(err.line, 9);
    // Inside a value that spans lines, the table is still named.
    let text = format!("{MINIMAL}origin_protocols = [\"a\"\nexport_protocol = \"b\"\n");
    let err = parse(&text, Path::new("c.toml")).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("metro[0].export_protocol"));
}

#[test]
fn io_errors_have_no_position() {
    let err = load(Path::new("/nonexistent/platform-tui.toml")).unwrap_err();
    assert_eq!((err.line, err.col), (0, 0));
    assert!(err
        .to_string()
        .starts_with("/nonexistent/platform-tui.toml: cannot read config: "));
}

#[test]
fn line_col_counts_characters() {
    let text = "a\nbé = 1\n";
    assert_eq!(line_col(text, 0), (1, 1));
    assert_eq!(line_col(text, 2), (2, 1));
    assert_eq!(line_col(text, 5), (2, 3));
    assert_eq!(line_col(text, 4), (2, 2), "inside a character rounds down");
    assert_eq!(line_col(text, 999), (3, 1));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,400}") {
            let _ = parse(&text, Path::new("x.toml"));
        }

        #[test]
        fn mangled_template_never_panics(
            at in 0usize..8000,
            cut in 0usize..40,
            insert in "[\\[\\]\"'=.a-z0-9 \n#-]{0,20}",
        ) {
            let t = template();
            let mut start = at.min(t.len());
            while !t.is_char_boundary(start) { start -= 1; }
            let mut end = (start + cut).min(t.len());
            while !t.is_char_boundary(end) { end -= 1; }
            let text = format!("{}{}{}", &t[..start], insert, &t[end..]);
            if let Err(e) = parse(&text, Path::new("x.toml")) {
                prop_assert!(e.line >= 1 && e.col >= 1, "{}", e);
            }
        }
    }
}

#[test]
fn provision_table() {
    assert_eq!(parse_ok(MINIMAL).provision, None);
    let c = parse_ok(&format!(
        "{MINIMAL}\n[provision]\ndir = \"installer\"\nbinary = \"bin/tofu\"\n\
         var_files = [\"a.tfvars\"]\nlock_timeout_ms = 5000\n\
         [provision.vars]\nregion = \"ams3\"\nmetros = [\"am\", \"da\"]\ncount = 3\n\
         tags = {{ team = \"edge\" }}\n"
    ));
    let p = c.provision.expect("provision");
    assert_eq!(p.dir, PathBuf::from("/etc/ptui/installer"));
    assert_eq!(p.binary, Some(PathBuf::from("/etc/ptui/bin/tofu")));
    assert_eq!(p.var_files, vec![PathBuf::from("/etc/ptui/a.tfvars")]);
    assert_eq!(p.lock_timeout, Some(Duration::from_secs(5)));
    assert_eq!(
        p.vars,
        vec![
            ("region".to_string(), "ams3".to_string()),
            ("metros".to_string(), r#"["am","da"]"#.to_string()),
            ("count".to_string(), "3".to_string()),
            ("tags".to_string(), r#"{"team":"edge"}"#.to_string()),
        ],
        "file order, strings as written, the rest as JSON"
    );
    assert_eq!(p.regional_output, DEFAULT_REGIONAL_OUTPUT);
    assert_eq!(p.anycast_output, DEFAULT_ANYCAST_OUTPUT);
    // A bare binary name stays a name: it is looked up on PATH.
    let c = parse_ok(&format!(
        "{MINIMAL}\n[provision]\ndir = \"i\"\nbinary = \"terraform\"\n"
    ));
    assert_eq!(
        c.provision.unwrap().binary,
        Some(PathBuf::from("terraform"))
    );

    let e = parse_err(&format!("{MINIMAL}\n[provision]\nbinary = \"x\"\n"));
    assert!(e.contains("provision: missing required key `dir`"), "{e}");
    let e = parse_err(&format!(
        "{MINIMAL}\n[provision]\ndir = \"i\"\n[provision.vars]\n\"bad name\" = 1\n"
    ));
    assert!(
        e.contains(":12:1: provision.vars: `bad name` is not a terraform name"),
        "{e}"
    );
    let e = parse_err(&format!(
        "{MINIMAL}\n[provision]\ndir = \"i\"\n[provision.vars]\nwhen = 1979-05-27\n"
    ));
    assert!(
        e.contains(":12:8: provision.vars.when: a date has no terraform type"),
        "{e}"
    );
    let e = parse_err(&format!(
        "{MINIMAL}\n[provision]\ndir = \"i\"\nlock_timeout_ms = -1\n"
    ));
    assert!(
        e.contains("provision.lock_timeout_ms: must be between 0 and"),
        "{e}"
    );
    let e = parse_err(&format!(
        "{MINIMAL}\n[provision]\ndir = \"i\"\n[provision.outputs]\nregional = \"a b\"\n"
    ));
    assert!(e.contains("provision.outputs.regional"), "{e}");
    let e = parse_err(&format!("{MINIMAL}\n[provision]\ndir = \"i\"\nvars = 3\n"));
    assert!(e.contains("provision.vars"), "{e}");
}
