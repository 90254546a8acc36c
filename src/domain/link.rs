//! A remote metro's SSH link as data: the state of the master connection to its host and
//! of the tunnels through it, with ssh's own words for what went wrong. The `ssh` room
//! produces these; the poller, `status` and the console read them. No I/O.

use std::time::SystemTime;

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// The first connection is being made.
    Connecting,
    /// The master is connected and its forwards are set up.
    Up,
    /// Not connected, and no new attempt is planned (a one-shot command, or closed).
    Down,
    /// Not connected; the next attempt is at `retry_at` (or running now).
    Reconnecting,
}

impl LinkState {
    /// The word `status --json` and the console use: connecting, up, down, reconnecting.
    pub fn word(self) -> &'static str {
        match self {
            LinkState::Connecting => "connecting",
            LinkState::Up => "up",
            LinkState::Down => "down",
            LinkState::Reconnecting => "reconnecting",
        }
    }
}

/// One tunnel through the link, checked through itself (a forward can be up while the
/// far end refuses what it forwards to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tunnel {
    /// Not checked yet (the link is not up).
    Unchecked,
    /// BIRD greeted / Nomad answered through it.
    Ok,
    /// The far end (or the daemon behind it) did not answer: why, in words.
    Refused(String),
}

/// A metro's link as last seen.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkStatus {
    /// The `ssh` destination, as configured.
    pub destination: String,
    pub state: LinkState,
    /// When the link entered this state; for `Reconnecting`, when it went down.
    pub since: SystemTime,
    /// ssh's own line for the latest failure (control characters made visible).
    pub error: Option<String>,
    /// What a person must do when retrying cannot help: e.g. "run `ssh -F … metro-am`
    /// once by hand to check and accept its host key".
    pub hint: Option<String>,
    /// Attempts since the link was last up (1 for the first try).
    pub attempt: u32,
    /// `Reconnecting`: when the next attempt starts; `None` while it runs.
    pub retry_at: Option<SystemTime>,
    /// How long the latest successful connection took (master up, forwards set), in ms.
    pub connect_ms: Option<f64>,
    /// The metro's BIRD socket through the link.
    pub bird: Tunnel,
    /// The metro's Nomad API through the link; `None` when the metro has no Nomad.
    pub nomad: Option<Tunnel>,
}

/// How a router error caused by the link starts (see [`LinkStatus::router_error`]).
pub const LINK_DOWN: &str = "ssh link down";
/// How a router error of a link still making its first connection starts.
pub const LINK_CONNECTING: &str = "ssh link connecting";
/// How a router error of a BIRD tunnel the far end refuses starts.
pub const TUNNEL_REFUSED: &str = "ssh tunnel refused";

impl LinkStatus {
    /// A link about to make its first connection.
    pub fn connecting(destination: &str, now: SystemTime, has_nomad: bool) -> LinkStatus {
        LinkStatus {
            destination: destination.to_string(),
            state: LinkState::Connecting,
            since: now,
            error: None,
            hint: None,
            attempt: 1,
            retry_at: None,
            connect_ms: None,
            bird: Tunnel::Unchecked,
            nomad: has_nomad.then_some(Tunnel::Unchecked),
        }
    }

    pub fn is_up(&self) -> bool {
        self.state == LinkState::Up
    }

    /// The error a poll reports for the metro's router instead of trying its socket,
    /// when the link (or its BIRD tunnel) is not usable; `None` when it is:
    /// "ssh link down: metro-am: ssh: connect to host … port 22: Connection refused ·
    /// retry 3 in 2s". The last `: ` part is the cause the metros table shows.
    pub fn router_error(&self, now: SystemTime) -> Option<String> {
        let dest = &self.destination;
        match self.state {
            LinkState::Up => match &self.bird {
                Tunnel::Refused(why) => Some(format!("{TUNNEL_REFUSED}: {dest}: {why}")),
                _ => None,
            },
            LinkState::Connecting => Some(format!("{LINK_CONNECTING}: {dest}")),
            LinkState::Down | LinkState::Reconnecting => {
                let mut text = format!(
                    "{LINK_DOWN}: {dest}: {}",
                    self.error.as_deref().unwrap_or("not connected")
                );
                if let Some(h) = &self.hint {
                    text.push_str(&format!(" ({h})"));
                }
                if self.state == LinkState::Reconnecting {
                    match self.retry_at {
                        Some(at) => text.push_str(&format!(
                            " · retry {} in {}s",
                            self.attempt + 1,
                            super::time::secs_between(now, at).max(1)
                        )),
                        None => text.push_str(&format!(" · retry {} now", self.attempt)),
                    }
                }
                Some(text)
            }
        }
    }

    /// One line for the events pane when the link changes: "ssh link to metro-am up in
    /// 84 ms", "… down: Connection refused".
    pub fn event_text(&self) -> String {
        let dest = &self.destination;
        match self.state {
            LinkState::Connecting => format!("ssh link to {dest}: connecting"),
            LinkState::Up => {
                let took = self
                    .connect_ms
                    .map(|ms| format!(" in {ms:.0} ms"))
                    .unwrap_or_default();
                let refused: Vec<String> = [
                    Some(("BIRD", &self.bird)),
                    self.nomad.as_ref().map(|n| ("Nomad", n)),
                ]
                .into_iter()
                .flatten()
                .filter_map(|(what, t)| match t {
                    Tunnel::Refused(why) => Some(format!("{what} refused: {why}")),
                    _ => None,
                })
                .collect();
                if refused.is_empty() {
                    format!("ssh link to {dest} up{took}")
                } else {
                    format!("ssh link to {dest} up{took}, but {}", refused.join("; "))
                }
            }
            LinkState::Down | LinkState::Reconnecting => {
                let mut text = format!(
                    "ssh link to {dest} down: {}",
                    self.error.as_deref().unwrap_or("not connected")
                );
                if let Some(h) = &self.hint {
                    text.push_str(&format!(" ({h})"));
                }
                text
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn a_link_that_is_not_up_is_the_routers_error() {
        let mut l = LinkStatus::connecting("metro-am", at(100), true);
        assert_eq!(
            l.router_error(at(100)).as_deref(),
            Some("ssh link connecting: metro-am")
        );
        l.state = LinkState::Reconnecting;
        l.error = Some("ssh: connect to host 127.0.0.1 port 2222: Connection refused".into());
        l.attempt = 2;
        l.retry_at = Some(at(103));
        let e = l.router_error(at(101)).expect("an error");
        assert_eq!(
            e,
            "ssh link down: metro-am: ssh: connect to host 127.0.0.1 port 2222: Connection refused · retry 3 in 2s"
        );
        assert_eq!(
            e.rsplit(": ").next(),
            Some("Connection refused · retry 3 in 2s")
        );
        l.state = LinkState::Up;
        l.bird = Tunnel::Ok;
        assert_eq!(l.router_error(at(101)), None);
        l.bird = Tunnel::Refused("permission denied at the far end".into());
        assert_eq!(
            l.router_error(at(101)).as_deref(),
            Some("ssh tunnel refused: metro-am: permission denied at the far end")
        );
    }

    #[test]
    fn events_say_what_changed() {
        let mut l = LinkStatus::connecting("metro-am", at(0), false);
        l.state = LinkState::Up;
        l.connect_ms = Some(84.2);
        l.bird = Tunnel::Ok;
        assert_eq!(l.event_text(), "ssh link to metro-am up in 84 ms");
        l.state = LinkState::Down;
        l.error = Some("Host key verification failed.".into());
        l.hint = Some("run `ssh metro-am` once by hand".into());
        assert_eq!(
            l.event_text(),
            "ssh link to metro-am down: Host key verification failed. (run `ssh metro-am` once by hand)"
        );
    }
}
