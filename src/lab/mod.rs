//! The local lab: a small real world on loopback. One `bird2` daemon per metro originates
//! the anycast prefix; an upstream daemon peers with all of them and picks the best path.
//! Everything (configs, sockets, pids, logs, state) lives in the lab's own directory, and
//! the lab writes an ordinary platform-tui config there. This module never imports the UI.
//!
//! Where to look: starting, opening, stopping and reporting a lab are here; `state.rs`
//! is what a lab records and the addresses it derives, `daemons.rs` its `bird`
//! processes, `membership.rs` metros added to or removed from a running lab,
//! `dataplane.rs` the app servers and front door, `nomad_api/` each metro's Nomad API.

mod conf;
mod daemons;
pub mod dataplane;
pub mod installer;
mod membership;
pub mod metros;
pub mod nomad_api;
pub mod nomad_jobs;
mod state;
pub mod supervise;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

pub use daemons::running_birds;
use daemons::{stop_birds, stop_supervisor};
pub use metros::{MetroSpec, METROS};
use state::{pick_address_block, random_token, read_state, write_private};
pub use state::{LabMethod, LabMetro, LabState};

pub const DEFAULT_METROS: &str = "am,da";
pub const DEFAULT_PREFIX: &str = "198.18.0.10/32";
const STATE_FILE: &str = "lab.json";
const CONFIG_FILE: &str = "platform-tui.toml";

#[derive(Debug)]
pub struct LabError(pub String);

impl std::fmt::Display for LabError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for LabError {}

fn err<T>(msg: impl Into<String>) -> Result<T, LabError> {
    Err(LabError(msg.into()))
}

/// The lab's default directory, shared by `lab up`, `lab down` and `lab status`.
pub fn default_dir() -> PathBuf {
    runtime_base().join("lab")
}

/// `$XDG_RUNTIME_DIR/platform-tui`, or a per-user directory under /tmp.
pub fn runtime_base() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("platform-tui"),
        _ => std::env::temp_dir().join(format!("platform-tui-{}", nix::unistd::getuid())),
    }
}

/// Finds the `bird` binary; Debian installs it in /usr/sbin, often not on a user's PATH.
pub fn find_bird() -> Result<PathBuf, LabError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let candidates = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    for dir in candidates {
        let p = dir.join("bird");
        if p.is_file() {
            return Ok(p);
        }
    }
    err("the lab needs BIRD 2 (`bird`), which is not installed: run `sudo apt-get install -y bird2`")
}

/// A running lab. Dropping a handle that owns its lab (the embedded lab) stops it.
#[derive(Debug)]
pub struct Lab {
    pub state: LabState,
    owned: bool,
    /// The daemons run as this process's children (`bird -f`), by daemon name, so that it
    /// reaps them and none lingers, not even as a zombie. A detached lab is owned by a
    /// supervisor process.
    children: Vec<(String, Child)>,
    /// App servers, front door and control socket, served by this process.
    pub dataplane: Option<dataplane::Dataplane>,
}

impl Lab {
    /// Starts a lab in `dir` and waits until every metro's BGP session is Established.
    /// `progress` receives one line per step.
    pub async fn up(
        dir: &Path,
        metros: &[&MetroSpec],
        method: LabMethod,
        state_dir: Option<&Path>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Lab, LabError> {
        let bird = find_bird()?;
        let dir = absolute(dir)?;
        // Refused before anything is started: BIRD's strings cannot hold every path.
        conf::bird_str(&dir).map_err(LabError)?;
        if let Ok(old) = read_state(&dir) {
            if !running_birds(&old.dir).is_empty() {
                return err(format!(
                    "a lab is already running in {} (stop it with `platform-tui lab down --dir {}`)",
                    dir.display(),
                    dir.display()
                ));
            }
        }
        // The state directory is created private (0700) by the first action.
        for sub in ["run", "log"] {
            std::fs::create_dir_all(dir.join(sub))
                .or_else(|e| err(format!("cannot create {}: {e}", dir.join(sub).display())))?;
        }
        // Slots for every known metro, so `lab metro add` finds its addresses free.
        let slots: Vec<String> = metros
            .iter()
            .map(|m| m.code.to_string())
            .chain(
                METROS
                    .iter()
                    .filter(|k| !metros.iter().any(|m| m.code == k.code))
                    .map(|k| k.code.to_string()),
            )
            .collect();
        let (net, port) = pick_address_block(slots.len())?;
        let state = LabState {
            dir: dir.clone(),
            prefix: DEFAULT_PREFIX.to_string(),
            port,
            net,
            method,
            state_dir: state_dir.map(Path::to_path_buf),
            metros: metros
                .iter()
                .enumerate()
                .map(|(i, m)| LabMetro {
                    code: m.code.to_string(),
                    display_name: m.display_name.to_string(),
                    rtt_ms: m.rtt_ms,
                    addr: Ipv4Addr::new(127, net[0], net[1], 10 + i as u8),
                    asn: 65001 + i as u32,
                })
                .collect(),
            supervisor: None,
            control_token: random_token()?,
            slots,
        };
        let mut lab = Lab {
            state,
            owned: true,
            children: Vec::new(),
            dataplane: None,
        };
        // From here on a failure must not leave daemons behind: `lab` stops them on drop.
        lab.write_files(&bird)?;
        for daemon in lab.state.daemons() {
            progress(&format!("starting bird for {daemon}"));
            lab.start_daemon(&bird, &daemon)?;
        }
        for daemon in lab.state.daemons() {
            lab.wait_socket(&daemon).await?;
        }
        progress("waiting for BGP sessions to establish");
        lab.wait_established(Duration::from_secs(20)).await?;
        progress("starting app servers and the anycast front door");
        lab.dataplane = Some(dataplane::Dataplane::start(&lab.state).await?);
        Ok(lab)
    }

    /// Opens the lab recorded in `dir` without owning it.
    pub fn open(dir: &Path) -> Result<Lab, LabError> {
        let dir = absolute(dir)?;
        Ok(Lab {
            state: read_state(&dir)?,
            owned: false,
            children: Vec::new(),
            dataplane: None,
        })
    }

    /// Records this process as the lab's supervisor, so `lab down` from another process
    /// asks it to stop the daemons it owns.
    pub fn supervise(&mut self) -> Result<(), LabError> {
        self.state.supervisor = Some(std::process::id() as i32);
        self.save_state()
    }

    /// Writes `lab.json` (private: it holds the control token).
    fn save_state(&self) -> Result<(), LabError> {
        let json = serde_json::to_string_pretty(&self.state).or_else(|e| err(e.to_string()))?;
        write_private(&self.state.dir.join(STATE_FILE), &json)
    }

    /// Reaps daemons that exited (e.g. stopped by a `command` withdraw).
    pub fn reap(&mut self) {
        for (_, c) in &mut self.children {
            let _ = c.try_wait();
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.state.config_path()
    }

    /// Stops every daemon of the lab and removes sockets, pid files and the state file.
    /// Returns the pids of the daemons that were running.
    pub fn down(&mut self) -> Vec<i32> {
        let running = running_birds(&self.state.dir);
        if let Some(pid) = self
            .state
            .supervisor
            .filter(|p| *p != std::process::id() as i32)
        {
            stop_supervisor(pid, &self.state.dir);
        }
        self.dataplane = None;
        stop_birds(&self.state.dir);
        for (_, mut child) in self.children.drain(..) {
            let _ = child.kill();
            let _ = child.wait();
        }
        for d in self.state.daemons() {
            let _ = std::fs::remove_file(self.state.socket(&d));
            let _ = std::fs::remove_file(self.state.pid_file(&d));
        }
        let _ = std::fs::remove_file(self.state.dir.join(STATE_FILE));
        self.owned = false;
        running
    }

    /// One line per process of the lab: the supervisor, each router (running or not,
    /// its socket), and the data plane it serves — app servers, the anycast front door,
    /// the Nomad endpoints — each checked by connecting to it.
    pub fn status_lines(&self) -> Vec<String> {
        let running = running_birds(&self.state.dir);
        let mut lines = Vec::new();
        let owner = self.state.supervisor.filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c).contains(&self.state.dir.display().to_string())
                })
                .unwrap_or(false)
        });
        lines.push(match owner {
            Some(p) => format!("{:<22} running (pid {p})", "supervisor"),
            None => format!(
                "{:<22} not running (the routers are on their own)",
                "supervisor"
            ),
        });
        for d in self.state.daemons() {
            let pid = std::fs::read_to_string(self.state.pid_file(&d))
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
                .filter(|p| running.contains(p));
            let name = format!("router {d}");
            lines.push(match pid {
                Some(p) => format!(
                    "{name:<22} running (pid {p})  {}",
                    self.state.socket(&d).display()
                ),
                None => format!("{name:<22} stopped"),
            });
        }
        let served_by = owner.map(|p| format!(" (in pid {p})")).unwrap_or_default();
        let mut endpoints = vec![(
            "front door (anycast)".to_string(),
            self.state.anycast_addr(),
        )];
        for m in &self.state.metros {
            endpoints.push((format!("app server {}", m.code), self.state.app_addr(m)));
            endpoints.push((
                format!("nomad endpoint {}", m.code),
                self.state.nomad_addr(m),
            ));
        }
        for (name, addr) in endpoints {
            let up =
                std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok();
            lines.push(format!(
                "{name:<22} {}{served_by}  {addr}",
                if up { "listening" } else { "not answering" }
            ));
        }
        lines
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.owned {
            self.down();
        }
    }
}

fn absolute(dir: &Path) -> Result<PathBuf, LabError> {
    if dir.is_absolute() {
        return Ok(dir.to_path_buf());
    }
    std::env::current_dir()
        .map(|c| c.join(dir))
        .or_else(|e| err(format!("cannot resolve {}: {e}", dir.display())))
}
