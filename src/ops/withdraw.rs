//! Withdraw and restore, the write-ahead way. One path for every caller (console, command
//! line, later deployment):
//!
//! ```text
//! read-only? ─ refuse
//! state dir safe? ─ refuse            (0700, ours, no symlink)
//! lock (flock, waits up to lock_wait) ─ refuse with the holder's name
//!   fresh snapshot
//!   close an abandoned intent          (its process died: record what is seen now)
//!   last advertising metro? ─ refuse   (decided here, under the lock, on fresh state)
//!   intent line, fsynced ─ refuse if it cannot be written: no audit, no action
//!   act                                (BIRD disable/enable, or the command)
//!   verify                             (the metro's export and the observer agree)
//!   outcome line + desired state, fsynced (one line: they cannot disagree)
//! unlock
//! ```
//!
//! An interrupt (quit, hang-up, SIGTERM) stops the command's process group or the
//! verification, and the outcome is recorded as `interrupted` with what is then seen.
//! After a SIGKILL the intent stays unanswered; readers report it, and the next action
//! closes it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::command::{self, CommandError};
use super::interlock::{self, Holder};
use super::journal::{self, StateDir};
use super::{Interrupt, Poller};
use crate::bird::BirdClient;
use crate::config::{Config, Metro, WithdrawMethod};
use crate::domain::journal::{unanswered, AuditRecord, Phase, Verdict, Via};
use crate::domain::{ActionKind, Outcome, Request, Snapshot};

/// How long a withdraw or restore may take to converge before it is reported unverified.
/// A `command` restore restarts a daemon, so BGP must re-establish first.
fn verify_limit(method: &WithdrawMethod) -> Duration {
    match method {
        WithdrawMethod::Disable => Duration::from_secs(10),
        WithdrawMethod::Command(_) => Duration::from_secs(30),
    }
}

/// Timeout of each poll inside an action.
const POLL_TIMEOUT: Duration = Duration::from_secs(2);

/// Who runs an action, how it can be interrupted, and where its progress lines go.
pub struct Caller<'a> {
    pub via: Via,
    pub interrupt: Interrupt,
    pub progress: &'a mut (dyn FnMut(&str) + Send),
}

/// The outcome before anything is done (refused until it is not), and the metro's
/// withdraw method's name.
fn not_yet<'c>(cfg: &'c Config, req: &Request) -> (Outcome, &'c str) {
    let method = cfg
        .metro(&req.metro)
        .map(|m| m.withdraw.name())
        .unwrap_or("-");
    let outcome = Outcome {
        metro: req.metro.clone(),
        action: req.action,
        method: method.to_string(),
        verdict: Verdict::Refused,
        message: String::new(),
        converged_ms: None,
        best_after: None,
    };
    (outcome, method)
}

/// Refuses: "refused: WHY; withdraw of am not performed".
fn refuse(outcome: &mut Outcome, why: &str) {
    outcome.verdict = Verdict::Refused;
    outcome.message = format!(
        "refused: {why}; {} of {} not performed",
        outcome.action.verb(),
        outcome.metro
    );
}

/// Runs a withdraw or restore under the interlock, verifies it, remembers the desired
/// state and writes the audit record before and after. Never panics; every failure is in
/// the returned `Outcome`.
pub async fn execute(cfg: &Config, req: &Request, caller: &mut Caller<'_>) -> Outcome {
    let (mut outcome, _) = not_yet(cfg, req);
    if cfg.console.read_only {
        refuse(&mut outcome, "read-only mode");
        return outcome;
    }
    if cfg.metro(&req.metro).is_none() {
        refuse(&mut outcome, &crate::config::no_metro(cfg, &req.metro));
        return outcome;
    }
    let state = StateDir::of(cfg);
    if let Err(e) = state.prepare() {
        refuse(&mut outcome, &e);
        return outcome;
    }
    let me = Holder {
        pid: std::process::id(),
        user: journal::user(),
        via: caller.via.word().to_string(),
        what: format!("{} {}", req.action.verb(), req.metro),
        since: journal::timestamp(SystemTime::now()),
    };
    let guard = match interlock::acquire(
        &state,
        &me,
        cfg.console.lock_wait,
        &mut caller.interrupt,
        caller.progress,
    )
    .await
    {
        Ok(g) => g,
        Err(e) => {
            refuse(&mut outcome, &e);
            return outcome;
        }
    };
    let waited = guard.waited;
    let outcome = execute_locked(cfg, req, caller, &state, waited, &[]).await;
    drop(guard);
    outcome
}

/// [`execute`] for a caller that holds the state directory's lock already (a
/// deployment drains and restores metros inside its own hold of the lock: a second
/// `flock` in this process would wait for itself). `waited`: how long the caller waited
/// for the lock, for the audit line. `in_flight`: the ids of the caller's own intents,
/// which are running, not abandoned.
pub async fn execute_locked(
    cfg: &Config,
    req: &Request,
    caller: &mut Caller<'_>,
    state: &StateDir,
    waited: Duration,
    in_flight: &[&str],
) -> Outcome {
    let (mut outcome, method) = not_yet(cfg, req);
    if cfg.console.read_only {
        refuse(&mut outcome, "read-only mode");
        return outcome;
    }
    let Some(metro) = cfg.metro(&req.metro) else {
        refuse(&mut outcome, &crate::config::no_metro(cfg, &req.metro));
        return outcome;
    };
    let me_user = journal::user();
    let mut poller = Poller::new(cfg, POLL_TIMEOUT);
    let before = poller.snapshot().await;
    let tail = match state.tail() {
        Ok(t) => t,
        Err(e) => {
            refuse(&mut outcome, &e);
            return outcome;
        }
    };
    let mut desired = match state.desired_in(&tail) {
        Ok(d) => d,
        Err(e) => {
            refuse(
                &mut outcome,
                &format!("the desired state cannot be read ({e})"),
            );
            return outcome;
        }
    };
    let others: Vec<AuditRecord> = tail
        .iter()
        .filter(|r| !in_flight.contains(&r.id.as_str()))
        .cloned()
        .collect();
    close_abandoned(state, &others, &mut desired, &before, caller);

    let mut record = AuditRecord {
        time: journal::timestamp(SystemTime::now()),
        id: new_id(),
        phase: Phase::Intent,
        user: me_user,
        ssh: journal::ssh_origin(),
        pid: std::process::id(),
        via: Some(caller.via),
        metro: req.metro.clone(),
        action: req.action.into(),
        method: method.to_string(),
        force: req.force,
        result: None,
        detail: None,
        convergence_ms: None,
        best_after: None,
        lock_wait_ms: Some(round3(waited.as_secs_f64() * 1000.0)),
        desired: Some(desired.clone()),
    };

    let advertising = before.advertising();
    if req.action == ActionKind::Withdraw
        && !req.force
        && crate::domain::is_last_advertising(&advertising, &req.metro)
    {
        refuse(
            &mut outcome,
            &format!(
                "{} is the last metro advertising {}; withdrawing it black-holes the anycast address (use --force to do it anyway)",
                req.metro, cfg.anycast.prefix
            ),
        );
        record.phase = Phase::Outcome;
        record.result = Some(Verdict::Refused.word().into());
        record.detail = Some(outcome.message.clone());
        if let Err(e) = state.append(&record) {
            outcome
                .message
                .push_str(&format!(" (and the refusal could not be audited: {e})"));
        }
        return outcome;
    }

    if let Err(e) = state.append(&record) {
        refuse(
            &mut outcome,
            &format!("the audit log cannot be written, and no action runs unaudited ({e})"),
        );
        return outcome;
    }

    let want = req.action == ActionKind::Restore;
    let already = observed(&before, &req.metro) == Some(want);
    let after = act_and_verify(metro, req, &mut poller, caller, &mut outcome, already).await;

    // The desired state follows the ask once the router shows it, even when verification
    // or the caller gave up half way; otherwise it stays what it was.
    if outcome.ok() || observed(&after, &req.metro) == Some(want) {
        desired.insert(req.metro.clone(), req.action.desired());
    }
    record.desired = Some(desired);
    record.time = journal::timestamp(SystemTime::now());
    record.phase = Phase::Outcome;
    record.result = Some(outcome.verdict.word().into());
    record.detail = Some(outcome.message.clone());
    record.convergence_ms = outcome.converged_ms.map(round3);
    record.best_after = outcome.best_after.clone();
    if let Err(e) = state.append(&record) {
        outcome.verdict = match outcome.verdict {
            Verdict::Ok => Verdict::Failed,
            v => v,
        };
        outcome.message.push_str(&format!(
            "; but its outcome could not be written to the audit log: {e}"
        ));
    }
    outcome
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

pub(crate) fn new_id() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!(
        "{ms}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether `metro` advertises the prefix: the observer's view when it answered, else
/// the metro's own export; `None` when neither is known.
pub(crate) fn observed(snap: &Snapshot, metro: &str) -> Option<bool> {
    match &snap.observer {
        Some(Ok(view)) => Some(view.has_route_from(metro)),
        _ => snap
            .metro(metro)
            .and_then(|m| m.router.as_ref().ok())
            .and_then(|r| r.advertised),
    }
}

fn state_word(advertising: Option<bool>) -> &'static str {
    match advertising {
        Some(true) => "advertising",
        Some(false) => "withdrawn",
        None => "in an unknown state",
    }
}

/// We hold the lock, so an intent without an outcome belongs to a process that died
/// mid-action: record it as interrupted, with the state seen now (and the desired state
/// following it when the router shows what was asked).
fn close_abandoned(
    state: &StateDir,
    tail: &[AuditRecord],
    desired: &mut std::collections::BTreeMap<String, crate::domain::Desired>,
    now: &Snapshot,
    caller: &mut Caller<'_>,
) {
    close_abandoned_seen(
        state,
        tail,
        desired,
        &|metro| Some(observed(now, metro)),
        caller.progress,
    )
}

/// [`close_abandoned`] for any caller that holds the lock. `seen(metro)`: whether the
/// metro advertises now (`Some(None)`: unknown), or `None` when it was not looked at.
/// An abandoned provisioning run is closed the same way; what it did is for
/// `provision plan` to say.
pub(crate) fn close_abandoned_seen(
    state: &StateDir,
    tail: &[AuditRecord],
    desired: &mut std::collections::BTreeMap<String, crate::domain::Desired>,
    seen: &dyn Fn(&str) -> Option<Option<bool>>,
    progress: &mut dyn FnMut(&str),
) {
    // A deployment that died inside its drain leaves two intents: the withdraw's and
    // its own. Each is closed, innermost first.
    let mut tail = tail.to_vec();
    while let Some(intent) = unanswered(&tail).cloned() {
        let found = format!(
            "no outcome was recorded: process {} ended mid-action; found by the next action (pid {})",
            intent.pid,
            std::process::id(),
        );
        let detail = match intent.action.routing() {
            Some(action) => match seen(&intent.metro) {
                Some(now) => {
                    if now == Some(action == ActionKind::Restore) {
                        desired.insert(intent.metro.clone(), action.desired());
                    }
                    format!("{found}: {} {}", intent.metro, state_word(now))
                }
                None => format!("{found}: {} not checked", intent.metro),
            },
            None => format!("{found}: {}", intent.action.left_for()),
        };
        progress(&format!("{}: {detail}", intent.describe()));
        let closing = AuditRecord {
            time: journal::timestamp(SystemTime::now()),
            phase: Phase::Outcome,
            result: Some(Verdict::Interrupted.word().into()),
            detail: Some(detail),
            lock_wait_ms: None,
            desired: Some(desired.clone()),
            ..intent
        };
        let _ = state.append(&closing);
        tail.push(closing);
    }
}

/// Acts and polls until the metro's export and the observer agree with the ask; fills
/// `outcome` and returns the last snapshot seen.
async fn act_and_verify(
    metro: &Metro,
    req: &Request,
    poller: &mut Poller,
    caller: &mut Caller<'_>,
    outcome: &mut Outcome,
    already: bool,
) -> Snapshot {
    let verb = req.action.verb();
    (caller.progress)(&format!("{verb} {} ({})", req.metro, metro.withdraw.name()));
    let started = Instant::now();
    let acted = act(metro, req.action, &mut caller.interrupt).await;
    if let Err(e) = acted {
        let after = poller.snapshot().await;
        let (verdict, why) = match e {
            CommandError::Failed(why) => (Verdict::Failed, why),
            CommandError::Interrupted(why) => (Verdict::Interrupted, why),
        };
        outcome.verdict = verdict;
        outcome.message = format!(
            "{verb} of {} {}: {why}; {} is {}",
            req.metro,
            if verdict == Verdict::Interrupted {
                "interrupted"
            } else {
                "failed"
            },
            req.metro,
            state_word(observed(&after, &req.metro))
        );
        return after;
    }
    let acted_ms = started.elapsed().as_secs_f64() * 1000.0;
    (caller.progress)(&format!("{verb} sent in {acted_ms:.1} ms; verifying"));
    let limit = verify_limit(&metro.withdraw);
    let want_advertised = req.action == ActionKind::Restore;
    loop {
        let snap = poller.snapshot().await;
        let exports = snap
            .metro(&req.metro)
            .is_some_and(|m| m.router.as_ref().is_ok_and(|r| r.advertised == Some(true)));
        let observer_ok = match &snap.observer {
            Some(Ok(view)) => view.has_route_from(&req.metro) == want_advertised,
            _ => true,
        };
        if exports == want_advertised && observer_ok {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            outcome.verdict = Verdict::Ok;
            outcome.converged_ms = Some(ms);
            outcome.best_after = snap.best();
            let now = match (&snap.observer, snap.best()) {
                (Some(Ok(_)), Some(best)) => format!("; anycast now via {best}"),
                (Some(Ok(_)), None) => "; no metro advertises the anycast address".to_string(),
                _ => String::new(),
            };
            let past = if want_advertised {
                "restored"
            } else {
                "withdrawn"
            };
            outcome.message = if already {
                format!(
                    "{} was already {}; {past} again, verified in {ms:.1} ms{now}",
                    req.metro,
                    state_word(Some(want_advertised))
                )
            } else {
                format!("{} {past}, verified in {ms:.1} ms{now}", req.metro)
            };
            return snap;
        }
        if started.elapsed() > limit {
            let what = if exports != want_advertised {
                format!(
                    "{} still {}",
                    req.metro,
                    if exports {
                        "exports the prefix"
                    } else {
                        "exports nothing"
                    }
                )
            } else {
                "the observer has not converged".to_string()
            };
            outcome.verdict = Verdict::Failed;
            outcome.message = format!(
                "{verb} of {} not verified after {}s: {what}",
                req.metro,
                limit.as_secs()
            );
            return snap;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(5)) => {}
            why = caller.interrupt.wait() => {
                let after = poller.snapshot().await;
                outcome.verdict = Verdict::Interrupted;
                outcome.message = format!(
                    "{verb} of {} interrupted ({why}) while verifying; {} is {}",
                    req.metro,
                    req.metro,
                    state_word(observed(&after, &req.metro))
                );
                return after;
            }
        }
    }
}

/// Performs the action itself: BIRD `disable`/`enable` of the origins, or the configured
/// command.
async fn act(
    metro: &Metro,
    action: ActionKind,
    interrupt: &mut Interrupt,
) -> Result<(), CommandError> {
    match &metro.withdraw {
        WithdrawMethod::Disable => {
            let mut c = BirdClient::new(metro.bird_socket.clone(), Duration::from_secs(5));
            for origin in &metro.origin_protocols {
                let r = match action {
                    ActionKind::Withdraw => c.disable(origin).await,
                    ActionKind::Restore => c.enable(origin).await,
                };
                r.map_err(|e| {
                    // BIRD's words are untrusted text on their way to a terminal.
                    CommandError::Failed(format!(
                        "{} \"{origin}\" on {}: {}",
                        bird_verb(action),
                        metro.name,
                        crate::domain::text::visible(&e.to_string())
                    ))
                })?;
            }
            Ok(())
        }
        WithdrawMethod::Command(c) => {
            let line = match action {
                ActionKind::Withdraw => &c.withdraw,
                ActionKind::Restore => &c.restore,
            };
            command::run(line, c.timeout, &c.pass_env, interrupt).await
        }
    }
}

/// The BIRD command for an action.
fn bird_verb(a: ActionKind) -> &'static str {
    match a {
        ActionKind::Withdraw => "disable",
        ActionKind::Restore => "enable",
    }
}
