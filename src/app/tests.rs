use crossterm::event::KeyCode;

use super::testing::{at, code, key, snapshot, state};
use super::*;
use crate::domain::{ActionKind, Level, Outcome, Request};

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
    let mut s = state(false);
    update(
        &mut s,
        Msg::Snapshot(snapshot(1, &[("am", Ok(false)), ("da", Ok(true))])),
    );
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
    assert_eq!(
        update(&mut s, Msg::Key(key('F'))),
        vec![withdraw("da", true)]
    );
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
    let mut s = state(false);
    update(
        &mut s,
        Msg::Snapshot(snapshot(1, &[("am", Ok(false)), ("da", Ok(true))])),
    );
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
        converged_ms: Some(0.5),
        best_after: Some("da".into()),
        result: Ok("am withdrawn, verified in 0.5 ms; anycast now via da".into()),
    };
    assert_eq!(update(&mut s, Msg::Done(outcome)), vec![Effect::Refresh]);
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
        converged_ms: None,
        best_after: None,
        result: Err("not verified after 10s".into()),
    };
    update(&mut s, Msg::Done(outcome));
    let e = s.events.back().expect("event");
    assert_eq!(e.level, Level::Error);
    assert_eq!(e.text, "restore am failed: not verified after 10s");
    assert!(
        s.desired.is_empty(),
        "a failed action does not change the desired state"
    );
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
    assert!(s.quit);
}

#[test]
fn tick_moves_the_clock_only() {
    let mut s = state(false);
    assert!(update(&mut s, Msg::Tick(at(42))).is_empty());
    assert_eq!(s.now, at(42));
}
