//! Remote metros for a one-shot command: the SSH transport started before the command
//! reads anything, each link tried once (a broken one is that metro's error, never a
//! hang), the command run on the config as seen from here, and every master closed when
//! it ends — or when a signal ends it first.

use std::time::Duration;

use super::{failed, Failure};
use crate::config::Config;
use crate::ssh::{Mode, Transport};

/// How long a command waits for its links: ssh's own connect timeout and a margin for a
/// jump host and authentication.
const LINK_WAIT: Duration = Duration::from_secs(crate::ssh::args::CONNECT_TIMEOUT_S as u64 + 10);

/// Runs `command` with the config as seen from here (remote metros at their tunnels'
/// local ends); the links are closed afterwards, whatever happened. A stopping signal
/// (SIGINT, SIGTERM, SIGHUP) ends the command unless `command` handles signals itself
/// (`own_signals`: it is interrupted by them and returns).
pub async fn with_links<T, F, Fut>(
    cfg: &Config,
    own_signals: bool,
    command: F,
) -> Result<T, Failure>
where
    F: FnOnce(Config, std::collections::BTreeMap<String, crate::domain::link::LinkStatus>) -> Fut,
    Fut: std::future::Future<Output = Result<T, Failure>>,
{
    if cfg.metros.iter().all(|m| m.ssh.is_none()) {
        return command(cfg.clone(), Default::default()).await;
    }
    // Listening before any master starts: from here on a signal is ours to handle, and
    // the masters (in sessions of their own) are closed before the process ends.
    let mut stop = crate::signals::Stop::new(true).map_err(|e| failed(format!("signals: {e}")))?;
    let transport = Transport::start(cfg, Mode::Once).map_err(failed)?;
    let interrupted = tokio::select! {
        _ = transport.settled(LINK_WAIT) => None,
        why = stop.recv() => Some(why),
    };
    let result = match interrupted {
        Some(why) => Err(failed(format!("interrupted by {why}"))),
        None => {
            let local = transport.local_config(cfg);
            let run = command(local, transport.statuses());
            if own_signals {
                // The command stops what it runs and records it: never cut it short.
                run.await
            } else {
                tokio::select! {
                    r = run => r,
                    why = stop.recv() => Err(failed(format!("interrupted by {why}"))),
                }
            }
        }
    };
    transport.close().await;
    result
}
