//! CPU cost of cold probes: 20 and then 1000 targets probed at 1 Hz for 10 s each with
//! `spawn_schedule` on a multi-thread runtime, against a zero-delay HTTP server on
//! 127.0.0.1 that runs in a child `python3` process (so its CPU is not counted). The
//! cost is this process's CPU time over the run, from `/proc`.
//!
//! Run: `cargo bench --bench probe_cost`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use platform_tui::probe::{spawn_schedule, ProbeOptions, Target};
use tokio::sync::mpsc;

/// Answers every request at once, in one write, `Connection: close`; exits when its
/// stdin closes (the bench went away).
const SERVER: &str = r#"
import os, socket, sys, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(4096)
print(srv.getsockname()[1], flush=True)
def watch():
    sys.stdin.read()
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
def handle(c):
    try:
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = c.recv(4096)
            if not chunk:
                return
            data += chunk
        body = b"" if data.startswith(b"HEAD") else b"ok\n"
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nx-served-by: bench\r\n"
                  b"Connection: close\r\n\r\n" + body)
    except OSError:
        pass
    finally:
        c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
"#;

const RATE_INTERVAL: Duration = Duration::from_secs(1);
const PROBES_PER_TARGET: u64 = 10;

/// The child server, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new("python3")
            .args(["-c", SERVER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 must be installed");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("server port");
        let port: u16 = line.trim().parse().expect("server printed its port");
        Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time of this process so far: the sum of its threads' run time from
/// `/proc/self/task/*/schedstat` (ns), or utime+stime from `/proc/self/stat` (ticks of
/// 10 ms) where schedstat is missing. The runtime's threads live through both runs.
fn cpu_time() -> Duration {
    let from_schedstat = || -> Option<Duration> {
        let mut ns: u64 = 0;
        for entry in std::fs::read_dir("/proc/self/task").ok()? {
            let path = entry.ok()?.path().join("schedstat");
            let text = std::fs::read_to_string(path).ok()?;
            ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
        }
        Some(Duration::from_nanos(ns))
    };
    let from_stat = || -> Option<Duration> {
        let text = std::fs::read_to_string("/proc/self/stat").ok()?;
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // Fields 14 and 15 of stat; `rest` starts at field 3.
        let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Duration::from_millis(ticks * 10))
    };
    from_schedstat()
        .or_else(from_stat)
        .expect("/proc/self is readable")
}

struct Run {
    probes: u64,
    errors: u64,
    cpu: Duration,
    wall: Duration,
}

/// Probes `targets` copies of the server's URL at 1 Hz, their phases spread over the
/// interval (as many independent targets would be), `PROBES_PER_TARGET` each.
async fn run(addr: SocketAddr, targets: u64) -> Run {
    let target = Target::from_url("bench", &format!("http://{addr}/")).expect("url");
    let opts = ProbeOptions {
        timeout: Duration::from_secs(2),
        ..ProbeOptions::default()
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let mut schedules = Vec::new();
    for i in 0..targets {
        let (target, opts, tx) = (target.clone(), opts.clone(), tx.clone());
        let phase = RATE_INTERVAL.mul_f64(i as f64 / targets as f64);
        schedules.push(tokio::spawn(async move {
            tokio::time::sleep(phase).await;
            let h = spawn_schedule(
                target,
                opts,
                RATE_INTERVAL,
                Some(PROBES_PER_TARGET),
                tx,
                |s| s,
            );
            let _ = h.await;
        }));
    }
    drop(tx);
    let (mut probes, mut errors) = (0, 0);
    while let Some(s) = rx.recv().await {
        probes += 1;
        if !s.ok() {
            errors += 1;
        }
    }
    for s in schedules {
        let _ = s.await;
    }
    Run {
        probes,
        errors,
        cpu: cpu_time().saturating_sub(cpu0),
        wall: t0.elapsed(),
    }
}

fn main() {
    let server = Server::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!(
        "cold HEAD probes against a 0 ms python3 server on {} ({} probes per target, multi-thread runtime)",
        server.addr, PROBES_PER_TARGET
    );
    for targets in [20u64, 1000] {
        let r = rt.block_on(run(server.addr, targets));
        let per_probe_us = r.cpu.as_secs_f64() * 1e6 / r.probes.max(1) as f64;
        let core_pct = r.cpu.as_secs_f64() / r.wall.as_secs_f64() * 100.0;
        println!(
            "{targets} targets @ 1 Hz: {} probes, {per_probe_us:.1} us CPU/probe, {core_pct:.2}% of one core ({} errors, {:.1} s)",
            r.probes,
            r.errors,
            r.wall.as_secs_f64()
        );
    }
    drop(rt);
    drop(server);
}
