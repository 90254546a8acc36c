//! Figures for remote metros, against a real sshd on loopback and a real 3-metro lab:
//! 1. the latency a BIRD query gains through the SSH tunnel (the same `show protocols`
//!    on the same daemon, over one kept connection, local vs tunnelled, interleaved);
//! 2. time to the first full screen of the console with 3 remote metros (every row
//!    Established and its Nomad cell filled), next to the same lab read locally;
//! 3. reconnect time: from sshd answering again to the link being up, in a console's
//!    supervised transport (the backoff's wait included, as an operator sees it).
//!
//! Plain main (harness = false): prints its figures. Loopback only, every loop bounded.
#![allow(clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::sshd::{self, Sshd};
use common::{bin, Lab, Tmux};
use platform_tui::bird::BirdClient;
use platform_tui::ssh::{Mode, Transport};

const QUERIES: usize = 400;
const RECONNECTS: usize = 5;

fn remote_config(lab: &Lab, ssh_config: &Path, names: &[&str]) -> PathBuf {
    let text = std::fs::read_to_string(&lab.config).unwrap();
    let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
    let dir = lab.config.parent().unwrap().to_path_buf();
    doc["console"]["ssh_config"] = toml_edit::value(ssh_config.to_str().unwrap());
    for m in doc["metro"].as_array_of_tables_mut().unwrap().iter_mut() {
        let name = m["name"].as_str().unwrap().to_string();
        if names.contains(&name.as_str()) {
            let sock = dir.join(m["bird_socket"].as_str().unwrap());
            m["bird_socket"] = toml_edit::value(sock.to_str().unwrap());
            m["ssh"] = toml_edit::value(format!("metro-{name}"));
        }
    }
    let path = dir.join("ssh.toml");
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Seconds until every metro row of the console shows Established with a Nomad count.
fn first_full_screen(config: &Path, tag: &str, rows: &[&str]) -> Duration {
    let started = Instant::now();
    let t = Tmux::start(
        tag,
        120,
        30,
        &format!("{} --config {}", bin(), config.display()),
    );
    let deadline = started + Duration::from_secs(30);
    loop {
        let s = t.screen();
        let full = rows.iter().all(|name| {
            s.lines()
                .any(|l| l.contains(name) && l.contains("Established") && l.contains("1/1"))
        });
        if full {
            let took = started.elapsed();
            t.keys(&["q"]);
            let gone = Instant::now() + Duration::from_secs(10);
            while t.alive() && Instant::now() < gone {
                std::thread::sleep(Duration::from_millis(20));
            }
            return took;
        }
        assert!(Instant::now() < deadline, "never a full screen:\n{s}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn main() {
    if !sshd::available() {
        return;
    }
    let lab = Lab::up("sshbench", &["--metros", "am,da,sv"]);
    let mut server = Sshd::start(&lab.dir.path().join("sshd"));
    let ssh_cfg = server.client_config(&[
        ("metro-am", "root", ""),
        ("metro-da", "root", ""),
        ("metro-sv", "root", ""),
    ]);
    let config = remote_config(&lab, &ssh_cfg, &["am", "da", "sv"]);
    let cfg = platform_tui::config::load(&config).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // 1. A BIRD query, local vs through the tunnel.
    let (local, tunnelled, connect_ms) = rt.block_on(async {
        let t = Transport::start(&cfg, Mode::Once).unwrap();
        t.settled(Duration::from_secs(20)).await;
        let am = t
            .local_config(&cfg)
            .metro("am")
            .unwrap()
            .bird_socket
            .clone();
        let connect_ms = t.statuses()["am"].connect_ms.unwrap_or(f64::NAN);
        let mut direct = BirdClient::new(lab.socket("am"), Duration::from_secs(2));
        let mut through = BirdClient::new(am, Duration::from_secs(2));
        for _ in 0..20 {
            direct.show_protocols().await.unwrap();
            through.show_protocols().await.unwrap();
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..QUERIES {
            let s = Instant::now();
            direct.show_protocols().await.unwrap();
            a.push(s.elapsed());
            let s = Instant::now();
            through.show_protocols().await.unwrap();
            b.push(s.elapsed());
        }
        t.close().await;
        a.sort();
        b.sort();
        (a, b, connect_ms)
    });
    let (l50, t50) = (percentile(&local, 0.5), percentile(&tunnelled, 0.5));
    println!(
        "BIRD `show protocols` (N={QUERIES}): local p50 {} p95 {}; through ssh p50 {} p95 {}; added p50 {}",
        ms(l50),
        ms(percentile(&local, 0.95)),
        ms(t50),
        ms(percentile(&tunnelled, 0.95)),
        ms(t50.saturating_sub(l50)),
    );
    println!("ssh link connect (master up, 2 forwards added): {connect_ms:.1} ms");

    // 2. The first full screen, 3 remote metros vs the same lab read locally.
    let rows = ["Amsterdam", "Dallas", "Silicon"];
    let local_screen = first_full_screen(&lab.config, "bench-local", &rows);
    let remote_screen = first_full_screen(&config, "bench-ssh", &rows);
    println!(
        "first full screen (3 metros Established, Nomad counted): local {:.2} s; through ssh {:.2} s",
        local_screen.as_secs_f64(),
        remote_screen.as_secs_f64()
    );

    // 3. Reconnect after sshd comes back, in a console's supervised transport.
    let times = rt.block_on(async {
        let t = Transport::start(&cfg, Mode::Supervised).unwrap();
        t.settled(Duration::from_secs(20)).await;
        let mut rx = t
            .subscribe()
            .into_iter()
            .find(|(m, _)| m == "am")
            .unwrap()
            .1;
        let mut times = Vec::new();
        for _ in 0..RECONNECTS {
            assert!(rx.borrow().is_up());
            server.stop();
            tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|s| !s.is_up()))
                .await
                .unwrap()
                .unwrap();
            // Down for a while, as after a real outage: the backoff has grown.
            tokio::time::sleep(Duration::from_secs(2)).await;
            server.resume();
            let back = Instant::now();
            tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|s| s.is_up()))
                .await
                .unwrap()
                .unwrap();
            times.push(back.elapsed());
        }
        t.close().await;
        times
    });
    let mut sorted = times.clone();
    sorted.sort();
    println!(
        "reconnect after sshd is back (N={RECONNECTS}, 2 s down each): median {:.2} s, max {:.2} s (backoff 0.25 s doubling to 3 s, each wait drawn from the upper half of its step)",
        percentile(&sorted, 0.5).as_secs_f64(),
        sorted.last().unwrap().as_secs_f64()
    );
    assert!(sshd::ssh_clients(server.dir.to_str().unwrap()).is_empty());
}
