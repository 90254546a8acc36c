//! The private runtime directory of one process's SSH links: its masters' control sockets
//! and the local ends of their forwards. Owner-only (0700), named after the process, on a
//! short path (a Unix socket path must fit in 108 bytes, and the master first binds its
//! control socket under a 17-character longer name). Removed when dropped; a directory
//! left by a process that was killed is swept by the next one.

use std::path::{Path, PathBuf};

use super::args;

/// Longest socket path the directory may hold: `sun_path` is 108 bytes on Linux, and the
/// master binds `ControlPath` + `.` + 16 random characters before renaming it.
pub const MAX_SOCKET_PATH: usize = 108 - 1 - 17;
/// The longest name of a socket in the directory: a metro name (16) and a suffix.
const MAX_NAME: usize = crate::config::MAX_METRO_NAME + 4;
const PREFIX: &str = "pt-ssh-";

pub struct RuntimeDir {
    dir: tempfile::TempDir,
}

impl RuntimeDir {
    /// A new directory in `$XDG_RUNTIME_DIR` when its paths are short enough, else in
    /// `/tmp`. Directories of processes that no longer run are removed first (their
    /// masters asked to exit).
    pub fn create() -> Result<RuntimeDir, String> {
        let candidates = std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .into_iter()
            .chain([PathBuf::from("/tmp")]);
        let mut last = String::new();
        for base in candidates {
            // "<base>/pt-ssh-<pid>-XXXXXX/<name>"
            let longest = base.as_os_str().len() + 1 + PREFIX.len() + 10 + 1 + 6 + 1 + MAX_NAME;
            if longest > MAX_SOCKET_PATH || !base.is_dir() {
                continue;
            }
            sweep(&base);
            use std::os::unix::fs::PermissionsExt as _;
            match tempfile::Builder::new()
                .prefix(&format!("{PREFIX}{}-", std::process::id()))
                .rand_bytes(6)
                .permissions(std::fs::Permissions::from_mode(0o700))
                .tempdir_in(&base)
            {
                Ok(dir) => return Ok(RuntimeDir { dir }),
                Err(e) => last = format!("{}: {e}", base.display()),
            }
        }
        Err(format!(
            "no private directory for the ssh links' sockets: {last}"
        ))
    }

    #[cfg(test)]
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The path of socket `name` in the directory.
    pub fn socket(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Removes directories left in `base` by processes that are gone (a SIGKILL leaves
/// them): each master found there is asked to exit first.
fn sweep(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if pid <= 0 || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let dir = e.path();
        // Only our own directories: never follow a link, never touch another user's.
        let Ok(meta) = std::fs::symlink_metadata(&dir) else {
            continue;
        };
        use std::os::unix::fs::MetadataExt as _;
        if !meta.is_dir() || meta.uid() != nix::unistd::geteuid().as_raw() {
            continue;
        }
        for s in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = s.path();
            if s.file_name().to_str().is_some_and(|n| n.starts_with('c')) {
                let _ = std::process::Command::new("ssh")
                    .args(args::control(&path, None, "-", "exit"))
                    .env_clear()
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn private_short_and_gone_when_dropped() {
        let d = RuntimeDir::create().expect("a runtime dir");
        let p = d.path().to_path_buf();
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let longest = d.socket(&"x".repeat(MAX_NAME));
        assert!(
            longest.as_os_str().len() <= MAX_SOCKET_PATH,
            "{}",
            longest.display()
        );
        drop(d);
        assert!(!p.exists());
    }

    #[test]
    fn a_dead_processs_directory_is_swept() {
        let base = tempfile::tempdir().expect("temp");
        // No process has pid 0x3fffffff (above pid_max).
        let stale = base.path().join(format!("{PREFIX}1073741823-abcdef"));
        std::fs::create_dir(&stale).expect("mkdir");
        std::fs::write(stale.join("am.b"), "").expect("write");
        let alive = base
            .path()
            .join(format!("{PREFIX}{}-abcdef", std::process::id()));
        std::fs::create_dir(&alive).expect("mkdir");
        sweep(base.path());
        assert!(!stale.exists());
        assert!(alive.exists());
    }
}
