//! Field cases (`tests/fixtures/field/*.bird`, copied from the shared field notes) replayed
//! to the real client: a small Unix-socket server speaks each transcript (the greeting on
//! connect, then for every command the recorded reply bytes), and `router_status`, the
//! `Poller`, the console's state, `status --json` and the screen are checked for the right
//! values. Commands the transcript does not hold are recorded and fail the test, so the
//! client is also held to sending exactly the recorded command lines.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use platform_tui::app::{update, Msg, State};
use platform_tui::config::{self, Config};
use platform_tui::domain::RouterStatus;
use platform_tui::ops::collect::router_status;
use platform_tui::ops::Poller;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;

/// A recorded conversation: what the server says on connect, and its reply to each command.
#[derive(Clone, Default)]
struct Transcript {
    greeting: String,
    replies: HashMap<String, String>,
}

impl Transcript {
    /// Parses the `.bird` format: `#` comment lines at the top, then `>>> COMMAND` blocks
    /// whose following lines, up to the next `>>>`, are the reply bytes exactly.
    fn parse(text: &str) -> Transcript {
        let mut t = Transcript::default();
        let mut current: Option<(String, String)> = None;
        let mut started = false;
        for line in text.split_inclusive('\n') {
            if !started && line.starts_with('#') {
                continue;
            }
            if let Some(cmd) = line.strip_prefix(">>> ") {
                started = true;
                if let Some((c, r)) = current.take() {
                    t.put(c, r);
                }
                current = Some((cmd.trim_end_matches('\n').to_string(), String::new()));
            } else if let Some((_, reply)) = current.as_mut() {
                reply.push_str(line);
            }
        }
        if let Some((c, r)) = current {
            t.put(c, r);
        }
        assert!(!t.greeting.is_empty(), "transcript without a greeting");
        t
    }

    fn load(name: &str) -> Transcript {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/field")
            .join(name);
        Transcript::parse(&std::fs::read_to_string(&path).unwrap())
    }

    fn put(&mut self, command: String, reply: String) {
        if command == "greeting" {
            self.greeting = reply;
        } else {
            self.replies.insert(command, reply);
        }
    }

    /// Adds (or replaces) the reply to one command.
    fn with(mut self, command: &str, reply: &str) -> Transcript {
        self.replies.insert(command.to_string(), reply.to_string());
        self
    }

    /// `show status` with the router's clock at `time` (BIRD's default base format).
    fn with_clock(self, time: &str) -> Transcript {
        self.with(
            "show status",
            &format!(
                "1000-BIRD 2.0.12\n1011-Router ID is 198.51.100.2\n Current server time is {time}\n0013 Daemon is up and running\n"
            ),
        )
    }
}

/// A replay server on a Unix socket in its own temp dir; stops with the test's runtime.
struct Replay {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    /// Every command received, in order.
    received: Arc<Mutex<Vec<String>>>,
    /// Commands the transcript has no reply for.
    unanswered: Arc<Mutex<Vec<String>>>,
}

impl Replay {
    fn start(t: Transcript) -> Replay {
        let dir = tempfile::Builder::new().prefix("replay").tempdir().unwrap();
        let socket = dir.path().join("bird.ctl");
        let listener = UnixListener::bind(&socket).unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let unanswered = Arc::new(Mutex::new(Vec::new()));
        let (rx, un) = (received.clone(), unanswered.clone());
        let t = Arc::new(t);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (t, rx, un) = (t.clone(), rx.clone(), un.clone());
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    if write.write_all(t.greeting.as_bytes()).await.is_err() {
                        return;
                    }
                    let mut lines = BufReader::new(read).lines();
                    while let Ok(Some(cmd)) = lines.next_line().await {
                        rx.lock().unwrap().push(cmd.clone());
                        let reply = match t.replies.get(&cmd) {
                            Some(r) => r.clone(),
                            None => {
                                un.lock().unwrap().push(cmd.clone());
                                "9001 syntax error, unexpected CF_SYM_UNDEFINED\n".to_string()
                            }
                        };
                        if write.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Replay {
            _dir: dir,
            socket,
            received,
            unanswered,
        }
    }

    fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }

    fn assert_all_answered(&self) {
        let un = self.unanswered.lock().unwrap().clone();
        assert!(
            un.is_empty(),
            "the client sent commands the transcript has no reply for: {un:?}"
        );
    }
}

/// A config with one metro, `metro1`, whose BIRD is `socket`.
fn config(prefix: &str, socket: &Path, metro: &str, observer: Option<&Path>) -> Config {
    let mut text = format!("[anycast]\nprefix = \"{prefix}\"\n");
    if let Some(o) = observer {
        text.push_str(&format!(
            "[anycast.observer]\nbird_socket = \"{}\"\n",
            o.display()
        ));
    }
    text.push_str(&format!(
        "[[metro]]\nname = \"metro1\"\nbird_socket = \"{}\"\n{metro}",
        socket.display()
    ));
    config::parse(&text, Path::new("/field/platform-tui.toml")).unwrap()
}

async fn status_of(cfg: &Config, socket: &Path, prefix: &str) -> RouterStatus {
    let mut c = platform_tui::bird::BirdClient::new(socket, Duration::from_secs(2));
    router_status(&cfg.metros[0], &mut c, prefix)
        .await
        .unwrap_or_else(|e| panic!("the router answers, yet: {e}"))
}

/// The console's state, `status --json` and an overview screen after one real poll.
async fn console(cfg: &Config) -> (State, serde_json::Value, String) {
    let snap = Poller::new(cfg, Duration::from_millis(500))
        .snapshot()
        .await;
    let mut state = State::new(cfg, Default::default(), "field".into(), snap.taken);
    update(&mut state, Msg::Snapshot(snap));
    let json =
        serde_json::to_value(platform_tui::cli::status::StatusReport::of(&state.world)).unwrap();
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 30)).unwrap();
    term.draw(|f| platform_tui::ui::draw(&state, f)).unwrap();
    let screen = term.backend().to_string();
    (state, json, screen)
}

fn age_of(r: &RouterStatus) -> u64 {
    let at = r.bgp.as_ref().and_then(|b| b.since_at).expect("an age");
    SystemTime::now().duration_since(at).unwrap().as_secs()
}

#[tokio::test]
async fn field_01_session_active_export_9001_is_reachable() {
    let prefix = "192.0.2.10/32";
    let replay = Replay::start(
        Transcript::load("01-bgp-active-export-9001.bird").with_clock("2024-12-04 09:21:11.904"),
    );
    let cfg = config(
        prefix,
        &replay.socket,
        "export_protocol = \"upstream\"\n",
        None,
    );
    let r = status_of(&cfg, &replay.socket, prefix).await;
    let bgp = r.bgp.clone().unwrap();
    assert_eq!(bgp.session, "Active");
    assert_eq!(bgp.state, "start");
    assert_eq!(bgp.info, "Socket: Connection refused");
    assert_eq!(bgp.since, "09:20:11.904");
    assert!((59..=61).contains(&age_of(&r)), "{:?}", bgp.since_at);
    assert_eq!(r.origin_state(), "up");
    assert_eq!(r.advertised, Some(false));
    assert_eq!(r.exported, Some(0));
    assert_eq!(r.problems, Vec::<String>::new());
    replay.assert_all_answered();

    let (_, json, screen) = console(&cfg).await;
    let m = &json["metros"][0];
    assert_eq!(m["error"], serde_json::Value::Null, "{json:#}");
    assert_eq!(m["bgp"]["session"], "Active");
    assert_eq!(m["bgp"]["advertised"], false);
    assert_eq!(m["bgp"]["exported"], 0);
    assert_eq!(m["bgp"]["origin"], "up");
    assert_eq!(m["bgp"]["info"], "Socket: Connection refused");
    assert!(!json.to_string().contains("unreachable"), "{json:#}");
    assert!(!screen.contains("unreachable"), "{screen}");
    assert!(screen.contains("Active"), "{screen}");
    assert!(screen.contains("Socket: Connection refused"), "{screen}");
}

#[tokio::test]
async fn field_03_down_protocol_info_is_the_error_not_a_session() {
    let prefix = "192.0.2.10/32";
    let replay = Replay::start(
        Transcript::load("03-bgp-down-info-without-state-word.bird")
            .with_clock("2024-12-04 12:50:02.000"),
    );
    let cfg = config(
        prefix,
        &replay.socket,
        "export_protocol = \"upstream\"\n",
        None,
    );
    let r = status_of(&cfg, &replay.socket, prefix).await;
    let bgp = r.bgp.clone().unwrap();
    assert_eq!(bgp.session, "Down");
    assert_eq!(bgp.state, "down");
    assert_eq!(bgp.since, "2024-12-04 12:48:02");
    assert_eq!(bgp.info, "Automatic shutdown: Route limit exceeded");
    assert!((120..=122).contains(&age_of(&r)), "{:?}", bgp.since_at);
    assert_eq!(r.advertised, Some(false));
    assert_eq!(r.exported, Some(0));
    assert_eq!(r.origin_state(), "up");
    replay.assert_all_answered();

    let (_, json, screen) = console(&cfg).await;
    let m = &json["metros"][0];
    assert_eq!(m["bgp"]["session"], "Down");
    assert_eq!(
        m["bgp"]["since"], "2024-12-04 12:48:02",
        "raw text in the JSON"
    );
    assert_eq!(m["bgp"]["info"], "Automatic shutdown: Route limit exceeded");
    let row = screen.lines().find(|l| l.contains("metro1")).unwrap();
    assert!(
        row.contains(" Down ") && !row.contains(" Automatic  "),
        "the session is Down, never `Automatic`:\n{screen}"
    );
    // SINCE is an age, not the first characters of the date.
    assert!(!screen.contains("2024-"), "{screen}");
}

#[tokio::test]
async fn field_04_dual_stack_counts_the_prefixs_channel() {
    let prefix = "2001:db8:10::/48";
    let replay = Replay::start(
        Transcript::load("04-dualstack-ipv6-anycast.bird").with_clock("2024-12-04 09:15:02.551"),
    );
    let cfg = config(
        prefix,
        &replay.socket,
        "export_protocol = \"upstream\"\n",
        None,
    );
    let r = status_of(&cfg, &replay.socket, prefix).await;
    assert_eq!(r.bgp.as_ref().unwrap().session, "Established");
    assert_eq!(r.advertised, Some(true));
    assert_eq!(
        r.exported,
        Some(1),
        "the ipv6 channel's count, not the ipv4 one's"
    );
    assert!((59..=61).contains(&age_of(&r)));
    assert_eq!(r.problems, Vec::<String>::new());
    replay.assert_all_answered();
}

#[tokio::test]
async fn field_09_dashed_name_is_sent_apostrophe_quoted() {
    let prefix = "192.0.2.10/32";
    let replay = Replay::start(
        Transcript::load("09-dashed-protocol-name.bird").with_clock("2024-12-04 09:14:12.551"),
    );
    // `config check` takes the name, and the queries can send it.
    let cfg = config(
        prefix,
        &replay.socket,
        "export_protocol = \"upstream-metro1\"\n",
        None,
    );
    let r = status_of(&cfg, &replay.socket, prefix).await;
    let bgp = r.bgp.clone().unwrap();
    assert_eq!(bgp.protocol, "upstream-metro1");
    assert_eq!(bgp.session, "Established");
    assert_eq!(r.advertised, Some(true));
    assert_eq!(r.exported, Some(1));
    assert!((9..=11).contains(&age_of(&r)));
    assert_eq!(r.problems, Vec::<String>::new());
    replay.assert_all_answered();
    let sent = replay.received();
    assert!(
        sent.contains(&"show route 192.0.2.10/32 export 'upstream-metro1'".to_string()),
        "{sent:?}"
    );
    assert!(
        !sent.contains(&"show route 192.0.2.10/32 export upstream-metro1".to_string()),
        "the bare name is a syntax error: {sent:?}"
    );
}

#[tokio::test]
async fn names_config_check_refuses_are_names_no_query_sends() {
    for bad in ["upstream metro1", "up\"stream", "upstream*", "'upstream'"] {
        let text = format!(
            "[anycast]\nprefix = \"192.0.2.10/32\"\n[[metro]]\nname = \"m\"\nbird_socket = \"x.ctl\"\nexport_protocol = {}\n",
            toml::Value::String(bad.into())
        );
        let e = config::parse(&text, Path::new("/x.toml")).expect_err(bad);
        assert!(
            e.to_string()
                .contains("BIRD protocol names are 1 to 64 characters"),
            "{e}"
        );
        let mut c = platform_tui::bird::BirdClient::new("/nonexistent", Duration::from_secs(1));
        assert!(
            matches!(
                c.show_route_export("192.0.2.10/32", bad).await,
                Err(platform_tui::bird::BirdError::InvalidName(_))
            ),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn configured_protocols_missing_at_the_router_are_reported() {
    let prefix = "192.0.2.10/32";
    let replay = Replay::start(Transcript::load("01-bgp-active-export-9001.bird"));
    let cfg = config(
        prefix,
        &replay.socket,
        "export_protocol = \"upstrem\"\norigin_protocols = [\"anycast\", \"anycst\"]\n",
        None,
    );
    let r = status_of(&cfg, &replay.socket, prefix).await;
    assert_eq!(r.bgp, None);
    assert_eq!(r.advertised, None, "not judged from the origins");
    assert_eq!(
        r.problems,
        [
            "no protocol `anycst` at metro1's BIRD",
            "no protocol `upstrem` at metro1's BIRD"
        ]
    );
    let (_, json, screen) = console(&cfg).await;
    let m = &json["metros"][0];
    assert_eq!(m["error"], serde_json::Value::Null);
    assert_eq!(m["bgp"]["advertised"], serde_json::Value::Null);
    assert_eq!(
        m["problems"],
        serde_json::json!([
            "no protocol `anycst` at metro1's BIRD",
            "no protocol `upstrem` at metro1's BIRD"
        ])
    );
    assert!(
        screen.contains("no protocol `anycst` at metro1's BIRD"),
        "{screen}"
    );
}

#[tokio::test]
async fn any_error_reply_stays_with_its_piece() {
    let prefix = "192.0.2.10/32";
    let replay = Replay::start(
        Transcript::load("04-dualstack-ipv6-anycast.bird")
            .with(
                "show route 192.0.2.10/32 export upstream",
                "8007 Access denied\n",
            )
            .with(
                "show protocols all \"upstream\"",
                "8003 No protocols match\n",
            )
            .with_clock("2024-12-04 09:15:02.551"),
    );
    let cfg = config(
        prefix,
        &replay.socket,
        "export_protocol = \"upstream\"\n",
        None,
    );
    let r = status_of(&cfg, &replay.socket, prefix).await;
    assert_eq!(r.bgp.as_ref().unwrap().session, "Established");
    assert_eq!(r.advertised, None);
    assert_eq!(r.exported, None);
    assert_eq!(
        r.problems,
        [
            "export of 192.0.2.10/32 to `upstream` unknown: BIRD 8007: Access denied",
            "details of `upstream` unknown: BIRD 8003: No protocols match"
        ]
    );
    replay.assert_all_answered();
    let (_, json, _) = console(&cfg).await;
    assert_eq!(json["metros"][0]["error"], serde_json::Value::Null);
}

/// An observer transcript: `show route for P all` answered with `routes`, `show
/// protocols` with the observer's protocols.
fn observer(prefix: &str, routes: &str, protocols: &[&str]) -> Transcript {
    let mut rows =
        String::from("2002-Name       Proto      Table      State  Since         Info\n");
    for (i, p) in protocols.iter().enumerate() {
        rows.push_str(&format!(
            "{}{p} BGP        ---        up     1733316000    Established   \n",
            if i == 0 { "1002-" } else { " " }
        ));
    }
    rows.push_str("0000 \n");
    Transcript {
        greeting: "0001 BIRD 2.0.12 ready.\n".into(),
        replies: HashMap::new(),
    }
    .with(&format!("show route for {prefix} all"), routes)
    .with("show protocols", &rows)
}

#[tokio::test]
async fn a_best_path_via_a_peer_that_is_no_metro_is_named() {
    let prefix = "192.0.2.10/32";
    let metro = Replay::start(
        Transcript::load("09-dashed-protocol-name.bird").with_clock("2024-12-04 09:14:12.551"),
    );
    let obs = Replay::start(observer(
        prefix,
        "1007-Table master4:\n 192.0.2.10/32        unicast [transit1 1733316000] * (100) [AS64999i]\n \tvia 198.51.100.9 on eth0\n1008-\tType: BGP univ\n1007-                     unicast [metro_metro1 1733316000] (100) [AS64501i]\n \tvia 198.51.100.2 on eth0\n1008-\tType: BGP univ\n0000 \n",
        &["transit1", "metro_metro1"],
    ));
    let cfg = config(
        prefix,
        &metro.socket,
        "export_protocol = \"upstream-metro1\"\nobserver_protocol = \"metro_metro1\"\n",
        Some(&obs.socket),
    );
    let (state, json, screen) = console(&cfg).await;
    assert_eq!(state.best(), None);
    assert_eq!(json["anycast"]["best"], serde_json::Value::Null);
    assert_eq!(json["anycast"]["best_peer"], "transit1");
    assert_eq!(
        json["anycast"]["advertising"],
        serde_json::json!(["metro1"])
    );
    assert!(
        screen.contains("best via peer transit1 (not a configured metro)"),
        "{screen}"
    );
    assert!(!screen.contains("black-holed"), "{screen}");
    obs.assert_all_answered();
    metro.assert_all_answered();
}

#[tokio::test]
async fn an_observer_protocol_missing_at_the_observer_is_reported() {
    let prefix = "192.0.2.10/32";
    let metro = Replay::start(
        Transcript::load("09-dashed-protocol-name.bird").with_clock("2024-12-04 09:14:12.551"),
    );
    let obs = Replay::start(observer(
        prefix,
        "1007-Table master4:\n 192.0.2.10/32        unicast [metro_metro1 1733316000] * (100) [AS64501i]\n1008-\tType: BGP univ\n0000 \n",
        &["metro_metro1"],
    ));
    let cfg = config(
        prefix,
        &metro.socket,
        "export_protocol = \"upstream-metro1\"\nobserver_protocol = \"metro_metrol\"\n",
        Some(&obs.socket),
    );
    let (_, json, screen) = console(&cfg).await;
    assert_eq!(
        json["metros"][0]["problems"],
        serde_json::json!(["no protocol `metro_metrol` at the observer's BIRD"])
    );
    assert!(
        screen.contains("no protocol `metro_metrol` at the observer's BIRD"),
        "{screen}"
    );
    // Its route arrives from a protocol of another name: it maps to no metro.
    assert_eq!(json["anycast"]["best"], serde_json::Value::Null);
    assert_eq!(json["anycast"]["best_peer"], "metro_metro1");
}

#[tokio::test]
async fn a_silent_observer_is_silent_never_black_holed() {
    let prefix = "192.0.2.10/32";
    let metro = Replay::start(
        Transcript::load("09-dashed-protocol-name.bird").with_clock("2024-12-04 09:14:12.551"),
    );
    // Accepts, never says a word (a SIGSTOPped BIRD looks like this).
    let dir = tempfile::Builder::new().prefix("silent").tempdir().unwrap();
    let sock = dir.path().join("observer.ctl");
    let listener = UnixListener::bind(&sock).unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let cfg = config(
        prefix,
        &metro.socket,
        "export_protocol = \"upstream-metro1\"\n",
        Some(&sock),
    );
    let (state, json, screen) = console(&cfg).await;
    let err = json["anycast"]["observer_error"].as_str().unwrap();
    assert!(err.starts_with("router silent"), "{err}");
    assert_eq!(json["anycast"]["best"], serde_json::Value::Null);
    assert!(screen.contains("observer silent"), "{screen}");
    assert!(!screen.contains("black-holed"), "{screen}");
    // The metro is reachable and advertising; the observer's silence changes neither.
    assert_eq!(json["metros"][0]["error"], serde_json::Value::Null);
    assert_eq!(state.advertising(), ["metro1"]);
}
