//! The rollout as a state machine, without I/O: which step comes next for which metro,
//! given how the last one went. The driver (`ops::deploy`) does each step and records
//! its outcome here; tests walk every failure point.
//!
//! ```text
//! per metro:  [drain] → register → watch → verify → [restore] → done → next metro
//!                │          │          │        │          └ fails: failed (withdrawn), stop
//!                │          │          └────────┴ fail: revert → watch → verify → [restore]
//!                │          │                        └ any fails: failed, stays withdrawn, stop
//!                │          └ fails: nothing changed → [restore] → failed, stop
//!                └ fails: [restore] → failed, stop; refused (last advertising): no drain
//! cancel (once): before a metro starts → untouched, stop; after its drain → restore,
//!                untouched, stop; once its app changed → the metro finishes, then stop
//! ```
//!
//! `[drain]`/`[restore]` run only for a metro planned to be drained; a metro drained is
//! always restored unless its app could not be put back on a working version.

use crate::domain::deploy::{MetroPhase, Plan};

/// One step of one metro.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Withdraw (verified), then give requests in flight the drain time.
    Drain,
    /// Register the job (after reading the version it runs now).
    Register,
    /// Follow the new version's Nomad deployment to its end.
    Watch,
    /// Probe the metro's own address for the new version.
    Verify,
    /// Restore the advertisement (verified).
    Restore,
    /// Back to the previous version: Nomad's auto-revert, else a revert request.
    Revert,
    /// Follow the reverted version's deployment.
    WatchRevert,
    /// Probe for the previous version.
    VerifyRevert,
}

impl Step {
    /// The phase a metro is in while the step runs.
    pub fn phase(self) -> MetroPhase {
        match self {
            Step::Drain => MetroPhase::Draining,
            Step::Register => MetroPhase::Registering,
            Step::Watch => MetroPhase::Placing,
            Step::Verify => MetroPhase::Verifying,
            Step::Restore => MetroPhase::Restoring,
            Step::Revert | Step::WatchRevert | Step::VerifyRevert => MetroPhase::Reverting,
        }
    }
}

/// How a step went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Register or revert changed nothing (an identical job): no deployment to watch.
    Unchanged,
    /// Drain was refused because the metro is the last one advertising: it goes on
    /// without one (and is not restored).
    NotDrained(String),
    Failed(String),
}

#[derive(Debug, Clone)]
struct MetroRun {
    name: String,
    /// Planned to be drained.
    drain: bool,
    /// Withdrawn (or possibly withdrawn): it must be restored.
    drained: bool,
    /// Where it ends up, once decided; the phase while running.
    result: Option<MetroPhase>,
    phase: MetroPhase,
    /// What went wrong, in order.
    problems: Vec<String>,
    /// The app changed (a new version was registered).
    changed: bool,
}

/// The rollout of one plan.
#[derive(Debug, Clone)]
pub struct Machine {
    metros: Vec<MetroRun>,
    at: usize,
    step: Option<Step>,
    cancels: u8,
}

impl Machine {
    pub fn new(plan: &Plan) -> Machine {
        let metros: Vec<MetroRun> = plan
            .steps
            .iter()
            .map(|s| MetroRun {
                name: s.metro.clone(),
                drain: s.drain.yes(),
                drained: false,
                result: None,
                phase: MetroPhase::Queued,
                problems: Vec::new(),
                changed: false,
            })
            .collect();
        let mut m = Machine {
            metros,
            at: 0,
            step: None,
            cancels: 0,
        };
        m.begin(0);
        m
    }

    fn begin(&mut self, i: usize) {
        self.at = i;
        self.step = self
            .metros
            .get(i)
            .map(|m| if m.drain { Step::Drain } else { Step::Register });
        if let (Some(s), Some(m)) = (self.step, self.metros.get_mut(i)) {
            m.phase = s.phase();
        }
    }

    /// The step to do now, and its metro; `None` once the rollout is over.
    pub fn current(&self) -> Option<(&str, Step)> {
        let s = self.step?;
        Some((self.metros.get(self.at)?.name.as_str(), s))
    }

    /// Cancelling asked (once more). Applied between steps: a metro not yet changed is
    /// left alone (restored if drained), a changed one finishes; no metro starts after.
    pub fn cancel(&mut self) {
        self.cancels = self.cancels.saturating_add(1);
        let Some(step) = self.step else { return };
        let Some(m) = self.metros.get_mut(self.at) else {
            return;
        };
        let first = matches!(step, Step::Drain) || (matches!(step, Step::Register) && !m.drain);
        if first {
            m.problems.push("cancelled before it started".into());
            m.result = Some(MetroPhase::Untouched);
            self.end_metro();
        } else if step == Step::Register {
            // Drained, app not changed yet: put it back.
            m.problems.push("cancelled before its app changed".into());
            m.result = Some(MetroPhase::Untouched);
            self.go(Step::Restore);
        }
    }

    pub fn cancels(&self) -> u8 {
        self.cancels
    }

    fn go(&mut self, step: Step) {
        self.step = Some(step);
        if let Some(m) = self.metros.get_mut(self.at) {
            m.phase = step.phase();
        }
    }

    /// Restore when it was drained, else the metro is over.
    fn restore_or_end(&mut self) {
        if self.metros.get(self.at).is_some_and(|m| m.drained) {
            self.go(Step::Restore);
        } else {
            self.end_metro();
        }
    }

    fn end_metro(&mut self) {
        let Some(m) = self.metros.get_mut(self.at) else {
            self.step = None;
            return;
        };
        let result = m.result.unwrap_or(MetroPhase::Failed);
        m.phase = result;
        let next = self.at + 1;
        if result == MetroPhase::Done && self.cancels == 0 && next < self.metros.len() {
            self.begin(next);
            return;
        }
        self.step = None;
        for later in self.metros.iter_mut().skip(next) {
            later.phase = MetroPhase::Untouched;
            later.result = Some(MetroPhase::Untouched);
        }
    }

    fn fail(&mut self, why: String) {
        if let Some(m) = self.metros.get_mut(self.at) {
            m.problems.push(why);
        }
    }

    /// How the current step went; the machine moves on.
    pub fn record(&mut self, outcome: Outcome) {
        let Some(step) = self.step else { return };
        let cancelled = self.cancels > 0;
        use Outcome as O;
        match (step, outcome) {
            (Step::Drain, O::Ok | O::Unchanged) => {
                self.set(|m| m.drained = true);
                if cancelled {
                    self.fail("cancelled before its app changed".into());
                    self.set(|m| m.result = Some(MetroPhase::Untouched));
                    self.go(Step::Restore);
                } else {
                    self.go(Step::Register);
                }
            }
            (Step::Drain, O::NotDrained(why)) => {
                self.fail(why);
                self.set(|m| m.drain = false);
                if cancelled {
                    self.set(|m| m.result = Some(MetroPhase::Untouched));
                    self.end_metro();
                } else {
                    self.go(Step::Register);
                }
            }
            (Step::Drain, O::Failed(why)) => {
                self.fail(format!("drain failed: {why}"));
                // A withdraw that failed half way may have withdrawn it.
                self.set(|m| {
                    m.drained = true;
                    m.result = Some(MetroPhase::Failed);
                });
                self.go(Step::Restore);
            }
            (Step::Register, O::Ok) => {
                self.set(|m| m.changed = true);
                self.go(Step::Watch);
            }
            (Step::Register, O::Unchanged) => self.go(Step::Verify),
            (Step::Register, O::Failed(why) | O::NotDrained(why)) => {
                self.fail(why);
                self.set(|m| m.result = Some(MetroPhase::Failed));
                self.restore_or_end();
            }
            (Step::Watch, O::Ok | O::Unchanged) => self.go(Step::Verify),
            (Step::Verify, O::Ok | O::Unchanged) => {
                self.set(|m| m.result = Some(MetroPhase::Done));
                self.restore_or_end();
            }
            (Step::Watch | Step::Verify, O::Failed(why) | O::NotDrained(why)) => {
                self.fail(why);
                self.go(Step::Revert);
            }
            (Step::Revert, O::Ok) => self.go(Step::WatchRevert),
            (Step::Revert, O::Unchanged) => self.go(Step::VerifyRevert),
            (Step::WatchRevert, O::Ok | O::Unchanged) => self.go(Step::VerifyRevert),
            (Step::VerifyRevert, O::Ok | O::Unchanged) => {
                self.set(|m| m.result = Some(MetroPhase::Reverted));
                self.restore_or_end();
            }
            (
                Step::Revert | Step::WatchRevert | Step::VerifyRevert,
                O::Failed(why) | O::NotDrained(why),
            ) => {
                // Its app may not work: it stays withdrawn, and the rollout stops.
                self.fail(format!("revert failed: {why}"));
                self.set(|m| m.result = Some(MetroPhase::Failed));
                self.end_metro();
            }
            (Step::Restore, O::Ok | O::Unchanged) => {
                self.set(|m| m.drained = false);
                self.end_metro();
            }
            (Step::Restore, O::Failed(why) | O::NotDrained(why)) => {
                self.fail(format!("restore failed: {why}"));
                self.set(|m| m.result = Some(MetroPhase::Failed));
                self.end_metro();
            }
        }
    }

    fn set(&mut self, f: impl FnOnce(&mut MetroRun)) {
        if let Some(m) = self.metros.get_mut(self.at) {
            f(m);
        }
    }

    /// A metro's phase now.
    pub fn phase(&self, metro: &str) -> Option<MetroPhase> {
        self.metros
            .iter()
            .find(|m| m.name == metro)
            .map(|m| m.phase)
    }

    /// Whether a metro is still withdrawn because of this rollout (drained, not
    /// restored).
    pub fn left_withdrawn(&self, metro: &str) -> bool {
        self.metros
            .iter()
            .any(|m| m.name == metro && m.drained && m.phase.settled())
    }

    /// Whether a metro was drained for its change (withdrawn at some point).
    pub fn planned_drain(&self, metro: &str) -> bool {
        self.metros.iter().any(|m| m.name == metro && m.drain)
    }

    /// What went wrong with a metro, in order, joined.
    pub fn problems(&self, metro: &str) -> String {
        self.metros
            .iter()
            .find(|m| m.name == metro)
            .map(|m| m.problems.join("; "))
            .unwrap_or_default()
    }

    /// Every metro's phase, in order.
    pub fn phases(&self) -> Vec<(String, MetroPhase)> {
        self.metros
            .iter()
            .map(|m| (m.name.clone(), m.phase))
            .collect()
    }

    /// Whether the rollout is over.
    pub fn finished(&self) -> bool {
        self.step.is_none()
    }

    /// Whether every metro runs the new version.
    pub fn all_done(&self) -> bool {
        self.finished() && self.metros.iter().all(|m| m.phase == MetroPhase::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::deploy::{AppRef, Drain, PlanStep};
    use MetroPhase as P;
    use Outcome as O;

    fn plan(drains: &[(&str, Drain)]) -> Plan {
        Plan {
            app: AppRef::parse("r/hello:v2").unwrap(),
            job: "hello".into(),
            steps: drains
                .iter()
                .map(|(m, d)| PlanStep {
                    metro: m.to_string(),
                    drain: *d,
                })
                .collect(),
            warnings: Vec::new(),
        }
    }

    fn two() -> Machine {
        Machine::new(&plan(&[("am", Drain::Yes), ("da", Drain::Yes)]))
    }

    /// Feeds outcomes, returning the (metro, step) each one answered.
    fn walk(m: &mut Machine, outcomes: Vec<Outcome>) -> Vec<(String, Step)> {
        let mut seen = Vec::new();
        for o in outcomes {
            let (metro, step) = m
                .current()
                .map(|(a, b)| (a.to_string(), b))
                .expect("a step");
            seen.push((metro, step));
            m.record(o);
        }
        seen
    }

    fn steps(seen: &[(String, Step)]) -> Vec<String> {
        seen.iter().map(|(m, s)| format!("{m} {s:?}")).collect()
    }

    #[test]
    fn a_clean_rollout_drains_changes_verifies_and_restores_each_metro_in_turn() {
        let mut m = two();
        let seen = walk(&mut m, vec![O::Ok; 10]);
        assert_eq!(
            steps(&seen),
            [
                "am Drain",
                "am Register",
                "am Watch",
                "am Verify",
                "am Restore",
                "da Drain",
                "da Register",
                "da Watch",
                "da Verify",
                "da Restore"
            ]
        );
        assert!(m.all_done());
        assert_eq!(m.phases(), [("am".into(), P::Done), ("da".into(), P::Done)]);
        assert!(!m.left_withdrawn("am"));
    }

    #[test]
    fn an_unchanged_job_is_verified_without_a_deployment() {
        let mut m = Machine::new(&plan(&[("am", Drain::NotAsked)]));
        let seen = walk(&mut m, vec![O::Unchanged, O::Ok]);
        assert_eq!(steps(&seen), ["am Register", "am Verify"]);
        assert!(m.all_done());
    }

    #[test]
    fn a_failed_deployment_reverts_the_metro_restores_it_and_stops() {
        let mut m = two();
        let seen = walk(
            &mut m,
            vec![
                O::Ok,
                O::Ok,
                O::Failed("Failed due to unhealthy allocations".into()),
                O::Ok,
                O::Ok,
                O::Ok,
                O::Ok,
            ],
        );
        assert_eq!(
            steps(&seen),
            [
                "am Drain",
                "am Register",
                "am Watch",
                "am Revert",
                "am WatchRevert",
                "am VerifyRevert",
                "am Restore"
            ]
        );
        assert!(m.finished() && !m.all_done());
        assert_eq!(
            m.phases(),
            [("am".into(), P::Reverted), ("da".into(), P::Untouched)]
        );
        assert_eq!(m.problems("am"), "Failed due to unhealthy allocations");
        assert!(!m.left_withdrawn("am"), "reverted and verified: restored");
    }

    #[test]
    fn a_version_never_seen_reverts_too() {
        let mut m = two();
        let seen = walk(
            &mut m,
            vec![
                O::Ok,
                O::Ok,
                O::Ok,
                O::Failed("v2 not seen".into()),
                O::Unchanged,
                O::Ok,
                O::Ok,
            ],
        );
        assert_eq!(
            steps(&seen)[3..],
            ["am Verify", "am Revert", "am VerifyRevert", "am Restore"]
        );
        assert_eq!(m.phase("am"), Some(P::Reverted));
    }

    #[test]
    fn a_failed_revert_leaves_the_metro_withdrawn() {
        for fail_at in 0..3 {
            let mut m = two();
            let mut outcomes = vec![O::Ok, O::Ok, O::Failed("unhealthy".into())];
            outcomes.extend((0..fail_at).map(|_| O::Ok));
            outcomes.push(O::Failed("403 Permission denied".into()));
            walk(&mut m, outcomes);
            assert!(m.finished(), "fail at revert step {fail_at}");
            assert_eq!(m.phase("am"), Some(P::Failed));
            assert_eq!(m.phase("da"), Some(P::Untouched));
            assert!(
                m.left_withdrawn("am"),
                "a broken app is not put back in anycast"
            );
            assert!(
                m.problems("am").contains("revert failed: 403"),
                "{}",
                m.problems("am")
            );
        }
    }

    #[test]
    fn a_refused_register_changed_nothing_restores_and_stops() {
        let mut m = two();
        let seen = walk(
            &mut m,
            vec![
                O::Ok,
                O::Failed("HTTP 400: Missing job datacenters".into()),
                O::Ok,
            ],
        );
        assert_eq!(steps(&seen), ["am Drain", "am Register", "am Restore"]);
        assert_eq!(m.phase("am"), Some(P::Failed));
        assert!(!m.left_withdrawn("am"));
        assert_eq!(m.phase("da"), Some(P::Untouched));
    }

    #[test]
    fn a_failed_drain_is_restored_and_stops_before_any_change() {
        let mut m = two();
        let seen = walk(
            &mut m,
            vec![O::Failed("not verified after 10s".into()), O::Ok],
        );
        assert_eq!(steps(&seen), ["am Drain", "am Restore"]);
        assert_eq!(m.phase("am"), Some(P::Failed));
        assert!(m.problems("am").starts_with("drain failed"));
    }

    #[test]
    fn a_refused_drain_goes_on_without_one_and_is_not_restored() {
        let mut m = Machine::new(&plan(&[("am", Drain::Yes)]));
        let seen = walk(
            &mut m,
            vec![
                O::NotDrained("am is the last metro advertising".into()),
                O::Ok,
                O::Ok,
                O::Ok,
            ],
        );
        assert_eq!(
            steps(&seen),
            ["am Drain", "am Register", "am Watch", "am Verify"]
        );
        assert!(m.all_done());
    }

    #[test]
    fn a_failed_restore_is_said_and_stops() {
        let mut m = two();
        walk(
            &mut m,
            vec![O::Ok, O::Ok, O::Ok, O::Ok, O::Failed("not verified".into())],
        );
        assert!(m.finished());
        assert_eq!(m.phase("am"), Some(P::Failed));
        assert!(m.left_withdrawn("am"));
        assert_eq!(m.phase("da"), Some(P::Untouched));
    }

    #[test]
    fn an_undrained_metro_that_fails_is_reverted_and_not_restored() {
        let mut m = Machine::new(&plan(&[("am", Drain::LastAdvertising)]));
        let seen = walk(
            &mut m,
            vec![O::Ok, O::Failed("unhealthy".into()), O::Ok, O::Ok, O::Ok],
        );
        assert_eq!(
            steps(&seen),
            [
                "am Register",
                "am Watch",
                "am Revert",
                "am WatchRevert",
                "am VerifyRevert"
            ]
        );
        assert_eq!(m.phase("am"), Some(P::Reverted));
        assert!(!m.left_withdrawn("am"));
    }

    #[test]
    fn cancelling_leaves_every_metro_consistent() {
        // Before anything: nothing runs.
        let mut m = two();
        m.cancel();
        assert!(m.finished());
        assert_eq!(
            m.phases(),
            [("am".into(), P::Untouched), ("da".into(), P::Untouched)]
        );
        // After the drain, before the register: restored, untouched.
        let mut m = two();
        walk(&mut m, vec![O::Ok]);
        m.cancel();
        let seen = walk(&mut m, vec![O::Ok]);
        assert_eq!(steps(&seen), ["am Restore"]);
        assert!(m.finished());
        assert_eq!(m.phase("am"), Some(P::Untouched));
        assert!(!m.left_withdrawn("am"));
        // Once the app changed, the metro finishes; the next one does not start.
        let mut m = two();
        walk(&mut m, vec![O::Ok, O::Ok]);
        m.cancel();
        let seen = walk(&mut m, vec![O::Ok, O::Ok, O::Ok]);
        assert_eq!(steps(&seen), ["am Watch", "am Verify", "am Restore"]);
        assert!(m.finished());
        assert_eq!(
            m.phases(),
            [("am".into(), P::Done), ("da".into(), P::Untouched)]
        );
        // Cancelled while draining: restored when the drain ends.
        let mut m = two();
        m.record(O::Ok);
        assert_eq!(m.current(), Some(("am", Step::Register)));
        let mut m = two();
        // (the driver applies a cancel between steps; here: after the drain ran)
        m.cancels = 1;
        m.record(O::Ok);
        assert_eq!(m.current(), Some(("am", Step::Restore)));
    }
}
