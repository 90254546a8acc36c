//! One lock for every destructive action, across processes: an exclusive `flock` on the
//! state directory's `lock` file, held from the safety check to the verified outcome, so
//! two actions never interleave and "never withdraw the last advertising metro" is
//! decided on fresh state. The holder writes who it is into the file, so a waiter can say
//! what it waits for. The kernel releases the lock when its holder dies, however it dies.

use std::fs::{File, OpenOptions};
use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::journal::{open_private, StateDir};
use super::Interrupt;

/// Who holds the lock, for the ones waiting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub user: String,
    /// `console`, `cli`, ...
    pub via: String,
    /// "withdraw am".
    pub what: String,
    /// RFC 3339 UTC.
    pub since: String,
}

impl Holder {
    /// "withdraw am by root (cli, pid 4711) since 12:03:01".
    pub fn describe(&self) -> String {
        format!(
            "{} by {} ({}, pid {}) since {}",
            self.what,
            self.user,
            self.via,
            self.pid,
            self.since.get(11..19).unwrap_or(&self.since)
        )
    }
}

/// The held lock; dropping it releases it.
pub struct Guard {
    /// Held while the guard lives; the kernel releases it when the file is closed.
    _lock: Flock<File>,
    /// How long acquiring took.
    pub waited: Duration,
}

/// The holder's record is written in place, padded to this size: never truncating the
/// file keeps ext4 from flushing it (its replace-by-truncate heuristic costs an fsync).
const HOLDER_BYTES: usize = 512;

fn open_lock(state: &StateDir, write: bool) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true);
    if write {
        opts.write(true).create(true).mode(0o600);
    }
    open_private(&state.lock_path(), &mut opts)
}

/// Takes the lock, waiting up to `wait` for another action to finish; `progress` hears
/// once who is being waited for (and again if the holder changes). Refused with the
/// holder's name after the wait, or when interrupted.
pub async fn acquire(
    state: &StateDir,
    me: &Holder,
    wait: Duration,
    interrupt: &mut Interrupt,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Guard, String> {
    let started = Instant::now();
    let mut told: Option<Holder> = None;
    let mut pause = Duration::from_millis(2);
    loop {
        let file = open_lock(state, true)
            .map_err(|e| format!("lock {}: {e}", state.lock_path().display()))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => {
                // Readers trust this only while the lock is held, so a stale holder
                // left by a dead process is never shown.
                let mut body = serde_json::to_vec(me).unwrap_or_default();
                body.resize(body.len().max(HOLDER_BYTES), b' ');
                let _ = std::os::unix::fs::FileExt::write_all_at(&*lock, &body, 0);
                return Ok(Guard {
                    _lock: lock,
                    waited: started.elapsed(),
                });
            }
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {}
            Err((_, e)) => return Err(format!("lock {}: {e}", state.lock_path().display())),
        }
        let holder = holder(state);
        if holder.is_some() && holder != told {
            if let Some(h) = &holder {
                progress(&format!(
                    "waiting for another action to finish: {} (up to {}s)",
                    h.describe(),
                    wait.as_secs()
                ));
            }
            told = holder.clone();
        }
        if started.elapsed() >= wait {
            let who = holder
                .or(told)
                .map(|h| h.describe())
                .unwrap_or_else(|| "another process".into());
            return Err(format!(
                "another action holds the lock: {who}; gave up after {:.0}s",
                wait.as_secs_f64()
            ));
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            why = interrupt.wait() => return Err(format!("{why} while waiting for the lock")),
        }
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Who holds the lock now, as the holder wrote it; `None` when nobody does.
pub fn holder(state: &StateDir) -> Option<Holder> {
    if !is_held(state) {
        return None;
    }
    let mut f = open_lock(state, false).ok()?;
    let mut text = String::new();
    std::io::Read::by_ref(&mut f)
        .take(4096)
        .read_to_string(&mut text)
        .ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether some process holds the lock. Probes with a shared, non-blocking lock that is
/// dropped at once; a missing lock file means nobody ever acted.
pub fn is_held(state: &StateDir) -> bool {
    let Ok(file) = open_lock(state, false) else {
        return false;
    };
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(probe) => {
            drop(probe);
            false
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me(what: &str) -> Holder {
        Holder {
            pid: std::process::id(),
            user: "root".into(),
            via: "cli".into(),
            what: what.into(),
            since: "2026-11-29T12:03:01.000Z".into(),
        }
    }

    #[tokio::test]
    async fn a_second_action_waits_names_the_holder_and_gives_up() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let s = StateDir {
            dir: tmp.path().join("state"),
        };
        s.prepare().expect("prepare");
        let mut never = Interrupt::never();
        let first = acquire(
            &s,
            &me("withdraw am"),
            Duration::ZERO,
            &mut never,
            &mut |_| {},
        )
        .await
        .expect("free lock");
        assert!(is_held(&s));
        assert_eq!(holder(&s).map(|h| h.what), Some("withdraw am".into()));
        let mut heard = Vec::new();
        let err = acquire(
            &s,
            &me("withdraw da"),
            Duration::from_millis(50),
            &mut never,
            &mut |l| heard.push(l.to_string()),
        )
        .await
        .err()
        .expect("held");
        assert!(err.contains("withdraw am by root (cli, pid"), "{err}");
        assert_eq!(heard.len(), 1, "{heard:?}");
        assert!(heard[0].starts_with("waiting for another action to finish: withdraw am"));
        drop(first);
        assert!(!is_held(&s));
        assert_eq!(holder(&s), None, "a released lock has no holder");
        let second = acquire(
            &s,
            &me("withdraw da"),
            Duration::ZERO,
            &mut never,
            &mut |_| {},
        )
        .await
        .expect("released");
        drop(second);
    }

    #[tokio::test]
    async fn a_waiter_takes_the_lock_when_it_is_released() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let s = StateDir {
            dir: tmp.path().join("state"),
        };
        s.prepare().expect("prepare");
        let mut never = Interrupt::never();
        let first = acquire(
            &s,
            &me("restore am"),
            Duration::ZERO,
            &mut never,
            &mut |_| {},
        )
        .await
        .expect("free lock");
        let s2 = s.clone();
        let waiter = tokio::spawn(async move {
            let mut never = Interrupt::never();
            acquire(
                &s2,
                &me("restore da"),
                Duration::from_secs(10),
                &mut never,
                &mut |_| {},
            )
            .await
            .map(|g| g.waited)
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!waiter.is_finished(), "waits while the lock is held");
        drop(first);
        let waited = waiter.await.expect("joined").expect("acquired");
        assert!(waited >= Duration::from_millis(30));
    }

    #[tokio::test]
    async fn an_interrupt_ends_the_wait() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let s = StateDir {
            dir: tmp.path().join("state"),
        };
        s.prepare().expect("prepare");
        let mut never = Interrupt::never();
        let _held = acquire(
            &s,
            &me("withdraw am"),
            Duration::ZERO,
            &mut never,
            &mut |_| {},
        )
        .await
        .expect("free lock");
        let (tx, mut interrupt) = Interrupt::pair();
        let _ = tx.send(Some("SIGTERM".into()));
        let err = acquire(
            &s,
            &me("withdraw da"),
            Duration::from_secs(10),
            &mut interrupt,
            &mut |_| {},
        )
        .await
        .err()
        .expect("interrupted");
        assert_eq!(err, "SIGTERM while waiting for the lock");
    }
}
