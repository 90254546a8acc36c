//! One OpenSSH master connection, as a child process the console owns: started in a
//! session of its own (`setsid`: it has no terminal, so neither it nor a `ProxyJump`
//! hop can ever prompt on the operator's screen), with a clean environment; its stderr
//! kept (the last lines) for the error it ends with; asked to exit with `-O exit`, and
//! killed when dropped.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use super::args::{self, FailureKind, CLIENT_ENV};
use crate::config::SshRoute;

/// Lines of a master's stderr kept for its error.
const KEPT_LINES: usize = 40;
/// How long a control command (`-O forward`, `-O exit`) may take.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(5);

/// What to start: the route and the files it uses.
#[derive(Debug, Clone)]
pub struct Spec {
    pub route: SshRoute,
    /// `-F`, when the console has an ssh config.
    pub config: Option<PathBuf>,
    /// The master's control socket (`ControlPath`).
    pub control: PathBuf,
}

/// A failure to connect or to keep the connection: ssh's own line and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkError {
    pub line: String,
    pub kind: FailureKind,
}

impl LinkError {
    fn other(line: impl Into<String>) -> LinkError {
        LinkError {
            line: line.into(),
            kind: FailureKind::Other,
        }
    }
}

/// A connected master.
pub struct Master {
    child: Child,
    stderr: Arc<Mutex<VecDeque<String>>>,
    spec: Spec,
}

/// The `ssh` program (on PATH, as the operator runs it).
fn ssh() -> Command {
    let mut c = Command::new("ssh");
    c.env_clear()
        .envs(client_env())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    c
}

/// The variables of [`CLIENT_ENV`] that are set: all an `ssh` gets.
fn client_env() -> impl Iterator<Item = (&'static str, std::ffi::OsString)> {
    CLIENT_ENV
        .into_iter()
        .filter_map(|name| std::env::var_os(name).map(|v| (name, v)))
}

impl Master {
    /// Starts the master and waits until it is connected (its control socket appears),
    /// it gives up (its error), or `limit` passes.
    pub async fn connect(spec: &Spec, limit: Duration) -> Result<Master, LinkError> {
        let _ = std::fs::remove_file(&spec.control);
        // `setsid` runs ssh in a new session without a terminal (our child is no process
        // group leader, so setsid does not fork: the pid is ssh's).
        let mut cmd = Command::new("setsid");
        cmd.env_clear()
            .envs(client_env())
            .arg("ssh")
            .args(args::master(
                &spec.control,
                spec.config.as_deref(),
                &spec.route,
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| LinkError::other(format!("cannot run ssh: {e}")))?;
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(err) = child.stderr.take() {
            let kept = stderr.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(mut k) = kept.lock() {
                        if k.len() == KEPT_LINES {
                            k.pop_front();
                        }
                        k.push_back(line);
                    }
                }
            });
        }
        let mut master = Master {
            child,
            stderr,
            spec: spec.clone(),
        };
        let deadline = Instant::now() + limit;
        loop {
            // The control socket is bound only once the connection is authenticated.
            if std::fs::symlink_metadata(&spec.control).is_ok() {
                return Ok(master);
            }
            match master.child.try_wait() {
                Ok(Some(status)) => {
                    // Let the reader take ssh's last words.
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    return Err(master.error(&format!("ssh exited ({status})")));
                }
                Ok(None) => {}
                Err(e) => return Err(LinkError::other(format!("cannot watch ssh: {e}"))),
            }
            if Instant::now() >= deadline {
                let _ = master.child.kill().await;
                // What ssh said so far (e.g. a jump host's refusal), after the timeout.
                let said = master.error("").line;
                let line = format!("not connected after {}s", limit.as_secs());
                return Err(LinkError::other(if said.is_empty() {
                    line
                } else {
                    format!("{line}: {said}")
                }));
            }
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
    }

    /// The master's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// ssh's error from its stderr, or `fallback`.
    pub fn error(&self, fallback: &str) -> LinkError {
        let lines: Vec<String> = self
            .stderr
            .lock()
            .map(|k| k.iter().cloned().collect())
            .unwrap_or_default();
        match args::failure(&lines) {
            Some((line, kind)) => LinkError { line, kind },
            None => LinkError::other(fallback),
        }
    }

    /// The latest line of the master's stderr containing `needle` (e.g. a refused
    /// channel's "open failed").
    pub fn said(&self, needle: &str) -> Option<String> {
        let k = self.stderr.lock().ok()?;
        k.iter().rev().find(|l| l.contains(needle)).cloned()
    }

    /// Adds a forward from the local socket `local` to `target` on the far side
    /// (a socket path, or `host:port`). Returns once the master listens on `local`.
    pub async fn forward(&self, local: &Path, target: &str) -> Result<(), LinkError> {
        let a = args::forward(
            &self.spec.control,
            self.spec.config.as_deref(),
            &self.spec.route.destination,
            local,
            target,
        );
        let out = run_control(a).await?;
        if out.0 {
            return Ok(());
        }
        // The master says why (e.g. it cannot bind the local socket).
        let why = self
            .said("cannot bind")
            .or_else(|| self.said("forward"))
            .unwrap_or(out.1);
        Err(LinkError::other(format!(
            "forward to {target} failed: {}",
            crate::domain::text::visible(&why)
        )))
    }

    /// Runs `command` on the far side through the master; its stdout (bounded), or
    /// `None` when it did not run or failed.
    pub async fn run(&self, command: &str, limit: Duration) -> Option<String> {
        let a = args::remote_command(
            &self.spec.control,
            self.spec.config.as_deref(),
            &self.spec.route.destination,
            command,
        );
        let mut c = ssh();
        c.args(a).stdout(Stdio::piped()).stderr(Stdio::null());
        let out = tokio::time::timeout(limit, c.output()).await.ok()?.ok()?;
        out.status.success().then(|| {
            String::from_utf8_lossy(&out.stdout[..out.stdout.len().min(4096)]).into_owned()
        })
    }

    /// Waits until the master ends; returns its error.
    pub async fn ended(&mut self) -> LinkError {
        let status = self.child.wait().await;
        tokio::time::sleep(Duration::from_millis(30)).await;
        let fallback = match status {
            Ok(s) => format!("ssh exited ({s})"),
            Err(e) => format!("ssh ended: {e}"),
        };
        self.error(&fallback)
    }

    /// Asks the master to exit (`-O exit`), waits for it (bounded), kills it if it is
    /// still there, and removes its control socket.
    pub async fn exit(mut self) {
        let a = args::control(
            &self.spec.control,
            self.spec.config.as_deref(),
            &self.spec.route.destination,
            "exit",
        );
        let _ = run_control(a).await;
        if tokio::time::timeout(Duration::from_secs(2), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        let _ = std::fs::remove_file(&self.spec.control);
    }
}

/// Runs a control command; (succeeded, its stderr's last line).
async fn run_control(a: Vec<OsString>) -> Result<(bool, String), LinkError> {
    let mut c = ssh();
    c.args(a).stdout(Stdio::null()).stderr(Stdio::piped());
    let out = match tokio::time::timeout(CONTROL_TIMEOUT, c.output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return Err(LinkError::other(format!("cannot run ssh: {e}"))),
        Err(_) => {
            return Err(LinkError::other(format!(
                "the master did not answer within {}s",
                CONTROL_TIMEOUT.as_secs()
            )))
        }
    };
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string();
    Ok((out.status.success(), last))
}

/// Asks the master at `control` to exit, without an async runtime (for `Drop` and the
/// panic path): bounded by `limit`. True when the request was accepted.
pub fn exit_blocking(
    control: &Path,
    config: Option<&Path>,
    destination: &str,
    limit: Duration,
) -> bool {
    let mut c = std::process::Command::new("ssh");
    c.env_clear()
        .envs(client_env())
        .args(args::control(control, config, destination, "exit"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let Ok(mut child) = c.spawn() else {
        return false;
    };
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return s.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}
