//! The local lab: a small real world on loopback. One `bird2` daemon per metro originates
//! the anycast prefix; an upstream daemon peers with all of them and picks the best path.
//! Everything (configs, sockets, pids, logs, state) lives in the lab's own directory, and
//! the lab writes an ordinary platform-tui config there. This module never imports the UI.

mod conf;
pub mod dataplane;
pub mod installer;
pub mod metros;
pub mod nomad_api;
pub mod nomad_jobs;
pub mod supervise;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::bird::BirdClient;
pub use metros::{MetroSpec, METROS};

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

/// How a lab metro withdraws: BIRD `disable` of its origin, or stopping its daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabMethod {
    /// BIRD `disable`/`enable` of the metro's origin protocol.
    Disable,
    /// Stop and start the metro's bird (like `systemctl stop bird`).
    Command,
}

impl LabMethod {
    pub fn name(self) -> &'static str {
        match self {
            LabMethod::Disable => "disable",
            LabMethod::Command => "command",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LabMetro {
    pub code: String,
    pub display_name: String,
    pub rtt_ms: u32,
    pub addr: Ipv4Addr,
    pub asn: u32,
}

/// What `lab up` recorded, so `lab down`/`lab status` work from another process.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LabState {
    pub dir: PathBuf,
    pub prefix: String,
    pub port: u16,
    /// Second and third octets of the lab's 127.x.y.0/24.
    pub net: [u8; 2],
    pub method: LabMethod,
    pub metros: Vec<LabMetro>,
    /// The console's state directory named in the lab's config; `None`: `state` in the
    /// lab's directory.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// The process that owns a detached lab's daemons.
    #[serde(default)]
    pub supervisor: Option<i32>,
    /// Shared secret of the control port; the state file is readable by its owner only.
    #[serde(default)]
    pub control_token: String,
    /// Every metro code this lab can run, in address order: slot `i` is 127.x.y.(10+i)
    /// with AS 65001+i. The metros it started with come first; `lab metro add` takes the
    /// others' slots. Empty in a lab recorded before metros could be added.
    #[serde(default)]
    pub slots: Vec<String>,
}

impl LabState {
    pub fn upstream_addr(&self) -> Ipv4Addr {
        Ipv4Addr::new(127, self.net[0], self.net[1], 1)
    }
    /// The anycast front door: the address viewers connect to.
    pub fn anycast_addr(&self) -> SocketAddr {
        SocketAddr::from((
            Ipv4Addr::new(127, self.net[0], self.net[1], 2),
            self.port + 1,
        ))
    }
    pub fn anycast_url(&self) -> String {
        format!("http://{}/", self.anycast_addr())
    }
    /// A metro's own app server.
    pub fn app_addr(&self, m: &LabMetro) -> SocketAddr {
        SocketAddr::from((m.addr, self.port + 1))
    }
    /// A metro's Nomad-API endpoint.
    pub fn nomad_addr(&self, m: &LabMetro) -> SocketAddr {
        SocketAddr::from((m.addr, self.port + 2))
    }
    /// Where `lab app stop|start` reach the process that owns the lab.
    pub fn control_addr(&self) -> SocketAddr {
        SocketAddr::from((self.upstream_addr(), self.port + 3))
    }
    pub fn config_path(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }
    /// A metro of this lab, running or not: its address and AS come from its slot.
    /// `None` for a code not in the built-in table (or with no slot).
    pub fn metro_for(&self, code: &str) -> Option<LabMetro> {
        if let Some(m) = self.metros.iter().find(|m| m.code == code) {
            return Some(m.clone());
        }
        let spec = metros::lookup(code)?;
        let i = self.slots.iter().position(|c| c == code)?;
        Some(LabMetro {
            code: spec.code.to_string(),
            display_name: spec.display_name.to_string(),
            rtt_ms: spec.rtt_ms,
            addr: Ipv4Addr::new(127, self.net[0], self.net[1], 10 + i as u8),
            asn: 65001 + i as u32,
        })
    }
    /// Daemon names: `upstream` then the metro codes.
    pub fn daemons(&self) -> Vec<String> {
        std::iter::once("upstream".to_string())
            .chain(self.metros.iter().map(|m| m.code.clone()))
            .collect()
    }
    pub fn socket(&self, daemon: &str) -> PathBuf {
        self.dir.join("run").join(format!("{daemon}.ctl"))
    }
    pub fn pid_file(&self, daemon: &str) -> PathBuf {
        self.dir.join("run").join(format!("{daemon}.pid"))
    }
    fn conf_file(&self, daemon: &str) -> PathBuf {
        self.dir.join(format!("{daemon}.conf"))
    }
    fn log_file(&self, daemon: &str) -> PathBuf {
        self.dir.join("log").join(format!("{daemon}.log"))
    }
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

    /// Adds a metro to the running lab: its router (peered with the upstream, which is
    /// reconfigured with the new session), app server and Nomad endpoint; returns once
    /// the upstream has its session Established and its route. A metro already in the lab
    /// is left as it is (success): so the installer's `terraform apply` with the lab's own
    /// metros changes nothing. Errors: an unknown code (naming the known ones), a lab
    /// without slots, or a router that does not come up (everything started is stopped).
    pub async fn add_metro(&mut self, code: &str) -> Result<String, LabError> {
        if metros::lookup(code).is_none() {
            return err(metros::unknown(code));
        }
        if self.state.metros.iter().any(|m| m.code == code) {
            return Ok(format!("{code} is already in the lab"));
        }
        let Some(m) = self.state.metro_for(code) else {
            return err(format!(
                "this lab was started before metros could be added; restart it to add {code}"
            ));
        };
        let bird = find_bird()?;
        // Recorded first: whatever happens next, `lab down` knows to stop it.
        self.state.metros.push(m.clone());
        self.save_state()?;
        match self.start_metro(&bird, &m).await {
            Ok(()) => Ok(format!(
                "{code} ({}) added: router {} AS {}, Established with the upstream",
                m.display_name, m.addr, m.asn
            )),
            Err(e) => {
                let _ = self.stop_metro(code).await;
                Err(e)
            }
        }
    }

    async fn start_metro(&mut self, bird: &Path, m: &LabMetro) -> Result<(), LabError> {
        let s = &self.state;
        let conf = conf::metro_bird(s, m, &s.log_file(&m.code)).map_err(LabError)?;
        std::fs::write(s.conf_file(&m.code), conf).or_else(|e| {
            err(format!(
                "cannot write {}: {e}",
                s.conf_file(&m.code).display()
            ))
        })?;
        self.start_daemon(bird, &m.code)?;
        self.wait_socket(&m.code).await?;
        if let Some(dp) = self.dataplane.as_mut() {
            dp.add_metro(&self.state, m).await?;
        }
        self.reconfigure_upstream().await?;
        self.wait_metro(&m.code, Duration::from_secs(20)).await
    }

    /// Removes a metro from the running lab: the front door stops routing to it, the
    /// upstream drops its session (reconfigured), its app server, Nomad endpoint and router
    /// stop, its files go. A metro not in the lab is nothing to do (success). Refused for
    /// the lab's last metro, and for an unknown code (naming the known ones).
    pub async fn remove_metro(&mut self, code: &str) -> Result<String, LabError> {
        if metros::lookup(code).is_none() {
            return err(metros::unknown(code));
        }
        if !self.state.metros.iter().any(|m| m.code == code) {
            return Ok(format!("{code} is not in the lab"));
        }
        if self.state.metros.len() == 1 {
            return err(format!(
                "refusing to remove {code}: it is the lab's last metro (stop the lab with `lab down`)"
            ));
        }
        self.stop_metro(code).await?;
        Ok(format!("{code} removed"))
    }

    async fn stop_metro(&mut self, code: &str) -> Result<(), LabError> {
        if let Some(dp) = self.dataplane.as_mut() {
            dp.remove_metro(code);
        }
        self.state.metros.retain(|m| m.code != code);
        let reconfigured = self.reconfigure_upstream().await;
        // The router: SIGTERM, SIGKILL after 3 s, reaped.
        if let Some(i) = self.children.iter().position(|(d, _)| d == code) {
            let (_, mut child) = self.children.remove(i);
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(3);
            while !matches!(child.try_wait(), Ok(Some(_))) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let s = &self.state;
        for f in [s.socket(code), s.pid_file(code), s.conf_file(code)] {
            let _ = std::fs::remove_file(f);
        }
        self.save_state()?;
        reconfigured
    }

    /// Rewrites the upstream's config for the lab's metros and has it re-read it.
    async fn reconfigure_upstream(&self) -> Result<(), LabError> {
        let s = &self.state;
        let text = conf::upstream_bird(s, &s.log_file("upstream")).map_err(LabError)?;
        std::fs::write(s.conf_file("upstream"), text).or_else(|e| {
            err(format!(
                "cannot write {}: {e}",
                s.conf_file("upstream").display()
            ))
        })?;
        let mut upstream = BirdClient::new(s.socket("upstream"), Duration::from_secs(5));
        upstream
            .configure()
            .await
            .map_err(|e| LabError(format!("the upstream did not take its new config: {e}")))
    }

    /// Waits until the upstream has its session with `code` Established and a route from it.
    async fn wait_metro(&self, code: &str, limit: Duration) -> Result<(), LabError> {
        let proto = conf::observer_protocol(code);
        let deadline = Instant::now() + limit;
        let mut upstream = BirdClient::new(self.state.socket("upstream"), Duration::from_secs(1));
        let mut last = String::from("no reply yet");
        while Instant::now() < deadline {
            match upstream.show_protocols().await {
                Ok(protos) => {
                    let up = protos
                        .iter()
                        .any(|p| p.name == proto && p.bgp_state.as_deref() == Some("Established"));
                    let routes = match upstream.show_route_for(&self.state.prefix, false).await {
                        Ok(r) => r.iter().any(|r| r.protocol == proto),
                        Err(_) => false,
                    };
                    if up && routes {
                        return Ok(());
                    }
                    last = format!(
                        "session {}, route {}",
                        if up { "Established" } else { "not Established" },
                        if routes { "present" } else { "absent" }
                    );
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        err(format!(
            "{code} did not establish with the upstream within {}s ({last}); logs in {}",
            limit.as_secs(),
            self.state.dir.join("log").display()
        ))
    }

    pub fn config_path(&self) -> PathBuf {
        self.state.config_path()
    }

    fn write_files(&self, bird: &Path) -> Result<(), LabError> {
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

    fn start_daemon(&mut self, bird: &Path, daemon: &str) -> Result<(), LabError> {
        use std::os::unix::process::CommandExt as _;
        let s = &self.state;
        let cant_run = |e: std::io::Error| LabError(format!("cannot run {}: {e}", bird.display()));
        let log =
            std::fs::File::create(s.log_file(&format!("{daemon}.stderr"))).map_err(cant_run)?;
        // Own process group: a terminal's ctrl-c or hang-up reaches the console only,
        // which then stops the daemons itself.
        let child = Command::new(bird)
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
    async fn wait_socket(&mut self, daemon: &str) -> Result<(), LabError> {
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

    async fn wait_established(&self, limit: Duration) -> Result<(), LabError> {
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

fn read_state(dir: &Path) -> Result<LabState, LabError> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path).or_else(|_| {
        err(format!(
            "no lab in {} (start one with `platform-tui lab up`)",
            dir.display()
        ))
    })?;
    serde_json::from_str(&text).or_else(|e| err(format!("{}: {e}", path.display())))
}

/// Picks a free 127.x.y.0/24 and a BGP port, so two labs can run at once.
fn pick_address_block(metros: usize) -> Result<([u8; 2], u16), LabError> {
    if metros > 200 {
        return err("a lab holds at most 200 metros");
    }
    for _attempt in 0..64 {
        let r = random_u64()?;
        let net = [100 + (r % 100) as u8, ((r >> 8) % 256) as u8];
        let port = 20_000 + ((r >> 16) % 40_000) as u16;
        // BGP on `port`, HTTP on `port + 1`, the Nomad API on `port + 2`, control on `port + 3`.
        let addrs = [1u8, 2]
            .into_iter()
            .chain((0..metros).map(|i| 10 + i as u8));
        let free = addrs
            .flat_map(|last| (0..4).map(move |o| (last, port + o)))
            .map(|(last, p)| SocketAddrV4::new(Ipv4Addr::new(127, net[0], net[1], last), p))
            .all(|a| TcpListener::bind(a).is_ok());
        if free {
            return Ok((net, port));
        }
    }
    err("no free loopback address block for the lab")
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
fn stop_birds(dir: &Path) {
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
fn stop_supervisor(pid: i32, dir: &Path) {
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

/// 128 bits from the operating system's generator, as hex: the secret that guards the
/// lab's control port.
fn random_token() -> Result<String, LabError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| LabError(format!("no randomness for the lab's control token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn random_u64() -> Result<u64, LabError> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| LabError(format!("no randomness for the lab's addresses: {e}")))?;
    Ok(u64::from_le_bytes(bytes))
}

/// Writes a file only its owner can read (the lab's state holds the control token).
fn write_private(path: &Path, text: &str) -> Result<(), LabError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let cant = |e: std::io::Error| LabError(format!("cannot write {}: {e}", path.display()));
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(cant)?;
    f.write_all(text.as_bytes()).map_err(cant)
}
