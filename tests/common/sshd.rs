//! A real OpenSSH server for tests, started unprivileged-style on a loopback port with
//! its own host key, its own authorized keys and its own `-f` config; and a client config
//! (`-F`) of the test's own, so the user's `~/.ssh` is never involved. The server and
//! every session process it forked are killed on drop (sshd's sessions leave its
//! process group, so the whole tree is found through /proc).
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SSHD: &str = "/usr/sbin/sshd";

/// Whether the tests that need sshd can run; prints a loud line when they cannot (they
/// then return without passing silently for the wrong reason: the line says why).
pub fn available() -> bool {
    for tool in [SSHD, "/usr/bin/ssh-keygen", "/usr/bin/ssh"] {
        if !Path::new(tool).exists() {
            eprintln!(
                "\n\nSKIPPED: {tool} is missing: `apt-get install -y openssh-server` (scripts/deps installs it)\n\n"
            );
            return false;
        }
    }
    true
}

/// A key pair made for the test.
pub struct Key {
    pub private: PathBuf,
    pub public: PathBuf,
}

pub fn keygen(dir: &Path, name: &str, comment: &str) -> Key {
    let private = dir.join(name);
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(&private)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ssh-keygen failed");
    Key {
        public: private.with_extension("pub"),
        private,
    }
}

pub struct Sshd {
    /// Private files: host key, client keys, configs, known_hosts (0700).
    pub dir: PathBuf,
    pub port: u16,
    pub host_key: Key,
    /// The key every Host of the client config logs in with.
    pub operator: Key,
    /// `AuthorizedKeysFile` is `<keys>/%u`: readable by every user (public keys only),
    /// so a test may log in as `nobody`.
    pub keys: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Sshd {
    /// Starts sshd in `dir` (created), with `operator` authorized for root and nobody.
    pub fn start(dir: &Path) -> Sshd {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::create_dir_all(dir).unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let keys = dir.with_file_name(format!(
            "{}-keys",
            dir.file_name().unwrap().to_string_lossy()
        ));
        std::fs::create_dir_all(&keys).unwrap();
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o755)).unwrap();
        let host_key = keygen(dir, "host", "host");
        let operator = keygen(dir, "op", "operator");
        let pubkey = std::fs::read_to_string(&operator.public).unwrap();
        for user in ["root", "nobody"] {
            let f = keys.join(user);
            std::fs::write(&f, &pubkey).unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let mut s = Sshd {
            dir: dir.to_path_buf(),
            port: free_port(),
            host_key,
            operator,
            keys,
            log: dir.join("sshd.log"),
            child: None,
        };
        let _ = std::fs::create_dir_all("/run/sshd");
        std::fs::write(
            dir.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {keys}/%u\n\
                 PidFile {dir}/sshd.pid\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
                 AllowStreamLocalForwarding yes\nAllowTcpForwarding yes\nLogLevel DEBUG1\n",
                port = s.port,
                host = s.host_key.private.display(),
                keys = s.keys.display(),
                dir = dir.display(),
            ),
        )
        .unwrap();
        let check = Command::new(SSHD)
            .args(["-t", "-f"])
            .arg(dir.join("sshd_config"))
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "sshd -t: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        s.resume();
        s
    }

    /// (Re)starts the server on the same port.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "sshd already runs");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(self.dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not start: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server and every session it forked: every connection drops at once.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_tree(c.id());
            let _ = c.wait();
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `[127.0.0.1]:PORT <host key>`: a known_hosts line for this server.
    pub fn known_host(&self) -> String {
        let key = std::fs::read_to_string(&self.host_key.public).unwrap();
        let mut w = key.split_whitespace();
        format!(
            "[127.0.0.1]:{} {} {}\n",
            self.port,
            w.next().unwrap(),
            w.next().unwrap()
        )
    }

    /// Writes a client config at `<dir>/ssh_config` with one `Host` per (alias, user,
    /// extra lines), all reaching this server, and a known_hosts that knows it (unless
    /// an alias's extra lines name another file). Returns the config's path.
    pub fn client_config(&self, hosts: &[(&str, &str, &str)]) -> PathBuf {
        let known = self.dir.join("known_hosts");
        std::fs::write(&known, self.known_host()).unwrap();
        let mut text = String::new();
        for (alias, user, extra) in hosts {
            text.push_str(&format!(
                "Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {key}\n  \
                 IdentitiesOnly yes\n{extra}  UserKnownHostsFile {known}\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
                port = self.port,
                key = self.operator.private.display(),
                known = known.display(),
            ));
        }
        let path = self.dir.join("ssh_config");
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
        path
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.keys);
    }
}

/// Kills `pid` and every process descending from it.
pub fn kill_tree(pid: u32) {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let parent = all[i];
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            // The parent pid is the second field after the command's closing paren.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if ppid == Some(parent) && !all.contains(&p) {
                all.push(p);
            }
        }
        i += 1;
    }
    for p in all {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// `ssh` processes (clients and masters, not the server) whose command line mentions
/// `needle`.
pub fn ssh_clients(needle: &str) -> Vec<String> {
    super::procs_mentioning(needle)
        .into_iter()
        .filter(|p| {
            let cmd = p.split_once(' ').map(|(_, c)| c).unwrap_or("");
            cmd.starts_with("ssh ") || cmd.starts_with("setsid ssh")
        })
        .collect()
}
