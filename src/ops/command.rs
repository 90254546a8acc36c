//! Runs a configured withdraw/restore command (`sh -c`) the way a destructive action
//! must: in its own process group, so a timeout or an interrupt stops everything it
//! started; with a clean environment (PATH, HOME, USER, LOGNAME, LANG, LC_ALL, TZ and
//! the names the config passes on), so tokens in the operator's environment never
//! reach it; stdin closed; stderr kept (bounded) for the error message.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt as _;

use super::Interrupt;

/// Variables every command gets, when set.
pub const BASE_ENV: [&str; 7] = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ"];
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// After SIGTERM to the group, how long before SIGKILL.
const GRACE: Duration = Duration::from_secs(2);
const MAX_STDERR: usize = 4096;

/// How a command ended when it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// Could not start, exited non-zero, or timed out: the text says which.
    Failed(String),
    /// Stopped because of the interrupt; the text names it.
    Interrupted(String),
}

/// Runs `line` with `sh -c`; `pass_env` names more variables to pass on.
pub async fn run(
    line: &str,
    timeout: Duration,
    pass_env: &[String],
    interrupt: &mut Interrupt,
) -> Result<(), CommandError> {
    run_in(line, None, timeout, pass_env, interrupt)
        .await
        .map(|_| ())
}

/// Most of a command's standard output kept by [`run_in`].
const MAX_STDOUT: usize = 64 * 1024;

/// [`run`] in directory `dir` (when given), returning what it printed on stdout (the
/// first 64 KiB, made visible line by line), e.g. `spin registry push`'s digest.
pub async fn run_in(
    line: &str,
    dir: Option<&std::path::Path>,
    timeout: Duration,
    pass_env: &[String],
    interrupt: &mut Interrupt,
) -> Result<String, CommandError> {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(line)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    for name in BASE_ENV
        .iter()
        .copied()
        .chain(pass_env.iter().map(String::as_str))
    {
        if let Some(v) = std::env::var_os(name) {
            cmd.env(name, v);
        }
    }
    if std::env::var_os("PATH").is_none() {
        cmd.env("PATH", DEFAULT_PATH);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| CommandError::Failed(format!("cannot run command: {e}")))?;
    let group = child.id().map(|id| Pid::from_raw(id as i32));
    let mut stdout = child.stdout.take();
    let out_reader = tokio::spawn(async move {
        let mut kept = Vec::new();
        let Some(out) = stdout.as_mut() else {
            return kept;
        };
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let take = n.min(MAX_STDOUT.saturating_sub(kept.len()));
            kept.extend_from_slice(&buf[..take]);
        }
        kept
    });
    let mut stderr = child.stderr.take();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let reader = tokio::spawn(async move {
        let Some(err) = stderr.as_mut() else { return };
        let mut buf = [0u8; 1024];
        let mut kept = 0usize;
        // Keep the first few KiB, drain the rest so the command never blocks on a pipe.
        while let Ok(n) = err.read(&mut buf).await {
            if n == 0 {
                return;
            }
            if kept < MAX_STDERR {
                let take = n.min(MAX_STDERR - kept);
                kept += take;
                let _ = tx.send(buf[..take].to_vec());
            }
        }
    });
    let ended = tokio::select! {
        status = child.wait() => Ok(status),
        _ = tokio::time::sleep(timeout) => Err(CommandError::Failed(format!(
            "command did not finish within {}s; stopped it",
            timeout.as_secs()
        ))),
        why = interrupt.wait() => Err(CommandError::Interrupted(format!(
            "{why} while the command ran; stopped it"
        ))),
    };
    if ended.is_err() {
        stop_group(group, &mut child).await;
    }
    // What the command said, without waiting for a daemon it left holding the pipe.
    let mut said = Vec::new();
    while let Ok(Some(chunk)) = tokio::time::timeout(Duration::from_millis(50), rx.recv()).await {
        said.extend(chunk);
    }
    reader.abort();
    let mut out_reader = out_reader;
    let printed = match tokio::time::timeout(Duration::from_millis(200), &mut out_reader).await {
        Ok(Ok(bytes)) => bytes,
        _ => {
            // A daemon it left holds the pipe: what it printed so far is not waited for.
            out_reader.abort();
            Vec::new()
        }
    };
    let printed =
        crate::domain::text::visible_lines(&String::from_utf8_lossy(&printed)).into_owned();
    let said = crate::domain::text::visible(String::from_utf8_lossy(&said).trim()).into_owned();
    match ended? {
        Err(e) => Err(CommandError::Failed(format!(
            "cannot wait for command: {e}"
        ))),
        Ok(status) if status.success() => Ok(printed),
        Ok(status) if said.is_empty() => {
            Err(CommandError::Failed(format!("command failed ({status})")))
        }
        Ok(status) => Err(CommandError::Failed(format!(
            "command failed ({status}): {said}"
        ))),
    }
}

/// SIGTERM to the whole group, SIGKILL after a grace period; reaps the shell.
async fn stop_group(group: Option<Pid>, child: &mut tokio::process::Child) {
    let Some(pg) = group else {
        let _ = child.kill().await;
        return;
    };
    let _ = killpg(pg, Signal::SIGTERM);
    if tokio::time::timeout(GRACE, child.wait()).await.is_err() {
        let _ = killpg(pg, Signal::SIGKILL);
        let _ = child.wait().await;
    }
    // Whatever the shell started and left behind in its group.
    let _ = killpg(pg, Signal::SIGKILL);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_environment_is_clean() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let out = tmp.path().join("env");
        std::env::set_var("PT_TEST_SECRET_TOKEN", "tok-4711");
        std::env::set_var("PT_TEST_PASSED", "yes");
        let line = format!("env > '{}'", out.display());
        run(
            &line,
            Duration::from_secs(10),
            &["PT_TEST_PASSED".to_string()],
            &mut Interrupt::never(),
        )
        .await
        .expect("runs");
        let env = std::fs::read_to_string(&out).expect("env written");
        assert!(!env.contains("tok-4711"), "{env}");
        assert!(env.contains("PT_TEST_PASSED=yes"), "{env}");
        assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
    }

    #[tokio::test]
    async fn failures_say_why_without_control_characters() {
        let err = run(
            "printf 'no route\\033]0;pwned\\007' >&2; exit 3",
            Duration::from_secs(10),
            &[],
            &mut Interrupt::never(),
        )
        .await
        .expect_err("fails");
        assert_eq!(
            err,
            CommandError::Failed(
                "command failed (exit status: 3): no route\\x1b]0;pwned\\x07".into()
            )
        );
    }

    #[tokio::test]
    async fn a_timeout_stops_the_whole_group() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let marker = tmp.path().join("late");
        // The background child would write the marker after the timeout.
        let line = format!("(sleep 1; touch '{}') & sleep 5", marker.display());
        let err = run(
            &line,
            Duration::from_millis(200),
            &[],
            &mut Interrupt::never(),
        )
        .await
        .expect_err("times out");
        assert!(
            matches!(err, CommandError::Failed(ref t) if t.contains("did not finish")),
            "{err:?}"
        );
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert!(
            !marker.exists(),
            "a child of the command outlived the timeout"
        );
    }

    #[tokio::test]
    async fn an_interrupt_stops_it_and_is_named() {
        let (tx, mut interrupt) = Interrupt::pair();
        let task = tokio::spawn(async move {
            run("sleep 30", Duration::from_secs(60), &[], &mut interrupt).await
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = tx.send(Some("SIGTERM".into()));
        let err = task.await.expect("joined").expect_err("interrupted");
        assert_eq!(
            err,
            CommandError::Interrupted("SIGTERM while the command ran; stopped it".into())
        );
    }
}
