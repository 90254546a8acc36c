//! Helpers for tests that drive the real binary against a real lab. Every process a test
//! starts is stopped by the test: labs by guards whose Drop runs `lab down`, tmux by its
//! own server socket, killed on drop. A test waits for something to happen with
//! `poll_until` or `poll_for`, not with a fixed sleep.
#![allow(dead_code, clippy::unwrap_used)]

use std::fmt::Display;
pub mod sshd;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_platform-tui")
}

/// A fresh directory `/tmp/pt-{tag}-XXXXXX`, removed on drop. Not under `$TMPDIR`, and
/// short, because BIRD's control sockets live in it (108-byte limit).
pub fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("pt-{tag}-"))
        .tempdir_in("/tmp")
        .unwrap()
}

/// The pause between two checks of a poll.
const POLL_STEP: Duration = Duration::from_millis(50);

/// What a poll's check says: done (with a value), or not yet (with what it saw, for the
/// failure message).
pub trait Check {
    type Done;
    fn done(self) -> Result<Self::Done, String>;
}

impl Check for bool {
    type Done = ();
    fn done(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err(String::new())
        }
    }
}

impl<T> Check for Option<T> {
    type Done = T;
    fn done(self) -> Result<T, String> {
        self.ok_or_else(String::new)
    }
}

/// `Err` carries what was seen: a screen, a status (shown pretty), a list of processes.
impl<T, O: Display> Check for Result<T, O> {
    type Done = T;
    fn done(self) -> Result<T, String> {
        self.map_err(|seen| format!("{seen:#}"))
    }
}

fn gave_up(what: &str, limit: Duration, seen: &str) -> ! {
    if seen.is_empty() {
        panic!("{what} (after {limit:?})")
    }
    panic!("{what} (after {limit:?}):\n{seen}")
}

/// Runs `check` until it says done and returns its value; after `limit`, panics with
/// `what` and what the last check saw.
pub fn poll_until<C: Check>(what: &str, limit: Duration, mut check: impl FnMut() -> C) -> C::Done {
    let deadline = Instant::now() + limit;
    loop {
        match check().done() {
            Ok(done) => return done,
            Err(seen) if Instant::now() >= deadline => gave_up(what, limit, &seen),
            Err(_) => std::thread::sleep(POLL_STEP),
        }
    }
}

/// Observes until `pred` holds for what `observe` saw, and returns that; after `limit`,
/// panics with `what` and the last thing seen.
pub fn poll_for<T: Display>(
    what: &str,
    limit: Duration,
    mut observe: impl FnMut() -> T,
    pred: impl Fn(&T) -> bool,
) -> T {
    poll_until(what, limit, || {
        let seen = observe();
        if pred(&seen) {
            Ok(seen)
        } else {
            Err(seen)
        }
    })
}

/// `poll_until` for async checks, pausing on the tokio timer.
pub async fn poll_until_async<C: Check>(
    what: &str,
    limit: Duration,
    mut check: impl AsyncFnMut() -> C,
) -> C::Done {
    let deadline = Instant::now() + limit;
    loop {
        match check().await.done() {
            Ok(done) => return done,
            Err(seen) if Instant::now() >= deadline => gave_up(what, limit, &seen),
            Err(_) => tokio::time::sleep(POLL_STEP).await,
        }
    }
}

/// The `bird` binary the lab would run (the one lookup: `lab::find_bird`); these tests
/// fail loudly without it rather than skip.
pub fn require_bird() -> PathBuf {
    platform_tui::lab::find_bird().unwrap_or_else(|e| panic!("these tests need BIRD 2: {e}"))
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
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Lab {
    pub fn up(tag: &str, extra: &[&str]) -> Lab {
        require_bird();
        let dir = temp_dir(tag);
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
        poll_for(
            &format!("timed out waiting for {what}"),
            Duration::from_secs(20),
            || self.status(),
            pred,
        )
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

/// Whether `status --json` names a problem that starts with `prefix`.
pub fn has_problem(s: &serde_json::Value, prefix: &str) -> bool {
    s["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p.as_str().unwrap().starts_with(prefix))
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
    /// The console (`platform-tui [flags] --config config`) at `width`×`height`.
    pub fn start_console(
        tag: &str,
        width: u16,
        height: u16,
        config: &Path,
        flags: &[&str],
    ) -> Tmux {
        let flags: String = flags.iter().map(|f| format!("{f} ")).collect();
        let command = format!("{} {flags}--config {}", bin(), config.display());
        Tmux::start(tag, width, height, &command)
    }
    /// The console on `config` at `width`×`height`, once it shows a BGP session
    /// Established.
    pub fn console(tag: &str, width: u16, height: u16, config: &Path) -> Tmux {
        let t = Tmux::start_console(tag, width, height, config, &[]);
        t.wait_for("Established");
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
    /// [`Tmux::wait_for`] with its own limit, for steps that run a real tool (terraform
    /// planning on a loaded machine takes longer than a screen change).
    pub fn wait_for_within(&self, needle: &str, limit: Duration) -> String {
        poll_for(
            &format!("screen never showed {needle:?}"),
            limit,
            || self.screen(),
            |s| s.contains(needle),
        )
    }
    /// Waits (at most 15 s) until `pred` holds for the screen; returns the screen.
    pub fn wait_until(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        poll_for(
            &format!("screen never showed {what:?}"),
            Duration::from_secs(15),
            || self.screen(),
            |s| pred(s),
        )
    }
    /// Waits (at most `limit`) until the console in it has ended.
    pub fn wait_gone(&self, what: &str, limit: Duration) {
        poll_until(what, limit, || {
            if self.alive() {
                Err(self.screen())
            } else {
                Ok(())
            }
        })
    }
    /// The pid of the process in the pane: the console.
    pub fn pane_pid(&self) -> String {
        String::from_utf8_lossy(
            &self
                .cmd(&["display-message", "-p", "-t", "main", "#{pane_pid}"])
                .stdout,
        )
        .trim()
        .to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// The console, the real binary in tmux, on a lab of its own. Drop stops the console
/// first, then the lab.
pub struct Console {
    pub tmux: Tmux,
    pub lab: Lab,
}

impl Console {
    /// A lab tagged `tag` and the console on it at `width`×`height`, once it shows a BGP
    /// session Established.
    pub fn on_lab(tag: &str, width: u16, height: u16) -> Console {
        let lab = Lab::up(tag, &[]);
        let tmux = Tmux::console(tag, width, height, &lab.config);
        Console { tmux, lab }
    }
}

/// `birdc -s sock args…`, which must succeed.
pub fn birdc(sock: &Path, args: &[&str]) {
    let out = Command::new("birdc")
        .arg("-s")
        .arg(sock)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "birdc {args:?}: {}", text(&out));
}
