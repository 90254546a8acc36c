//! A lab owned by a supervisor process: this binary started again (`lab up --supervise`)
//! in its own process group, running the routers as its children (so it reaps them and
//! `lab down` leaves not even a zombie) and serving the data plane. Used by `lab up
//! --detach` and by the console's embedded lab; the embedded one's supervisor holds a
//! pipe from the console and tears the lab down when it closes, so a console killed with
//! SIGKILL leaves nothing running.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{err, running_birds, Lab, LabError, LabMethod};

/// What a supervisor is asked to start.
pub struct Spec<'a> {
    pub dir: &'a Path,
    /// Metro codes, comma separated.
    pub metros: &'a str,
    pub method: LabMethod,
    /// Where the lab's config puts the console's state directory (default: `state`
    /// inside the lab's directory).
    pub state_dir: Option<&'a Path>,
}

/// A running supervised lab. Dropping it leaves the lab running unless it was started
/// to follow its owner (the embedded lab), in which case dropping it stops the lab.
pub struct Supervised {
    pub dir: PathBuf,
    child: Option<Child>,
    stop_on_drop: bool,
}

impl Supervised {
    pub fn config_path(&self) -> PathBuf {
        self.dir.join(super::CONFIG_FILE)
    }

    /// Stops the lab: the supervisor stops and reaps its daemons.
    pub fn down(&mut self) {
        // The owner's pipe closed first: the supervisor's read of it (a blocking thread
        // its runtime waits for at exit) ends at once, so it exits as soon as its lab is
        // down instead of at the 5 s limit.
        drop(self.child.as_mut().and_then(|c| c.stdin.take()));
        if let Ok(mut lab) = Lab::open(&self.dir) {
            lab.down();
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.stop_on_drop = false;
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if self.stop_on_drop {
            self.down();
        }
    }
}

/// Starts a supervisor for `spec` and waits (up to 60 s) until its lab is ready. With
/// `follow_owner`, the supervisor stops the lab when this process goes away, however it
/// goes (its stdin is a pipe from here; EOF means we are gone).
pub async fn start(
    spec: &Spec<'_>,
    follow_owner: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<Supervised, LabError> {
    let dir = super::absolute(spec.dir)?;
    if Lab::open(&dir).is_ok_and(|l| !running_birds(&l.state.dir).is_empty()) {
        return err(format!(
            "a lab is already running in {} (stop it with `platform-tui lab down --dir {}`)",
            dir.display(),
            dir.display()
        ));
    }
    let logs = dir.join("log");
    std::fs::create_dir_all(&logs).or_else(|e| err(format!("{}: {e}", logs.display())))?;
    let ready = dir.join("run").join("ready");
    let _ = std::fs::remove_file(&ready);
    let log_path = logs.join("supervisor.log");
    let log = std::fs::File::create(&log_path)
        .or_else(|e| err(format!("{}: {e}", log_path.display())))?;
    let exe = std::env::current_exe().or_else(|e| err(e.to_string()))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["lab", "up", "--supervise", "--metros", spec.metros])
        .arg("--withdraw-method")
        .arg(spec.method.name())
        .arg("--dir")
        .arg(&dir);
    if let Some(s) = spec.state_dir {
        cmd.arg("--state-dir").arg(s);
    }
    if follow_owner {
        cmd.arg("--follow-owner");
    }
    use std::os::unix::process::CommandExt as _;
    let mut child = cmd
        .stdin(if follow_owner {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(log)
        // Its own group: the terminal's ctrl-c and hang-up reach the console only.
        .process_group(0)
        .spawn()
        .or_else(|e| err(format!("cannot start the lab supervisor: {e}")))?;
    progress(&format!(
        "starting lab in {} (metros {})",
        dir.display(),
        spec.metros
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let last = text
                .lines()
                .last()
                .unwrap_or("")
                .trim_start_matches("error: ");
            return err(format!("lab failed to start ({status}): {last}"));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return err(format!(
                "lab did not come up within 60s; see {}",
                log_path.display()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Supervised {
        dir,
        // A detached lab's supervisor is on its own; only the embedded one is ours.
        child: follow_owner.then_some(child),
        stop_on_drop: follow_owner,
    })
}

/// In the supervisor: runs until SIGINT or SIGTERM (and SIGHUP when `hangup_stops`), or,
/// with `follow_owner`, until stdin closes; reaps daemons that exit meanwhile, and makes
/// the `lab metro add|remove` changes the control port asks for, one at a time.
pub async fn wait_for_stop(lab: &mut Lab, hangup_stops: bool, follow_owner: bool) {
    use tokio::io::AsyncReadExt as _;
    let Ok(mut stop) = crate::signals::Stop::new(hangup_stops) else {
        return;
    };
    let owner_gone = async {
        if !follow_owner {
            return std::future::pending().await;
        }
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        // Nothing is ever written: only EOF (or an error) comes, when the owner is gone.
        while let Ok(n) = stdin.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::pin!(owner_gone);
    let mut requests = lab.dataplane.as_mut().and_then(|d| d.take_requests());
    loop {
        tokio::select! {
            _ = stop.recv() => return,
            _ = &mut owner_gone => return,
            Some(req) = next_request(&mut requests) => {
                let done = if req.add {
                    lab.add_metro(&req.code).await
                } else {
                    lab.remove_metro(&req.code).await
                };
                let _ = req.reply.send(done.map_err(|e| e.0));
            }
            _ = tokio::time::sleep(Duration::from_millis(500)) => lab.reap(),
        }
    }
}

/// The next `lab metro` request, or never when there is no channel.
async fn next_request(
    requests: &mut Option<tokio::sync::mpsc::Receiver<super::dataplane::MetroRequest>>,
) -> Option<super::dataplane::MetroRequest> {
    match requests {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

/// Embedded labs under `base` whose console is gone (`embedded-PID` with no such
/// process): their routers are stopped and their directories removed. Returns them.
pub fn remove_stale_embedded(base: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(base) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("embedded-"))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let dir = e.path();
        if let Ok(mut lab) = Lab::open(&dir) {
            lab.down();
        }
        super::stop_birds(&dir);
        if std::fs::remove_dir_all(&dir).is_ok() {
            removed.push(dir);
        }
    }
    removed
}
