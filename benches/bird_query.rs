//! Native `show protocols` over one BirdClient connection vs spawning
//! `birdc` per query, against a real bird2 daemon in a private temp dir.
//! Plain main (harness = false): prints one comparison line.

use platform_tui::bird::BirdClient;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NATIVE_N: u32 = 300;
const BIRDC_N: u32 = 30;

fn on_path(bin: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{bin}` not found on PATH: apt-get install bird2"))
}

/// The daemon and its directory; killed and removed on drop (also on panic).
struct Daemon {
    dir: PathBuf,
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Daemon {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("bird-query-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        // No BGP neighbour: nothing leaves the box, only the control socket is used.
        let conf = r#"router id 127.77.0.30;
log "bird.log" all;
protocol device { }
protocol static anycast { ipv4; route 198.18.0.10/32 blackhole; }
protocol static anycast_drain { ipv4; disabled; route 198.18.0.10/32 blackhole; }
"#;
        std::fs::write(dir.join("bird.conf"), conf).expect("conf");
        let child = Command::new(on_path("bird"))
            .arg("-f")
            .arg("-c")
            .arg(dir.join("bird.conf"))
            .arg("-s")
            .arg(dir.join("bird.ctl"))
            .arg("-P")
            .arg(dir.join("bird.pid"))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn bird");
        let d = Daemon { dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(d.sock()).is_err() {
            assert!(Instant::now() < deadline, "bird socket never came up");
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    fn sock(&self) -> PathBuf {
        self.dir.join("bird.ctl")
    }
}

fn birdc_once(birdc: &Path, sock: &Path) {
    let out = Command::new(birdc)
        .arg("-s")
        .arg(sock)
        .arg("show")
        .arg("protocols")
        .stdin(Stdio::null())
        .output()
        .expect("run birdc");
    assert!(out.status.success(), "birdc failed: {out:?}");
    assert!(out.stdout.windows(7).any(|w| w == b"anycast"));
}

fn per_query(total: Duration, n: u32) -> Duration {
    total / n
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.1} us")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

fn main() {
    let birdc = on_path("birdc");
    let daemon = Daemon::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let native = rt.block_on(async {
        let mut client = BirdClient::new(daemon.sock(), Duration::from_secs(2));
        // Connect + banner outside the measurement: the console keeps the connection.
        for _ in 0..20 {
            client.show_protocols().await.expect("warm-up");
        }
        let start = Instant::now();
        for _ in 0..NATIVE_N {
            let p = client.show_protocols().await.expect("show protocols");
            assert_eq!(p.len(), 3);
        }
        per_query(start.elapsed(), NATIVE_N)
    });

    birdc_once(&birdc, &daemon.sock());
    let start = Instant::now();
    for _ in 0..BIRDC_N {
        birdc_once(&birdc, &daemon.sock());
    }
    let spawned = per_query(start.elapsed(), BIRDC_N);

    println!(
        "native: {}/query  birdc: {}/query  ratio: {:.1}x  (native N={NATIVE_N}, birdc N={BIRDC_N})",
        fmt(native),
        fmt(spawned),
        spawned.as_secs_f64() / native.as_secs_f64()
    );
}
