//! Helpers for tests that drive the real binary against a real lab. Every process a test
//! starts is stopped by the test: labs by guards whose Drop runs `lab down`, tmux by its
//! own server socket, killed on drop.
#![allow(dead_code, clippy::unwrap_used)]

pub mod sshd;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_platform-tui")
}

/// A fresh directory under the system temp dir, removed on drop. Paths stay short
/// because BIRD's control sockets live in it (108-byte limit).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "pt-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn require_bird() {
    let found = ["/usr/sbin/bird", "/usr/local/sbin/bird", "/usr/bin/bird"]
        .iter()
        .any(|p| Path::new(p).exists());
    assert!(
        found,
        "these tests need BIRD 2: run `sudo apt-get install -y bird2`"
    );
}

pub fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A detached lab, stopped on drop.
pub struct Lab {
    pub dir: TempDir,
    pub config: PathBuf,
}

impl Lab {
    pub fn up(tag: &str, extra: &[&str]) -> Lab {
        require_bird();
        let dir = TempDir::new(tag);
        let d = dir.path().to_str().unwrap().to_string();
        let mut args = vec!["lab", "up", "--detach", "--dir", d.as_str()];
        args.extend_from_slice(extra);
        let out = run(&args);
        let lab = Lab {
            config: dir.path().join("platform-tui.toml"),
            dir,
        };
        assert!(out.status.success(), "lab up failed: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(lab.config.to_str().unwrap()),
            "lab up must print its config path: {}",
            text(&out)
        );
        lab
    }

    pub fn pt(&self, args: &[&str]) -> Output {
        let mut all = vec!["--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        run(&all)
    }

    /// `status --json`; its exit code is checked against its verdict: 0 exactly when
    /// `ok` (nothing wrong), 1 otherwise.
    pub fn status(&self) -> serde_json::Value {
        let out = self.pt(&["status", "--json"]);
        let s: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
        let want = if s["ok"] == true { 0 } else { 1 };
        assert_eq!(out.status.code(), Some(want), "{}", text(&out));
        s
    }

    /// Polls `status --json` until `pred` holds (BGP needs a moment after a restart).
    pub fn wait_status(
        &self,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.status();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {s:#}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn socket(&self, daemon: &str) -> PathBuf {
        self.dir.path().join("run").join(format!("{daemon}.ctl"))
    }

    pub fn pid(&self, daemon: &str) -> i32 {
        let p = self.dir.path().join("run").join(format!("{daemon}.pid"));
        std::fs::read_to_string(&p).unwrap().trim().parse().unwrap()
    }

    pub fn down(&self) {
        let d = self.dir.path().to_str().unwrap();
        let out = run(&["lab", "down", "--dir", d]);
        assert!(out.status.success(), "lab down failed: {}", text(&out));
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = run(&["lab", "down", "--dir", self.dir.path().to_str().unwrap()]);
    }
}

pub fn metro<'a>(s: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    s["metros"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap()
}

/// Processes whose command line mentions `needle`.
pub fn procs_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        if let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
            if cmd.contains(needle) {
                out.push(format!("{pid} {cmd}"));
            }
        }
    }
    out
}

pub fn sockets_in(dir: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_socket() {
                out.push(e.path());
            }
        }
    }
    out
}

/// A tmux server of the test's own (`-L`), killed on drop.
pub struct Tmux {
    pub socket: String,
}

impl Tmux {
    pub fn start(tag: &str, width: u16, height: u16, command: &str) -> Tmux {
        let t = Tmux {
            socket: format!("pt-{tag}-{}", std::process::id()),
        };
        let ok = t
            .cmd(&[
                "new-session",
                "-d",
                "-s",
                "main",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                command,
            ])
            .status
            .success();
        assert!(
            ok,
            "tmux could not start (is tmux installed? `apt-get install -y tmux`)"
        );
        // Pass ESC on at once, as a terminal would, instead of waiting for a sequence.
        t.cmd(&["set-option", "-s", "escape-time", "0"]);
        t
    }
    pub fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs")
    }
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        self.cmd(&args);
    }
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "main"]).stdout)
            .into_owned()
    }
    pub fn alive(&self) -> bool {
        self.cmd(&["has-session", "-t", "main"]).status.success()
    }
    /// Waits until the screen contains `needle`; returns the screen.
    pub fn wait_for(&self, needle: &str) -> String {
        self.wait_until(needle, |s| s.contains(needle))
    }
    /// Waits (at most 15 s) until `pred` holds for the screen; returns the screen.
    pub fn wait_until(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "screen never showed {what:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}
