//! Plain data the console works with: snapshots of each metro's routing state and of the
//! observer's view of the anycast prefix, and the events shown to the operator. No I/O,
//! no UI.

use std::time::SystemTime;

use serde::Serialize;

pub mod backoff;
pub mod deploy;
pub mod journal;
pub mod link;
pub mod nomad;
pub mod provision;
pub mod text;
pub mod time;
pub mod url;

pub use journal::{AuditRecord, Journal, Unfinished, Verdict, Via};
pub use time::{age, clock};

/// Longest metro name, in characters (the console's columns are sized for it).
pub const MAX_METRO_NAME: usize = 16;

/// Whether `name` is a metro name the console can use: 1 to [`MAX_METRO_NAME`]
/// characters from a-z, 0-9 and '-', starting with a letter or digit. The error quotes
/// the name made visible.
pub fn check_metro_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if first_ok && rest_ok && name.len() <= MAX_METRO_NAME {
        Ok(())
    } else {
        Err(format!(
            "invalid metro name `{}`: use 1 to {MAX_METRO_NAME} characters from a-z, 0-9 \
             and '-', starting with a letter or digit",
            text::visible(name)
        ))
    }
}

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
    /// Whether the metro exports the anycast prefix to its peer; `None` when the router
    /// answered but could not tell (the export query failed, or the configured export
    /// protocol does not exist there: see `problems`).
    pub advertised: Option<bool>,
    /// Routes exported on the BGP session in the prefix's address family.
    pub exported: Option<u64>,
    /// What could not be read or does not match the config, one sentence each, for the
    /// metro's cell ("no protocol `upstrem` at am's BIRD"). A failing query is reported
    /// here, for its piece; it never makes the router unreachable.
    pub problems: Vec<String>,
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
    /// `since` as a point in time, when its format is known (`bird::time`).
    pub since_at: Option<SystemTime>,
    /// The rest of BIRD's info column, e.g. `Socket: Connection refused`.
    pub info: String,
}

/// What the observer (the upstream) holds for the anycast prefix.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObserverView {
    pub routes: Vec<ObservedRoute>,
    /// Metros whose `observer_protocol` the observer does not have: `(metro, protocol)`.
    /// Their routes can never arrive; the metro's cell says so.
    pub missing_protocols: Vec<(String, String)>,
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
    /// The metro of the best path; `None` also when the best path comes from a peer that
    /// is no configured metro (see [`ObserverView::best_peer`]).
    pub fn best(&self) -> Option<&str> {
        self.routes
            .iter()
            .find(|r| r.best)
            .and_then(|r| r.metro.as_deref())
    }
    /// The observer's protocol (peer) of the best path, configured metro or not.
    pub fn best_peer(&self) -> Option<&str> {
        self.routes
            .iter()
            .find(|r| r.best)
            .map(|r| r.protocol.as_str())
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

/// The observer's peer of the best path (`metro_am`, or `transit1` when that is no
/// configured metro); unknown without an answering observer.
pub fn best_peer(observer: Option<&Result<ObserverView, String>>) -> Option<&str> {
    match observer {
        Some(Ok(view)) => view.best_peer(),
        _ => None,
    }
}

/// Where the observer sends the anycast address, as one value for every place that says
/// it (header, `status`, events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BestPath {
    /// Through this configured metro.
    Metro(String),
    /// Through a peer of the observer that is no configured metro.
    Peer(String),
    /// The observer answered and holds no route: the address is black-holed.
    NoRoute,
    /// The observer holds routes but marks none best.
    NoBest,
    /// No observer configured, or it did not answer: nothing is known, and nothing is
    /// black-holed for it.
    Unknown,
}

impl BestPath {
    /// "am", "peer transit1", "none", "unknown": the path in a few words.
    pub fn words(&self) -> String {
        match self {
            BestPath::Metro(m) => m.clone(),
            BestPath::Peer(p) => format!("peer {p}"),
            BestPath::NoRoute | BestPath::NoBest => "none".to_string(),
            BestPath::Unknown => "unknown".to_string(),
        }
    }
}

/// See [`BestPath`].
pub fn best_path(observer: Option<&Result<ObserverView, String>>) -> BestPath {
    let Some(Ok(view)) = observer else {
        return BestPath::Unknown;
    };
    match (view.best(), view.best_peer()) {
        (Some(m), _) => BestPath::Metro(m.to_string()),
        (None, Some(p)) => BestPath::Peer(p.to_string()),
        (None, None) if view.routes.is_empty() => BestPath::NoRoute,
        (None, None) => BestPath::NoBest,
    }
}

/// The one word for why a router (a metro's or the observer) could not be read, from
/// the text `ops::collect::describe` gives it: `unreachable` only when its socket cannot
/// be connected to, `silent` when it does not answer in time, else `error` (it answered,
/// but not usably). A remote metro's router is not tried while its SSH link is down
/// (`ssh down`) or still connecting (`connecting`), and is `refused` when the far end
/// refuses its BIRD socket ([`link::LinkStatus::router_error`]).
pub fn failure_word(error: &str) -> &'static str {
    if error.starts_with(link::LINK_DOWN) {
        "ssh down"
    } else if error.starts_with(link::LINK_CONNECTING) {
        "connecting"
    } else if error.starts_with(link::TUNNEL_REFUSED) {
        "refused"
    } else if error.starts_with(UNREACHABLE) {
        "unreachable"
    } else if error.starts_with(SILENT) {
        "silent"
    } else {
        "error"
    }
}

/// How `ops::collect::describe` starts the text of a connect failure.
pub const UNREACHABLE: &str = "router unreachable";
/// How `ops::collect::describe` starts the text of a router that does not answer.
pub const SILENT: &str = "router silent";

impl Snapshot {
    pub fn advertising(&self) -> Vec<String> {
        advertising(
            self.observer.as_ref(),
            self.metros.iter().map(|m| {
                (
                    m.name.as_str(),
                    m.router.as_ref().ok().and_then(|r| r.advertised),
                )
            }),
        )
    }

    pub fn best(&self) -> Option<String> {
        best(self.observer.as_ref()).map(str::to_string)
    }

    /// Adds each problem the observer found for a metro (its `observer_protocol` missing
    /// there) to that metro's problems.
    pub fn attach_observer_problems(&mut self) {
        let Some(Ok(view)) = &self.observer else {
            return;
        };
        for (metro, protocol) in &view.missing_protocols {
            let status = self.metros.iter_mut().find(|m| &m.name == metro);
            if let Some(Ok(r)) = status.map(|m| &mut m.router) {
                r.problems
                    .push(format!("no protocol `{protocol}` at the observer's BIRD"));
            }
        }
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
            ..Default::default()
        };
        assert_eq!(v.best(), Some("am"));
        assert_eq!(v.next_best("am"), Some("sv"));
        assert_eq!(v.next_best("sv"), Some("am"));
        let single = ObserverView {
            routes: vec![route("da", true, 9700)],
            ..Default::default()
        };
        assert_eq!(single.next_best("da"), None);
    }

    #[test]
    fn a_best_path_through_a_peer_that_is_no_metro() {
        let mut foreign = route("x", true, 100);
        foreign.metro = None;
        foreign.protocol = "transit1".into();
        let v = ObserverView {
            routes: vec![foreign, route("am", false, 9930)],
            ..Default::default()
        };
        assert_eq!(v.best(), None);
        assert_eq!(v.best_peer(), Some("transit1"));
        let answered = Some(Ok(v));
        assert_eq!(best(answered.as_ref()), None);
        assert_eq!(best_peer(answered.as_ref()), Some("transit1"));
        let silent = Some(Err("router silent: no reply within 2s".to_string()));
        assert_eq!(best_peer(silent.as_ref()), None);
    }

    #[test]
    fn best_path_in_every_case() {
        let view = |routes: Vec<ObservedRoute>| {
            Some(Ok(ObserverView {
                routes,
                ..Default::default()
            }))
        };
        let mut foreign = route("x", true, 100);
        foreign.metro = None;
        foreign.protocol = "transit1".into();
        let cases = [
            (
                view(vec![route("am", true, 1)]),
                BestPath::Metro("am".into()),
            ),
            (view(vec![foreign]), BestPath::Peer("transit1".into())),
            (view(vec![]), BestPath::NoRoute),
            (view(vec![route("am", false, 1)]), BestPath::NoBest),
            (
                Some(Err("router silent: no reply within 1s".into())),
                BestPath::Unknown,
            ),
            (None, BestPath::Unknown),
        ];
        for (observer, want) in cases {
            assert_eq!(best_path(observer.as_ref()), want);
        }
        assert_eq!(BestPath::Peer("transit1".into()).words(), "peer transit1");
    }

    #[test]
    fn failure_words() {
        assert_eq!(
            failure_word("router unreachable: /x/am.ctl: Connection refused"),
            "unreachable"
        );
        assert_eq!(failure_word("router silent: no reply within 2s"), "silent");
        assert_eq!(failure_word("BIRD 9001: syntax error"), "error");
        assert_eq!(
            failure_word("ssh link down: metro-am: Connection refused"),
            "ssh down"
        );
        assert_eq!(failure_word("ssh link connecting: metro-am"), "connecting");
        assert_eq!(
            failure_word("ssh tunnel refused: metro-am: permission denied"),
            "refused"
        );
    }

    #[test]
    fn observer_problems_land_in_the_metros_cell() {
        let ok = |name: &str| MetroStatus {
            name: name.into(),
            router: Ok(RouterStatus {
                bgp: None,
                origins: Vec::new(),
                advertised: Some(true),
                exported: None,
                problems: Vec::new(),
            }),
        };
        let mut snap = Snapshot {
            taken: SystemTime::UNIX_EPOCH,
            metros: vec![ok("am"), ok("da")],
            observer: Some(Ok(ObserverView {
                routes: Vec::new(),
                missing_protocols: vec![("da".into(), "metro_dq".into())],
            })),
            journal: None,
        };
        snap.attach_observer_problems();
        let problems = |i: usize| snap.metros[i].router.as_ref().map(|r| r.problems.clone());
        assert_eq!(problems(0), Ok(vec![]));
        assert_eq!(
            problems(1),
            Ok(vec![
                "no protocol `metro_dq` at the observer's BIRD".to_string()
            ])
        );
    }
}
