//! What is known of the platform right now: each metro's router, its Nomad agent and its
//! latency, the observer's view, the desired state and an unfinished action — and the
//! judgements made on them: who advertises and who is best, drift, where anycast goes
//! after an action, what is wrong. The console's state machine holds a `World` and adds
//! what only a console has (selection, events, views); `status` and the withdraw prompt
//! build one from a single poll. No I/O, no UI.

pub mod latency;

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::config::Config;
use crate::domain::journal::{Journal, Unfinished};
use crate::domain::{ActionKind, Desired, ObserverView, Request, RouterStatus, Snapshot};
use crate::probe::ProbeSample;
pub use latency::{Health, LatencyRow, ServedRun, ANYCAST};

#[derive(Debug, Clone, PartialEq)]
pub struct MetroState {
    pub name: String,
    pub display_name: String,
    pub method: String,
    /// The last poll: the router's status or why it could not be read.
    pub status: Option<Result<RouterStatus, String>>,
    /// The last status that was read successfully, kept while the router is unreachable.
    pub last_good: Option<RouterStatus>,
    pub error_since: Option<SystemTime>,
    /// The metro has a `[metro.nomad]` endpoint.
    pub has_nomad: bool,
    /// The latest Nomad snapshot (its data survives errors; `.error` says what failed).
    pub nomad: Option<crate::nomad::NomadSnapshot>,
    pub nomad_error_since: Option<SystemTime>,
}

impl MetroState {
    pub fn advertised(&self) -> Option<bool> {
        match &self.status {
            Some(Ok(r)) => r.advertised,
            _ => None,
        }
    }
}

/// What a probe sample changed, for the console's events.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeNews {
    /// The latest figure before this sample ("73 ms", "lost").
    pub before: String,
    /// The headline before it ("73 ms via am").
    pub last_answer: Option<String>,
    /// When the target had been failing since, before this sample.
    pub failing_since: Option<SystemTime>,
    /// Started (`Some(true)`) or stopped (`Some(false)`) failing with it.
    pub turned: Option<bool>,
    /// Who served the target before, and who served this sample.
    pub previous: Option<String>,
    pub served: Option<String>,
}

/// What is known of the platform right now.
#[derive(Debug, Clone)]
pub struct World {
    pub prefix: String,
    pub metros: Vec<MetroState>,
    pub has_observer: bool,
    pub observer: Option<Result<ObserverView, String>>,
    pub observer_error_since: Option<SystemTime>,
    pub desired: BTreeMap<String, Desired>,
    pub now: SystemTime,
    pub last_poll: Option<SystemTime>,
    /// The LOCAL_PREF the observer last gave each metro's route: where a restored metro
    /// will rank.
    pub local_prefs: BTreeMap<String, u32>,
    /// An action whose intent has no outcome (running elsewhere, or abandoned).
    pub unfinished: Option<Unfinished>,
    /// The routing poller stopped (it panicked or ended): what is shown is stale.
    pub poller_error: Option<String>,
    /// Whether the latest journal was read consistently with the routers.
    pub journal_settled: bool,
    /// Why the state directory could not be read, when it could not.
    pub journal_error: Option<String>,
    /// Probe targets: `anycast` first, then each metro probed directly.
    pub latency: Vec<LatencyRow>,
}

impl World {
    /// A world from one poll: routers, observer and state directory, probe samples (in
    /// the order they completed) and each metro's Nomad agent — what `status` and the
    /// withdraw prompt judge, without a console.
    pub fn from_poll(
        cfg: &Config,
        desired: BTreeMap<String, Desired>,
        snap: Snapshot,
        samples: Vec<(String, ProbeSample)>,
        nomad: Vec<(String, crate::nomad::NomadSnapshot)>,
    ) -> World {
        let mut w = World::new(cfg, desired, snap.taken);
        w.store_poll(snap);
        for (target, sample) in samples {
            w.record_probe(&target, &sample);
        }
        for (metro, snapshot) in nomad {
            w.store_nomad(&metro, snapshot);
        }
        w
    }

    /// Stores a whole poll. The console judges what changed around the parts
    /// ([`World::store_journal`], [`World::store_router`], [`World::store_observer`]).
    pub fn store_poll(&mut self, snap: Snapshot) {
        self.now = snap.taken;
        self.last_poll = Some(snap.taken);
        if let Some(j) = &snap.journal {
            self.store_journal(j);
        }
        for m in snap.metros {
            if let Some(idx) = self.metros.iter().position(|r| r.name == m.name) {
                self.store_router(idx, m.router, snap.taken);
            }
        }
        if let Some(obs) = snap.observer {
            self.store_observer(obs, snap.taken);
        }
    }

    /// The state directory as read with a poll: desired state, unfinished action, and
    /// whether it was settled while the routers were read.
    pub fn store_journal(&mut self, j: &Journal) {
        match &j.desired {
            Ok(d) => {
                self.desired = d.clone();
                self.journal_error = None;
            }
            Err(e) => self.journal_error = Some(e.clone()),
        }
        self.unfinished = j.unfinished.clone();
        self.journal_settled = j.settled;
    }

    /// One metro's router as polled at `at`; the last good status is kept through
    /// errors, and when the error began.
    pub fn store_router(
        &mut self,
        idx: usize,
        router: Result<RouterStatus, String>,
        at: SystemTime,
    ) {
        let Some(row) = self.metros.get_mut(idx) else {
            return;
        };
        match &router {
            Ok(r) => {
                row.error_since = None;
                row.last_good = Some(r.clone());
            }
            Err(_) if !matches!(row.status, Some(Err(_))) => row.error_since = Some(at),
            Err(_) => {}
        }
        row.status = Some(router);
    }

    /// The observer's view (or why it could not be read), remembering each metro's
    /// LOCAL_PREF for where a restored metro will rank.
    pub fn store_observer(&mut self, obs: Result<ObserverView, String>, at: SystemTime) {
        match (&self.observer, &obs) {
            (Some(Err(_)), Err(_)) => {}
            (_, Err(_)) => self.observer_error_since = Some(at),
            _ => self.observer_error_since = None,
        }
        if let Ok(view) = &obs {
            for r in &view.routes {
                if let (Some(m), Some(p)) = (&r.metro, r.local_pref) {
                    self.local_prefs.insert(m.clone(), p);
                }
            }
        }
        self.observer = Some(obs);
    }

    /// Records a probe sample of `target`: who served it (its header, else guessed from
    /// the metros' direct latency). `None` for a target not probed.
    pub fn record_probe(&mut self, target: &str, sample: &ProbeSample) -> Option<ProbeNews> {
        let idx = self.latency.iter().position(|r| r.target == target)?;
        let (served, inferred) = match (&sample.served_by, sample.ttfb_ms()) {
            (Some(s), _) => (Some(s.clone()), false),
            (None, Some(ttfb)) => (
                latency::infer_served_by(&self.latency, ttfb).map(str::to_string),
                true,
            ),
            (None, None) => (None, false),
        };
        let row = &mut self.latency[idx];
        // Answers are ordered by when their probe began: one that began before the
        // latest answer (a slow probe through the metro the route just left) counts in
        // the statistics and the history, not as who serves now.
        let stale = sample.ok() && row.newest.is_some_and(|t| sample.at < t);
        let served = if stale { row.served_by.clone() } else { served };
        let inferred = if stale { row.inferred } else { inferred };
        let news = ProbeNews {
            before: row.before_figure(),
            last_answer: row.headline().map(|ms| {
                let by = row
                    .served_by
                    .as_deref()
                    .map(|b| format!(" via {b}"))
                    .unwrap_or_default();
                format!("{ms:.0} ms{by}")
            }),
            failing_since: row.failing_since,
            turned: row.record(sample),
            previous: row.served_by.clone(),
            served: served.clone(),
        };
        if stale {
            return Some(news);
        }
        if sample.ok() {
            row.newest = Some(sample.at);
        }
        if let Some(by) = &served {
            if let Some(ttfb) = sample.ttfb_ms() {
                row.note_served(sample.at, by, inferred, ttfb);
                row.note_answer(news.previous != served, ttfb);
            }
            row.served_by = served;
            row.inferred = inferred;
        }
        Some(news)
    }

    /// A metro's Nomad snapshot; returns the one it replaces (`None` for a metro not
    /// configured).
    pub fn store_nomad(
        &mut self,
        metro: &str,
        snap: crate::nomad::NomadSnapshot,
    ) -> Option<Option<crate::nomad::NomadSnapshot>> {
        let now = self.now;
        let row = self.metros.iter_mut().find(|m| m.name == metro)?;
        match (row.nomad.as_ref().map(|n| n.error.is_some()), &snap.error) {
            (Some(false) | None, Some(_)) => row.nomad_error_since = Some(now),
            (_, None) => row.nomad_error_since = None,
            _ => {}
        }
        Some(row.nomad.replace(snap))
    }

    /// Nothing known yet: the config's metros and probe targets.
    pub fn new(cfg: &Config, desired: BTreeMap<String, Desired>, now: SystemTime) -> World {
        World {
            prefix: cfg.anycast.prefix.clone(),
            metros: cfg
                .metros
                .iter()
                .map(|m| MetroState {
                    name: m.name.clone(),
                    display_name: m.display_name.clone(),
                    method: m.withdraw.name().to_string(),
                    status: None,
                    last_good: None,
                    error_since: None,
                    has_nomad: m.nomad.is_some(),
                    nomad: None,
                    nomad_error_since: None,
                })
                .collect(),
            has_observer: cfg.anycast.observer.is_some(),
            observer: None,
            observer_error_since: None,
            desired,
            now,
            last_poll: None,
            local_prefs: BTreeMap::new(),
            unfinished: None,
            poller_error: None,
            journal_settled: true,
            journal_error: None,
            latency: cfg
                .probed()
                .map(|(name, _)| LatencyRow::new(name, cfg.probe.window))
                .collect(),
        }
    }

    /// Follows a changed config: metros and probe targets come and go in the new order,
    /// those kept keep what is known of them; the prefix and observer are the new ones.
    /// Returns the metros (added, removed).
    pub fn reconfigure(&mut self, cfg: &Config) -> (Vec<String>, Vec<String>) {
        let mut fresh = World::new(cfg, std::mem::take(&mut self.desired), self.now);
        let added: Vec<String> = fresh
            .metros
            .iter()
            .filter(|m| !self.metros.iter().any(|o| o.name == m.name))
            .map(|m| m.name.clone())
            .collect();
        let removed: Vec<String> = self
            .metros
            .iter()
            .filter(|o| !fresh.metros.iter().any(|m| m.name == o.name))
            .map(|o| o.name.clone())
            .collect();
        for m in &mut fresh.metros {
            if let Some(i) = self.metros.iter().position(|o| o.name == m.name) {
                let old = self.metros.swap_remove(i);
                *m = MetroState {
                    display_name: std::mem::take(&mut m.display_name),
                    method: std::mem::take(&mut m.method),
                    has_nomad: m.has_nomad,
                    nomad: old.nomad.filter(|_| m.has_nomad),
                    ..old
                };
            }
        }
        for r in &mut fresh.latency {
            if let Some(i) = self.latency.iter().position(|o| o.target == r.target) {
                *r = self.latency.swap_remove(i);
            }
        }
        let same_prefix = fresh.prefix == self.prefix;
        fresh.observer = if same_prefix && fresh.has_observer {
            self.observer.take()
        } else {
            None
        };
        fresh.observer_error_since = self
            .observer_error_since
            .filter(|_| fresh.observer.is_some());
        fresh.local_prefs = std::mem::take(&mut self.local_prefs);
        fresh.unfinished = self.unfinished.take();
        fresh.journal_settled = self.journal_settled;
        fresh.journal_error = self.journal_error.take();
        fresh.last_poll = self.last_poll;
        *self = fresh;
        (added, removed)
    }

    pub fn latency_row(&self, target: &str) -> Option<&LatencyRow> {
        self.latency.iter().find(|r| r.target == target)
    }

    /// See [`crate::domain::advertising`].
    pub fn advertising(&self) -> Vec<String> {
        crate::domain::advertising(
            self.observer.as_ref(),
            self.metros
                .iter()
                .map(|m| (m.name.as_str(), m.advertised())),
        )
    }

    pub fn best(&self) -> Option<&str> {
        crate::domain::best(self.observer.as_ref())
    }

    /// False only when it is known that nothing routes the anycast address: the
    /// observer answered without a route, or, with no observer answering, every metro
    /// answered and none exports it. A silent observer is not a missing route.
    pub fn routed(&self) -> bool {
        match &self.observer {
            Some(Ok(v)) => !v.routes.is_empty(),
            _ => {
                let known: Vec<Option<bool>> =
                    self.metros.iter().map(MetroState::advertised).collect();
                known.is_empty() || known.iter().any(|a| *a != Some(false))
            }
        }
    }

    /// Where anycast goes when `name` advertises again: the observer prefers the higher
    /// LOCAL_PREF, remembered from when `name` last advertised.
    fn restore_consequence(&self, name: &str) -> String {
        if self.advertising().iter().any(|m| m == name) {
            return format!("{name} is advertising already; restoring re-asserts it");
        }
        let Some(Ok(view)) = &self.observer else {
            return format!("{name} will advertise {} again", self.prefix);
        };
        match view.best() {
            None => format!(
                "anycast will be served from {name} (nothing serves {} now)",
                self.prefix
            ),
            Some(best) => match (self.local_prefs.get(name), self.local_prefs.get(best)) {
                (Some(mine), Some(theirs)) if mine > theirs => {
                    format!("anycast will move from {best} to {name}")
                }
                (Some(_), Some(_)) => {
                    format!("anycast stays on {best}; {name} becomes a fallback")
                }
                _ => format!(
                    "{name} will advertise {} again; the upstream then picks between {best} and {name}",
                    self.prefix
                ),
            },
        }
    }

    /// What is wrong, one line each, in the operator's words; empty when all is well
    /// (`status` exits 1 otherwise). A metro withdrawn as asked is not wrong, even with
    /// its router or session down (the `command` method stops its daemon).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for m in &self.metros {
            let withdrawn_as_asked = self.desired.get(&m.name) == Some(&Desired::Withdrawn);
            match &m.status {
                None => out.push(format!("{}: not polled", m.name)),
                Some(Err(e)) if !withdrawn_as_asked => out.push(format!("{}: {e}", m.name)),
                Some(Err(_)) => {}
                Some(Ok(r)) => {
                    if let Some(b) = r.bgp.as_ref().filter(|b| b.session != "Established") {
                        if !withdrawn_as_asked {
                            out.push(format!("{}: BGP session {}", m.name, b.session));
                        }
                    }
                    out.extend(r.problems.iter().map(|p| format!("{}: {p}", m.name)));
                }
            }
            if let Some(d) = self.drift(m) {
                out.push(format!("{}: DRIFT: {d}", m.name));
            }
            if let Some(u) = self
                .unfinished
                .as_ref()
                .filter(|u| !u.running && u.intent.metro == m.name)
            {
                out.push(u.note(m.advertised()));
            }
            if let Some(n) = &m.nomad {
                if let Some(e) = &n.error {
                    out.push(format!("{}: nomad: {e}", m.name));
                }
                let failed = n.summary().allocs.map_or(0, |c| c.failed);
                if failed > 0 {
                    out.push(format!(
                        "{}: {failed} failed allocation(s) need attention",
                        m.name
                    ));
                }
            }
        }
        if let Some(Err(e)) = &self.observer {
            out.push(format!("observer: {e}"));
        }
        match self.anycast_health() {
            Some(Health::NoRoute) => {
                out.push(format!("anycast: no route to {}: black-holed", self.prefix))
            }
            Some(Health::Failing { lost, .. }) => {
                out.push(format!("anycast: the last {lost} probes were lost"))
            }
            _ => {}
        }
        if let Some(e) = &self.journal_error {
            out.push(format!("state directory: {e}"));
        }
        if let Some(e) = &self.poller_error {
            out.push(format!("routing poller stopped: {e}"));
        }
        for r in &self.latency {
            if let Some(e) = &r.worker_error {
                out.push(format!("probe worker for {} stopped: {e}", r.target));
            }
        }
        out
    }

    /// See [`Health`]; `None` when the anycast URL is not probed.
    pub fn anycast_health(&self) -> Option<Health> {
        self.latency_row(ANYCAST).map(|r| r.health(self.routed()))
    }

    /// See [`crate::domain::best_peer`].
    pub fn best_peer(&self) -> Option<&str> {
        crate::domain::best_peer(self.observer.as_ref())
    }

    /// See [`crate::domain::journal::drift`].
    pub fn drift(&self, metro: &MetroState) -> Option<&'static str> {
        crate::domain::journal::drift(
            &metro.name,
            metro.advertised(),
            &self.desired,
            self.unfinished.as_ref(),
            self.journal_settled,
        )
    }

    /// The note for a metro with an unfinished action ("… has no recorded outcome;
    /// current state: withdrawn", or "… in progress").
    pub fn unfinished_note(&self, metro: &MetroState) -> Option<String> {
        let u = self
            .unfinished
            .as_ref()
            .filter(|u| u.intent.metro == metro.name)?;
        Some(u.note(metro.advertised()))
    }

    pub fn consequence(&self, req: &Request) -> (String, bool) {
        let name = &req.metro;
        match req.action {
            ActionKind::Restore => (self.restore_consequence(name), false),
            ActionKind::Withdraw => {
                let advertising = self.advertising();
                let others: Vec<&String> = advertising.iter().filter(|m| *m != name).collect();
                if !advertising.contains(name) {
                    return (
                        format!("{name} is not advertising now; it stays withdrawn"),
                        false,
                    );
                }
                if crate::domain::is_last_advertising(&advertising, name) {
                    return (
                        format!(
                            "{name} is the LAST advertising metro: {} will be black-holed",
                            self.prefix
                        ),
                        true,
                    );
                }
                let next = match &self.observer {
                    Some(Ok(v)) if v.best() == Some(name.as_str()) => {
                        v.next_best(name).map(str::to_string)
                    }
                    Some(Ok(v)) => v.best().map(str::to_string),
                    _ => None,
                };
                match next {
                    Some(n) if self.best() == Some(name.as_str()) => {
                        (format!("anycast will be served from {n}"), false)
                    }
                    Some(n) => (format!("anycast stays on {n}"), false),
                    None => (
                        format!(
                            "anycast will be served from {}",
                            others
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(" or ")
                        ),
                        false,
                    ),
                }
            }
        }
    }
}
