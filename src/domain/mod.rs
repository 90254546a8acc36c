//! Plain data the console works with: snapshots of each metro's routing state and of the
//! observer's view of the anycast prefix, and the events shown to the operator. No I/O,
//! no UI.

use std::time::SystemTime;

use serde::Serialize;

pub mod journal;
pub mod nomad;
pub mod text;

pub use journal::{AuditRecord, Journal, Unfinished, Verdict, Via};

/// One poll of every metro and of the observer.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub taken: SystemTime,
    pub metros: Vec<MetroStatus>,
    /// `None` when no observer is configured.
    pub observer: Option<Result<ObserverView, String>>,
    /// The state directory as read around this poll; `None` when not read (verification
    /// polls inside an action).
    pub journal: Option<Journal>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetroStatus {
    pub name: String,
    /// The metro's BIRD as seen through its control socket, or why it could not be read.
    pub router: Result<RouterStatus, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouterStatus {
    /// The BGP session toward the peer (the configured export protocol), when known.
    pub bgp: Option<BgpSession>,
    /// State of each origin protocol (`up`, `down`, ...).
    pub origins: Vec<(String, String)>,
    /// Whether the metro exports the anycast prefix to its peer.
    pub advertised: bool,
    /// Routes exported on the BGP session.
    pub exported: Option<u64>,
}

impl RouterStatus {
    /// `up` when every origin is up, `down` when every one is down, else `partial`.
    pub fn origin_state(&self) -> &str {
        let all = |s: &str| !self.origins.is_empty() && self.origins.iter().all(|(_, st)| st == s);
        if all("up") {
            "up"
        } else if all("down") {
            "down"
        } else if self.origins.is_empty() {
            "missing"
        } else {
            "partial"
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BgpSession {
    pub protocol: String,
    /// BIRD's protocol state: up, down, start, stop, flush.
    pub state: String,
    /// BIRD's BGP state word (`Established`, `Active`, ...), or `Down` when disabled.
    pub session: String,
    /// When the state last changed, as BIRD prints it (epoch seconds in the lab).
    pub since: String,
    /// The rest of BIRD's info column, e.g. `Socket: Connection refused`.
    pub info: String,
}

/// What the observer (the upstream) holds for the anycast prefix.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObserverView {
    pub routes: Vec<ObservedRoute>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedRoute {
    /// The metro this route came from, when its protocol maps to one.
    pub metro: Option<String>,
    pub protocol: String,
    pub best: bool,
    pub local_pref: Option<u32>,
}

impl ObserverView {
    pub fn best(&self) -> Option<&str> {
        self.routes
            .iter()
            .find(|r| r.best)
            .and_then(|r| r.metro.as_deref())
    }
    pub fn has_route_from(&self, metro: &str) -> bool {
        self.routes
            .iter()
            .any(|r| r.metro.as_deref() == Some(metro))
    }
    /// The metro that would be best if `without` stopped advertising: highest
    /// LOCAL_PREF among the others, BIRD's listing order breaking ties.
    pub fn next_best(&self, without: &str) -> Option<&str> {
        let mut best: Option<&ObservedRoute> = None;
        for r in self
            .routes
            .iter()
            .filter(|r| r.metro.as_deref().is_some_and(|m| m != without))
        {
            if best.is_none_or(|b| r.local_pref.unwrap_or(100) > b.local_pref.unwrap_or(100)) {
                best = Some(r);
            }
        }
        best.and_then(|r| r.metro.as_deref())
    }
}

/// Metros advertising the prefix: what the observer holds when it answered, otherwise
/// what each metro says it exports (`None`: unknown). In the metros' order.
pub fn advertising<'a>(
    observer: Option<&Result<ObserverView, String>>,
    metros: impl Iterator<Item = (&'a str, Option<bool>)>,
) -> Vec<String> {
    metros
        .filter(|(name, exports)| match observer {
            Some(Ok(view)) => view.has_route_from(name),
            _ => *exports == Some(true),
        })
        .map(|(name, _)| name.to_string())
        .collect()
}

/// Whether `metro` is the only one advertising: withdrawing it black-holes the address.
pub fn is_last_advertising(advertising: &[String], metro: &str) -> bool {
    advertising.iter().all(|m| m == metro) && advertising.iter().any(|m| m == metro)
}

/// The probe target name of the anycast address (the others are metro names).
pub const ANYCAST: &str = "anycast";

/// The metro the observer prefers; unknown without an answering observer.
pub fn best(observer: Option<&Result<ObserverView, String>>) -> Option<&str> {
    match observer {
        Some(Ok(view)) => view.best(),
        _ => None,
    }
}

impl Snapshot {
    pub fn advertising(&self) -> Vec<String> {
        advertising(
            self.observer.as_ref(),
            self.metros.iter().map(|m| {
                (
                    m.name.as_str(),
                    m.router.as_ref().ok().map(|r| r.advertised),
                )
            }),
        )
    }

    pub fn best(&self) -> Option<String> {
        best(self.observer.as_ref()).map(str::to_string)
    }

    pub fn metro(&self, name: &str) -> Option<&MetroStatus> {
        self.metros.iter().find(|m| m.name == name)
    }
}

/// What the operator asked for a metro's advertisement, remembered across runs so that
/// drift (e.g. a `birdc configure` re-enabling a disabled origin) can be flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Desired {
    Advertised,
    Withdrawn,
}

/// A destructive action on a metro's advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    Withdraw,
    Restore,
}

impl ActionKind {
    pub fn verb(self) -> &'static str {
        match self {
            ActionKind::Withdraw => "withdraw",
            ActionKind::Restore => "restore",
        }
    }
    pub fn desired(self) -> Desired {
        match self {
            ActionKind::Withdraw => Desired::Withdrawn,
            ActionKind::Restore => Desired::Advertised,
        }
    }
}

/// A destructive action as a value: it goes through confirmation before it is executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub metro: String,
    pub action: ActionKind,
    pub force: bool,
}

/// Result of a withdraw or restore, as the operations layer reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub metro: String,
    pub action: ActionKind,
    pub method: String,
    pub verdict: Verdict,
    /// The operator-facing sentence: "am withdrawn, verified in 0.6 ms; anycast now via
    /// da", or why it was refused, failed or interrupted.
    pub message: String,
    /// Time from the action to verified convergence; `None` when not verified.
    pub converged_ms: Option<f64>,
    /// The metro the observer prefers afterwards.
    pub best_after: Option<String>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.verdict == Verdict::Ok
    }
}

/// Severity of an event in the events pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Good,
    Warn,
    Error,
}

/// A timestamped line for the events pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: SystemTime,
    pub level: Level,
    pub text: String,
}

/// `HH:MM:SS` (UTC) of a wall-clock time, for the events pane.
pub fn clock(t: SystemTime) -> String {
    let s = humantime::format_rfc3339_seconds(t).to_string();
    s.get(11..19).unwrap_or("--:--:--").to_string()
}

/// "3s", "4m", "2h", "5d": a compact age.
pub fn age(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(metro: &str, best: bool, pref: u32) -> ObservedRoute {
        ObservedRoute {
            metro: Some(metro.into()),
            protocol: format!("metro_{metro}"),
            best,
            local_pref: Some(pref),
        }
    }

    #[test]
    fn next_best_is_highest_pref_of_the_others() {
        let v = ObserverView {
            routes: vec![
                route("am", true, 9930),
                route("sv", false, 9720),
                route("da", false, 9700),
            ],
        };
        assert_eq!(v.best(), Some("am"));
        assert_eq!(v.next_best("am"), Some("sv"));
        assert_eq!(v.next_best("sv"), Some("am"));
        let single = ObserverView {
            routes: vec![route("da", true, 9700)],
        };
        assert_eq!(single.next_best("da"), None);
    }

    #[test]
    fn ages_are_compact() {
        assert_eq!(age(5), "5s");
        assert_eq!(age(125), "2m");
        assert_eq!(age(7300), "2h");
        assert_eq!(age(200_000), "2d");
    }

    #[test]
    fn clock_is_utc_hms() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(3661);
        assert_eq!(clock(t), "01:01:01");
    }
}
