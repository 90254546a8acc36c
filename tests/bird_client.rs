//! BirdClient against real bird2 daemons (unprivileged, loopback, private
//! temp dir; bird.md §6) and against fake sockets for the failure paths.

mod common;

use common::{birdc, poll_until, poll_until_async, temp_dir};
use platform_tui::bird::{BirdClient, BirdError, ProtoState, Toggle};
use platform_tui::config::Metro;
use platform_tui::domain::RouterStatus;
use platform_tui::ops::collect::router_status;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

const PREFIX: &str = "198.18.0.10/32";
static SEQ: AtomicU64 = AtomicU64::new(0);

/// Fail loudly rather than skip: these tests are the only proof the client
/// works against a real daemon.
fn bird_binary() -> PathBuf {
    common::require_bird()
}

/// A random high BGP port per lab so parallel tests and other users of the
/// machine do not collide.
fn random_port() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0) as u64;
    let mix =
        u64::from(std::process::id()) * 7919 + SEQ.fetch_add(1, Ordering::Relaxed) * 1237 + nanos;
    20000 + (mix % 10000) as u16
}

struct Daemon {
    name: String,
    child: Option<Child>,
}

/// Bird daemons in a private directory; killed on drop, also when an assertion
/// panics, and then the directory is removed.
struct Lab {
    dir: tempfile::TempDir,
    bird: PathBuf,
    daemons: Vec<Daemon>,
}

impl Lab {
    fn new(tag: &str) -> Self {
        Lab {
            dir: temp_dir(tag),
            bird: bird_binary(),
            daemons: Vec::new(),
        }
    }

    fn sock(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.ctl"))
    }

    fn write_conf(&self, name: &str, conf: &str) {
        std::fs::write(self.dir.path().join(format!("{name}.conf")), conf).expect("write conf");
    }

    /// Start `name` from `name.conf` in the foreground (-f) so we own the pid.
    fn start(&mut self, name: &str) {
        let sock = self.sock(name);
        let child = Command::new(&self.bird)
            .arg("-f")
            .arg("-c")
            .arg(self.dir.path().join(format!("{name}.conf")))
            .arg("-s")
            .arg(&sock)
            .arg("-P")
            .arg(self.dir.path().join(format!("{name}.pid")))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn bird");
        self.daemons.push(Daemon {
            name: name.to_string(),
            child: Some(child),
        });
        wait_for_socket(&sock);
    }

    fn kill(&mut self, name: &str) {
        for d in self.daemons.iter_mut().filter(|d| d.name == name) {
            if let Some(mut c) = d.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for d in &mut self.daemons {
            if let Some(mut c) = d.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

fn wait_for_socket(sock: &Path) {
    poll_until(
        &format!("bird socket {sock:?} never came up"),
        Duration::from_secs(10),
        || std::os::unix::net::UnixStream::connect(sock).is_ok(),
    )
}

fn region_conf(addr: &str, peer: &str, port: u16) -> String {
    format!(
        r#"router id {addr};
log "region.log" all;
timeformat protocol "%s"; timeformat route "%s";
protocol device {{ }}
protocol static anycast {{ ipv4; route {PREFIX} blackhole; }}
protocol bgp upstream {{
  description "upstream router";
  local {addr} port {port} as 65001;
  neighbor {peer} port {port} as 65000;
  strict bind yes; multihop 1;
  hold time 9; keepalive time 3; connect retry time 1;
  ipv4 {{ import none; export where proto = "anycast"; }};
}}
"#
    )
}

fn upstream_conf(addr: &str, peer: &str, port: u16) -> String {
    format!(
        r#"router id {addr};
log "upstream.log" all;
protocol device {{ }}
protocol bgp region1 {{
  local {addr} port {port} as 65000;
  neighbor {peer} port {port} as 65001;
  strict bind yes; multihop 1;
  hold time 9; keepalive time 3; connect retry time 1;
  ipv4 {{ import all; export none; }};
}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_and_upstream_end_to_end() {
    let port = random_port();
    let mut lab = Lab::new("e2e");
    lab.write_conf("region", &region_conf("127.77.0.12", "127.77.0.13", port));
    lab.write_conf(
        "upstream",
        &upstream_conf("127.77.0.13", "127.77.0.12", port),
    );
    lab.start("region");
    lab.start("upstream");
    let t = Duration::from_secs(2);
    let mut region = BirdClient::new(lab.sock("region"), t);
    let mut upstream = BirdClient::new(lab.sock("upstream"), t);
    assert_eq!(region.socket(), lab.sock("region"));

    let st = region.show_status().await.expect("status");
    assert!(st.up, "{st:?}");
    assert!(st.version.starts_with('2'), "{st:?}");
    assert_eq!(st.router_id.as_deref(), Some("127.77.0.12"));
    assert!(st.last_reboot.is_some());

    let protos = region.show_protocols().await.expect("protocols");
    let names: Vec<&str> = protos.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["device1", "anycast", "upstream"]);
    assert_eq!(protos[1].state, ProtoState::Up);
    assert!(
        protos[1].since.chars().all(|c| c.is_ascii_digit()),
        "epoch since"
    );

    poll_until_async(
        "timed out waiting for BGP Established",
        Duration::from_secs(30),
        async || {
            region
                .show_protocols()
                .await
                .map(|ps| {
                    ps.iter().any(|p| {
                        p.name == "upstream" && p.bgp_state.as_deref() == Some("Established")
                    })
                })
                .unwrap_or(false)
        },
    )
    .await;

    let detail = region.show_protocol_all("upstream").await.expect("detail");
    assert_eq!(detail.description.as_deref(), Some("upstream router"));
    assert_eq!(detail.neighbor_as, Some(65000));
    assert_eq!(detail.local_as, Some(65001));
    assert_eq!(detail.channels.len(), 1);

    let exported = region
        .show_route_export(PREFIX, "upstream")
        .await
        .expect("export");
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0].protocol, "anycast");
    assert_eq!(exported[0].kind, "blackhole");

    poll_until_async(
        "timed out waiting for route at upstream",
        Duration::from_secs(10),
        async || {
            upstream
                .show_route_for(PREFIX, true)
                .await
                .map(|r| r.len() == 1 && r[0].as_path == [65001])
                .unwrap_or(false)
        },
    )
    .await;

    assert_eq!(region.disable("anycast").await, Ok(Toggle::Done));
    assert_eq!(region.disable("anycast").await, Ok(Toggle::Already));
    assert_eq!(
        region.show_route_export(PREFIX, "upstream").await,
        Ok(vec![])
    );
    poll_until_async(
        "timed out waiting for withdraw at upstream",
        Duration::from_secs(10),
        async || upstream.show_route_for(PREFIX, false).await == Ok(vec![]),
    )
    .await;
    assert_eq!(region.enable("anycast").await, Ok(Toggle::Done));
    assert_eq!(region.enable("anycast").await, Ok(Toggle::Already));
    assert_eq!(
        region
            .show_route_export(PREFIX, "upstream")
            .await
            .expect("export")
            .len(),
        1
    );

    match region.disable("nosuch").await {
        Err(BirdError::Daemon {
            code: 8003,
            message,
        }) => {
            assert_eq!(message, "No protocols match")
        }
        other => panic!("expected 8003, got {other:?}"),
    }
    match region.show_protocol_all("nosuch").await {
        Err(BirdError::Daemon { code: 8003, .. }) => {}
        other => panic!("expected 8003, got {other:?}"),
    }
    // Unknown bare symbol after `export` is a parse error, not a crash.
    assert!(matches!(
        region.show_route_export(PREFIX, "nosuch").await,
        Err(BirdError::Daemon { code: 9001, .. })
    ));
    assert!(matches!(
        region.disable("bad\"name").await,
        Err(BirdError::InvalidName(_))
    ));
    // The connection survived the daemon errors.
    assert!(region.show_status().await.expect("status").up);

    // A restricted connection still reads but cannot write.
    region.restrict().await.expect("restrict");
    assert_eq!(region.show_protocols().await.expect("protocols").len(), 3);
    assert!(matches!(
        region.disable("anycast").await,
        Err(BirdError::Daemon { code: 8007, .. })
    ));
}

#[tokio::test]
async fn reconnects_after_daemon_restart() {
    let port = random_port();
    let mut lab = Lab::new("restart");
    lab.write_conf("region", &region_conf("127.77.0.14", "127.77.0.15", port));
    lab.start("region");
    let mut c = BirdClient::new(lab.sock("region"), Duration::from_secs(2));
    let before = c.show_status().await.expect("status");
    assert_eq!(c.disable("anycast").await, Ok(Toggle::Done));

    lab.kill("region");
    // BIRD's reboot time has millisecond resolution: make it differ.
    tokio::time::sleep(Duration::from_millis(20)).await;
    lab.start("region");

    // Same client, stale connection: reconnects transparently and retries once.
    let after = c.show_status().await.expect("status after restart");
    assert!(after.up);
    assert_ne!(before.last_reboot, after.last_reboot);
    // CLI state was lost with the restart (bird.md §4).
    assert_eq!(c.disable("anycast").await, Ok(Toggle::Done));

    lab.kill("region");
    assert!(matches!(
        c.show_status().await,
        Err(BirdError::Connect { .. })
    ));
}

#[tokio::test]
async fn connect_error_for_missing_socket() {
    let dir = temp_dir("missing");
    let sock = dir.path().join("am.ctl");
    let mut c = BirdClient::new(&sock, Duration::from_millis(300));
    let err = c.show_protocols().await.expect_err("no socket");
    assert_eq!(
        err,
        BirdError::Connect {
            path: sock.clone(),
            message: "No such file or directory".into()
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "router unreachable: {}: No such file or directory",
            sock.display()
        )
    );
}

/// A fake BIRD: runs `serve` on every accepted connection.
async fn fake_bird<F, Fut>(tag: &str, serve: F) -> (tempfile::TempDir, PathBuf)
where
    F: Fn(tokio::net::UnixStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let dir = temp_dir(tag);
    let sock = dir.path().join("fake.ctl");
    let listener = UnixListener::bind(&sock).expect("bind");
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve(s));
        }
    });
    (dir, sock)
}

#[tokio::test]
async fn timeout_against_silent_listener() {
    // Accepts and never says a word: the banner read must time out.
    let (_dir, sock) = fake_bird("silent", |s| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    })
    .await;
    let t = Duration::from_millis(300);
    let mut c = BirdClient::new(&sock, t);
    let start = Instant::now();
    let err = c.show_status().await.expect_err("silence");
    let took = start.elapsed();
    assert_eq!(err, BirdError::Timeout(t));
    assert_eq!(err.to_string(), "no reply within 300ms");
    assert!(took < Duration::from_secs(2), "took {took:?}");

    // Banner, then silence: the request itself must time out.
    let (_dir2, sock2) = fake_bird("mute", |mut s| async move {
        let _ = s.write_all(b"0001 BIRD 2.0.12 ready.\n").await;
        let mut buf = [0u8; 256];
        let _ = s.read(&mut buf).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let mut c = BirdClient::new(&sock2, t);
    let start = Instant::now();
    assert_eq!(c.show_protocols().await, Err(BirdError::Timeout(t)));
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn eof_mid_reply_and_garbage() {
    let (_dir, sock) = fake_bird("eof", |mut s| async move {
        let _ = s.write_all(b"0001 BIRD 2.0.12 ready.\n").await;
        let mut buf = [0u8; 256];
        if let Ok(n) = s.read(&mut buf).await {
            let reply: &[u8] = if buf[..n].starts_with(b"show status") {
                b"HTTP/1.1 400 Bad Request\n"
            } else {
                b"2002-Name Proto Table State Since Info\n1002-device1 Device --- up 1\n"
            };
            let _ = s.write_all(reply).await;
        }
    })
    .await;
    let mut c = BirdClient::new(&sock, Duration::from_millis(500));
    assert_eq!(c.show_protocols().await, Err(BirdError::Closed));
    assert!(matches!(c.show_status().await, Err(BirdError::Protocol(_))));
}

/// Polls `metro`'s router status through `c` until `pred` holds for it.
async fn wait_for_router(
    what: &str,
    limit: Duration,
    metro: &Metro,
    c: &mut BirdClient,
    pred: impl Fn(&RouterStatus) -> bool,
) {
    poll_until_async(
        &format!("timed out waiting for {what}"),
        limit,
        async || {
            router_status(metro, c, PREFIX)
                .await
                .is_ok_and(|r| pred(&r))
        },
    )
    .await
}

/// A metro named `m` whose BIRD is `sock`, as the console's config has it.
fn metro_cfg(sock: &Path, extra: &str) -> platform_tui::config::Config {
    let text = format!(
        "[anycast]\nprefix = \"{PREFIX}\"\n[[metro]]\nname = \"m\"\nbird_socket = \"{}\"\n{extra}",
        sock.display()
    );
    platform_tui::config::parse(&text, Path::new("/t/platform-tui.toml")).expect("config")
}

/// BIRD 2 answers the export query with `9001 No valid tables` while the session is down
/// or disabled: the router is still read, not advertising, its session not Established.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_session_is_a_reachable_router_that_does_not_advertise() {
    let port = random_port();
    let mut lab = Lab::new("9001");
    lab.write_conf("region", &region_conf("127.77.0.16", "127.77.0.17", port));
    lab.write_conf(
        "upstream",
        &upstream_conf("127.77.0.17", "127.77.0.16", port),
    );
    lab.start("region");
    lab.start("upstream");
    let cfg = metro_cfg(&lab.sock("region"), "export_protocol = \"upstream\"\n");
    let mut c = BirdClient::new(lab.sock("region"), Duration::from_secs(2));
    wait_for_router(
        "advertised to the upstream",
        Duration::from_secs(30),
        &cfg.metros[0],
        &mut c,
        |r| r.advertised == Some(true),
    )
    .await;
    let up = router_status(&cfg.metros[0], &mut c, PREFIX)
        .await
        .expect("status");
    assert_eq!(up.exported, Some(1));

    birdc(&lab.sock("region"), &["disable", "upstream"]);
    // The protocol may pass through `stop` on its way down.
    wait_for_router(
        "upstream down",
        Duration::from_secs(10),
        &cfg.metros[0],
        &mut c,
        |r| r.bgp.as_ref().is_some_and(|b| b.state == "down"),
    )
    .await;
    // The real daemon's own answer to the export query.
    assert!(matches!(
        c.show_route_export(PREFIX, "upstream").await,
        Err(BirdError::Daemon { code: 9001, ref message }) if message == "No valid tables"
    ));
    let r = router_status(&cfg.metros[0], &mut c, PREFIX)
        .await
        .expect("a reachable router, although a query fails");
    let bgp = r.bgp.clone().expect("session");
    assert_eq!(bgp.session, "Down");
    assert_eq!(bgp.state, "down");
    assert_eq!(r.advertised, Some(false));
    assert_eq!(r.exported, Some(0));
    assert_eq!(r.origin_state(), "up");
    assert_eq!(r.problems, Vec::<String>::new());
    assert!(bgp.since_at.is_some(), "epoch since has an age");

    // Enabled again while the upstream is gone: Active/Connect, still reachable.
    lab.kill("upstream");
    birdc(&lab.sock("region"), &["enable", "upstream"]);
    let r = router_status(&cfg.metros[0], &mut c, PREFIX)
        .await
        .expect("status");
    assert_ne!(r.bgp.expect("session").session, "Established");
    assert_eq!(r.advertised, Some(false));
}

/// A protocol BIRD declares only apostrophe-quoted: the config takes it, and every query
/// reaches it (bare it is a syntax error). With `timeformat protocol iso long` the
/// Since column has a space inside, and still an age.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashed_protocol_names_work_against_real_bird() {
    let port = random_port();
    let mut lab = Lab::new("dash");
    let (addr, peer) = ("127.77.0.18", "127.77.0.19");
    lab.write_conf(
        "region",
        &format!(
            r#"router id {addr};
log "region.log" all;
timeformat protocol iso long;
protocol device {{ }}
protocol static 'anycast-v4' {{ ipv4; route {PREFIX} blackhole; }}
protocol bgp 'upstream-metro1' {{
  local {addr} port {port} as 65001;
  neighbor {peer} port {port} as 65000;
  strict bind yes; multihop 1;
  hold time 9; keepalive time 3; connect retry time 1;
  ipv4 {{ import none; export where proto = "anycast-v4"; }};
}}
"#
        ),
    );
    lab.write_conf("upstream", &upstream_conf(peer, addr, port));
    lab.start("region");
    lab.start("upstream");
    let cfg = metro_cfg(
        &lab.sock("region"),
        "export_protocol = \"upstream-metro1\"\norigin_protocols = [\"anycast-v4\"]\n",
    );
    let mut c = BirdClient::new(lab.sock("region"), Duration::from_secs(2));
    wait_for_router(
        "advertised over upstream-metro1",
        Duration::from_secs(30),
        &cfg.metros[0],
        &mut c,
        |r| r.advertised == Some(true),
    )
    .await;
    let r = router_status(&cfg.metros[0], &mut c, PREFIX)
        .await
        .expect("status");
    let bgp = r.bgp.clone().expect("session");
    assert_eq!(bgp.protocol, "upstream-metro1");
    assert_eq!(bgp.session, "Established");
    assert_eq!(r.exported, Some(1));
    assert_eq!(r.origins, [("anycast-v4".to_string(), "up".to_string())]);
    assert_eq!(r.problems, Vec::<String>::new());
    assert!(bgp.since.contains(' '), "iso long: {:?}", bgp.since);
    let age = std::time::SystemTime::now()
        .duration_since(bgp.since_at.expect("an age"))
        .expect("in the past");
    assert!(age < Duration::from_secs(60), "{age:?} for {:?}", bgp.since);

    // The withdraw path (`disable "anycast-v4"`) reaches it too.
    assert_eq!(c.disable("anycast-v4").await, Ok(Toggle::Done));
    // The static protocol passes through `flush` on its way down.
    wait_for_router(
        "anycast-v4 down",
        Duration::from_secs(10),
        &cfg.metros[0],
        &mut c,
        |r| r.origin_state() == "down",
    )
    .await;
    let r = router_status(&cfg.metros[0], &mut c, PREFIX)
        .await
        .expect("status");
    assert_eq!(r.advertised, Some(false));
    // Bare, BIRD refuses the name: the reason the client quotes it.
    assert!(matches!(
        c.request(&format!("show route {PREFIX} export upstream-metro1"))
            .await,
        Err(BirdError::Daemon { code: 9001, .. })
    ));
}
