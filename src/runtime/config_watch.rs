//! Follows the config file: once a second its identity (device, inode, size, change
//! time) is compared with the last one read; a change is read again once it has held
//! still for a moment (an editor writing in pieces), parsed with the one loader, and sent
//! to the state machine — a config that differs as `Msg::ConfigChanged`, one that does
//! not read as `Msg::ConfigInvalid` (once per distinct error), so the console keeps
//! running on the config it has.

use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use crate::app::Msg;
use crate::config::{self, Config};

const EVERY: Duration = Duration::from_secs(1);
/// How long a changed file must hold still before it is read.
const SETTLE: Duration = Duration::from_millis(150);

type Identity = Option<(u64, u64, u64, i64, i64)>;

fn identity(path: &std::path::Path) -> Identity {
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
}

/// Watches `path`, starting from `current` (the config the console runs on).
/// `read_only`: the console was started read-only (`--read-only` or the file): a reload
/// never lifts it.
pub async fn watch(path: PathBuf, current: Arc<Config>, read_only: bool, tx: UnboundedSender<Msg>) {
    let mut seen = identity(&path);
    let mut current = current;
    let mut last_error: Option<String> = None;
    loop {
        tokio::time::sleep(EVERY).await;
        let now = identity(&path);
        if now == seen {
            continue;
        }
        tokio::time::sleep(SETTLE).await;
        let settled = identity(&path);
        if settled != now {
            continue;
        }
        seen = settled;
        let path2 = path.clone();
        let loaded = tokio::task::spawn_blocking(move || config::load(&path2)).await;
        let msg = match loaded {
            Ok(Ok(mut cfg)) => {
                cfg.console.read_only |= read_only;
                last_error = None;
                if cfg == *current {
                    continue;
                }
                current = Arc::new(cfg);
                Msg::ConfigChanged(current.clone())
            }
            Ok(Err(e)) => {
                let e = e.to_string();
                if last_error.as_ref() == Some(&e) {
                    continue;
                }
                last_error = Some(e.clone());
                Msg::ConfigInvalid(e)
            }
            Err(_) => continue,
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}
