//! The lab's Nomad endpoints through the console's own client: leaders, nodes and
//! allocations follow the real app servers; `lab app stop|start` fail and recover them.
#![allow(clippy::unwrap_used)]

mod common;

use common::{metro, run, text, Lab};

#[test]
fn allocations_follow_the_app_servers() {
    let lab = Lab::up("nomad", &[]);
    let s = lab.status();
    for m in ["am", "da"] {
        let n = &metro(&s, m)["nomad"];
        assert_eq!(n["leader"], true, "{s:#}");
        assert_eq!(n["nodes_ready"], 1);
        assert_eq!(n["nodes_total"], 1);
        assert_eq!(n["allocs"]["running"], 1);
        assert_eq!(n["allocs"]["total"], 1);
        assert_eq!(n["error"], serde_json::Value::Null);
    }
    let d = lab.dir.path().to_str().unwrap().to_string();
    let out = run(&["lab", "app", "stop", "am", "--dir", &d]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("am: app stopped"),
        "{}",
        text(&out)
    );
    let s = lab.status();
    assert_eq!(metro(&s, "am")["nomad"]["allocs"]["failed"], 1, "{s:#}");
    assert_eq!(metro(&s, "am")["nomad"]["allocs"]["running"], 0);
    assert_eq!(
        metro(&s, "da")["nomad"]["allocs"]["running"],
        1,
        "da is untouched"
    );
    assert!(run(&["lab", "app", "start", "am", "--dir", &d])
        .status
        .success());
    let s = lab.status();
    assert_eq!(metro(&s, "am")["nomad"]["allocs"]["running"], 1, "{s:#}");
    assert_eq!(metro(&s, "am")["nomad"]["allocs"]["failed"], 0);
}

#[test]
fn lab_app_errors_are_clear() {
    let lab = Lab::up("nomaderr", &[]);
    let d = lab.dir.path().to_str().unwrap().to_string();
    let out = run(&["lab", "app", "stop", "zz", "--dir", &d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no metro `zz` in this lab"),
        "{}",
        text(&out)
    );
    let out = run(&["lab", "app", "stop", "am", "--dir", "/tmp/pt-no-such-lab"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no lab in /tmp/pt-no-such-lab"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reads_the_lab_endpoint_and_its_logs() {
    use platform_tui::nomad::{logs::LogChunk, logs::LogKind, Client, QueryOptions};
    let lab = Lab::up("nomadclient", &[]);
    let cfg = platform_tui::config::load(&lab.config).unwrap();
    let am = cfg.metro("am").unwrap();
    let settings = platform_tui::ops::nomad_settings(am).unwrap();
    assert!(
        settings.address.starts_with("http://127."),
        "{}",
        settings.address
    );
    let client = Client::new(settings).unwrap();
    assert!(client.leader().await.unwrap().is_some());
    let allocs = client.allocations(QueryOptions::default()).await.unwrap();
    assert_eq!(allocs.value.rows.len(), 1);
    let id = allocs.value.rows[0].id.to_string();
    let full = client.allocation(&id).await.unwrap();
    assert_eq!(full.client, "running");
    assert_eq!(full.tasks(), ["spin"]);

    // A blocking query returns once the app stops, with a higher index.
    let index = allocs.index;
    let blocked = {
        let c = client.clone();
        tokio::spawn(async move {
            c.allocations(QueryOptions {
                index,
                wait: Some(std::time::Duration::from_secs(20)),
            })
            .await
        })
    };
    // The lab holds it (its agent counts the queries it holds); nothing answered it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let agent = client.agent_self().await.unwrap();
        if agent.stats["lab"]["blocking_queries"] != "0" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the query never reached the lab"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(!blocked.is_finished(), "answered before anything changed");
    let d = lab.dir.path().to_str().unwrap().to_string();
    assert!(run(&["lab", "app", "stop", "am", "--dir", &d])
        .status
        .success());
    let after = tokio::time::timeout(std::time::Duration::from_secs(5), blocked)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(after.index > index);
    assert_eq!(after.value.rows[0].client.as_str(), "failed");

    // The event stream the watch follows: from the list's index, the frame at that
    // index comes again (nothing was missed), then the change.
    let mut events = client.event_stream(&["Allocation", "Job", "Node"], after.index);
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
        .await
        .unwrap();
    assert_eq!(
        first,
        Some(platform_tui::nomad::StreamItem::Connected {
            from_index: after.index,
            continuous: true
        })
    );
    assert!(run(&["lab", "app", "start", "am", "--dir", &d])
        .status
        .success());
    let change = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
        .await
        .unwrap();
    match change {
        Some(platform_tui::nomad::StreamItem::Frame(f)) => {
            assert!(f.index > after.index);
            let alloc = f.events.iter().find(|e| e.topic == "Allocation").unwrap();
            assert!(
                alloc.payload().contains(r#""ClientStatus":"running""#),
                "{alloc:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    drop(events);

    // Logs are the app server's real access lines.
    let out = lab.pt(&["probe", "--metro", "am", "-c", "2", "-i", "0.1"]);
    assert!(out.status.success(), "{}", text(&out));
    let mut rx = client.logs(&id, "app", LogKind::Stdout, false, None);
    let mut text_seen = String::new();
    while let Some(chunk) = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
    {
        if let Ok(LogChunk::Data(b)) = chunk {
            text_seen.push_str(&String::from_utf8_lossy(&b));
        }
    }
    assert!(
        text_seen
            .lines()
            .filter(|l| l.contains("HEAD / 200"))
            .count()
            >= 2,
        "{text_seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synthetic_cluster_is_followed_by_events() {
    use platform_tui::lab::nomad_api::{serve_synthetic, Load};
    use platform_tui::nomad::watch::{spawn_watch_with, WatchOptions};
    use platform_tui::nomad::{Client, Settings};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let load = Load {
        allocs: 2000,
        changes_per_sec: 200.0,
    };
    let server = tokio::spawn(async move { serve_synthetic(listener, "m1", load).await });
    let client = Client::new(Settings {
        address: format!("http://{addr}"),
        ..Settings::default()
    })
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watch = spawn_watch_with(
        client.clone(),
        WatchOptions::new(std::time::Duration::from_secs(5)),
        tx,
    );
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let counts = first.summary().allocs.unwrap();
    assert_eq!(counts.total, 2001, "with the mark allocation");
    assert_eq!(first.summary().nodes_total, Some(50));
    // The bench's mark: set the group of allocation `0mark`; the watch shows it.
    let url = format!("http://{addr}/v1/lab/mark?group=k42");
    let marked = reqwest::Client::new().put(url).send().await.unwrap();
    assert!(marked.status().is_success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let s = tokio::time::timeout_at(deadline.into(), rx.recv())
            .await
            .expect("the mark never showed")
            .unwrap();
        let rows = &s.allocs.value.as_ref().unwrap().rows;
        if rows.iter().any(|a| &*a.group == "k42") {
            assert_eq!(rows.len(), 2001, "changes are updates, not new rows");
            assert_eq!(s.error, None);
            break;
        }
    }
    watch.abort();
    server.abort();
}
