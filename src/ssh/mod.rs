//! Remote metros through the system's OpenSSH client: one master connection per
//! destination (`ControlMaster`, in a private runtime directory), the metro's BIRD socket
//! and Nomad API forwarded to local Unix sockets with `ssh -O forward` (no local TCP
//! port to race for), each tunnel checked through itself, the link's state published
//! per metro, and every master closed (`-O exit`) and every socket removed when the
//! [`Transport`] is closed or dropped — on quit, a signal, a panic, or the end of a
//! command.
//!
//! The operator's ssh config, agent, `ProxyJump` and known_hosts apply; nothing ever
//! prompts (`BatchMode`, no terminal): a host key not yet known or a key refused is an
//! error naming the `ssh` command to run once by hand.
//!
//! A backend: never imports ratatui, `app`, `ui` or `world`. The rest of the console
//! sees a remote metro through [`Transport::local_config`] — the same config, with the
//! metro's sockets at their local ends — and its state through [`link_of`].
//!
//! ```text
//!  ssh -M -N -S <dir>/c0 … metro-am ──────────────── sshd (metro-am)
//!    -O forward -L <dir>/am.b:/run/bird/bird.ctl  ─── BIRD's socket there
//!    -O forward -L <dir>/am.n:127.0.0.1:4646      ─── Nomad's API there
//! ```

pub mod args;
mod dir;
pub mod link;
pub mod master;
pub mod share;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Config, SshRoute, WithdrawMethod};
use crate::domain::link::{LinkState, LinkStatus};
use link::{LinkSpec, MetroEnds, NomadEnd};

/// Whether links reconnect: a console keeps them; a one-shot command tries once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Once,
    Supervised,
}

/// Links of live transports, by the local end of their metro's BIRD tunnel: how the
/// poller learns that a socket it reads is a tunnel, and the tunnel's state.
static LINKS: Mutex<Vec<(PathBuf, watch::Receiver<LinkStatus>)>> = Mutex::new(Vec::new());

/// The link behind a local BIRD socket, when that socket is the local end of a live
/// transport's tunnel.
pub fn link_of(bird_socket: &Path) -> Option<watch::Receiver<LinkStatus>> {
    let links = LINKS.lock().ok()?;
    links
        .iter()
        .find(|(p, _)| p == bird_socket)
        .map(|(_, rx)| rx.clone())
}

/// One running link, as the transport holds it.
struct Running {
    control: PathBuf,
    destination: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// The SSH links of one process: one per destination. Empty (no directory, no process)
/// when no metro has `ssh`.
pub struct Transport {
    dir: Option<dir::RuntimeDir>,
    config: Option<PathBuf>,
    running: Vec<Running>,
    /// Metro → its ends and status.
    metros: BTreeMap<String, Remote>,
}

/// One remote metro: its tunnels' ends, its master, its link's state.
struct Remote {
    ends: MetroEnds,
    control: PathBuf,
    destination: String,
    status: watch::Receiver<LinkStatus>,
}

impl Transport {
    /// Starts a link per destination of the config's remote metros and returns at once;
    /// the links connect in the background ([`Transport::settled`] waits for them). The
    /// only error is having no private directory for the sockets.
    pub fn start(cfg: &Config, mode: Mode) -> Result<Transport, String> {
        let remote: Vec<_> = cfg
            .metros
            .iter()
            .filter_map(|m| m.ssh.as_ref().map(|r| (m, r)))
            .collect();
        let mut t = Transport {
            dir: None,
            config: cfg.console.ssh_config.clone(),
            running: Vec::new(),
            metros: BTreeMap::new(),
        };
        if remote.is_empty() {
            return Ok(t);
        }
        let dir = dir::RuntimeDir::create()?;
        // One link per distinct route, in config order.
        let mut routes: Vec<&SshRoute> = Vec::new();
        for (_, r) in &remote {
            if !routes.contains(r) {
                routes.push(r);
            }
        }
        let now = SystemTime::now();
        for (i, route) in routes.iter().enumerate() {
            let control = dir.socket(&format!("c{i}"));
            let mut metros = Vec::new();
            for (m, _) in remote.iter().filter(|(_, r)| r == route) {
                let nomad = m.nomad.as_ref().and_then(|n| {
                    let address = n
                        .address
                        .as_deref()
                        .unwrap_or(crate::config::DEFAULT_REMOTE_NOMAD_ADDRESS);
                    nomad_end(address, dir.socket(&format!("{}.n", m.name)))
                });
                let ends = MetroEnds {
                    metro: m.name.clone(),
                    bird_local: dir.socket(&format!("{}.b", m.name)),
                    bird_remote: m.bird_socket.clone(),
                    nomad,
                };
                let (tx, rx) = watch::channel(LinkStatus::connecting(
                    &route.destination,
                    now,
                    ends.nomad.is_some(),
                ));
                t.metros.insert(
                    m.name.clone(),
                    Remote {
                        ends: ends.clone(),
                        control: control.clone(),
                        destination: route.destination.clone(),
                        status: rx.clone(),
                    },
                );
                if let Ok(mut links) = LINKS.lock() {
                    links.push((ends.bird_local.clone(), rx));
                }
                metros.push((ends, tx));
            }
            let spec = LinkSpec {
                master: master::Spec {
                    route: (*route).clone(),
                    config: t.config.clone(),
                    control: control.clone(),
                },
                metros,
                by_hand: args::by_hand(t.config.as_deref(), route),
                retry: mode == Mode::Supervised,
            };
            let (stop, stop_rx) = watch::channel(false);
            let task = tokio::spawn(link::run(spec, stop_rx));
            t.running.push(Running {
                control,
                destination: route.destination.clone(),
                stop,
                task,
            });
        }
        t.dir = Some(dir);
        Ok(t)
    }

    /// Whether any metro goes through ssh.
    pub fn is_empty(&self) -> bool {
        self.metros.is_empty()
    }

    /// The config as seen from this process: each remote metro's BIRD socket and Nomad
    /// API at their tunnels' local ends, and its `command` method run on that host
    /// through the master. Local metros are unchanged.
    pub fn local_config(&self, cfg: &Config) -> Config {
        let mut out = cfg.clone();
        for m in &mut out.metros {
            let Some(r) = self.metros.get(&m.name) else {
                continue;
            };
            m.bird_socket = r.ends.bird_local.clone();
            if let (Some(n), Some(end)) = (m.nomad.as_mut(), &r.ends.nomad) {
                n.unix_socket = Some(end.local.clone());
            }
            if let WithdrawMethod::Command(c) = &mut m.withdraw {
                let remote = |line: &str| {
                    args::remote_shell_line(
                        &r.control,
                        self.config.as_deref(),
                        &r.destination,
                        line,
                    )
                    .unwrap_or_else(|| {
                        "echo 'the command cannot be passed to ssh' >&2; exit 2".into()
                    })
                };
                c.withdraw = remote(&c.withdraw);
                c.restore = remote(&c.restore);
            }
        }
        out
    }

    /// Every remote metro's link as now known.
    pub fn statuses(&self) -> BTreeMap<String, LinkStatus> {
        self.metros
            .iter()
            .map(|(m, r)| (m.clone(), r.status.borrow().clone()))
            .collect()
    }

    /// A receiver per remote metro, for whoever follows the links (the console).
    pub fn subscribe(&self) -> Vec<(String, watch::Receiver<LinkStatus>)> {
        self.metros
            .iter()
            .map(|(m, r)| (m.clone(), r.status.clone()))
            .collect()
    }

    /// Waits until no link is still making its first connection, at most `limit`.
    pub async fn settled(&self, limit: Duration) {
        let all = self.metros.values().map(|r| {
            let mut rx = r.status.clone();
            async move {
                let _ = rx.wait_for(|s| s.state != LinkState::Connecting).await;
            }
        });
        let _ = tokio::time::timeout(limit, futures_util::future::join_all(all)).await;
    }

    /// Closes every link: each master asked to exit and waited for (bounded), then the
    /// sockets removed.
    pub async fn close(mut self) {
        for r in &self.running {
            let _ = r.stop.send(true);
        }
        let tasks = self.running.iter_mut().map(|r| &mut r.task);
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            futures_util::future::join_all(tasks),
        )
        .await;
        // Drop does the rest (and the blocking exit of any master still there).
    }
}

impl Drop for Transport {
    /// Works without the async runtime (a panic unwinding, the end of `main`): every
    /// master still running is asked to exit with a blocking `-O exit`, its task (which
    /// owns the process, killed on drop) aborted, and the directory removed.
    fn drop(&mut self) {
        if let Ok(mut links) = LINKS.lock() {
            links.retain(|(p, _)| !self.metros.values().any(|r| &r.ends.bird_local == p));
        }
        for r in &self.running {
            if !r.task.is_finished() && r.control.exists() {
                master::exit_blocking(
                    &r.control,
                    self.config.as_deref(),
                    &r.destination,
                    Duration::from_secs(2),
                );
            }
            let _ = r.stop.send(true);
            r.task.abort();
        }
        // The directory (control sockets, forwards' local ends) goes with `self.dir`.
    }
}

/// The Nomad tunnel of an `http(s)://host:port` address: ssh forwards to `host:port` as
/// the far side resolves it.
fn nomad_end(address: &str, local: PathBuf) -> Option<NomadEnd> {
    let url = url::Url::parse(address).ok()?;
    let host = url.host_str()?.to_string();
    let port = url.port_or_known_default()?;
    Some(NomadEnd {
        local,
        target: format!("{host}:{port}"),
        url: format!("{}://{host}:{port}", url.scheme()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nomad_tunnels_name_the_far_sides_host_and_port() {
        let e = nomad_end("http://127.0.0.1:4646", PathBuf::from("/r/am.n")).expect("end");
        assert_eq!(e.target, "127.0.0.1:4646");
        assert_eq!(e.url, "http://127.0.0.1:4646");
        let v6 = nomad_end("https://[::1]", PathBuf::from("/r/am.n")).expect("end");
        assert_eq!(v6.target, "[::1]:443");
        assert_eq!(v6.url, "https://[::1]:443");
    }

    #[tokio::test]
    async fn a_config_without_remote_metros_starts_nothing() {
        let cfg = crate::config::parse(
            "[anycast]\nprefix = \"198.18.0.10/32\"\n[[metro]]\nname = \"am\"\nbird_socket = \"/x/am.ctl\"\n",
            Path::new("/c.toml"),
        )
        .expect("config");
        let t = Transport::start(&cfg, Mode::Once).expect("transport");
        assert!(t.is_empty() && t.dir.is_none());
        assert_eq!(t.local_config(&cfg), cfg);
    }

    #[tokio::test]
    async fn remote_metros_are_read_at_their_local_ends() {
        let cfg = crate::config::parse(
            r#"[console]
ssh_config = "/dev/null"
[anycast]
prefix = "198.18.0.10/32"
[[metro]]
name = "am"
ssh = "nobody@127.0.0.1"
ssh_options = ["-p", "1"]
[metro.withdraw]
method = "command"
withdraw = "systemctl stop bird"
restore = "systemctl start bird"
[metro.nomad]
[[metro]]
name = "da"
bird_socket = "/x/da.ctl"
"#,
            Path::new("/c.toml"),
        )
        .expect("config");
        // Port 1 on loopback refuses: the links only need to exist.
        let t = Transport::start(&cfg, Mode::Once).expect("transport");
        let local = t.local_config(&cfg);
        let am = local.metro("am").expect("am");
        let dir = t.dir.as_ref().expect("a dir").path().to_path_buf();
        assert_eq!(am.bird_socket, dir.join("am.b"));
        assert_eq!(
            am.nomad.as_ref().and_then(|n| n.unix_socket.clone()),
            Some(dir.join("am.n"))
        );
        let WithdrawMethod::Command(c) = &am.withdraw else {
            panic!("command method")
        };
        assert!(c.withdraw.starts_with("exec ssh -S "), "{}", c.withdraw);
        assert!(
            c.withdraw
                .ends_with("nobody@127.0.0.1 'systemctl stop bird'"),
            "{}",
            c.withdraw
        );
        assert_eq!(local.metro("da"), cfg.metro("da"));
        assert!(link_of(&dir.join("am.b")).is_some());
        drop(t);
        assert!(!dir.exists(), "the runtime directory is removed");
        assert!(link_of(&dir.join("am.b")).is_none());
    }
}
