//! What a lab is on disk: its recorded state (`lab.json`, readable by its owner only),
//! its metros and withdraw method, the addresses and ports derived from them, and the
//! free loopback block and secrets picked when it starts. Answers "where does this lab
//! live and listen?"; it starts and stops nothing.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{err, metros, LabError, CONFIG_FILE, STATE_FILE};

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
    pub(super) fn conf_file(&self, daemon: &str) -> PathBuf {
        self.dir.join(format!("{daemon}.conf"))
    }
    pub(super) fn log_file(&self, daemon: &str) -> PathBuf {
        self.dir.join("log").join(format!("{daemon}.log"))
    }
}

pub(super) fn read_state(dir: &Path) -> Result<LabState, LabError> {
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
pub(super) fn pick_address_block(metros: usize) -> Result<([u8; 2], u16), LabError> {
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

/// 128 bits from the operating system's generator, as hex: the secret that guards the
/// lab's control port.
pub(super) fn random_token() -> Result<String, LabError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| LabError(format!("no randomness for the lab's control token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub(super) fn random_u64() -> Result<u64, LabError> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| LabError(format!("no randomness for the lab's addresses: {e}")))?;
    Ok(u64::from_le_bytes(bytes))
}

/// Writes a file only its owner can read (the lab's state holds the control token).
pub(super) fn write_private(path: &Path, text: &str) -> Result<(), LabError> {
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
