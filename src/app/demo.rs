//! The demo's story as a step machine: warm-up, withdraw the best metro, hold, restore —
//! and round again. Every action is a real [`Request`] that the console carries out
//! through the one interlocked, audited path (audited as the demo's); nothing here is
//! canned: a step is ready only when the world shows what it did (the first figure, a
//! new serving metro).
//!
//! Pure and synchronous, like `update`: it reads [`Facts`] taken from the world, returns
//! requests as data and captions as text, and takes the time from its caller.

use std::time::{Duration, SystemTime};

use crate::domain::{ActionKind, Outcome, Request, Verdict};

/// How long a step waits for the anycast figure to move after its action before it is
/// ready anyway (its caption then says the figure did not move).
pub const SETTLE_LIMIT: Duration = Duration::from_secs(5);

/// The steps of the story, in order; after `Restore` the story starts again at
/// `Withdraw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    WarmUp,
    Withdraw,
    Hold,
    Restore,
}

impl Step {
    pub fn number(self) -> u8 {
        match self {
            Step::WarmUp => 1,
            Step::Withdraw => 2,
            Step::Hold => 3,
            Step::Restore => 4,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Step::WarmUp => "warm-up",
            Step::Withdraw => "withdraw",
            Step::Hold => "hold",
            Step::Restore => "restore",
        }
    }

    fn after(self) -> Step {
        match self {
            Step::WarmUp => Step::Withdraw,
            Step::Withdraw => Step::Hold,
            Step::Hold => Step::Restore,
            Step::Restore => Step::Withdraw,
        }
    }
}

/// Where the current step is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for what the step shows: the first figure, or the new one after its
    /// action.
    Waiting,
    /// Its action is running.
    Acting,
    /// Shown: the next step may start (at once on the space bar, or after the `--auto`
    /// seconds).
    Ready { since: SystemTime, moved: bool },
    /// Its action failed or could not start, and why; the space bar (or `--auto`) tries
    /// the step again.
    Failed { why: String, since: SystemTime },
}

/// What the demo looks at, taken from the world by the state machine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// The observer's best path.
    pub best: Option<String>,
    pub advertising: Vec<String>,
    /// Who served the latest anycast answer, and its headline figure (ms).
    pub served_by: Option<String>,
    pub figure: Option<f64>,
    /// The headline against the figure before the last change of serving metro.
    pub change: Option<String>,
    /// An action (the demo's or the operator's) is running.
    pub busy: bool,
    pub read_only: bool,
    /// Metro code -> display name ("am" -> "Amsterdam").
    pub names: Vec<(String, String)>,
}

impl Facts {
    fn name<'a>(&'a self, code: &'a str) -> &'a str {
        self.names
            .iter()
            .find(|(c, _)| c == code)
            .map_or(code, |(_, n)| n.as_str())
    }
}

/// A caption: the step's heading and what it shows, in the presenter's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caption {
    pub heading: String,
    pub text: String,
    /// What the space bar does now ("withdraw am", "try again").
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Demo {
    pub step: Step,
    pub phase: Phase,
    /// Steps advance by themselves this long after they are shown.
    pub auto: Option<Duration>,
    /// The metro the demo withdrew and has not restored yet.
    pub withdrawn: Option<String>,
    /// The metro the current step acts on.
    pub metro: Option<String>,
    /// When the current step's action finished (the settle limit counts from here).
    acted_at: Option<SystemTime>,
    /// Times round the story (the first withdraw starts round 1).
    pub round: u32,
}

impl Demo {
    pub fn new(auto: Option<Duration>) -> Demo {
        Demo {
            step: Step::WarmUp,
            phase: Phase::Waiting,
            auto,
            withdrawn: None,
            metro: None,
            acted_at: None,
            round: 0,
        }
    }

    /// The space bar: the next step when this one is shown, the same step again when it
    /// failed. `Err` says why nothing happens (a step still running or waiting).
    pub fn next(&mut self, f: &Facts, now: SystemTime) -> Result<Option<Request>, String> {
        match &self.phase {
            Phase::Acting => Err(format!(
                "the {} is still running",
                self.step.title().trim_end_matches('-')
            )),
            Phase::Waiting if self.step == Step::WarmUp => {
                Err("waiting for the first figure of the anycast address".into())
            }
            Phase::Waiting => Err("waiting for the anycast address's next answer".into()),
            Phase::Failed { .. } => Ok(self.enter(self.step, f, now)),
            Phase::Ready { .. } => Ok(self.enter(self.step.after(), f, now)),
        }
    }

    /// Looks at the world: a waiting step becomes ready when it shows what it did;
    /// with `--auto`, a step shown for long enough (or failed) starts the next (or
    /// itself again).
    pub fn observe(&mut self, f: &Facts, now: SystemTime) -> Option<Request> {
        if self.phase == Phase::Waiting {
            let settled = match self.step {
                Step::WarmUp => f.figure.is_some() && f.served_by.is_some(),
                // The anycast address is answered from elsewhere.
                Step::Withdraw => {
                    f.figure.is_some()
                        && f.served_by.is_some()
                        && f.served_by.as_deref() != self.metro.as_deref()
                }
                // Answered by the restored metro (else shown after the settle limit:
                // the observer may prefer another).
                Step::Restore => {
                    f.figure.is_some() && f.served_by.is_some() && f.served_by == self.metro
                }
                Step::Hold => true,
            };
            let waited = self
                .acted_at
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|d| d >= SETTLE_LIMIT);
            if settled || waited {
                self.phase = Phase::Ready {
                    since: now,
                    moved: settled,
                };
            }
        }
        let auto = self.auto?;
        let since = match &self.phase {
            Phase::Ready { since, .. } | Phase::Failed { since, .. } => *since,
            _ => return None,
        };
        if now.duration_since(since).unwrap_or_default() < auto || f.busy {
            return None;
        }
        self.next(f, now).ok().flatten()
    }

    /// The outcome of an action: the demo's own moves the story on; another's is not
    /// its business.
    pub fn on_done(&mut self, o: &Outcome, now: SystemTime) {
        if self.phase != Phase::Acting || self.metro.as_deref() != Some(o.metro.as_str()) {
            return;
        }
        let ours = matches!(
            (self.step, o.action),
            (Step::Withdraw, ActionKind::Withdraw) | (Step::Restore, ActionKind::Restore)
        );
        if !ours {
            return;
        }
        match (o.verdict, o.action) {
            (Verdict::Ok, _) => {
                self.acted_at = Some(now);
                self.phase = Phase::Waiting;
                self.withdrawn = match o.action {
                    ActionKind::Withdraw => Some(o.metro.clone()),
                    ActionKind::Restore => None,
                };
            }
            // Not attempted: nothing changed.
            (Verdict::Refused, _) => {
                self.phase = Phase::Failed {
                    why: o.message.clone(),
                    since: now,
                }
            }
            // Attempted: the metro may be withdrawn now; quitting restores it.
            (_, action) => {
                if action == ActionKind::Withdraw {
                    self.withdrawn = Some(o.metro.clone());
                }
                self.phase = Phase::Failed {
                    why: o.message.clone(),
                    since: now,
                };
            }
        }
    }

    /// The operator quits: the metro the demo withdrew is restored first, so a demo on a
    /// real platform leaves it as it found it.
    pub fn restore_before_quitting(&mut self) -> Option<Request> {
        let metro = self.withdrawn.take()?;
        self.step = Step::Restore;
        self.metro = Some(metro.clone());
        self.phase = Phase::Acting;
        Some(Request {
            metro,
            action: ActionKind::Restore,
            force: false,
        })
    }

    /// Starts `step`: its action as a request, or why it cannot start.
    fn enter(&mut self, step: Step, f: &Facts, now: SystemTime) -> Option<Request> {
        self.step = step;
        self.acted_at = None;
        let fail = |why: String| Phase::Failed { why, since: now };
        match step {
            Step::WarmUp => {
                self.phase = Phase::Waiting;
                None
            }
            Step::Hold => {
                self.phase = Phase::Ready {
                    since: now,
                    moved: true,
                };
                None
            }
            Step::Withdraw => {
                self.round += 1;
                let why = if f.read_only {
                    Some("read-only: the demo cannot withdraw".to_string())
                } else if f.busy {
                    Some("another action is running".to_string())
                } else {
                    match &f.best {
                        None => Some("the observer names no best path yet".to_string()),
                        Some(best) if !f.advertising.iter().any(|m| m != best) => Some(format!(
                            "only {best} advertises the address: withdrawing it would black-hole it; the demo needs a second metro"
                        )),
                        Some(_) => None,
                    }
                };
                if let Some(why) = why {
                    self.metro = None;
                    self.phase = fail(why);
                    return None;
                }
                self.metro = f.best.clone();
                self.phase = Phase::Acting;
                self.metro.clone().map(|metro| Request {
                    metro,
                    action: ActionKind::Withdraw,
                    force: false,
                })
            }
            Step::Restore => {
                let Some(metro) = self.withdrawn.clone() else {
                    // Nothing of the demo's is withdrawn: nothing to restore.
                    self.metro = None;
                    self.phase = Phase::Ready {
                        since: now,
                        moved: false,
                    };
                    return None;
                };
                if f.busy {
                    self.metro = Some(metro);
                    self.phase = fail("another action is running".into());
                    return None;
                }
                self.metro = Some(metro.clone());
                self.phase = Phase::Acting;
                Some(Request {
                    metro,
                    action: ActionKind::Restore,
                    force: false,
                })
            }
        }
    }

    /// Seconds until `--auto` moves on, when it will.
    pub fn auto_in(&self, now: SystemTime) -> Option<u64> {
        let auto = self.auto?;
        let since = match &self.phase {
            Phase::Ready { since, .. } | Phase::Failed { since, .. } => *since,
            _ => return None,
        };
        let shown = now.duration_since(since).unwrap_or_default();
        Some(auto.saturating_sub(shown).as_secs_f64().ceil() as u64)
    }

    /// The step's caption, from what the world shows now.
    pub fn caption(&self, f: &Facts) -> Caption {
        let heading = format!("{}/4 {}", self.step.number(), self.step.title());
        let metro = self.metro.as_deref().unwrap_or("-");
        let serving = match (&f.served_by, f.figure) {
            (Some(by), Some(ms)) => {
                let change = f
                    .change
                    .as_deref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default();
                Some(format!("{} ({by}) at {ms:.0} ms{change}", f.name(by)))
            }
            _ => None,
        };
        let serving_text = serving.clone().unwrap_or_else(|| "…".to_string());
        let best_next = f.best.as_deref().unwrap_or("the best metro");
        let (text, next) = match (&self.phase, self.step) {
            (Phase::Failed { why, .. }, _) => (
                format!("could not {}: {why}", self.step.title()),
                Some("try again".to_string()),
            ),
            (Phase::Waiting, Step::WarmUp) => (
                "probing the anycast address from the viewer…".to_string(),
                None,
            ),
            (_, Step::WarmUp) => (
                format!(
                    "every metro advertises the same address with BGP; the viewer is served from {serving_text}"
                ),
                Some(format!("withdraw {best_next}")),
            ),
            (Phase::Acting, Step::Withdraw) => (
                format!(
                    "withdrawing {metro}'s advertisement: a real change at its router, verified against BGP and audited"
                ),
                None,
            ),
            (Phase::Waiting, Step::Withdraw) => (
                format!("{metro} withdrawn and verified; waiting for the address's next answer…"),
                None,
            ),
            (Phase::Ready { moved, .. }, Step::Withdraw) => (
                if *moved {
                    format!("{metro} withdrawn: the same address is now served from {serving_text}")
                } else {
                    format!("{metro} withdrawn, but the address is still served from {serving_text}")
                },
                Some("hold".to_string()),
            ),
            (_, Step::Hold) => (
                format!(
                    "{metro} stays withdrawn; the viewer is served from {serving_text}",
                    metro = self.withdrawn.as_deref().unwrap_or("nothing")
                ),
                self.withdrawn.as_ref().map(|m| format!("restore {m}")),
            ),
            (Phase::Acting, Step::Restore) => (
                format!("restoring {metro}'s advertisement…"),
                None,
            ),
            (Phase::Waiting, Step::Restore) => (
                format!("{metro} restored and verified; waiting for the address's next answer…"),
                None,
            ),
            (Phase::Ready { moved, .. }, Step::Restore) => (
                match (&self.metro, moved) {
                    (Some(m), true) => format!("{m} restored: the viewer is served from {serving_text} again"),
                    (Some(m), false) => format!("{m} restored; the address is served from {serving_text}"),
                    (None, _) => "nothing to restore".to_string(),
                },
                Some(format!("withdraw {best_next} again")),
            ),
        };
        Caption {
            heading,
            text,
            next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_000_000 + s)
    }

    fn facts(served: Option<(&str, f64)>, best: &str, advertising: &[&str]) -> Facts {
        Facts {
            best: Some(best.to_string()),
            advertising: advertising.iter().map(|s| s.to_string()).collect(),
            served_by: served.map(|(b, _)| b.to_string()),
            figure: served.map(|(_, ms)| ms),
            change: None,
            busy: false,
            read_only: false,
            names: vec![
                ("am".into(), "Amsterdam".into()),
                ("da".into(), "Dallas".into()),
            ],
        }
    }

    fn done(metro: &str, action: ActionKind, verdict: Verdict) -> Outcome {
        Outcome {
            metro: metro.into(),
            action,
            method: "disable".into(),
            verdict,
            message: format!("{metro} {}: {}", action.verb(), verdict.word()),
            converged_ms: Some(0.5),
            best_after: None,
        }
    }

    fn req(metro: &str, action: ActionKind) -> Request {
        Request {
            metro: metro.into(),
            action,
            force: false,
        }
    }

    #[test]
    fn the_story_by_the_space_bar() {
        let mut d = Demo::new(None);
        let probing = facts(None, "am", &["am", "da"]);
        assert_eq!(d.observe(&probing, at(0)), None);
        assert_eq!(d.phase, Phase::Waiting);
        assert!(d.next(&probing, at(0)).is_err(), "no figure yet");
        assert!(d.caption(&probing).text.contains("probing"));

        let on_am = facts(Some(("am", 73.0)), "am", &["am", "da"]);
        d.observe(&on_am, at(1));
        assert!(matches!(d.phase, Phase::Ready { .. }));
        let c = d.caption(&on_am);
        assert_eq!(c.heading, "1/4 warm-up");
        assert!(c.text.contains("Amsterdam (am) at 73 ms"), "{c:?}");
        assert_eq!(c.next.as_deref(), Some("withdraw am"));

        // Space: the best metro is withdrawn, for real.
        assert_eq!(
            d.next(&on_am, at(2)),
            Ok(Some(req("am", ActionKind::Withdraw)))
        );
        assert_eq!((d.step, &d.phase), (Step::Withdraw, &Phase::Acting));
        assert!(d.next(&on_am, at(2)).is_err(), "still running");
        d.on_done(&done("am", ActionKind::Withdraw, Verdict::Ok), at(2));
        assert_eq!(d.phase, Phase::Waiting);
        assert_eq!(d.withdrawn.as_deref(), Some("am"));
        // Still the old figure: not yet shown.
        d.observe(&on_am, at(2));
        assert_eq!(d.phase, Phase::Waiting);
        let mut on_da = facts(Some(("da", 303.0)), "da", &["da"]);
        on_da.change = Some("+230 ms, 4.2x".into());
        d.observe(&on_da, at(3));
        assert!(matches!(d.phase, Phase::Ready { moved: true, .. }));
        let c = d.caption(&on_da);
        assert!(
            c.text
                .contains("now served from Dallas (da) at 303 ms (+230 ms, 4.2x)"),
            "{c:?}"
        );

        assert_eq!(d.next(&on_da, at(4)), Ok(None));
        assert_eq!(d.step, Step::Hold);
        assert_eq!(d.caption(&on_da).next.as_deref(), Some("restore am"));

        assert_eq!(
            d.next(&on_da, at(5)),
            Ok(Some(req("am", ActionKind::Restore)))
        );
        d.on_done(&done("am", ActionKind::Restore, Verdict::Ok), at(5));
        assert_eq!(d.withdrawn, None);
        let back = facts(Some(("am", 72.0)), "am", &["am", "da"]);
        d.observe(&back, at(6));
        let c = d.caption(&back);
        assert_eq!(c.heading, "4/4 restore");
        assert!(
            c.text
                .contains("am restored: the viewer is served from Amsterdam (am) at 72 ms again"),
            "{c:?}"
        );
        // And round again.
        assert_eq!(
            d.next(&back, at(7)),
            Ok(Some(req("am", ActionKind::Withdraw)))
        );
        assert_eq!(d.round, 2);
    }

    #[test]
    fn auto_moves_on_only_after_a_step_is_shown_for_its_seconds() {
        let mut d = Demo::new(Some(Duration::from_secs(4)));
        let on_am = facts(Some(("am", 73.0)), "am", &["am", "da"]);
        assert_eq!(d.observe(&on_am, at(10)), None, "shown from now");
        assert_eq!(d.auto_in(at(11)), Some(3));
        assert_eq!(d.observe(&on_am, at(13)), None);
        assert_eq!(
            d.observe(&on_am, at(14)),
            Some(req("am", ActionKind::Withdraw))
        );
        // Acting and waiting never time out into the next step.
        assert_eq!(d.observe(&on_am, at(30)), None);
        d.on_done(&done("am", ActionKind::Withdraw, Verdict::Ok), at(30));
        assert_eq!(d.observe(&on_am, at(31)), None, "old figure: waiting");
        let on_da = facts(Some(("da", 303.0)), "da", &["da"]);
        assert_eq!(d.observe(&on_da, at(32)), None);
        assert_eq!(d.observe(&on_da, at(36)), None, "to hold");
        assert_eq!(d.step, Step::Hold);
        // A busy console holds the story back.
        let mut busy = on_da.clone();
        busy.busy = true;
        assert_eq!(d.observe(&busy, at(50)), None);
        assert_eq!(
            d.observe(&on_da, at(50)),
            Some(req("am", ActionKind::Restore))
        );
    }

    #[test]
    fn a_figure_that_never_moves_is_shown_after_the_settle_limit() {
        let mut d = Demo::new(None);
        let on_am = facts(Some(("am", 73.0)), "am", &["am", "da"]);
        d.observe(&on_am, at(0));
        d.next(&on_am, at(1)).unwrap();
        d.on_done(&done("am", ActionKind::Withdraw, Verdict::Ok), at(1));
        d.observe(&on_am, at(5));
        assert_eq!(d.phase, Phase::Waiting);
        d.observe(&on_am, at(6));
        assert!(matches!(d.phase, Phase::Ready { moved: false, .. }));
        assert!(d
            .caption(&on_am)
            .text
            .contains("am withdrawn, but the address is still served from Amsterdam"));
    }

    #[test]
    fn refusals_and_failures_are_shown_and_tried_again() {
        let mut d = Demo::new(None);
        let alone = facts(Some(("am", 73.0)), "am", &["am"]);
        d.observe(&alone, at(0));
        assert_eq!(d.next(&alone, at(1)), Ok(None));
        let c = d.caption(&alone);
        assert!(c.text.contains("only am advertises"), "{c:?}");
        assert_eq!(c.next.as_deref(), Some("try again"));

        let both = facts(Some(("am", 73.0)), "am", &["am", "da"]);
        let mut ro = both.clone();
        ro.read_only = true;
        assert_eq!(d.next(&ro, at(2)), Ok(None));
        assert!(d.caption(&ro).text.contains("read-only"));

        // The interlock refuses (another process holds the lock): nothing withdrawn.
        assert_eq!(
            d.next(&both, at(3)),
            Ok(Some(req("am", ActionKind::Withdraw)))
        );
        d.on_done(&done("am", ActionKind::Withdraw, Verdict::Refused), at(3));
        assert!(matches!(d.phase, Phase::Failed { .. }));
        assert_eq!(d.withdrawn, None);
        // Not verified: it may be withdrawn, so quitting restores it.
        d.next(&both, at(4)).unwrap();
        d.on_done(&done("am", ActionKind::Withdraw, Verdict::Failed), at(4));
        assert_eq!(d.withdrawn.as_deref(), Some("am"));
        assert_eq!(
            d.restore_before_quitting(),
            Some(req("am", ActionKind::Restore))
        );
        assert_eq!(d.restore_before_quitting(), None, "once");
    }

    #[test]
    fn another_process_outcome_is_not_the_demo_step() {
        let mut d = Demo::new(None);
        let on_am = facts(Some(("am", 73.0)), "am", &["am", "da"]);
        d.observe(&on_am, at(0));
        d.next(&on_am, at(1)).unwrap();
        d.on_done(&done("da", ActionKind::Withdraw, Verdict::Ok), at(2));
        assert_eq!(d.phase, Phase::Acting);
        d.on_done(&done("am", ActionKind::Restore, Verdict::Ok), at(2));
        assert_eq!(d.phase, Phase::Acting);
        assert_eq!(d.restore_before_quitting().map(|r| r.metro), None);
    }
}
