//! The console's state directory: the audit log (`audit.jsonl`, JSON lines) and the lock
//! (`ops::interlock`). The audit log is also where the desired state of each metro's
//! advertisement lives: every line written under the lock carries the whole desired map
//! as of that line, so one appended, fsynced line records an outcome and the desired
//! state together — atomically (a torn last line is ignored, the one before holds), and
//! at the cost of one fsync instead of the three a separate file replaced by rename
//! takes. A `desired.json` of older versions is still read when no line carries a map.
//!
//! Private and tamper-evident: the directory is 0700 and files 0600 whatever the umask;
//! a directory writable by others, owned by someone else or reached through a symlink is
//! refused; files are opened without following symlinks; audit lines are fsynced before
//! the action they announce.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::{
    DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use nix::libc;

use crate::config::Config;
use crate::domain::deploy::HistoryEntry as DeployEntry;
use crate::domain::journal::{latest_desired, unanswered, AuditRecord, Journal, Unfinished};
use crate::domain::provision::HistoryEntry;
use crate::domain::Desired;

/// Audit tail read to find an unfinished action: far more than the few lines written
/// since the latest intent.
const TAIL_BYTES: u64 = 64 * 1024;
/// An older version's desired-state file is a handful of names; anything bigger is not
/// ours.
const MAX_DESIRED_BYTES: u64 = 1024 * 1024;

/// `$XDG_STATE_HOME/platform-tui`, else `~/.local/state/platform-tui`.
pub fn default_state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("platform-tui");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".local/state/platform-tui")
}

/// Who is acting, for the audit log.
pub fn user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| format!("uid {}", nix::unistd::getuid()))
}

/// The name of the shared SSH key this process's console was opened with (`--shared-key`,
/// set by the line `platform-tui share` installs). Set once, at start.
static SHARED_KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Records the shared key's name for the audit log; only the first call counts.
pub fn set_shared_key(name: &str) {
    let _ = SHARED_KEY.set(name.to_string());
}

/// Where this process was reached from over SSH (sshd's `SSH_CONNECTION`, the shared
/// key's name), for the audit log; `None` when not over SSH.
pub fn ssh_origin() -> Option<crate::domain::journal::SshOrigin> {
    crate::domain::journal::SshOrigin::from_env(
        std::env::var("SSH_CONNECTION").ok().as_deref(),
        SHARED_KEY.get().map(String::as_str),
    )
}

/// RFC 3339 UTC with milliseconds, as every audit line carries it.
pub fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// The state directory of a config. Nothing is touched until a method is called.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub dir: PathBuf,
}

impl StateDir {
    pub fn of(cfg: &Config) -> StateDir {
        StateDir {
            dir: cfg
                .console
                .state_dir
                .clone()
                .unwrap_or_else(default_state_dir),
        }
    }

    /// Where older versions kept the desired state (read, never written).
    pub fn desired_path(&self) -> PathBuf {
        self.dir.join("desired.json")
    }

    pub fn audit_path(&self) -> PathBuf {
        self.dir.join("audit.jsonl")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.dir.join("lock")
    }

    /// Makes sure the directory exists and is safe to act on: created 0700 when missing;
    /// refused when it is a symlink, not a directory, someone else's, or writable by
    /// group or others; read access for others is taken away.
    pub fn prepare(&self) -> Result<(), String> {
        let d = &self.dir;
        let meta = match std::fs::symlink_metadata(d) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| format!("state dir {}: {e}", d.display()))?;
                }
                match std::fs::DirBuilder::new().mode(0o700).create(d) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(format!("state dir {}: {e}", d.display())),
                }
                std::fs::symlink_metadata(d)
                    .map_err(|e| format!("state dir {}: {e}", d.display()))?
            }
            Err(e) => return Err(format!("state dir {}: {e}", d.display())),
        };
        check_dir(d, &meta)?;
        if meta.mode() & 0o077 != 0 {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| format!("state dir {}: cannot make it private: {e}", d.display()))?;
        }
        // Every file is checked before anything is done, so a planted symlink or a
        // directory in a file's place refuses the action instead of failing half way.
        for (role, path) in [
            ("audit log", self.audit_path()),
            ("deployment history", self.deploy_history_path()),
            ("desired state", self.desired_path()),
            ("lock", self.lock_path()),
        ] {
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(format!(
                        "the {role} {} is a symbolic link; refusing to follow it",
                        path.display()
                    ))
                }
                Ok(m) if !m.is_file() => {
                    return Err(format!(
                        "the {role} {} is not a regular file{}",
                        path.display(),
                        if m.is_dir() { " (a directory)" } else { "" }
                    ))
                }
                Ok(m) if m.uid() != nix::unistd::geteuid().as_raw() => {
                    return Err(format!(
                        "the {role} {} belongs to uid {}, not to you",
                        path.display(),
                        m.uid()
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Starts afresh for a new world (a new lab): the audit log is kept, renamed
    /// `audit-YYYYMMDDTHHMMSSZ.jsonl`, so the desired state it carried is history. Returns
    /// the new name, or `None` when there was nothing to keep.
    pub fn archive(&self) -> Result<Option<PathBuf>, String> {
        if !self.check_existing()? {
            return Ok(None);
        }
        self.prepare()?;
        let stamp: String = timestamp(SystemTime::now())
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(15)
            .collect();
        let mut kept = None;
        for (from, to) in [
            (self.audit_path(), format!("audit-{stamp}Z.jsonl")),
            (self.desired_path(), format!("desired-{stamp}Z.json")),
        ] {
            if std::fs::symlink_metadata(&from).is_ok() {
                let to = self.dir.join(to);
                std::fs::rename(&from, &to)
                    .map_err(|e| format!("cannot archive {}: {e}", from.display()))?;
                kept.get_or_insert(to);
            }
        }
        Ok(kept)
    }

    /// Checks an existing directory without changing anything (for readers).
    fn check_existing(&self) -> Result<bool, String> {
        match std::fs::symlink_metadata(&self.dir) {
            Ok(m) => check_dir(&self.dir, &m).map(|_| true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(format!("state dir {}: {e}", self.dir.display())),
        }
    }

    /// The desired state per metro, as of the latest audit line that carries it; nothing
    /// asked yet is an empty map.
    pub fn desired(&self) -> Result<BTreeMap<String, Desired>, String> {
        if !self.check_existing()? {
            return Ok(BTreeMap::new());
        }
        self.desired_in(&self.tail()?)
    }

    /// The desired state as of `tail` (the audit tail), or an older version's file.
    pub fn desired_in(&self, tail: &[AuditRecord]) -> Result<BTreeMap<String, Desired>, String> {
        match latest_desired(tail) {
            Some(d) => Ok(d.clone()),
            None => self.legacy_desired(),
        }
    }

    fn legacy_desired(&self) -> Result<BTreeMap<String, Desired>, String> {
        let path = self.desired_path();
        let mut f = match open_private(&path, OpenOptions::new().read(true)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let mut text = String::new();
        std::io::Read::by_ref(&mut f)
            .take(MAX_DESIRED_BYTES)
            .read_to_string(&mut text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if text.trim().is_empty() {
            return Ok(BTreeMap::new());
        }
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Provisioning runs, one JSON line each (`domain::provision::HistoryEntry`).
    pub fn history_path(&self) -> PathBuf {
        self.dir.join("provision.jsonl")
    }

    /// Appends one line to the provisioning history (fsynced, like the audit log).
    pub fn append_history(&self, entry: &HistoryEntry) -> Result<(), String> {
        append_line(&self.dir, &self.history_path(), entry)
            .map_err(|e| format!("history {}: {e}", self.history_path().display()))
    }

    /// The provisioning history's last runs (up to 64 KiB of it), oldest first.
    pub fn history(&self) -> Result<Vec<HistoryEntry>, String> {
        tail_of(&self.history_path()).map_err(|e| format!("history {e}"))
    }

    /// Deployments, one JSON line each (`domain::deploy::HistoryEntry`).
    pub fn deploy_history_path(&self) -> PathBuf {
        self.dir.join("deploy.jsonl")
    }

    /// Appends one line to the deployment history (fsynced, like the audit log).
    pub fn append_deploy_history(&self, entry: &DeployEntry) -> Result<(), String> {
        append_line(&self.dir, &self.deploy_history_path(), entry)
            .map_err(|e| format!("history {}: {e}", self.deploy_history_path().display()))
    }

    /// The deployment history's last entries (up to 256 KiB of it), oldest first.
    pub fn deploy_history(&self) -> Result<Vec<DeployEntry>, String> {
        let path = self.deploy_history_path();
        let mut f = match open_private(&path, OpenOptions::new().read(true)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("history {}: {e}", path.display())),
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let from = len.saturating_sub(4 * TAIL_BYTES);
        read_records(&mut f, from, len, from > 0)
            .map_err(|e| format!("history {}: {e}", path.display()))
    }

    /// Appends one audit line and fsyncs it. An error means the line is not durable and
    /// the action it announces must not run.
    pub fn append(&self, record: &AuditRecord) -> Result<(), String> {
        append_line(&self.dir, &self.audit_path(), record)
            .map_err(|e| format!("audit log {}: {e}", self.audit_path().display()))
    }

    /// The audit log's last records (up to 64 KiB of it), oldest first; unparsable lines
    /// are skipped.
    pub fn tail(&self) -> Result<Vec<AuditRecord>, String> {
        tail_of(&self.audit_path()).map_err(|e| format!("audit log {e}"))
    }
}

fn check_dir(d: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    let shown = d.display();
    if meta.file_type().is_symlink() {
        return Err(format!(
            "state dir {shown} is a symbolic link: set console.state_dir to the directory itself"
        ));
    }
    if !meta.is_dir() {
        return Err(format!("state dir {shown} is not a directory"));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "state dir {shown} belongs to uid {}, not to you (uid {me}): its audit log and desired state cannot be trusted",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "state dir {shown} is writable by others (mode {:04o}): its audit log and desired state cannot be trusted; fix it with `chmod 700 {shown}`",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Opens a file in the state directory: never through a symlink, only a regular file of
/// ours; its mode is tightened to 0600.
pub(crate) fn open_private(path: &Path, opts: &mut OpenOptions) -> std::io::Result<File> {
    let f = opts
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                std::io::Error::other("is a symbolic link; refusing to follow it")
            } else {
                e
            }
        })?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(std::io::Error::other(format!(
            "belongs to uid {}, not to you",
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

/// Records in `from..to`; `mid_line`: `from` may be inside a line, whose rest is dropped.
/// The records in the last 64 KiB of a JSON-lines file of the state directory, oldest
/// first; none when it does not exist. Errors start with the path.
fn tail_of<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, String> {
    let mut f = match open_private(path, OpenOptions::new().read(true)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let from = len.saturating_sub(TAIL_BYTES);
    read_records(&mut f, from, len, from > 0).map_err(|e| format!("{}: {e}", path.display()))
}

/// Appends one JSON line to a file in the state directory and fsyncs it (and the
/// directory, when the file is new: its name must be as durable as its first line).
fn append_line(dir: &Path, path: &Path, value: &impl serde::Serialize) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut f = open_private(
        path,
        OpenOptions::new().append(true).create(true).mode(0o600),
    )?;
    let fresh = f.metadata()?.len() == 0;
    f.write_all(&line)?;
    f.sync_data()?;
    if fresh {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn read_records<T: serde::de::DeserializeOwned>(
    f: &mut File,
    from: u64,
    to: u64,
    mid_line: bool,
) -> std::io::Result<Vec<T>> {
    f.seek(SeekFrom::Start(from))?;
    let mut buf = Vec::new();
    f.take(to - from).read_to_end(&mut buf)?;
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    if mid_line {
        // Started mid-line: drop the partial first line.
        let cut = text.find('\n').map_or(text.len(), |i| i + 1);
        text.drain(..cut);
    }
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// What identifies the state directory's content cheaply: sizes and modification times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Generation {
    audit: Option<(u64, SystemTime)>,
    desired: Option<(u64, SystemTime)>,
}

/// Reads the state directory for a console or `status`: the desired state, the audit
/// records appended since the last read (by any process), and an unfinished action.
pub struct JournalReader {
    state: StateDir,
    /// Where the next new audit record starts; `None` before the first read (older
    /// records are history, not events).
    offset: Option<u64>,
}

impl JournalReader {
    pub fn new(state: StateDir) -> JournalReader {
        JournalReader {
            state,
            offset: None,
        }
    }

    pub fn generation(&self) -> Generation {
        let stamp = |p: PathBuf| {
            std::fs::symlink_metadata(p)
                .ok()
                .map(|m| (m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH)))
        };
        Generation {
            audit: stamp(self.state.audit_path()),
            desired: stamp(self.state.desired_path()),
        }
    }

    /// Reads the directory; `before` is the generation taken before the routers were
    /// polled, so a change in between marks the journal unsettled.
    pub fn read(&mut self, before: Generation) -> Journal {
        let tail = match self.state.check_existing() {
            Ok(true) => self.state.tail(),
            Ok(false) => Ok(Vec::new()),
            Err(e) => Err(e),
        };
        let after = self.generation();
        let records = self.new_records();
        let (desired, unfinished) = match &tail {
            Ok(tail) => (
                self.state.desired_in(tail),
                unanswered(tail).map(|intent| Unfinished {
                    intent: intent.clone(),
                    running: super::interlock::is_held(&self.state),
                }),
            ),
            Err(e) => (Err(e.clone()), None),
        };
        Journal {
            desired,
            records,
            unfinished,
            settled: before == after,
        }
    }

    fn new_records(&mut self) -> Vec<AuditRecord> {
        let path = self.state.audit_path();
        let mut f = match open_private(&path, OpenOptions::new().read(true)) {
            Ok(f) => f,
            Err(e) => {
                if e.kind() == std::io::ErrorKind::NotFound {
                    // No log yet, so no history: every line written from now on is news
                    // (the first action of another console included).
                    self.offset.get_or_insert(0);
                }
                return Vec::new();
            }
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let Some(offset) = self.offset else {
            self.offset = Some(len);
            return Vec::new();
        };
        let from = if offset > len {
            // Truncated or replaced: start over from what is there now.
            len.saturating_sub(TAIL_BYTES)
        } else {
            // A burst bigger than the tail: the latest part is what matters.
            offset.max(len.saturating_sub(TAIL_BYTES))
        };
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(from)).is_err()
            || std::io::Read::by_ref(&mut f)
                .take(len - from)
                .read_to_end(&mut buf)
                .is_err()
        {
            return Vec::new();
        }
        // A line still being written is read next time, whole.
        let complete = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.offset = Some(from + complete as u64);
        let mut text = String::from_utf8_lossy(&buf[..complete]).into_owned();
        if from != offset && from > 0 {
            let cut = text.find('\n').map_or(text.len(), |i| i + 1);
            text.drain(..cut);
        }
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::journal::{Phase, Verdict, Via};
    use crate::domain::ActionKind;

    fn record(id: &str, phase: Phase) -> AuditRecord {
        AuditRecord {
            time: timestamp(SystemTime::now()),
            id: id.into(),
            phase,
            user: user(),
            ssh: None,
            pid: std::process::id(),
            via: Some(Via::Cli),
            metro: "am".into(),
            action: ActionKind::Withdraw.into(),
            method: "disable".into(),
            force: false,
            result: (phase == Phase::Outcome).then(|| Verdict::Ok.word().into()),
            detail: None,
            convergence_ms: Some(1.25),
            best_after: Some("da".into()),
            lock_wait_ms: None,
            desired: None,
        }
    }

    #[test]
    fn the_desired_state_is_the_latest_line_that_carries_it() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let s = StateDir {
            dir: tmp.path().join("state"),
        };
        assert_eq!(s.desired(), Ok(BTreeMap::new()));
        s.prepare().expect("prepare");
        let mut r = record("1", Phase::Outcome);
        r.desired = Some(BTreeMap::from([("am".into(), Desired::Withdrawn)]));
        s.append(&r).expect("append");
        r.desired = Some(BTreeMap::from([
            ("am".into(), Desired::Withdrawn),
            ("da".into(), Desired::Advertised),
        ]));
        s.append(&r).expect("append");
        // A line without a map (an older version's) does not reset it.
        r.desired = None;
        s.append(&r).expect("append");
        let all = s.desired().expect("read");
        assert_eq!(all.get("am"), Some(&Desired::Withdrawn));
        assert_eq!(all.get("da"), Some(&Desired::Advertised));
        // A torn last line is ignored: the one before holds.
        let mut f = OpenOptions::new()
            .append(true)
            .open(s.audit_path())
            .expect("open");
        f.write_all(b"{\"time\":\"2026-").expect("write");
        assert_eq!(s.desired().expect("read"), all);
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").mode() & 0o777;
        assert_eq!(mode(&s.dir), 0o700);
        assert_eq!(mode(&s.audit_path()), 0o600);
    }

    #[test]
    fn an_older_versions_desired_file_is_read_until_a_line_carries_the_state() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let s = StateDir {
            dir: tmp.path().join("state"),
        };
        s.prepare().expect("prepare");
        std::fs::write(s.desired_path(), r#"{"am":"withdrawn"}"#).expect("write");
        assert_eq!(
            s.desired(),
            Ok(BTreeMap::from([("am".into(), Desired::Withdrawn)]))
        );
        let mut r = record("1", Phase::Outcome);
        r.desired = Some(BTreeMap::new());
        s.append(&r).expect("append");
        assert_eq!(s.desired(), Ok(BTreeMap::new()));
    }

    #[test]
    fn audit_lines_append_and_an_unanswered_intent_is_found() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let s = StateDir {
            dir: tmp.path().join("state"),
        };
        s.prepare().expect("prepare");
        s.append(&record("1", Phase::Intent)).expect("append");
        s.append(&record("1", Phase::Outcome)).expect("append");
        s.append(&record("2", Phase::Intent)).expect("append");
        let tail = s.tail().expect("tail");
        assert_eq!(tail.len(), 3);
        assert_eq!(unanswered(&tail).map(|r| r.id.as_str()), Some("2"));
        assert_eq!(
            std::fs::metadata(s.audit_path()).expect("meta").mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn a_reader_sees_only_new_records_and_notices_changes() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let s = StateDir {
            dir: tmp.path().join("state"),
        };
        s.prepare().expect("prepare");
        s.append(&record("1", Phase::Intent)).expect("append");
        s.append(&record("1", Phase::Outcome)).expect("append");
        let mut r = JournalReader::new(s.clone());
        let g = r.generation();
        let first = r.read(g);
        assert!(first.records.is_empty(), "history is not news");
        assert!(first.settled);
        assert_eq!(first.unfinished, None);
        let g = r.generation();
        s.append(&record("2", Phase::Intent)).expect("append");
        let second = r.read(g);
        assert!(!second.settled, "changed while the routers were read");
        assert_eq!(second.records.len(), 1);
        let u = second.unfinished.expect("an unanswered intent");
        assert!(!u.running, "nobody holds the lock");
    }

    #[test]
    fn a_reader_started_before_the_log_exists_sees_its_first_records() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let s = StateDir {
            dir: tmp.path().join("state"),
        };
        s.prepare().expect("prepare");
        let mut r = JournalReader::new(s.clone());
        let g = r.generation();
        assert!(r.read(g).records.is_empty());
        s.append(&record("1", Phase::Intent)).expect("append");
        s.append(&record("1", Phase::Outcome)).expect("append");
        let g = r.generation();
        assert_eq!(
            r.read(g).records.len(),
            2,
            "another process's first action is news"
        );
    }

    #[test]
    fn unsafe_directories_and_symlinks_are_refused() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).expect("mkdir");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let err = StateDir { dir: open.clone() }
            .prepare()
            .expect_err("refused");
        assert!(err.contains("writable by others (mode 0777)"), "{err}");
        assert!(StateDir { dir: open }.desired().is_err());

        let real = tmp.path().join("real");
        std::fs::create_dir(&real).expect("mkdir");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let err = StateDir { dir: link }.prepare().expect_err("refused");
        assert!(err.contains("symbolic link"), "{err}");

        // A file in the directory that is a symlink is not followed.
        let s = StateDir { dir: real.clone() };
        s.prepare().expect("prepare");
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "keep").expect("write");
        std::os::unix::fs::symlink(&victim, s.audit_path()).expect("symlink");
        let err = s.append(&record("1", Phase::Intent)).expect_err("refused");
        assert!(err.contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep");
    }

    #[test]
    fn an_audit_log_that_is_a_directory_refuses_writes() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let s = StateDir {
            dir: tmp.path().join("state"),
        };
        s.prepare().expect("prepare");
        std::fs::create_dir(s.audit_path()).expect("mkdir");
        let err = s.append(&record("1", Phase::Intent)).expect_err("refused");
        assert!(err.starts_with("audit log"), "{err}");
        let err = s.prepare().expect_err("checked before acting");
        assert!(
            err.starts_with("the audit log ")
                && err.ends_with("is not a regular file (a directory)"),
            "{err}"
        );
        std::fs::remove_dir(s.audit_path()).expect("rmdir");
        std::os::unix::fs::symlink("/etc/passwd", s.desired_path()).expect("symlink");
        let err = s.prepare().expect_err("checked before acting");
        assert!(
            err.contains("desired state") && err.contains("symbolic link"),
            "{err}"
        );
    }
}
