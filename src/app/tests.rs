use crossterm::event::KeyCode;

use super::testing::{am_withdrawn, at, code, config, key, snapshot, state};
use super::*;
use crate::domain::journal::{AuditRecord, Journal, Phase, Unfinished, Verdict, Via};
use crate::domain::{ActionKind, Desired, Level, Outcome, Request, Snapshot};

fn both_up() -> Msg {
    Msg::Snapshot(snapshot(1, &[("am", Ok(true)), ("da", Ok(true))]))
}

fn withdraw(metro: &str, force: bool) -> Effect {
    Effect::Execute(Request {
        metro: metro.into(),
        action: ActionKind::Withdraw,
        force,
    })
}

#[test]
fn w_then_y_on_am_yields_withdraw_of_am() {
    let mut s = state(false);
    update(&mut s, both_up());
    assert!(update(&mut s, Msg::Key(key('w'))).is_empty());
    match &s.mode {
        Mode::Confirm(p) => {
            assert_eq!(p.request.metro, "am");
            assert_eq!(p.consequence, "anycast will be served from da");
            assert!(!p.needs_force);
        }
        other => panic!("expected a confirmation, got {other:?}"),
    }
    assert_eq!(
        update(&mut s, Msg::Key(key('y'))),
        vec![withdraw("am", false)]
    );
    assert_eq!(s.mode, Mode::Normal);
    assert!(s.busy.is_some());
}

#[test]
fn enter_confirms_and_escape_cancels() {
    let mut s = state(false);
    update(&mut s, both_up());
    update(&mut s, Msg::Key(key('j')));
    update(&mut s, Msg::Key(key('w')));
    assert_eq!(update(&mut s, Msg::Key(code(KeyCode::Esc))), vec![]);
    assert_eq!(s.mode, Mode::Normal);
    update(&mut s, Msg::Key(key('w')));
    // da is not the best path: the consequence says anycast stays where it is.
    match &s.mode {
        Mode::Confirm(p) => assert_eq!(p.consequence, "anycast stays on am"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        update(&mut s, Msg::Key(code(KeyCode::Enter))),
        vec![withdraw("da", false)]
    );
}

#[test]
fn other_keys_in_the_dialog_do_nothing() {
    let mut s = state(false);
    update(&mut s, both_up());
    update(&mut s, Msg::Key(key('w')));
    assert!(update(&mut s, Msg::Key(key('x'))).is_empty());
    assert!(update(&mut s, Msg::Key(key('w'))).is_empty());
    assert!(matches!(s.mode, Mode::Confirm(_)));
}

#[test]
fn read_only_refuses_visibly() {
    let mut s = state(true);
    update(&mut s, both_up());
    assert!(update(&mut s, Msg::Key(key('w'))).is_empty());
    assert_eq!(s.mode, Mode::Normal);
    let last = s.events.back().expect("an event");
    assert_eq!(last.level, Level::Warn);
    assert!(
        last.text.contains("read-only mode: withdraw of am refused"),
        "{}",
        last.text
    );
    assert!(update(&mut s, Msg::Key(key('r'))).is_empty());
}

#[test]
fn last_advertising_metro_needs_force() {
    let mut s = am_withdrawn();
    update(&mut s, Msg::Key(key('j')));
    update(&mut s, Msg::Key(key('w')));
    match &s.mode {
        Mode::Confirm(p) => {
            assert!(p.needs_force);
            assert!(
                p.consequence.contains("LAST advertising metro"),
                "{}",
                p.consequence
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        update(&mut s, Msg::Key(key('y'))).is_empty(),
        "y must not withdraw the last metro"
    );
    match &s.mode {
        Mode::Confirm(p) => assert!(
            p.note
                .as_deref()
                .is_some_and(|n| n.contains("Only F (twice) does")),
            "y says why it did nothing: {p:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        update(&mut s, Msg::Key(key('F'))).is_empty(),
        "F asks once more"
    );
    match &s.mode {
        Mode::Confirm(p) => {
            assert!(p.forced_once && p.note.as_deref().is_some_and(|n| n.starts_with("Sure?")))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        update(&mut s, Msg::Key(key('F'))),
        vec![withdraw("da", true)]
    );
}

#[test]
fn the_restore_dialog_says_where_anycast_will_go() {
    // am (LOCAL_PREF 9930) was seen before it was withdrawn; da (9700) serves now.
    let mut s = state(false);
    update(&mut s, both_up());
    update(
        &mut s,
        Msg::Snapshot(snapshot(2, &[("am", Ok(false)), ("da", Ok(true))])),
    );
    update(&mut s, Msg::Key(key('r')));
    match &s.mode {
        Mode::Confirm(p) => assert_eq!(p.consequence, "anycast will move from da to am"),
        other => panic!("{other:?}"),
    }
    update(&mut s, Msg::Key(key('n')));
    // da restored while am serves: da is a fallback.
    update(
        &mut s,
        Msg::Snapshot(snapshot(3, &[("am", Ok(true)), ("da", Ok(false))])),
    );
    update(&mut s, Msg::Key(key('j')));
    update(&mut s, Msg::Key(key('r')));
    match &s.mode {
        Mode::Confirm(p) => {
            assert_eq!(p.consequence, "anycast stays on am; da becomes a fallback")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn selection_stays_in_bounds() {
    let mut s = state(false);
    update(&mut s, Msg::Key(key('k')));
    assert_eq!(s.selected, 0);
    update(&mut s, Msg::Key(code(KeyCode::Down)));
    update(&mut s, Msg::Key(code(KeyCode::Down)));
    assert_eq!(s.selected, 1);
    update(&mut s, Msg::Key(code(KeyCode::Up)));
    assert_eq!(s.selected, 0);
}

#[test]
fn restore_asks_then_executes() {
    let mut s = am_withdrawn();
    update(&mut s, Msg::Key(key('r')));
    assert_eq!(
        update(&mut s, Msg::Key(key('y'))),
        vec![Effect::Execute(Request {
            metro: "am".into(),
            action: ActionKind::Restore,
            force: false
        })]
    );
}

#[test]
fn no_second_action_while_one_runs() {
    let mut s = state(false);
    update(&mut s, both_up());
    update(&mut s, Msg::Key(key('w')));
    update(&mut s, Msg::Key(key('y')));
    update(&mut s, Msg::Key(key('j')));
    update(&mut s, Msg::Key(key('w')));
    assert_eq!(s.mode, Mode::Normal, "busy: no dialog");
    let outcome = Outcome {
        metro: "am".into(),
        action: ActionKind::Withdraw,
        method: "disable".into(),
        verdict: Verdict::Ok,
        message: "am withdrawn, verified in 0.5 ms; anycast now via da".into(),
        converged_ms: Some(0.5),
        best_after: Some("da".into()),
    };
    // The route moved: the anycast address is probed at once, not at its next tick.
    assert_eq!(
        update(&mut s, Msg::Done(outcome)),
        vec![Effect::ProbeNow, Effect::Refresh]
    );
    assert!(s.busy.is_none());
    assert_eq!(s.desired.get("am"), Some(&Desired::Withdrawn));
    assert_eq!(s.events.back().map(|e| e.level), Some(Level::Good));
}

#[test]
fn failed_action_is_an_error_event() {
    let mut s = state(false);
    let outcome = Outcome {
        metro: "am".into(),
        action: ActionKind::Restore,
        method: "disable".into(),
        verdict: Verdict::Failed,
        message: "restore of am not verified after 10s: am still exports nothing".into(),
        converged_ms: None,
        best_after: None,
    };
    update(&mut s, Msg::Done(outcome));
    let e = s.events.back().expect("event");
    assert_eq!(e.level, Level::Error);
    assert_eq!(
        e.text,
        "restore of am not verified after 10s: am still exports nothing"
    );
    assert!(
        s.desired.is_empty(),
        "a failed action does not change the desired state"
    );
}

#[test]
fn a_silent_observer_is_no_event_of_a_moved_or_lost_path() {
    let mut s = state(false);
    update(&mut s, both_up());
    let mut silent = snapshot(2, &[("am", Ok(true)), ("da", Ok(true))]);
    silent.observer = Some(Err("router silent: no reply within 1s".into()));
    update(&mut s, Msg::Snapshot(silent));
    let texts: Vec<&str> = s.events.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts, ["observer: router silent: no reply within 1s"]);
    assert_eq!(
        crate::domain::best_path(s.observer.as_ref()),
        BestPath::Unknown
    );
    // Back, same path: nothing moved.
    update(
        &mut s,
        Msg::Snapshot(snapshot(3, &[("am", Ok(true)), ("da", Ok(true))])),
    );
    let texts: Vec<&str> = s.events.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts[1..], ["observer reachable again"]);
}

#[test]
fn a_best_path_via_a_foreign_peer_is_named() {
    let mut s = state(false);
    update(&mut s, both_up());
    let mut snap = snapshot(2, &[("am", Ok(true)), ("da", Ok(true))]);
    if let Some(Ok(view)) = snap.observer.as_mut() {
        for r in &mut view.routes {
            r.best = false;
        }
        view.routes.insert(
            0,
            crate::domain::ObservedRoute {
                metro: None,
                protocol: "transit1".into(),
                best: true,
                local_pref: Some(20_000),
            },
        );
    }
    update(&mut s, Msg::Snapshot(snap));
    assert_eq!(s.best(), None);
    assert_eq!(s.best_peer(), Some("transit1"));
    let texts: Vec<&str> = s.events.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(
        texts,
        ["anycast now via peer transit1, not a configured metro (was am)"]
    );
}

#[test]
fn problems_are_events_once() {
    let mut s = state(false);
    let mut snap = snapshot(1, &[("am", Ok(true)), ("da", Ok(true))]);
    if let Ok(r) = snap.metros[0].router.as_mut() {
        r.problems = vec!["no protocol `upstrem` at am's BIRD".into()];
    }
    update(&mut s, Msg::Snapshot(snap.clone()));
    snap.taken = at(2);
    update(&mut s, Msg::Snapshot(snap));
    let texts: Vec<&str> = s.events.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts, ["am: no protocol `upstrem` at am's BIRD"]);
}

#[test]
fn snapshots_produce_events_for_moves_and_failures() {
    let mut s = state(false);
    update(&mut s, both_up());
    assert!(s.events.is_empty(), "the first snapshot is the baseline");
    update(
        &mut s,
        Msg::Snapshot(snapshot(2, &[("am", Ok(false)), ("da", Ok(true))])),
    );
    let texts: Vec<&str> = s.events.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "am: no longer advertising 198.18.0.10/32",
            "anycast now via da (was am)"
        ]
    );
    assert_eq!(s.best(), Some("da"));
    assert_eq!(s.advertising(), ["da"]);

    update(
        &mut s,
        Msg::Snapshot(snapshot(
            3,
            &[("am", Err("router unreachable: gone")), ("da", Ok(true))],
        )),
    );
    assert_eq!(s.metros[0].error_since, Some(at(3)));
    assert_eq!(
        s.events.back().map(|e| e.text.as_str()),
        Some("am: router unreachable: gone")
    );
    let n = s.events.len();
    update(
        &mut s,
        Msg::Snapshot(snapshot(
            4,
            &[("am", Err("router unreachable: gone")), ("da", Ok(true))],
        )),
    );
    assert_eq!(s.events.len(), n, "a persisting error is reported once");
    assert_eq!(
        s.metros[0].error_since,
        Some(at(3)),
        "the error keeps its age"
    );
    update(
        &mut s,
        Msg::Snapshot(snapshot(5, &[("am", Ok(true)), ("da", Ok(true))])),
    );
    assert!(s
        .events
        .iter()
        .any(|e| e.text == "am: router reachable again"));
    assert_eq!(s.metros[0].error_since, None);
}

#[test]
fn drift_is_flagged_once() {
    let mut s = state(false);
    s.desired.insert("am".into(), Desired::Withdrawn);
    update(
        &mut s,
        Msg::Snapshot(snapshot(1, &[("am", Ok(false)), ("da", Ok(true))])),
    );
    assert_eq!(s.drift(&s.metros[0]), None);
    // e.g. `birdc configure` re-enabled the origin
    update(
        &mut s,
        Msg::Snapshot(snapshot(2, &[("am", Ok(true)), ("da", Ok(true))])),
    );
    assert_eq!(
        s.drift(&s.metros[0]),
        Some("advertising, but withdrawn was asked")
    );
    let drift_events = |s: &State| s.events.iter().filter(|e| e.text.contains("drift")).count();
    assert_eq!(drift_events(&s), 1);
    update(
        &mut s,
        Msg::Snapshot(snapshot(3, &[("am", Ok(true)), ("da", Ok(true))])),
    );
    assert_eq!(drift_events(&s), 1);
}

#[test]
fn help_opens_and_any_key_closes() {
    let mut s = state(false);
    update(&mut s, Msg::Key(key('?')));
    assert_eq!(s.mode, Mode::Help);
    assert!(update(&mut s, Msg::Key(key('w'))).is_empty());
    assert_eq!(s.mode, Mode::Normal);
}

#[test]
fn q_quits() {
    let mut s = state(false);
    assert_eq!(update(&mut s, Msg::Key(key('q'))), vec![Effect::Quit]);
}

#[test]
fn quitting_during_an_action_finishes_it_first_and_twice_interrupts_it() {
    let mut s = state(false);
    update(&mut s, both_up());
    update(&mut s, Msg::Key(key('w')));
    update(&mut s, Msg::Key(key('y')));
    assert!(
        update(&mut s, Msg::Key(key('q'))).is_empty(),
        "waits for the action"
    );
    assert!(s.quitting);
    assert_eq!(
        s.events.back().map(|e| e.text.as_str()),
        Some("finishing withdraw am… before quitting; quit again to interrupt it")
    );
    assert_eq!(update(&mut s, Msg::Key(key('q'))), vec![Effect::Interrupt]);
    let outcome = Outcome {
        metro: "am".into(),
        action: ActionKind::Withdraw,
        method: "command".into(),
        verdict: Verdict::Interrupted,
        message:
            "withdraw of am interrupted: quit while the command ran; stopped it; am is advertising"
                .into(),
        converged_ms: None,
        best_after: None,
    };
    assert_eq!(update(&mut s, Msg::Done(outcome)), vec![Effect::Quit]);
    assert_eq!(s.events.back().map(|e| e.level), Some(Level::Warn));
}

fn record(pid: u32, phase: Phase, metro: &str, result: Option<&str>) -> AuditRecord {
    AuditRecord {
        time: "2026-11-29T12:03:01.000Z".into(),
        id: "1-4711-0".into(),
        phase,
        user: "root".into(),
        ssh: None,
        pid,
        via: Some(Via::Cli),
        metro: metro.into(),
        action: ActionKind::Withdraw.into(),
        method: "disable".into(),
        force: false,
        result: result.map(str::to_string),
        detail: None,
        convergence_ms: result.map(|_| 0.6),
        best_after: None,
        lock_wait_ms: None,
        desired: None,
    }
}

fn with_journal(mut snap: Snapshot, journal: Journal) -> Msg {
    snap.journal = Some(journal);
    Msg::Snapshot(snap)
}

#[test]
fn another_process_withdrawing_is_an_event_not_drift() {
    let mut s = state(false);
    s.own_pid = 1;
    s.desired.insert("da".into(), Desired::Advertised);
    update(&mut s, both_up());
    // The command line's withdraw is in flight: its intent is unanswered, the lock held.
    let running = Journal {
        desired: Ok(BTreeMap::from([("da".to_string(), Desired::Advertised)])),
        records: vec![record(4711, Phase::Intent, "da", None)],
        unfinished: Some(Unfinished {
            intent: record(4711, Phase::Intent, "da", None),
            running: true,
        }),
        settled: true,
    };
    update(
        &mut s,
        with_journal(snapshot(2, &[("am", Ok(true)), ("da", Ok(false))]), running),
    );
    let da = s.metros.iter().find(|m| m.name == "da").expect("da");
    assert_eq!(s.drift(da), None, "an action in flight is not drift");
    // The action's own events tell the story; the poll adds no "no longer advertising".
    let texts: Vec<&str> = s.events.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(
        texts.last(),
        Some(&"withdraw of da started by root from the command line (pid 4711)")
    );
    let done = Journal {
        desired: Ok(BTreeMap::from([("da".to_string(), Desired::Withdrawn)])),
        records: vec![record(4711, Phase::Outcome, "da", Some("ok"))],
        unfinished: None,
        settled: true,
    };
    update(
        &mut s,
        with_journal(snapshot(3, &[("am", Ok(true)), ("da", Ok(false))]), done),
    );
    let da = s.metros.iter().find(|m| m.name == "da").expect("da");
    assert_eq!(s.drift(da), None);
    assert_eq!(s.desired.get("da"), Some(&Desired::Withdrawn));
    assert!(
        !s.events.iter().any(|e| e.text.contains("drift")),
        "{:?}",
        s.events
    );
    assert_eq!(
        s.events.back().map(|e| e.text.as_str()),
        Some("da withdrawn by root from the command line, verified in 0.6 ms")
    );
    // Its own records are not news: the outcome already came as `Done`.
    let own = Journal {
        desired: Ok(BTreeMap::new()),
        records: vec![record(1, Phase::Outcome, "am", Some("ok"))],
        unfinished: None,
        settled: true,
    };
    let before = s.events.len();
    update(
        &mut s,
        with_journal(snapshot(4, &[("am", Ok(true)), ("da", Ok(false))]), own),
    );
    assert_eq!(s.events.len(), before);
}

#[test]
fn an_abandoned_action_is_reported_once_with_the_state_found() {
    let mut s = state(false);
    let abandoned = || Journal {
        desired: Ok(BTreeMap::new()),
        records: Vec::new(),
        unfinished: Some(Unfinished {
            intent: record(4711, Phase::Intent, "am", None),
            running: false,
        }),
        settled: true,
    };
    update(
        &mut s,
        with_journal(
            snapshot(1, &[("am", Ok(false)), ("da", Ok(true))]),
            abandoned(),
        ),
    );
    let text = "withdraw of am by root at 12:03:01 (command line, pid 4711) has no recorded outcome; current state: withdrawn";
    assert_eq!(s.events.back().map(|e| e.text.as_str()), Some(text));
    let am = s.metros.iter().find(|m| m.name == "am").expect("am");
    assert_eq!(s.unfinished_note(am).as_deref(), Some(text));
    update(
        &mut s,
        with_journal(
            snapshot(2, &[("am", Ok(false)), ("da", Ok(true))]),
            abandoned(),
        ),
    );
    assert_eq!(s.events.iter().filter(|e| e.text == text).count(), 1);
}

#[test]
fn an_unsettled_journal_judges_no_drift() {
    let mut s = state(false);
    update(&mut s, both_up());
    let unsettled = Journal {
        desired: Ok(BTreeMap::from([("am".to_string(), Desired::Withdrawn)])),
        records: Vec::new(),
        unfinished: None,
        settled: false,
    };
    update(
        &mut s,
        with_journal(
            snapshot(2, &[("am", Ok(true)), ("da", Ok(true))]),
            unsettled,
        ),
    );
    let am = s.metros.first().expect("am");
    assert_eq!(s.drift(am), None);
    assert!(!s.events.iter().any(|e| e.text.contains("drift")));
}

#[test]
fn tick_moves_the_clock_only() {
    let mut s = state(false);
    assert!(update(&mut s, Msg::Tick(at(42))).is_empty());
    assert_eq!(s.now, at(42));
}

mod latency_and_nomad {
    use super::super::testing::{at, nomad, probe_history, sample, snapshot, state};
    use super::super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn key(c: char) -> Msg {
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
    }
    fn code(c: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
    }

    /// A console that has had `n` seconds of probes, anycast served by am.
    fn served_by_am_for(n: u64) -> State {
        let mut s = state(false);
        probe_history(&mut s, 0, n, "am");
        s
    }

    #[test]
    fn a_change_of_serving_metro_is_an_event_with_both_latencies_and_a_marker() {
        let mut s = served_by_am_for(5);
        assert_eq!(
            s.latency_row("anycast")
                .and_then(|r| r.served_by.clone())
                .as_deref(),
            Some("am")
        );
        assert!(s.events.is_empty());
        anycast(&mut s, 5, Some(301.0), Some("da"));
        let e = s.events.back().expect("event");
        assert_eq!(e.text, "anycast now served by da (was am): 73 ms → 301 ms");
        assert_eq!(
            s.markers.last().map(|m| m.label.as_str()),
            Some("served by da")
        );
    }

    fn anycast(s: &mut State, secs: u64, ttfb: Option<f64>, by: Option<&str>) {
        update(
            s,
            Msg::Probe {
                target: "anycast".into(),
                sample: sample(secs, secs, ttfb, by),
            },
        );
    }

    #[test]
    fn a_dead_address_never_shows_a_healthy_figure_and_its_failure_is_an_event() {
        use super::super::latency::Health;
        let mut s = state(false);
        update(
            &mut s,
            Msg::Snapshot(snapshot(1, &[("am", Ok(true)), ("da", Ok(true))])),
        );
        for t in 2..6 {
            anycast(&mut s, t, Some(73.0), Some("am"));
        }
        assert!(matches!(
            s.anycast_health(),
            Some(Health::Answering { lost: 0, .. })
        ));
        anycast(&mut s, 6, None, None);
        assert!(
            matches!(s.anycast_health(), Some(Health::Answering { lost: 1, .. })),
            "one loss is not yet failing"
        );
        anycast(&mut s, 7, None, None);
        assert_eq!(
            s.anycast_health(),
            Some(Health::Failing {
                since: at(6),
                lost: 2
            })
        );
        assert_eq!(
            s.events.back().map(|e| (e.level, e.text.as_str())),
            Some((
                Level::Error,
                "anycast address failing: the last 2 probes were lost; last answer 73 ms via am"
            ))
        );
        anycast(&mut s, 8, None, None);
        assert_eq!(
            s.events
                .iter()
                .filter(|e| e.text.contains("failing"))
                .count(),
            1,
            "one event per failure"
        );
        // Served again, by da now: the switch's "before" is the loss, not a stale 73 ms.
        anycast(&mut s, 9, Some(301.0), Some("da"));
        let texts: Vec<&str> = s.events.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            texts[texts.len() - 2..],
            [
                "anycast address answering again: 301 ms via da (failed for 3s)",
                "anycast now served by da (was am): lost → 301 ms"
            ]
        );
        // Nothing routes the address: no route, whatever the probes say.
        update(
            &mut s,
            Msg::Snapshot(snapshot(10, &[("am", Ok(false)), ("da", Ok(false))])),
        );
        assert_eq!(s.anycast_health(), Some(Health::NoRoute));
        // A silent observer is not a missing route.
        let mut silent = snapshot(11, &[("am", Ok(true)), ("da", Ok(true))]);
        silent.observer = Some(Err("observer silent: timed out".into()));
        update(&mut s, Msg::Snapshot(silent));
        assert!(s.routed());
    }

    #[test]
    fn the_headline_moves_with_the_first_answer_from_a_new_metro() {
        let mut s = served_by_am_for(20);
        let row = s.latency_row("anycast").expect("row");
        assert!((70.0..73.0).contains(&row.headline().expect("headline")));
        anycast(&mut s, 20, Some(304.0), Some("da"));
        let row = s.latency_row("anycast").expect("row");
        assert_eq!(row.headline(), Some(304.0), "one answer from da is enough");
        assert!(
            row.p50().expect("p50") < 100.0,
            "while the window's p50 still remembers am"
        );
    }

    #[test]
    fn lost_probes_do_not_change_the_serving_metro() {
        let mut s = served_by_am_for(3);
        anycast(&mut s, 3, None, None);
        let row = s.latency_row("anycast").expect("row");
        assert_eq!(row.served_by.as_deref(), Some("am"));
        assert_eq!(row.stats.window().loss_pct, 25.0);
        assert_eq!(row.series.back().map(|(_, v)| *v), Some(None));
    }

    #[test]
    fn served_by_is_inferred_from_latency_without_the_header() {
        let mut s = served_by_am_for(5);
        anycast(&mut s, 5, Some(299.0), None);
        let row = s.latency_row("anycast").expect("row");
        assert_eq!(row.served_by.as_deref(), Some("da"));
        assert!(row.inferred);
    }

    #[test]
    fn chart_keys_freeze_zoom_and_toggle() {
        let mut s = state(false);
        update(&mut s, key('2'));
        assert_eq!(s.view, View::Latency);
        update(&mut s, Msg::Tick(super::super::testing::at(50)));
        update(&mut s, key('f'));
        assert_eq!(s.chart.frozen_at, Some(super::super::testing::at(50)));
        update(&mut s, key('f'));
        assert_eq!(s.chart.frozen_at, None);
        let w = s.chart.window_secs;
        update(&mut s, key('+'));
        assert_eq!(s.chart.window_secs, 60);
        update(&mut s, key('-'));
        assert_eq!(
            s.chart.window_secs, w,
            "zooming back returns where it started"
        );
        update(&mut s, key('-'));
        assert_eq!(s.chart.window_secs, 300);
        update(&mut s, key('+'));
        assert_eq!(s.chart.window_secs, w);
        for _ in 0..10 {
            update(&mut s, key('-'));
        }
        assert_eq!(s.chart.window_secs, latency::MAX_WINDOW_SECS);
        for _ in 0..10 {
            update(&mut s, key('+'));
        }
        assert_eq!(s.chart.window_secs, latency::MIN_WINDOW_SECS);
        update(&mut s, key('a'));
        assert!(s.chart.all_metros);
        update(&mut s, code(KeyCode::Tab));
        assert_eq!(s.view, View::Nomad);
        update(&mut s, code(KeyCode::Tab));
        assert_eq!(s.view, View::Provision);
        update(&mut s, code(KeyCode::Tab));
        assert_eq!(s.view, View::Deploy);
        update(&mut s, code(KeyCode::Tab));
        assert_eq!(s.view, View::Anycast);
        update(&mut s, code(KeyCode::Tab));
        assert_eq!(s.view, View::Overview);
        update(&mut s, key('6'));
        assert_eq!(s.view, View::Anycast);
    }

    fn nomad_state() -> State {
        let mut s = state(false);
        update(
            &mut s,
            Msg::Snapshot(snapshot(1, &[("am", Ok(true)), ("da", Ok(true))])),
        );
        super::super::testing::with_nomad(&mut s);
        update(&mut s, key('3'));
        s
    }

    /// Snapshots that change some allocations (as the event stream does: rows replaced,
    /// moved by a removal, added), in every sort and with a filter: the rows on screen
    /// are those a fresh sort of every row gives.
    #[test]
    fn a_changed_snapshot_leaves_the_rows_a_fresh_sort_gives() {
        use crate::domain::nomad::ClientStatus;
        use std::sync::Arc;
        let statuses = ["running", "failed", "pending", "complete", "lost"];
        let mut seed = 7u64;
        let mut next = move |n: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize % n.max(1)
        };
        for sort in 0..5 {
            for filter in ["", "web[1"] {
                let mut s = nomad_state();
                for (m, n) in [("am", 700), ("da", 300)] {
                    let st: Vec<&str> = (0..n).map(|i| statuses[i % 5]).collect();
                    update(
                        &mut s,
                        Msg::Nomad {
                            metro: m.into(),
                            snapshot: nomad(m, &st, None),
                        },
                    );
                }
                for _ in 0..sort {
                    s.nomad_view.sort = s.nomad_view.sort.next();
                }
                s.nomad_view.filter = tui_input::Input::new(filter.to_string());
                nomad::refresh_rows(&mut s);
                for round in 0..30 {
                    let mi = next(2);
                    let mut snap = s.metros[mi].nomad.clone().expect("nomad");
                    let list = Arc::make_mut(snap.allocs.value.as_mut().expect("allocs"));
                    for _ in 0..1 + next(round % 7 * 10 + 1) {
                        let i = next(list.rows.len());
                        match next(4) {
                            0 => {
                                list.swap_remove(i);
                            }
                            1 => {
                                let mut a = list.rows[i].clone();
                                a.id = format!("new-{round}-{i}").into();
                                a.name = format!("spin-app.web[{}]", next(2000)).into();
                                list.push(a);
                            }
                            _ => {
                                let mut a = list.rows[i].clone();
                                a.client = ClientStatus::parse(statuses[next(5)]);
                                a.restarts = Some(next(3) as u32);
                                a.create_time = next(50) as i64;
                                list.replace(i, a);
                            }
                        }
                    }
                    let metro = s.metros[mi].name.clone();
                    update(
                        &mut s,
                        Msg::Nomad {
                            metro,
                            snapshot: snap,
                        },
                    );
                    let mut fresh = s.clone();
                    nomad::refresh_rows(&mut fresh);
                    assert_eq!(
                        s.nomad_view.rows, fresh.nomad_view.rows,
                        "sort {:?}, filter {filter:?}, round {round}",
                        s.nomad_view.sort
                    );
                    assert_eq!(s.nomad_view.jobs, fresh.nomad_view.jobs);
                }
            }
        }
    }

    #[test]
    fn a_failing_allocation_is_an_event() {
        let mut s = nomad_state();
        let n = s.events.len();
        update(
            &mut s,
            Msg::Nomad {
                metro: "am".into(),
                snapshot: nomad("am", &["failed"], None),
            },
        );
        assert_eq!(s.events.len(), n + 1);
        assert_eq!(
            s.events.back().map(|e| (e.level, e.text.as_str())),
            Some((Level::Error, "am: 1 allocation(s) failed"))
        );
        update(
            &mut s,
            Msg::Nomad {
                metro: "am".into(),
                snapshot: nomad("am", &["running"], None),
            },
        );
        assert_eq!(s.events.back().map(|e| e.level), Some(Level::Good));
        update(
            &mut s,
            Msg::Nomad {
                metro: "am".into(),
                snapshot: nomad(
                    "am",
                    &["running"],
                    Some("nomad unreachable: connection refused"),
                ),
            },
        );
        assert_eq!(s.metros[0].nomad_error_since, Some(s.now));
        assert!(s
            .events
            .back()
            .is_some_and(|e| e.text.contains("nomad unreachable")));
    }

    #[test]
    fn rows_filter_sort_and_pick_a_metro() {
        let mut s = nomad_state();
        assert_eq!(nomad::alloc_rows(&s).len(), 3);
        update(&mut s, key('s'));
        update(&mut s, key('s'));
        assert_eq!(s.nomad_view.sort, nomad::SortKey::Status);
        assert_eq!(
            nomad::alloc_rows(&s)[0].1.client.as_str(),
            "failed",
            "bad ones first"
        );
        update(&mut s, key('m'));
        assert_eq!(s.nomad_view.metro.as_deref(), Some("am"));
        assert_eq!(nomad::alloc_rows(&s).len(), 1);
        update(&mut s, key('m'));
        update(&mut s, key('m'));
        assert_eq!(s.nomad_view.metro, None, "after the last metro: all again");
        update(&mut s, key('/'));
        assert!(s.nomad_view.editing);
        for c in "fail".chars() {
            update(&mut s, key(c));
        }
        update(&mut s, code(KeyCode::Enter));
        assert!(!s.nomad_view.editing);
        assert_eq!(s.nomad_view.filter.value(), "fail");
        let rows = nomad::alloc_rows(&s);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0, "da");
        // While typing, w is a letter, not a withdraw.
        update(&mut s, key('/'));
        assert!(update(&mut s, key('w')).is_empty());
        assert_eq!(s.mode, Mode::Normal);
        update(&mut s, code(KeyCode::Esc));
        assert_eq!(s.nomad_view.filter.value(), "");
    }

    fn page(c: KeyCode) -> Msg {
        Msg::Key(crossterm::event::KeyEvent::new(
            c,
            crossterm::event::KeyModifiers::NONE,
        ))
    }

    #[test]
    fn logs_scroll_back_hold_still_and_follow_again() {
        let mut s = nomad_state();
        update(&mut s, key('l'));
        let id = s.nomad_view.logs.as_ref().unwrap().alloc_id.clone();
        let log = |s: &mut State, from: usize, to: usize| {
            let text: String = (from..to).map(|i| format!("l{i}\n")).collect();
            update(
                s,
                Msg::Log {
                    alloc_id: id.clone(),
                    stderr: false,
                    chunk: Ok(crate::nomad::logs::LogChunk::Data(text.into_bytes())),
                },
            );
        };
        let scroll = |s: &State| s.nomad_view.logs.as_ref().unwrap().scroll;
        log(&mut s, 0, 50);
        assert_eq!(scroll(&s), 0, "following");
        assert!(update(&mut s, page(KeyCode::PageUp)).is_empty());
        assert_eq!(scroll(&s), nomad::PAGE);
        update(&mut s, code(KeyCode::Up));
        update(&mut s, key('k'));
        assert_eq!(scroll(&s), nomad::PAGE + 2);
        update(&mut s, code(KeyCode::Down));
        assert_eq!(scroll(&s), nomad::PAGE + 1);
        // New lines while scrolled back: the lines on screen stay put.
        log(&mut s, 50, 55);
        assert_eq!(scroll(&s), nomad::PAGE + 6);
        // The selection is not moved while the logs are open.
        assert_eq!(s.nomad_view.selected, 0);
        for _ in 0..20 {
            update(&mut s, page(KeyCode::PageUp));
        }
        assert_eq!(scroll(&s), 54, "at most back to the first line");
        update(&mut s, page(KeyCode::PageDown));
        assert_eq!(scroll(&s), 44);
        update(&mut s, page(KeyCode::End));
        assert_eq!(scroll(&s), 0);
        update(&mut s, page(KeyCode::PageUp));
        update(&mut s, key('G'));
        assert_eq!(scroll(&s), 0, "G follows too");
        // A truncated file starts afresh, following.
        update(&mut s, page(KeyCode::PageUp));
        update(
            &mut s,
            Msg::Log {
                alloc_id: id.clone(),
                stderr: false,
                chunk: Ok(crate::nomad::logs::LogChunk::Reset("file truncated".into())),
            },
        );
        assert_eq!(scroll(&s), 0);
        // Lines are made visible on the way in.
        log(&mut s, 0, 0);
        update(
            &mut s,
            Msg::Log {
                alloc_id: id,
                stderr: false,
                chunk: Ok(crate::nomad::logs::LogChunk::Data(
                    b"\x1b]2;PWNED\x07 red\r\n".to_vec(),
                )),
            },
        );
        assert_eq!(
            s.nomad_view
                .logs
                .as_ref()
                .unwrap()
                .lines
                .back()
                .map(String::as_str),
            Some("\\x1b]2;PWNED\\x07 red")
        );
        // Remapped keys work the same.
        let cfg_keys = crate::config::keymap::Keymap::default();
        assert_eq!(
            cfg_keys.command_for(&crossterm::event::KeyEvent::new(
                KeyCode::PageUp,
                crossterm::event::KeyModifiers::NONE
            )),
            Some(crate::config::keymap::Command::ScrollBack)
        );
    }

    #[test]
    fn page_keys_move_the_allocation_selection() {
        let mut s = nomad_state();
        let many: Vec<&str> = vec!["running"; 25];
        update(
            &mut s,
            Msg::Nomad {
                metro: "am".into(),
                snapshot: nomad("am", &many, None),
            },
        );
        assert_eq!(nomad::alloc_rows(&s).len(), 27);
        update(&mut s, page(KeyCode::PageDown));
        assert_eq!(s.nomad_view.selected, nomad::PAGE);
        update(&mut s, page(KeyCode::End));
        assert_eq!(s.nomad_view.selected, 26);
        update(&mut s, page(KeyCode::PageDown));
        assert_eq!(s.nomad_view.selected, 26);
        update(&mut s, page(KeyCode::PageUp));
        assert_eq!(s.nomad_view.selected, 16);
        for _ in 0..3 {
            update(&mut s, page(KeyCode::PageUp));
        }
        assert_eq!(s.nomad_view.selected, 0);
    }

    #[test]
    fn the_filter_narrows_jobs_too() {
        let mut s = nomad_state();
        let other = serde_json::json!({"ID": "bindle", "Name": "bindle", "Type": "service",
                                       "Status": "running"});
        let mut snap = nomad("am", &["running"], None);
        let mut jobs: Vec<crate::domain::nomad::JobRow> =
            snap.jobs.value.as_deref().cloned().unwrap_or_default();
        jobs.extend(
            crate::nomad::decode::decode_all::<crate::domain::nomad::JobRow>(
                &serde_json::to_vec(&serde_json::json!([other])).unwrap(),
                crate::nomad::DEFAULT_MAX_BODY,
            )
            .unwrap(),
        );
        snap.jobs.value = Some(std::sync::Arc::new(jobs));
        update(
            &mut s,
            Msg::Nomad {
                metro: "am".into(),
                snapshot: snap,
            },
        );
        assert_eq!(nomad::job_rows(&s).len(), 3);
        update(&mut s, key('/'));
        for c in "bind".chars() {
            update(&mut s, key(c));
        }
        let jobs = nomad::job_rows(&s);
        assert_eq!(jobs.len(), 1);
        assert_eq!((jobs[0].0, &*jobs[0].1.id), ("am", "bindle"));
        assert!(nomad::alloc_rows(&s).is_empty());
        update(&mut s, code(KeyCode::Esc));
        assert_eq!(nomad::job_rows(&s).len(), 3);
    }

    #[test]
    fn replaced_failures_are_no_news_and_unreadable_counts_stay_unknown() {
        use super::super::testing::{alloc_json, nomad_field, nomad_with};
        let mut s = nomad_state();
        let n = s.events.len();
        // da's failed allocation is replaced by a running one: history, not a failure.
        let allocs = vec![
            alloc_json("da", 0, "running", None),
            alloc_json("da", 1, "failed", Some("x")),
            alloc_json("da", 2, "running", None),
        ];
        update(
            &mut s,
            Msg::Nomad {
                metro: "da".into(),
                snapshot: nomad_with("da", allocs),
            },
        );
        assert_eq!(
            s.events.back().map(|e| (e.level, e.text.as_str())),
            Some((Level::Good, "da: allocations recovered (2 running)"))
        );
        assert_eq!(s.events.len(), n + 1);
        let rows = nomad::alloc_rows(&s);
        assert!(rows
            .iter()
            .any(|(_, a)| a.state() == crate::domain::nomad::AllocState::Replaced));
        // A lost allocation is its own news.
        update(
            &mut s,
            Msg::Nomad {
                metro: "da".into(),
                snapshot: nomad_with("da", vec![alloc_json("da", 0, "lost", None)]),
            },
        );
        assert_eq!(
            s.events.back().map(|e| (e.level, e.text.as_str())),
            Some((Level::Error, "da: 1 allocation(s) lost"))
        );
        // Nodes refused: the error names the endpoint, the counts stay unknown.
        update(
            &mut s,
            Msg::Nomad {
                metro: "am".into(),
                snapshot: nomad_field("11-nomad-nodes-403.json"),
            },
        );
        assert!(s
            .events
            .iter()
            .any(|e| e.text == "am: nomad: GET /v1/nodes: 403 Permission denied"));
        let summary = s.metros[0].nomad.as_ref().unwrap().summary();
        assert_eq!(summary.nodes_total, None);
        assert_eq!(summary.allocs.map(|a| a.running), Some(1));
    }

    #[test]
    fn enter_opens_l_follows_o_switches_esc_closes() {
        let mut s = nomad_state();
        update(&mut s, code(KeyCode::Down));
        assert_eq!(s.nomad_view.selected, 1);
        let id = nomad::alloc_rows(&s)[1].1.id.to_string();
        let fx = update(&mut s, code(KeyCode::Enter));
        assert_eq!(
            fx,
            vec![
                Effect::StopLogs,
                Effect::FetchAllocation {
                    metro: "da".into(),
                    id: id.clone()
                }
            ]
        );
        assert!(s.nomad_view.detail.is_some());
        let fx = update(&mut s, key('l'));
        assert_eq!(
            fx,
            vec![
                Effect::StopLogs,
                Effect::FollowLogs {
                    metro: "da".into(),
                    alloc_id: id.clone(),
                    task: "spin".into(),
                    stderr: false
                }
            ]
        );
        update(
            &mut s,
            Msg::Log {
                alloc_id: id.clone(),
                stderr: false,
                chunk: Ok(crate::nomad::logs::LogChunk::Data(b"one\ntw".to_vec())),
            },
        );
        update(
            &mut s,
            Msg::Log {
                alloc_id: id.clone(),
                stderr: false,
                chunk: Ok(crate::nomad::logs::LogChunk::Data(b"o\n".to_vec())),
            },
        );
        assert_eq!(
            s.nomad_view
                .logs
                .as_ref()
                .map(|l| l.lines.iter().cloned().collect::<Vec<_>>()),
            Some(vec!["one".to_string(), "two".to_string()])
        );
        // A chunk of another stream is not mixed in.
        update(
            &mut s,
            Msg::Log {
                alloc_id: id.clone(),
                stderr: true,
                chunk: Ok(crate::nomad::logs::LogChunk::Data(b"x\n".to_vec())),
            },
        );
        assert_eq!(s.nomad_view.logs.as_ref().map(|l| l.lines.len()), Some(2));
        let fx = update(&mut s, key('o'));
        assert_eq!(
            fx,
            vec![
                Effect::StopLogs,
                Effect::FollowLogs {
                    metro: "da".into(),
                    alloc_id: id,
                    task: "spin".into(),
                    stderr: true
                }
            ]
        );
        assert_eq!(update(&mut s, code(KeyCode::Esc)), vec![Effect::StopLogs]);
        assert!(s.nomad_view.logs.is_none());
        assert!(
            s.nomad_view.detail.is_some(),
            "Esc from logs opened on the detail returns to it"
        );
        assert_eq!(s.view, View::Nomad);
        assert!(update(&mut s, code(KeyCode::Esc)).is_empty());
        assert!(s.nomad_view.detail.is_none());
        // Logs opened from the list go back to the list.
        update(&mut s, key('l'));
        assert!(s.nomad_view.logs.is_some() && s.nomad_view.detail.is_none());
        assert_eq!(update(&mut s, code(KeyCode::Esc)), vec![Effect::StopLogs]);
        assert!(s.nomad_view.logs.is_none() && s.nomad_view.detail.is_none());
    }
}

#[test]
fn problems_name_what_is_wrong_and_spare_what_was_asked() {
    let mut s = state(false);
    update(&mut s, both_up());
    assert_eq!(s.problems(), Vec::<String>::new());
    // A router down is wrong, unless its metro was withdrawn as asked (the `command`
    // method stops its daemon).
    update(
        &mut s,
        Msg::Snapshot(snapshot(
            2,
            &[("am", Err("router unreachable: refused")), ("da", Ok(true))],
        )),
    );
    assert_eq!(s.problems(), ["am: router unreachable: refused"]);
    s.desired.insert("am".into(), Desired::Withdrawn);
    assert_eq!(s.problems(), Vec::<String>::new());
    // Drift is wrong.
    update(
        &mut s,
        Msg::Snapshot(snapshot(3, &[("am", Ok(true)), ("da", Ok(true))])),
    );
    assert_eq!(
        s.problems(),
        ["am: DRIFT: advertising, but withdrawn was asked"]
    );
}

#[test]
fn a_stopped_worker_is_shown_where_its_data_was() {
    use super::Worker;
    let mut s = state(false);
    update(&mut s, both_up());
    update(
        &mut s,
        Msg::WorkerStopped {
            worker: Worker::Probe("am".into()),
            error: "it panicked: boom".into(),
        },
    );
    assert_eq!(
        s.latency_row("am").and_then(|r| r.worker_error.as_deref()),
        Some("it panicked: boom")
    );
    assert_eq!(
        s.events.back().map(|e| e.text.as_str()),
        Some("probe worker for am stopped: it panicked: boom")
    );
    assert!(s
        .problems()
        .contains(&"probe worker for am stopped: it panicked: boom".to_string()));
    // The action's task dying frees the console and says its outcome is unknown.
    update(&mut s, Msg::Key(key('w')));
    update(&mut s, Msg::Key(key('y')));
    assert!(s.busy.is_some());
    let effects = update(
        &mut s,
        Msg::WorkerStopped {
            worker: Worker::Action,
            error: "it panicked: x".into(),
        },
    );
    assert_eq!(effects, vec![Effect::Refresh]);
    assert!(s.busy.is_none());
    assert!(s
        .events
        .back()
        .is_some_and(|e| e.text.contains("its outcome is unknown")));
    update(
        &mut s,
        Msg::WorkerStopped {
            worker: Worker::Nomad("da".into()),
            error: "it ended unexpectedly".into(),
        },
    );
    let da = s.metros.iter().find(|m| m.name == "da").expect("da");
    assert!(da
        .nomad
        .as_ref()
        .and_then(|n| n.error.as_deref())
        .is_some_and(|e| e.contains("watcher stopped: it ended unexpectedly")));
}

#[test]
fn a_best_path_moved_elsewhere_probes_at_once() {
    let mut s = state(false);
    assert!(
        update(&mut s, both_up()).is_empty(),
        "the first poll is no move"
    );
    let moved = update(
        &mut s,
        Msg::Snapshot(snapshot(2, &[("am", Ok(false)), ("da", Ok(true))])),
    );
    assert_eq!(moved, vec![Effect::ProbeNow]);
    // Answers from the old metro (in flight, or a data plane behind BGP) ask again, a
    // few times at most; an answer from the new best path ends it.
    let probe = |s: &mut State, t: u64, by: &str| {
        update(
            s,
            Msg::Probe {
                target: "anycast".into(),
                sample: crate::app::testing::sample(t, t, Some(70.0), Some(by)),
            },
        )
    };
    assert_eq!(probe(&mut s, 2, "am"), vec![Effect::ProbeNow]);
    assert_eq!(probe(&mut s, 2, "da"), vec![]);
    assert_eq!(probe(&mut s, 2, "am"), vec![], "not awaiting any more");
    update(
        &mut s,
        Msg::Snapshot(snapshot(3, &[("am", Ok(true)), ("da", Ok(true))])),
    );
    for _ in 0..crate::app::REPROBES {
        assert_eq!(probe(&mut s, 3, "da"), vec![Effect::ProbeNow]);
    }
    assert_eq!(probe(&mut s, 3, "da"), vec![], "bounded");
    let same = update(
        &mut s,
        Msg::Snapshot(snapshot(4, &[("am", Ok(true)), ("da", Ok(true))])),
    );
    assert!(same.is_empty());
}

#[test]
fn a_slow_probe_from_before_a_move_does_not_take_the_figure_back() {
    use crate::app::testing::sample;
    let mut s = state(false);
    update(&mut s, both_up());
    let probe = |s: &mut State, seq: u64, started_ms: u64, ms: f64, by: &str| {
        let mut p = sample(seq, 10, Some(ms), Some(by));
        p.at += std::time::Duration::from_millis(started_ms);
        update(
            s,
            Msg::Probe {
                target: "anycast".into(),
                sample: p,
            },
        );
    };
    probe(&mut s, 0, 0, 303.0, "da");
    // The route moves back to am: a probe begun at 900 ms answers via am at 72 ms, before
    // a probe through da begun at 800 ms answers at 303 ms.
    probe(&mut s, 2, 900, 72.0, "am");
    probe(&mut s, 1, 800, 303.0, "da");
    let row = s.latency_row("anycast").expect("row");
    assert_eq!(row.served_by.as_deref(), Some("am"));
    assert_eq!(row.headline(), Some(72.0));
    assert_eq!(row.runs.back().map(|r| r.by.as_str()), Some("am"));
    assert_eq!(
        row.stats.window().received,
        3,
        "it still counts as a measurement"
    );
    let moves = s
        .events
        .iter()
        .filter(|e| e.text.starts_with("anycast now served by"))
        .count();
    assert_eq!(moves, 1, "one move, to am: {:?}", s.events);
}

#[test]
fn a_changed_config_adds_and_removes_metros_and_keeps_what_is_known() {
    let mut s = state(false);
    update(
        &mut s,
        Msg::Snapshot(snapshot(1, &[("am", Ok(true)), ("da", Ok(true))])),
    );
    s.selected = 1; // da
    let cfg = std::sync::Arc::new(config(&[("da", "Dallas"), ("fr", "Frankfurt")], false));
    let effects = update(&mut s, Msg::ConfigChanged(cfg.clone()));
    assert_eq!(
        effects,
        vec![Effect::Reconfigure(cfg), Effect::Refresh],
        "the runtime follows, and fr is polled at once"
    );
    let names: Vec<&str> = s.metros.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["da", "fr"]);
    assert!(s.metros[0].status.is_some(), "da keeps its last poll");
    assert!(s.metros[1].status.is_none(), "fr is new: nothing known yet");
    assert_eq!(s.selected_metro().map(|m| m.name.as_str()), Some("da"));
    let targets: Vec<&str> = s.latency.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(targets, ["anycast", "da", "fr"]);
    let last = s.events.back().unwrap();
    assert_eq!(last.text, "config reloaded: metros + fr, - am");
}

#[test]
fn an_invalid_config_is_reported_and_the_old_one_kept() {
    let mut s = state(false);
    let effects = update(
        &mut s,
        Msg::ConfigInvalid("/lab/platform-tui.toml:3:9: anycast.prefix: bad".into()),
    );
    assert!(effects.is_empty());
    assert_eq!(s.metros.len(), 2);
    let last = s.events.back().unwrap();
    assert_eq!(last.level, Level::Error);
    assert!(
        last.text.contains(
            "still running on the previous one: /lab/platform-tui.toml:3:9: anycast.prefix"
        ),
        "{}",
        last.text
    );
}

pub(crate) mod provisioning {
    use super::*;
    use crate::app::provision::{shown, Phase, ProvisionMsg};
    use crate::app::testing::{provisioned, terraform_fixture};

    pub(crate) fn planned(destroy: bool) -> State {
        let mut s = provisioned();
        assert_eq!(
            update(&mut s, Msg::Key(key('4'))),
            vec![Effect::ProvisionRead]
        );
        let e = update(&mut s, Msg::Key(key(if destroy { 'D' } else { 'p' })));
        assert_eq!(
            e,
            vec![Effect::ProvisionPlan {
                destroy,
                vars: if destroy {
                    Vec::new()
                } else {
                    vec![("metros".into(), r#"["am","da"]"#.into())]
                },
            }],
            "the metros variable defaults to the config's metros"
        );
        let fixture = if destroy {
            "lab_destroy_fr.jsonl"
        } else {
            "lab_plan_add.jsonl"
        };
        for ev in terraform_fixture(fixture) {
            // The destroy's recording is an apply: its plan part is its planned changes.
            let plan_part = !destroy
                || matches!(&ev, crate::provision::Event::Message(m)
                    if matches!(m.body, crate::provision::Body::PlannedChange(_)));
            if plan_part {
                update(&mut s, Msg::Provision(ProvisionMsg::Event(ev)));
            }
        }
        update(
            &mut s,
            Msg::Provision(ProvisionMsg::Planned {
                destroy,
                ok: true,
                has_changes: true,
                words: if destroy {
                    "0 to add, 0 to change, 1 to destroy".into()
                } else {
                    "1 to add, 0 to change, 0 to destroy".into()
                },
            }),
        );
        s
    }

    #[test]
    fn plan_confirm_apply() {
        let mut s = planned(false);
        assert!(matches!(
            s.provision_view.phase,
            Phase::Planned {
                has_changes: true,
                ..
            }
        ));
        assert!(update(&mut s, Msg::Key(key('A'))).is_empty());
        assert!(matches!(s.mode, Mode::ConfirmProvision(_)));
        assert!(
            update(&mut s, Msg::Key(key('x'))).is_empty(),
            "other keys do nothing"
        );
        assert_eq!(
            update(&mut s, Msg::Key(key('y'))),
            vec![Effect::ProvisionApply]
        );
        assert_eq!(s.mode, Mode::Normal);
        assert!(s.provision_view.running());
        // q while terraform applies: stop it gracefully, quit once it is recorded.
        assert_eq!(
            update(&mut s, Msg::Key(key('q'))),
            vec![Effect::ProvisionCancel]
        );
        assert!(s.quitting);
        let e = update(
            &mut s,
            Msg::Provision(ProvisionMsg::Applied {
                verdict: Verdict::Interrupted,
                message: "apply interrupted".into(),
                diff: None,
            }),
        );
        assert_eq!(e, vec![Effect::ProvisionRead, Effect::Quit]);
    }

    #[test]
    fn a_destroy_needs_the_word_typed() {
        let mut s = planned(true);
        update(&mut s, Msg::Key(key('A')));
        assert!(
            update(&mut s, Msg::Key(key('y'))).is_empty(),
            "y is not enough"
        );
        assert!(update(&mut s, Msg::Key(code(KeyCode::Enter))).is_empty());
        for c in "destroy".chars() {
            update(&mut s, Msg::Key(key(c)));
        }
        assert_eq!(
            update(&mut s, Msg::Key(code(KeyCode::Enter))),
            vec![Effect::ProvisionApply]
        );
        // Esc cancels without applying.
        let mut s = planned(true);
        update(&mut s, Msg::Key(key('A')));
        assert!(update(&mut s, Msg::Key(code(KeyCode::Esc))).is_empty());
        assert_eq!(s.mode, Mode::Normal);
    }

    #[test]
    fn read_only_refuses_apply_and_write() {
        let mut s = planned(false);
        s.read_only = true;
        assert!(update(&mut s, Msg::Key(key('A'))).is_empty());
        assert_eq!(s.mode, Mode::Normal);
        assert!(s.events.back().unwrap().text.contains("read-only"));
    }

    #[test]
    fn the_metros_variable_is_edited_and_a_diff_written() {
        let mut s = provisioned();
        update(&mut s, Msg::Key(key('4')));
        update(&mut s, Msg::Key(key('e')));
        update(&mut s, Msg::Key(code(KeyCode::End)));
        update(&mut s, Msg::Key(code(KeyCode::Backspace)));
        for c in ",\"fr\"]".chars() {
            update(&mut s, Msg::Key(key(c)));
        }
        update(&mut s, Msg::Key(code(KeyCode::Enter)));
        assert_eq!(s.provision_view.metros.value(), r#"["am","da","fr"]"#);
        let e = update(&mut s, Msg::Key(key('p')));
        assert!(
            matches!(&e[..], [Effect::ProvisionPlan { vars, .. }] if vars[0].1 == r#"["am","da","fr"]"#)
        );
        let mut diff = crate::provision::MetroDiff::default();
        diff.added
            .insert("fr".into(), "127.0.0.14".parse().unwrap());
        update(
            &mut s,
            Msg::Provision(ProvisionMsg::Applied {
                verdict: Verdict::Ok,
                message: "apply ok: 1 added, 0 changed, 0 destroyed".into(),
                diff: Some(Ok(diff.clone())),
            }),
        );
        assert!(s
            .events
            .back()
            .unwrap()
            .text
            .contains("+ fr 127.0.0.14 (W writes"));
        assert_eq!(
            update(&mut s, Msg::Key(key('W'))),
            vec![Effect::ProvisionWrite(diff)]
        );
        update(&mut s, Msg::Provision(ProvisionMsg::Written(Ok(()))));
        assert!(
            update(&mut s, Msg::Key(key('W'))).is_empty(),
            "written once"
        );
        update(
            &mut s,
            Msg::Provision(ProvisionMsg::Outputs(Ok(vec![shown(
                "admin_password",
                "(sensitive)",
                true,
            )]))),
        );
        assert!(s.provision_view.outputs.is_some());
    }
}
