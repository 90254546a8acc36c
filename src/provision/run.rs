//! Runs one `terraform`/`tofu` command the way a destructive action must:
//! - in its own process group (`process_group(0)`) with stdin closed, so keys typed in the
//!   console and the terminal's signals never reach it;
//! - with the operator's environment less anything token-like (and never `NOMAD_TOKEN`),
//!   less `TF_CLI_ARGS*` (they would change what was confirmed), plus
//!   `CHECKPOINT_DISABLE=1` and `TF_IN_AUTOMATION=1`;
//! - stdout lines parsed as [`Event`]s, stderr lines kept as [`Event::Stderr`], each line
//!   at most [`MAX_LINE`] bytes (the rest of a longer line is dropped, not buffered);
//! - [`Cancel`]: the first request sends terraform one SIGINT (it stops gracefully, writes
//!   its state), the second a second SIGINT (it cancels and exits within ~5 s);
//! - once terraform has exited, whatever is left in its group (the orphaned children of a
//!   cancelled `local-exec`) is killed.
//!
//! Facts: `shared/reference/provision.md` §1 "Interrupts".

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, watch};

use super::stream::{parse_line, Event};
use super::ProvisionError;

/// Longest line kept, in bytes; the rest of a longer line is read and dropped.
pub const MAX_LINE: usize = 256 * 1024;
/// Most of `output -json` kept, in bytes.
const MAX_CAPTURE: usize = 16 * 1024 * 1024;
/// After terraform exits, how long its pipes may stay open (held by something that left
/// its group) before the run stops reading them.
const DRAIN: Duration = Duration::from_secs(2);

/// Variables never passed on, whatever their name says: they would change the command
/// line that was confirmed.
const NEVER: [&str; 1] = ["TF_CLI_ARGS"];

/// Whether an environment variable looks like a credential (`NOMAD_TOKEN`,
/// `TF_TOKEN_app_terraform_io`, `AWS_SECRET_ACCESS_KEY`, `GITHUB_PAT`...).
pub fn token_like(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "PRIVATE_KEY",
        "ACCESS_KEY",
        "API_KEY",
        "APIKEY",
        "AUTH",
        "COOKIE",
        "SESSION",
    ]
    .iter()
    .any(|w| n.contains(w))
        || n.ends_with("_PAT")
        || n.ends_with("_KEY")
}

/// The environment a run gets: the operator's less token-like variables (except those
/// named in `pass_env`) and `TF_CLI_ARGS*`, then `set_env`, with `CHECKPOINT_DISABLE=1`
/// and `TF_IN_AUTOMATION=1`.
pub fn environment(pass_env: &[String], set_env: &[(String, String)]) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| {
            let Some(name) = k.to_str() else {
                return false;
            };
            if pass_env.iter().any(|p| p == name) {
                return true;
            }
            !token_like(name) && !NEVER.iter().any(|n| name.starts_with(n))
        })
        .filter(|(k, _)| k != "CHECKPOINT_DISABLE" && k != "TF_IN_AUTOMATION")
        .filter(|(k, _)| !set_env.iter().any(|(n, _)| k == n.as_str()))
        .collect();
    env.extend(set_env.iter().map(|(k, v)| (k.into(), v.into())));
    env.push(("CHECKPOINT_DISABLE".into(), "1".into()));
    env.push(("TF_IN_AUTOMATION".into(), "1".into()));
    env
}

/// Asks a running operation to stop. Cloned freely (the console keeps one, the operation
/// watches it); requests made before a command starts stop it from starting.
#[derive(Debug, Clone)]
pub struct Cancel {
    tx: Arc<watch::Sender<u8>>,
}

impl Default for Cancel {
    fn default() -> Self {
        Cancel::new()
    }
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel {
            tx: Arc::new(watch::channel(0u8).0),
        }
    }

    /// One more request: the first makes terraform stop gracefully (one SIGINT), the
    /// second makes it cancel (a second SIGINT); later ones change nothing. Returns how
    /// many requests there have been.
    pub fn cancel(&self) -> u8 {
        let mut n = 0;
        self.tx.send_modify(|c| {
            *c = c.saturating_add(1);
            n = *c;
        });
        n
    }

    /// How many times cancelling was asked for.
    pub fn requested(&self) -> u8 {
        *self.tx.borrow()
    }

    /// Resolves once cancelling was asked for (at once if it already was).
    pub async fn requested_wait(&self) {
        let mut rx = self.subscribe();
        // The sender lives in `self`: `wait_for` cannot see it closed.
        let _ = rx.wait_for(|n| *n > 0).await;
    }

    /// Resolves once cancelling was asked for `n` times.
    pub async fn reached(&self, n: u8) {
        let mut rx = self.subscribe();
        let _ = rx.wait_for(|c| *c >= n).await;
    }

    fn subscribe(&self) -> watch::Receiver<u8> {
        self.tx.subscribe()
    }
}

/// How one command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// SIGINTs sent to it (0, 1 or 2).
    pub interrupts: u8,
    /// stdout, when it was captured instead of parsed (`output -json`).
    pub captured: Option<Vec<u8>>,
    /// False when cancelling was asked for before it could start (it never ran).
    pub started: bool,
}

impl RunEnd {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// What a run does with stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdout {
    /// One event per line.
    Events,
    /// Kept whole and returned (never shown: `output -json` prints sensitive values).
    Capture,
}

/// The environment of a run beyond the cleaned operator's: variables passed on although
/// token-like, and variables set.
#[derive(Debug, Clone, Copy, Default)]
pub struct Env<'a> {
    pub pass: &'a [String],
    pub set: &'a [(String, String)],
}

/// Runs `binary args...` in `dir`, sending each line to `on_event` as it comes. Errors only
/// when it cannot start; a failing command is a [`RunEnd`] with its code.
pub async fn run(
    binary: &Path,
    dir: &Path,
    args: &[OsString],
    env: Env<'_>,
    stdout_mode: Stdout,
    cancel: &Cancel,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<RunEnd, ProvisionError> {
    if cancel.requested() > 0 {
        return Ok(RunEnd {
            code: None,
            interrupts: 0,
            captured: None,
            started: false,
        });
    }
    let mut cmd = tokio::process::Command::new(binary);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .envs(environment(env.pass, env.set))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| {
        ProvisionError(format!(
            "cannot run {} in {}: {e}",
            binary.display(),
            dir.display()
        ))
    })?;
    let pid = child.id().map(|id| Pid::from_raw(id as i32));
    let mut guard = Guard { pid, done: false };
    let (tx, mut rx) = mpsc::channel::<Line>(256);
    let out_task = child.stdout.take().map(|s| {
        let tx = tx.clone();
        tokio::spawn(async move {
            match stdout_mode {
                Stdout::Events => read_lines(s, tx, Line::Out).await,
                Stdout::Capture => capture(s, tx).await,
            }
        })
    });
    let err_task = child
        .stderr
        .take()
        .map(|s| tokio::spawn(read_lines(s, tx.clone(), Line::Err)));
    drop(tx);
    let mut cancels = cancel.subscribe();
    let mut interrupts = 0u8;
    let mut captured = None;
    let mut handle = |line: Line, captured: &mut Option<Vec<u8>>| match line {
        Line::Out(l) => on_event(parse_line(&l)),
        Line::Err(l) => on_event(Event::Stderr(crate::domain::text::visible(&l).into_owned())),
        Line::Captured(bytes) => *captured = Some(bytes),
    };
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            Some(line) = rx.recv() => handle(line, &mut captured),
            Ok(()) = cancels.changed() => {
                let want = (*cancels.borrow_and_update()).min(2);
                while interrupts < want {
                    // To terraform only: provider plugins ignore SIGINT, and terraform
                    // stops its provisioners itself.
                    if let Some(p) = pid {
                        let _ = kill(p, Signal::SIGINT);
                    }
                    interrupts += 1;
                }
            }
        }
    };
    guard.done = true;
    // Whatever terraform left in its group (a cancelled local-exec's children).
    if let Some(p) = pid {
        let _ = killpg(p, Signal::SIGKILL);
    }
    // The rest of what it said, unless something outside the group holds the pipes.
    let drain = async {
        while let Some(line) = rx.recv().await {
            handle(line, &mut captured);
        }
    };
    let _ = tokio::time::timeout(DRAIN, drain).await;
    for t in [out_task, err_task].into_iter().flatten() {
        t.abort();
    }
    let status =
        status.map_err(|e| ProvisionError(format!("cannot wait for {}: {e}", binary.display())))?;
    Ok(RunEnd {
        code: status.code(),
        interrupts,
        captured,
        started: true,
    })
}

enum Line {
    Out(String),
    Err(String),
    Captured(Vec<u8>),
}

/// When a run's future is dropped before terraform exited (the console went away): one
/// SIGINT, so terraform stops gracefully and writes its state instead of being killed.
struct Guard {
    pid: Option<Pid>,
    done: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let (false, Some(p)) = (self.done, self.pid) {
            let _ = kill(p, Signal::SIGINT);
        }
    }
}

/// Sends each line (at most [`MAX_LINE`] bytes, lossy UTF-8, no line end) until EOF.
async fn read_lines<R: AsyncRead + Unpin>(r: R, tx: mpsc::Sender<Line>, wrap: fn(String) -> Line) {
    let mut reader = BufReader::with_capacity(64 * 1024, r);
    let mut line: Vec<u8> = Vec::new();
    let mut dropped = 0usize;
    loop {
        let (done, used) = {
            let Ok(buf) = reader.fill_buf().await else {
                break;
            };
            if buf.is_empty() {
                (true, 0)
            } else {
                match buf.iter().position(|b| *b == b'\n') {
                    Some(i) => {
                        take(&mut line, &buf[..i], &mut dropped);
                        (false, i + 1)
                    }
                    None => {
                        take(&mut line, buf, &mut dropped);
                        (false, buf.len())
                    }
                }
            }
        };
        if done {
            if !line.is_empty() || dropped > 0 {
                let _ = tx.send(wrap(finish(&mut line, &mut dropped))).await;
            }
            break;
        }
        let ended = reader.buffer().get(used - 1) == Some(&b'\n');
        reader.consume(used);
        if ended
            && tx
                .send(wrap(finish(&mut line, &mut dropped)))
                .await
                .is_err()
        {
            break;
        }
    }
}

fn take(line: &mut Vec<u8>, bytes: &[u8], dropped: &mut usize) {
    let room = MAX_LINE.saturating_sub(line.len());
    let keep = bytes.len().min(room);
    line.extend_from_slice(&bytes[..keep]);
    *dropped += bytes.len() - keep;
}

fn finish(line: &mut Vec<u8>, dropped: &mut usize) -> String {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    let mut s = String::from_utf8_lossy(line).into_owned();
    if *dropped > 0 {
        s.push_str(&format!(" ... ({} more bytes dropped)", *dropped));
    }
    line.clear();
    *dropped = 0;
    s
}

async fn capture<R: AsyncRead + Unpin>(r: R, tx: mpsc::Sender<Line>) {
    use tokio::io::AsyncReadExt as _;
    let mut all = Vec::new();
    let _ = r.take(MAX_CAPTURE as u64).read_to_end(&mut all).await;
    let _ = tx.send(Line::Captured(all)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn sh() -> &'static Path {
        Path::new("/bin/sh")
    }

    async fn run_sh(script: &str, cancel: &Cancel) -> (RunEnd, Vec<Event>) {
        let mut events = Vec::new();
        let args: Vec<OsString> = vec!["-c".into(), script.into()];
        let end = run(
            sh(),
            Path::new("/"),
            &args,
            Env::default(),
            Stdout::Events,
            cancel,
            &mut |e| events.push(e),
        )
        .await
        .expect("runs");
        (end, events)
    }

    #[test]
    fn token_like_names() {
        for n in [
            "NOMAD_TOKEN",
            "TF_TOKEN_app_terraform_io",
            "AWS_SECRET_ACCESS_KEY",
            "METAL_AUTH_TOKEN",
            "GITHUB_PAT",
            "DB_PASSWORD",
            "SSH_PRIVATE_KEY",
        ] {
            assert!(token_like(n), "{n}");
        }
        for n in [
            "PATH",
            "HOME",
            "TF_LOG",
            "TF_DATA_DIR",
            "LANG",
            "NOMAD_ADDR",
        ] {
            assert!(!token_like(n), "{n}");
        }
    }

    #[tokio::test]
    async fn the_environment_has_no_tokens_and_says_automation() {
        std::env::set_var("NOMAD_TOKEN", "nomad-secret-4711");
        std::env::set_var("TF_CLI_ARGS_apply", "-auto-approve");
        std::env::set_var("PT_PROV_TEST_PLAIN", "plain-value");
        let (end, events) = run_sh("env", &Cancel::new()).await;
        assert!(end.success());
        let env: Vec<&str> = events.iter().map(Event::text).collect();
        let all = env.join("\n");
        assert!(!all.contains("nomad-secret-4711"), "{all}");
        assert!(!all.contains("TF_CLI_ARGS"), "{all}");
        assert!(all.contains("PT_PROV_TEST_PLAIN=plain-value"));
        assert!(env.contains(&"CHECKPOINT_DISABLE=1") && env.contains(&"TF_IN_AUTOMATION=1"));
        assert!(env.iter().any(|l| l.starts_with("PATH=")));
    }

    #[tokio::test]
    async fn stdout_is_parsed_stderr_is_raw_and_visible() {
        let script = r#"echo '{"@level":"info","@message":"Terraform 1.11.4","type":"version","terraform":"1.11.4","ui":"1.2"}'; printf 'warn \033]0;x\007\n' >&2; printf 'no newline at end'"#;
        let (end, events) = run_sh(script, &Cancel::new()).await;
        assert!(end.success());
        assert!(events
            .iter()
            .any(|e| matches!(e, Event::Message(m) if m.text == "Terraform 1.11.4")));
        assert!(
            events.contains(&Event::Stderr("warn \\x1b]0;x\\x07".into())),
            "{events:?}"
        );
        assert!(
            events.contains(&Event::Raw("no newline at end".into())),
            "{events:?}"
        );
    }

    #[tokio::test]
    async fn a_huge_line_is_truncated() {
        let (end, events) = run_sh(
            "head -c 3000000 /dev/zero | tr '\\0' x; echo; echo after",
            &Cancel::new(),
        )
        .await;
        assert!(end.success());
        assert_eq!(
            events.len(),
            2,
            "{:?}",
            events.iter().map(|e| e.text().len()).collect::<Vec<_>>()
        );
        let first = events[0].text();
        assert!(first.len() < MAX_LINE + 100, "{}", first.len());
        assert!(
            first.ends_with("(2737856 more bytes dropped)"),
            "{}",
            &first[first.len() - 40..]
        );
        assert_eq!(events[1].text(), "after");
    }

    #[tokio::test]
    async fn cancel_sends_sigint_and_kills_what_is_left_in_the_group() {
        let tmp = tempfile::tempdir().expect("tmp");
        let marker = tmp.path().join("orphan");
        // Like terraform: the first SIGINT makes it exit, leaving a child behind.
        let script = format!(
            "trap 'echo interrupted; exit 1' INT; (sleep 1; touch '{}') & echo started; while :; do sleep 0.05; done",
            marker.display()
        );
        let cancel = Cancel::new();
        let c2 = cancel.clone();
        let mut events = Vec::new();
        let args: Vec<OsString> = vec!["-c".into(), script.into()];
        let started = Instant::now();
        let end = run(
            sh(),
            Path::new("/"),
            &args,
            Env::default(),
            Stdout::Events,
            &cancel,
            &mut |e| {
                if e.text() == "started" {
                    c2.cancel();
                }
                events.push(e)
            },
        )
        .await
        .expect("runs");
        assert_eq!(end.interrupts, 1);
        assert_eq!(end.code, Some(1));
        assert!(
            events.iter().any(|e| e.text() == "interrupted"),
            "{events:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        let deadline = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < deadline {
            assert!(!marker.exists(), "the orphan outlived the run");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn a_second_cancel_is_a_second_sigint() {
        let script = "n=0; trap 'n=$((n+1)); echo int$n; [ $n -ge 2 ] && exit 130' INT; echo started; while :; do sleep 0.05; done";
        let cancel = Cancel::new();
        let c2 = cancel.clone();
        let args: Vec<OsString> = vec!["-c".into(), script.into()];
        let mut events = Vec::new();
        let end = run(
            sh(),
            Path::new("/"),
            &args,
            Env::default(),
            Stdout::Events,
            &cancel,
            &mut |e| {
                if e.text() == "started" || e.text() == "int1" {
                    c2.cancel();
                }
                events.push(e)
            },
        )
        .await
        .expect("runs");
        assert_eq!(end.interrupts, 2, "{events:?}");
        assert_eq!(end.code, Some(130));
        assert_eq!(cancel.cancel(), 3);
    }

    #[tokio::test]
    async fn cancelled_before_start_runs_nothing() {
        let cancel = Cancel::new();
        cancel.cancel();
        let (end, events) = run_sh("echo ran", &cancel).await;
        assert!(events.is_empty());
        assert_eq!(end.code, None);
    }

    #[tokio::test]
    async fn captured_stdout_is_not_sent_as_events() {
        let mut events = Vec::new();
        let args: Vec<OsString> = vec!["-c".into(), "echo '{\"pw\": 1}'; echo oops >&2".into()];
        let end = run(
            sh(),
            Path::new("/"),
            &args,
            Env::default(),
            Stdout::Capture,
            &Cancel::new(),
            &mut |e| events.push(e),
        )
        .await
        .expect("runs");
        assert_eq!(end.captured.as_deref(), Some(&b"{\"pw\": 1}\n"[..]));
        assert_eq!(events, [Event::Stderr("oops".into())]);
    }
}
