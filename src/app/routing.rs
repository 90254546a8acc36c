//! What a poll, an action's outcome or a stopped worker does to the console: the world is
//! stored (`world::World`), and what changed becomes events — one per action, never
//! drift for another process's action, never a black hole for a silent observer.

use super::{nomad, Effect, Explained, Level, State, Worker, EXPLAINED_FOR};
use crate::domain::journal::{AuditAction, AuditRecord, Journal, Phase, Verdict};
use crate::domain::{ActionKind, BestPath, Outcome, Snapshot};

/// A worker is gone: what it fed says so, with an event; nothing is left looking fresh.
pub(super) fn on_worker_stopped(state: &mut State, worker: Worker, error: String) -> Vec<Effect> {
    match worker {
        Worker::Poller => {
            state.poller_error = Some(error.clone());
            state.event(
                Level::Error,
                format!("routing poller stopped: {error}; routers and the observer are no longer polled"),
            );
        }
        Worker::Probe(target) => {
            if let Some(row) = state.latency.iter_mut().find(|r| r.target == target) {
                row.worker_error = Some(error.clone());
            }
            state.event(
                Level::Error,
                format!("probe worker for {target} stopped: {error}"),
            );
        }
        Worker::Nomad(metro) => {
            state.event(
                Level::Error,
                format!("nomad watcher for {metro} stopped: {error}"),
            );
            nomad::on_nomad(
                state,
                &metro,
                crate::nomad::NomadSnapshot::failed(format!("watcher stopped: {error}")),
            );
        }
        Worker::Provision => {
            let view = &mut state.provision_view;
            view.phase = super::provision::Phase::Finished;
            view.result = Some((
                crate::domain::journal::Verdict::Failed,
                format!("terraform's runner stopped: {error}; see the audit log"),
            ));
            state.event(
                Level::Error,
                format!("provisioning stopped: {error}; its outcome is unknown (see the audit log)"),
            );
            if state.quitting {
                return vec![Effect::Quit];
            }
        }
        Worker::Deploy => {
            let view = &mut state.deploy_view;
            view.phase = super::deploy::Phase::Finished;
            view.result = Some((
                crate::domain::journal::Verdict::Failed,
                format!("the deployment's runner stopped: {error}; see the audit log and `deploy history`"),
            ));
            state.event(
                Level::Error,
                format!("deployment stopped: {error}; where it stopped is in the audit log"),
            );
            if state.quitting {
                return vec![Effect::Quit];
            }
        }
        Worker::Config => state.event(
            Level::Error,
            format!("config follower stopped: {error}; changes to the config file are not picked up until a restart"),
        ),
        Worker::Link(metro) => {
            state.event(
                Level::Error,
                format!(
                    "ssh link follower for {metro} stopped: {error}; its state on screen is stale"
                ),
            );
        }
        Worker::Logs => {
            if let Some(l) = state.nomad_view.logs.as_mut() {
                l.error = Some(format!("log follower stopped: {error}"));
            }
        }
        Worker::Action => {
            // Its outcome never came: say so, and free the console for another action.
            let what = state.busy.take().unwrap_or_else(|| "the action".into());
            state.acting_on = None;
            state.event(
                Level::Error,
                format!("{what} stopped: {error}; its outcome is unknown (see the audit log and status)"),
            );
            if state.quitting {
                return vec![Effect::Quit];
            }
            return vec![Effect::Refresh];
        }
    }
    Vec::new()
}

pub(super) fn on_done(state: &mut State, o: Outcome) {
    state.busy = None;
    state.acting_on = None;
    if o.ok() {
        let label = format!("{} {}", o.action.verb(), o.metro);
        state.marker(label);
        state.desired.insert(o.metro.clone(), o.action.desired());
        state.explained.push(Explained {
            metro: o.metro.clone(),
            advertised: o.action == ActionKind::Restore,
            best: Some(o.best_after.clone()),
            at: state.now,
        });
    }
    let level = match o.verdict {
        Verdict::Ok => Level::Good,
        Verdict::Refused | Verdict::Interrupted => Level::Warn,
        Verdict::Failed => Level::Error,
    };
    state.event(level, o.message);
}

/// The state directory as read with this poll: the desired state from every process,
/// and other processes' actions as events, so a withdraw from the command line is news
/// here, never drift. Returns whether a newly abandoned action is to be reported, once
/// the routers are read so that the note can say what state was found.
pub(super) fn on_journal(state: &mut State, j: Journal) -> bool {
    match (&j.desired, state.journal_error.clone()) {
        (Ok(_), Some(_)) => state.event(Level::Good, "state directory readable again"),
        (Err(e), was) if was.as_deref() != Some(e.as_str()) => {
            state.event(Level::Error, format!("desired state unknown: {e}"))
        }
        _ => {}
    }
    let was = state
        .unfinished
        .as_ref()
        .map(|u| (u.intent.id.clone(), u.running));
    state.world.store_journal(&j);
    for r in j.records {
        if r.pid != state.own_pid {
            foreign_record(state, &r);
        }
    }
    let now = state
        .unfinished
        .as_ref()
        .map(|u| (u.intent.id.clone(), u.running));
    matches!(now, Some((_, false))) && was != now
}

/// Reports a newly abandoned action, with the state the routers show now.
pub(super) fn report_abandoned(state: &mut State) {
    let Some(u) = state.unfinished.clone() else {
        return;
    };
    let advertised = state
        .metros
        .iter()
        .find(|m| m.name == u.intent.metro)
        .and_then(crate::world::MetroState::advertised);
    state.event(Level::Error, u.note(advertised));
}

/// An audit record written by another process.
pub(super) fn foreign_record(state: &mut State, r: &AuditRecord) {
    let via = r.via.map(|v| v.phrase()).unwrap_or("elsewhere");
    match (r.phase, r.verdict()) {
        (Phase::Intent, _) => state.event(
            Level::Info,
            format!(
                "{} of {} started by {} {via} (pid {})",
                r.action.verb(),
                r.metro,
                r.who(),
                r.pid
            ),
        ),
        (Phase::Outcome, Some(Verdict::Ok)) if r.action.routing().is_none() => {
            // The installer ran elsewhere: the config it wrote arrives by reload.
            state.marker(format!("{} {}", r.action.verb(), r.metro));
            let what = r
                .detail
                .as_deref()
                .map(|d| format!(": {}", crate::domain::text::visible(d)))
                .unwrap_or_default();
            state.event(
                Level::Good,
                format!(
                    "{} of {} by {} {via}{what}",
                    r.action.verb(),
                    r.metro,
                    r.user
                ),
            );
        }
        (Phase::Outcome, Some(Verdict::Ok)) => {
            let past = match r.action {
                AuditAction::Restore => "restored",
                _ => "withdrawn",
            };
            let took = r
                .convergence_ms
                .map(|ms| format!(", verified in {ms:.1} ms"))
                .unwrap_or_default();
            state.marker(format!("{} {}", r.action.verb(), r.metro));
            state.explained.push(Explained {
                metro: r.metro.clone(),
                advertised: r.action == AuditAction::Restore,
                best: Some(r.best_after.clone()),
                at: state.now,
            });
            let now = r
                .best_after
                .as_deref()
                .map(|b| format!("; anycast now via {b}"))
                .unwrap_or_default();
            state.event(
                Level::Good,
                format!("{} {past} by {} {via}{took}{now}", r.metro, r.who()),
            );
        }
        (Phase::Outcome, v) => {
            // The detail says what happened ("refused: …"); the word only without one.
            let what = match &r.detail {
                Some(d) => crate::domain::text::visible(d).into_owned(),
                None => v.map(Verdict::word).unwrap_or("failed").to_string(),
            };
            state.event(
                Level::Warn,
                format!(
                    "{} of {} by {} {via}: {what}",
                    r.action.verb(),
                    r.metro,
                    r.who(),
                ),
            );
        }
    }
}

pub(super) fn on_snapshot(state: &mut State, snap: Snapshot) {
    state.now = snap.taken;
    let abandoned = snap.journal.is_some_and(|j| on_journal(state, j));
    let first = state.last_poll.is_none();
    state.last_poll = Some(snap.taken);
    let path_before = crate::domain::best_path(state.observer.as_ref());
    let had_observer = state.observer.is_some();
    let now = state.now;
    state
        .explained
        .retain(|e| now.duration_since(e.at).unwrap_or_default() < EXPLAINED_FOR);
    for m in snap.metros {
        let Some(idx) = state.metros.iter().position(|r| r.name == m.name) else {
            continue;
        };
        let old = state.metros[idx].status.clone();
        let mut events = Vec::new();
        match (&old, &m.router) {
            (_, Err(e)) => {
                if !matches!(old, Some(Err(_))) {
                    events.push((Level::Error, format!("{}: {e}", m.name)));
                }
            }
            (Some(Err(_)), Ok(_)) => {
                events.push((Level::Good, format!("{}: router reachable again", m.name)))
            }
            (Some(Ok(a)), Ok(b)) => {
                let sa = a.bgp.as_ref().map(|s| s.session.as_str());
                let sb = b.bgp.as_ref().map(|s| s.session.as_str());
                if sa != sb {
                    events.push((
                        Level::Info,
                        format!(
                            "{}: BGP {} → {}",
                            m.name,
                            sa.unwrap_or("-"),
                            sb.unwrap_or("-")
                        ),
                    ));
                }
                if a.advertised != b.advertised && !state.action_explains(&m.name, b.advertised) {
                    let text = match b.advertised {
                        Some(true) => "now advertising",
                        Some(false) => "no longer advertising",
                        None => "unknown whether it advertises",
                    };
                    events.push((Level::Info, format!("{}: {text} {}", m.name, state.prefix)));
                }
            }
            (None, Ok(_)) => {}
        }
        // Each new problem once, in full: the metro's cell may be too narrow for it.
        if let Ok(b) = &m.router {
            let before: &[String] = match &old {
                Some(Ok(a)) => &a.problems,
                _ => &[],
            };
            for p in b.problems.iter().filter(|p| !before.contains(p)) {
                events.push((Level::Warn, format!("{}: {p}", m.name)));
            }
        }
        let drift_before = state.drift(&state.metros[idx]);
        state.world.store_router(idx, m.router, snap.taken);
        let drift_after = state.drift(&state.metros[idx]);
        if let (None, Some(d)) = (drift_before, drift_after) {
            events.push((Level::Warn, format!("{}: drift: {d}", m.name)));
        }
        for (level, text) in events {
            state.event(level, text);
        }
    }
    if let Some(obs) = snap.observer {
        match (&state.observer, &obs) {
            (Some(Err(_)), Err(_)) => {}
            (_, Err(e)) => state.event(Level::Error, format!("observer: {e}")),
            (Some(Err(_)), Ok(_)) => state.event(Level::Good, "observer reachable again"),
            _ => {}
        }
        state.world.store_observer(obs, snap.taken);
    }
    // Only what an answering observer says, before and after, is news: its silence is
    // no change of path (and never a black hole).
    let path_after = crate::domain::best_path(state.observer.as_ref());
    let known = |p: &BestPath| *p != BestPath::Unknown;
    if !first
        && had_observer
        && path_before != path_after
        && known(&path_before)
        && known(&path_after)
        && !state.action_explains_path(&path_after)
    {
        let was = path_before.words();
        let (level, text) = match &path_after {
            BestPath::Metro(b) => (Level::Info, format!("anycast now via {b} (was {was})")),
            BestPath::Peer(p) => (
                Level::Warn,
                format!("anycast now via peer {p}, not a configured metro (was {was})"),
            ),
            BestPath::NoRoute => (
                Level::Error,
                format!("anycast black-holed: no route (was via {was})"),
            ),
            BestPath::NoBest | BestPath::Unknown => (
                Level::Warn,
                format!("anycast: routes, but no best path (was {was})"),
            ),
        };
        state.event(level, text);
    }
    if abandoned {
        report_abandoned(state);
    }
}
