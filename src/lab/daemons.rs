//! The lab's `bird` daemons: their files (configs and the lab's own config), starting
//! one as this process's child, waiting for its socket and for the upstream's sessions,
//! and finding and stopping them by process (a detached lab's, through its supervisor).
//! Answers "which birds run for this lab, and how do they start and stop?".

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{conf, err, installer, write_private, Lab, LabError, STATE_FILE};
use crate::bird::BirdClient;

impl Lab {
    pub(super) fn write_files(&self, bird: &Path) -> Result<(), LabError> {
        let s = &self.state;
        let write = |path: PathBuf, text: String| {
            std::fs::write(&path, text)
                .or_else(|e| err(format!("cannot write {}: {e}", path.display())))
        };
        write(
            s.conf_file("upstream"),
            conf::upstream_bird(s, &s.log_file("upstream")).map_err(LabError)?,
        )?;
        for m in &s.metros {
            write(
                s.conf_file(&m.code),
                conf::metro_bird(s, m, &s.log_file(&m.code)).map_err(LabError)?,
            )?;
        }
        let json = serde_json::to_string_pretty(s).or_else(|e| err(e.to_string()))?;
        write_private(&s.dir.join(STATE_FILE), &json)?;
        write(s.config_path(), conf::console_toml(s, bird))?;
        let exe = std::env::current_exe().or_else(|e| {
            err(format!(
                "cannot find this program's path for the installer: {e}"
            ))
        })?;
        installer::write(s, &exe).map(|_| ())
    }

    pub(super) fn start_daemon(&mut self, bird: &Path, daemon: &str) -> Result<(), LabError> {
        use std::os::unix::process::CommandExt as _;
        let s = &self.state;
        let cant_run = |e: std::io::Error| LabError(format!("cannot run {}: {e}", bird.display()));
        let log =
            std::fs::File::create(s.log_file(&format!("{daemon}.stderr"))).map_err(cant_run)?;
        // Own process group: a terminal's ctrl-c or hang-up reaches the console only,
        // which then stops the daemons itself. Through `setpriv --pdeathsig` where there
        // is one (util-linux), the router also dies with the process that started it
        // (its thread, which here lives as long as the lab) — however that process ends,
        // SIGKILL included — instead of running on unowned.
        let mut command = match setpriv() {
            Some(setpriv) => {
                let mut c = Command::new(setpriv);
                c.args(["--pdeathsig", "KILL", "--"]).arg(bird);
                c
            }
            None => Command::new(bird),
        };
        let child = command
            .arg("-f")
            .arg("-c")
            .arg(s.conf_file(daemon))
            .arg("-s")
            .arg(s.socket(daemon))
            .arg("-P")
            .arg(s.pid_file(daemon))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(cant_run)?;
        self.children.push((daemon.to_string(), child));
        Ok(())
    }

    /// Waits until a daemon's control socket accepts connections.
    pub(super) async fn wait_socket(&mut self, daemon: &str) -> Result<(), LabError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut client = BirdClient::new(self.state.socket(daemon), Duration::from_secs(1));
        loop {
            match client.show_status().await {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    return err(format!("bird for {daemon} did not come up: {e}"));
                }
                Err(_) => {}
            }
            let child = self.children.iter_mut().find(|(d, _)| d == daemon);
            if let Some((_, child)) = child {
                {
                    if let Ok(Some(status)) = child.try_wait() {
                        let log = self.state.log_file(&format!("{daemon}.stderr"));
                        let text = std::fs::read_to_string(&log).unwrap_or_default();
                        return err(format!(
                            "bird for {daemon} exited ({status}): {}",
                            text.trim()
                        ));
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(super) async fn wait_established(&self, limit: Duration) -> Result<(), LabError> {
        let deadline = Instant::now() + limit;
        let mut upstream = BirdClient::new(self.state.socket("upstream"), Duration::from_secs(1));
        let want = self.state.metros.len();
        let mut last = String::from("no reply yet");
        while Instant::now() < deadline {
            match upstream.show_protocols().await {
                Ok(protos) => {
                    let up = protos
                        .iter()
                        .filter(|p| p.bgp_state.as_deref() == Some("Established"))
                        .count();
                    // Established is not enough: the front door needs the routes too.
                    let routes = match upstream.show_route_for(&self.state.prefix, false).await {
                        Ok(r) => r.len(),
                        Err(_) => 0,
                    };
                    if up >= want && routes >= want {
                        return Ok(());
                    }
                    last = format!("{up} of {want} sessions Established, {routes} routes");
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        err(format!(
            "BGP sessions did not establish within {}s ({last}); logs in {}",
            limit.as_secs(),
            self.state.dir.join("log").display()
        ))
    }
}

/// Pids of bird processes whose command line names a file in `dir`.
pub fn running_birds(dir: &Path) -> Vec<i32> {
    let needle = format!("{}/", dir.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<String> = raw
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let is_bird = args
                .first()
                .is_some_and(|a0| a0 == "bird" || a0.ends_with("/bird"));
            is_bird && args.iter().any(|a| a.starts_with(&needle))
        })
        .collect()
}

/// SIGTERM, then SIGKILL after 3 s, every bird of the lab in `dir`.
pub(super) fn stop_birds(dir: &Path) {
    let pids = running_birds(dir);
    for p in &pids {
        let _ = kill(Pid::from_raw(*p), Signal::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && !running_birds(dir).is_empty() {
        std::thread::sleep(Duration::from_millis(20));
    }
    for p in running_birds(dir) {
        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
    }
}

/// Asks a detached lab's supervisor to stop (it stops and reaps its daemons), and waits
/// for it to exit.
pub(super) fn stop_supervisor(pid: i32, dir: &Path) {
    let needle = dir.display().to_string();
    let alive = || {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains(&needle))
            .unwrap_or(false)
    };
    if !alive() {
        return;
    }
    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// util-linux's `setpriv`, when it is installed where Debian puts it.
fn setpriv() -> Option<&'static Path> {
    [Path::new("/usr/bin/setpriv"), Path::new("/bin/setpriv")]
        .into_iter()
        .find(|p| p.is_file())
}
