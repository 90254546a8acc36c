//! Snapshot tests of every screen on ratatui's TestBackend, at 100x30 and 80x24.

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use crate::app::testing::{
    alloc_json, am_withdrawn, at, key, nomad, nomad_field, nomad_with, probe_history, snapshot,
    state, with_nomad,
};
use crate::app::{update, Msg, State};

fn render(state: &State, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    terminal.draw(|f| super::draw(state, f)).expect("draw");
    terminal.backend().to_string()
}

fn both_sizes(name: &str, state: &State) {
    insta::assert_snapshot!(format!("{name}_100x30"), render(state, 100, 30));
    insta::assert_snapshot!(format!("{name}_80x24"), render(state, 80, 24));
}

fn overview() -> State {
    let mut s = state(false);
    update(
        &mut s,
        Msg::Snapshot(snapshot(1, &[("am", Ok(true)), ("da", Ok(true))])),
    );
    probe_history(&mut s, 2, 120, "am");
    with_nomad(&mut s);
    update(
        &mut s,
        Msg::Snapshot(snapshot(122, &[("am", Ok(true)), ("da", Ok(true))])),
    );
    update(&mut s, Msg::Tick(at(125)));
    s
}

/// Overview, then am withdrawn at 125 s: the anycast probes jump to da.
fn after_jump() -> State {
    let mut s = overview();
    update(&mut s, Msg::Key(key('w')));
    update(&mut s, Msg::Key(key('y')));
    update(
        &mut s,
        Msg::Done(crate::domain::Outcome {
            metro: "am".into(),
            action: crate::domain::ActionKind::Withdraw,
            method: "disable".into(),
            verdict: crate::domain::Verdict::Ok,
            message: "am withdrawn, verified in 0.5 ms; anycast now via da".into(),
            converged_ms: Some(0.5),
            best_after: Some("da".into()),
        }),
    );
    update(
        &mut s,
        Msg::Snapshot(snapshot(126, &[("am", Ok(false)), ("da", Ok(true))])),
    );
    probe_history(&mut s, 126, 30, "da");
    update(&mut s, Msg::Tick(at(156)));
    s
}

/// The story at its stages: am serving, am withdrawn (the verified outcome, before the
/// next probe), da serving for 30 s, and am restored and serving again.
fn switch_stages() -> [(&'static str, State); 4] {
    let before = overview();
    let mut during = overview();
    update(&mut during, Msg::Key(key('w')));
    update(&mut during, Msg::Key(key('y')));
    update(&mut during, Msg::Done(withdraw_done()));
    update(
        &mut during,
        Msg::Snapshot(snapshot(126, &[("am", Ok(false)), ("da", Ok(true))])),
    );
    let after = after_jump();
    let mut restored = after_jump();
    update(&mut restored, Msg::Key(key('r')));
    update(&mut restored, Msg::Key(key('y')));
    update(
        &mut restored,
        Msg::Done(crate::domain::Outcome {
            action: crate::domain::ActionKind::Restore,
            message: "am restored, verified in 0.4 ms; anycast now via am".into(),
            best_after: Some("am".into()),
            ..withdraw_done()
        }),
    );
    update(
        &mut restored,
        Msg::Snapshot(snapshot(157, &[("am", Ok(true)), ("da", Ok(true))])),
    );
    probe_history(&mut restored, 157, 10, "am");
    update(&mut restored, Msg::Tick(at(167)));
    [
        ("before", before),
        ("during", during),
        ("after", after),
        ("restored", restored),
    ]
}

fn withdraw_done() -> crate::domain::Outcome {
    crate::domain::Outcome {
        metro: "am".into(),
        action: crate::domain::ActionKind::Withdraw,
        method: "disable".into(),
        verdict: crate::domain::Verdict::Ok,
        message: "am withdrawn, verified in 0.5 ms; anycast now via da".into(),
        converged_ms: Some(0.5),
        best_after: Some("da".into()),
    }
}

#[test]
fn anycast_panel_through_a_switch() {
    for (stage, mut s) in switch_stages() {
        update(&mut s, Msg::Key(key('6')));
        both_sizes(&format!("anycast_panel_{stage}"), &s);
        let screen = render(&s, 80, 24);
        let want = match stage {
            "before" => "Amsterdam (am) · 71 ms now",
            "during" => "observer's best da",
            "after" => "Dallas (da) · 301 ms now · +230 ms, 4.2x against 71 ms via am",
            _ => "Amsterdam (am) · 71 ms now · -230 ms, 4.2x faster against 301 ms",
        };
        assert!(screen.contains(want), "{stage}: {want}\n{screen}");
        if stage == "restored" {
            assert!(
                screen.contains("withdraw am → da 300 ms · ")
                    && screen.contains("restore am → am 70 ms"),
                "the timeline: {screen}"
            );
        }
    }
}

#[test]
fn latency_chart_through_a_switch() {
    for (stage, mut s) in switch_stages() {
        update(&mut s, Msg::Key(key('2')));
        both_sizes(&format!("latency_chart_{stage}"), &s);
    }
}

#[test]
fn overview_panel_through_a_switch() {
    let [_, _, (_, after), _] = switch_stages();
    both_sizes("overview_after_switch", &after);
}

#[test]
fn anycast_panel_degrades_on_small_terminals() {
    let [_, _, (_, mut s), _] = switch_stages();
    update(&mut s, Msg::Key(key('6')));
    for (w, h) in [(60, 14), (70, 18), (120, 40)] {
        let screen = render(&s, w, h);
        assert!(screen.contains("Dallas (da)"), "{w}x{h}:\n{screen}");
        insta::assert_snapshot!(format!("anycast_panel_{w}x{h}"), screen);
    }
    // The overview keeps its metros and events first.
    let mut o = s.clone();
    update(&mut o, Msg::Key(key('1')));
    let screen = render(&o, 60, 14);
    assert!(screen.contains("METRO"), "{screen}");
}

#[test]
fn demo_captions() {
    let mut s = overview().with_demo(None);
    update(&mut s, Msg::Tick(at(126)));
    both_sizes("demo_warm_up", &s);
    update(&mut s, Msg::Key(key(' ')));
    assert!(s.busy.is_some(), "the withdraw runs");
    update(&mut s, Msg::Done(withdraw_done()));
    update(
        &mut s,
        Msg::Snapshot(snapshot(126, &[("am", Ok(false)), ("da", Ok(true))])),
    );
    probe_history(&mut s, 127, 5, "da");
    update(&mut s, Msg::Tick(at(132)));
    both_sizes("demo_withdrawn", &s);
}

#[test]
fn anycast_failing_header() {
    let mut s = overview();
    for t in 126..130 {
        update(
            &mut s,
            Msg::Probe {
                target: "anycast".into(),
                sample: crate::app::testing::sample(t, t, None, None),
            },
        );
    }
    update(&mut s, Msg::Tick(at(131)));
    both_sizes("anycast_failing", &s);
}

#[test]
fn long_metro_names_and_drift_fit() {
    use crate::app::testing::config;
    let cfg = config(
        &[("frankfurt-main-1", "Frankfurt"), ("da", "Dallas")],
        false,
    );
    let mut s = State::new(
        &cfg,
        std::collections::BTreeMap::from([(
            "frankfurt-main-1".to_string(),
            crate::domain::Desired::Withdrawn,
        )]),
        "lab /lab/platform-tui.toml".into(),
        at(0),
    );
    update(
        &mut s,
        Msg::Snapshot(snapshot(
            1,
            &[("frankfurt-main-1", Ok(true)), ("da", Ok(true))],
        )),
    );
    update(&mut s, Msg::Tick(at(2)));
    let screen = render(&s, 80, 24);
    assert!(screen.contains("frankfurt-main-1"), "{screen}");
    assert!(screen.contains("DRIFT"), "{screen}");
    both_sizes("long_name_drift", &s);
}

#[test]
fn latency_pane() {
    let mut s = after_jump();
    update(&mut s, Msg::Key(key('2')));
    both_sizes("latency", &s);
}

#[test]
fn latency_pane_all_metros_frozen() {
    let mut s = after_jump();
    update(&mut s, Msg::Key(key('2')));
    update(&mut s, Msg::Key(key('a')));
    update(&mut s, Msg::Key(key('f')));
    update(&mut s, Msg::Key(key('+')));
    both_sizes("latency_all_frozen", &s);
}

#[test]
fn nomad_pane() {
    let mut s = overview();
    update(&mut s, Msg::Key(key('3')));
    both_sizes("nomad", &s);
}

#[test]
fn nomad_pane_filtered_one_metro_with_error() {
    let mut s = overview();
    let failing = nomad(
        "da",
        &["running", "failed"],
        Some("nomad unreachable: connection refused"),
    );
    update(
        &mut s,
        Msg::Nomad {
            metro: "da".into(),
            snapshot: failing,
        },
    );
    update(&mut s, Msg::Tick(at(140)));
    update(&mut s, Msg::Key(key('3')));
    update(&mut s, Msg::Key(key('/')));
    update(&mut s, Msg::Key(key('w')));
    update(&mut s, Msg::Key(key('e')));
    both_sizes("nomad_filtering", &s);
}

#[test]
fn allocation_detail_and_logs() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let mut s = overview();
    update(&mut s, Msg::Key(key('3')));
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let (metro, id) = {
        let d = s.nomad_view.detail.as_ref().expect("detail");
        (d.metro.clone(), d.alloc_id.clone())
    };
    let full: crate::nomad::Allocation = serde_json::from_value(serde_json::json!({
        "ID": id, "Name": "spin-app.web[0]", "JobID": "spin-app", "TaskGroup": "web", "NodeName": "lab-am",
        "DesiredStatus": "run", "ClientStatus": "running", "ClientDescription": "Tasks are running",
        "TaskStates": {"app": {"State": "running", "Failed": false, "Restarts": 1,
            "StartedAt": "2026-11-28T09:10:05.123Z", "FinishedAt": "0001-01-01T00:00:00Z",
            "Events": [
                {"Type": "Received", "Time": 1_795_885_700_000_000_000i64, "DisplayMessage": "Task received by client"},
                {"Type": "Started", "Time": 1_795_885_701_000_000_000i64, "DisplayMessage": "Task started by client"},
                {"Type": "Restarted", "Time": 1_795_885_805_000_000_000i64, "DisplayMessage": "app server started again"}
            ]}}
    }))
    .expect("allocation");
    update(
        &mut s,
        Msg::Allocation {
            metro,
            id: id.clone(),
            result: Ok(crate::nomad::decode::alloc_detail(full)),
        },
    );
    both_sizes("alloc_detail", &s);
    update(&mut s, Msg::Key(key('l')));
    let lines: String = (0..40)
        .map(|i| {
            format!(
                "2026-11-28T09:10:{:02}.000Z 127.0.0.1:{} HEAD / 200 70.{}ms\n",
                i,
                40000 + i,
                i % 10
            )
        })
        .collect();
    let chunk = Ok(crate::nomad::logs::LogChunk::Data(lines.into_bytes()));
    update(
        &mut s,
        Msg::Log {
            alloc_id: id,
            stderr: false,
            chunk,
        },
    );
    both_sizes("alloc_logs", &s);
}

#[test]
fn nomad_pane_unknown_counts_and_replaced_failures() {
    // am: a token that may not read nodes or the agent (field/11); da: two failed
    // allocations replaced, the current one running (field/13).
    let mut s = overview();
    for (metro, case) in [
        ("am", "11-nomad-nodes-403.json"),
        ("da", "13-nomad-replaced-failed-allocs.json"),
    ] {
        update(
            &mut s,
            Msg::Nomad {
                metro: metro.into(),
                snapshot: nomad_field(case),
            },
        );
    }
    update(&mut s, Msg::Tick(at(128)));
    let overview_screen = render(&s, 100, 30);
    assert!(
        overview_screen.contains("1/1 ?"),
        "counted, marked: {overview_screen}"
    );
    update(&mut s, Msg::Key(key('3')));
    let screen = render(&s, 100, 30);
    assert!(screen.contains("nodes ?"), "{screen}");
    assert!(
        screen.contains("GET /v1/nodes: 403 Permission denied"),
        "{screen}"
    );
    assert!(screen.contains("0 failed · 2 replaced"), "{screen}");
    both_sizes("nomad_unknown_and_replaced", &s);
}

#[test]
fn nomad_pane_lost_unknown_sorted_by_status() {
    let mut s = overview();
    let allocs = vec![
        alloc_json("da", 0, "running", None),
        alloc_json("da", 1, "lost", None),
        alloc_json("da", 2, "unknown", None),
        alloc_json(
            "da",
            3,
            "failed",
            Some("00000000-0000-4000-8000-000000000009"),
        ),
        alloc_json("da", 4, "failed", None),
        alloc_json("da", 5, "pending", None),
    ];
    update(
        &mut s,
        Msg::Nomad {
            metro: "da".into(),
            snapshot: nomad_with("da", allocs),
        },
    );
    update(&mut s, Msg::Key(key('3')));
    update(&mut s, Msg::Key(key('s')));
    update(&mut s, Msg::Key(key('s')));
    let screen = render(&s, 100, 30);
    assert!(screen.contains("STATUS▾"), "{screen}");
    for part in [
        "1 running · 1 failed · 1 pending",
        "1 lost",
        "1 unknown",
        "1 replaced",
    ] {
        assert!(screen.contains(part), "{part}: {screen}");
    }
    both_sizes("nomad_sorted_by_status", &s);
}

#[test]
fn logs_scrolled_back() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let mut s = overview();
    update(&mut s, Msg::Key(key('3')));
    update(&mut s, Msg::Key(key('l')));
    let id = s
        .nomad_view
        .logs
        .as_ref()
        .map(|l| l.alloc_id.clone())
        .expect("logs");
    let lines: String = (0..60)
        .map(|i| format!("line {i:02} \x1b[2J GET /hello 200\n"))
        .collect();
    update(
        &mut s,
        Msg::Log {
            alloc_id: id,
            stderr: false,
            chunk: Ok(crate::nomad::logs::LogChunk::Data(lines.into_bytes())),
        },
    );
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE)),
    );
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE)),
    );
    let screen = render(&s, 100, 30);
    assert!(screen.contains("11 lines back"), "{screen}");
    assert!(
        screen.contains("line 48") && !screen.contains("line 49"),
        "{screen}"
    );
    assert!(!screen.contains('\x1b'), "{screen}");
    both_sizes("alloc_logs_scrolled_back", &s);
}

#[test]
fn overview_screen() {
    both_sizes("overview", &overview());
}

#[test]
fn before_the_first_poll() {
    both_sizes("first_poll", &state(false));
}

#[test]
fn confirm_dialog() {
    let mut s = overview();
    update(&mut s, Msg::Key(key('w')));
    both_sizes("confirm_withdraw", &s);
}

#[test]
fn confirm_last_metro_needs_force() {
    let mut s = am_withdrawn();
    update(&mut s, Msg::Key(key('j')));
    update(&mut s, Msg::Key(key('w')));
    both_sizes("confirm_last_metro", &s);
    update(&mut s, Msg::Key(key('y')));
    both_sizes("confirm_last_metro_y", &s);
    update(&mut s, Msg::Key(key('F')));
    both_sizes("confirm_last_metro_f_once", &s);
}

#[test]
fn help_overlay() {
    let mut s = overview();
    update(&mut s, Msg::Key(key('?')));
    both_sizes("help", &s);
    // It scrolls to the symbols at 80x24 (and no further than the end).
    for _ in 0..100 {
        update(&mut s, Msg::Key(key('j')));
    }
    let end = render(&s, 80, 24);
    assert!(end.contains("NO ROUTE"), "{end}");
    insta::assert_snapshot!("help_scrolled_80x24", end);
}

#[test]
fn read_only_refusal() {
    let mut s = state(true);
    update(
        &mut s,
        Msg::Snapshot(snapshot(1, &[("am", Ok(true)), ("da", Ok(true))])),
    );
    update(&mut s, Msg::Key(key('w')));
    both_sizes("read_only_refused", &s);
}

#[test]
fn after_withdraw() {
    let mut s = overview();
    update(
        &mut s,
        Msg::Snapshot(snapshot(126, &[("am", Ok(false)), ("da", Ok(true))])),
    );
    both_sizes("withdrawn", &s);
}

#[test]
fn metro_bird_down() {
    let mut s = overview();
    update(
        &mut s,
        Msg::Snapshot(snapshot(
            130,
            &[
                (
                    "am",
                    Err("router unreachable: /lab/run/am.ctl: Connection refused"),
                ),
                ("da", Ok(true)),
            ],
        )),
    );
    update(&mut s, Msg::Tick(at(172)));
    both_sizes("bird_down", &s);
}

#[test]
fn terminal_too_small() {
    insta::assert_snapshot!("too_small_50x12", render(&overview(), 50, 12));
}

#[test]
fn long_metro_lists_scroll_to_the_selection() {
    let names: Vec<(String, String)> = (0..30)
        .map(|i| (format!("m{i}"), format!("Metro {i}")))
        .collect();
    let refs: Vec<(&str, &str)> = names
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let cfg = crate::app::testing::config(&refs, false);
    let mut s = State::new(&cfg, Default::default(), "test".into(), at(0));
    for _ in 0..25 {
        update(&mut s, Msg::Key(key('j')));
    }
    let screen = render(&s, 80, 24);
    assert!(screen.contains("› ") && screen.contains("m25"), "{screen}");
    assert!(screen.contains("of 30)"), "{screen}");
    assert!(!screen.contains(" m0 "), "the top scrolled away:\n{screen}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// Whatever text reaches the state — an event, a router's info, a metro's name, a
    /// latency row's served-by — no view puts a control character on the screen.
    #[test]
    fn no_view_draws_a_control_character(text in "\\PC*|[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}a-z;\\[\\]]{0,40}") {
        let mut s = overview();
        s.events.push_back(crate::domain::Event {
            at: at(130),
            level: crate::domain::Level::Error,
            text: text.clone(),
        });
        s.metros[0].display_name = text.clone();
        if let Some(Ok(r)) = s.metros[1].status.as_mut() {
            if let Some(b) = r.bgp.as_mut() {
                b.info = text.clone();
            }
            r.problems.push(text.clone());
        }
        if let Some(row) = s.latency.first_mut() {
            row.served_by = Some(text.clone());
        }
        s.source = text.clone();
        if let Some(row) = s.latency.first_mut() {
            for run in row.runs.iter_mut() {
                run.by = text.clone();
            }
        }
        for view in ['1', '2', '3', '6', '?'] {
            update(&mut s, Msg::Key(key(view)));
            for (w, h) in [(100, 30), (80, 24)] {
                let screen = render(&s, w, h);
                proptest::prop_assert!(
                    !screen.chars().any(|c| c.is_control() && c != '\n'),
                    "view {view} at {w}x{h}"
                );
            }
            if view == '?' {
                update(&mut s, Msg::Key(key('x')));
            }
        }
    }
}

/// Colours carry meaning too: the last-metro dialog is framed in the error colour (a
/// plain withdraw in the warning colour), and a dead anycast address is an error in the
/// header. A view that lost its style would still pass the text snapshots.
#[test]
fn styles_say_how_bad_it_is() {
    let cell_at = |s: &State, text: &str, w: u16, h: u16| {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
        terminal.draw(|f| super::draw(s, f)).expect("draw");
        let buf = terminal.backend().buffer().clone();
        let width = buf.area.width as usize;
        let cells = &buf.content;
        let row_text = |y: usize| {
            cells[y * width..(y + 1) * width]
                .iter()
                .map(|c| c.symbol())
                .collect::<String>()
        };
        (0..buf.area.height as usize)
            .find_map(|y| {
                let line = row_text(y);
                line.find(text).map(|byte| {
                    let x = line[..byte].chars().count();
                    cells[y * width + x].style()
                })
            })
            .unwrap_or_else(|| panic!("{text:?} not on screen"))
    };
    let t = crate::config::theme::Theme::default();
    let mut s = am_withdrawn();
    update(&mut s, Msg::Key(key('j')));
    update(&mut s, Msg::Key(key('w')));
    assert_eq!(cell_at(&s, "┌ Withdraw da", 100, 30).fg, Some(t.error));
    let mut s = overview();
    update(&mut s, Msg::Key(key('w')));
    assert_eq!(cell_at(&s, "┌ Withdraw am", 100, 30).fg, Some(t.warn));
    let mut s = overview();
    for at_s in 126..130 {
        update(
            &mut s,
            Msg::Probe {
                target: "anycast".into(),
                sample: crate::app::testing::sample(at_s, at_s, None, None),
            },
        );
    }
    assert_eq!(cell_at(&s, "LOST", 100, 30).fg, Some(t.error));
}

/// A `[console.keys]` remap changes every place a key is shown: the footer, the tabs, the
/// dialog, the Nomad pane's titles, the help — and the keys themselves.
#[test]
fn a_remapped_key_is_shown_remapped_everywhere() {
    use crate::config::keymap::{parse_key, Command};
    let mut s = state(false);
    for (c, k) in [
        (Command::Withdraw, "W"),
        (Command::ViewLatency, "L"),
        (Command::Confirm, "Y"),
        (Command::Open, "O"),
    ] {
        s.keymap
            .set_keys(c, vec![parse_key(k).expect("key")])
            .expect("set");
    }
    update(
        &mut s,
        Msg::Snapshot(snapshot(1, &[("am", Ok(true)), ("da", Ok(true))])),
    );
    let screen = render(&s, 100, 30);
    assert!(screen.contains(" W withdraw"), "footer: {screen}");
    assert!(screen.contains(" [L] "), "tabs: {screen}");
    let wide = render(&s, 160, 30);
    assert!(wide.contains("[L latency]"), "tabs: {wide}");
    update(&mut s, Msg::Key(key('w')));
    assert_eq!(s.mode, crate::app::Mode::Normal, "w no longer withdraws");
    update(&mut s, Msg::Key(key('W')));
    let screen = render(&s, 100, 30);
    assert!(screen.contains("Y confirm"), "dialog: {screen}");
    assert!(!screen.contains("y/enter"), "dialog: {screen}");
    update(&mut s, Msg::Key(key('n')));
    with_nomad(&mut s);
    update(&mut s, Msg::Key(key('3')));
    let screen = render(&s, 100, 30);
    assert!(screen.contains("O detail"), "nomad titles: {screen}");
    update(&mut s, Msg::Key(key('?')));
    let screen = render(&s, 100, 30);
    assert!(screen.contains(" W "), "help: {screen}");
}

mod provisioning {
    use super::*;
    use crate::app::provision::{shown, ProvisionMsg};
    use crate::app::testing::{provisioned, terraform_fixture};
    use crate::app::tests::provisioning::planned;
    use crate::domain::journal::{Verdict, Via};
    use crate::domain::provision::{HistoryEntry, ProvisionOp};

    fn history(s: &mut State) {
        let entry = |time: &str, op, result, ms, summary: &str| HistoryEntry {
            time: time.into(),
            op,
            result,
            duration_ms: ms,
            user: "op".into(),
            via: Some(Via::Console),
            summary: summary.into(),
        };
        update(
            s,
            Msg::Provision(ProvisionMsg::History(Ok(vec![
                entry("2026-11-29T18:30:01.000Z", ProvisionOp::Plan, Verdict::Ok, 310, "1 to add, 0 to change, 0 to destroy"),
                entry("2026-11-29T18:30:09.000Z", ProvisionOp::Apply, Verdict::Ok, 1180, "apply ok: 1 added, 0 changed, 0 destroyed; metros: + fr 127.0.0.14 (config written)"),
                entry("2026-11-29T18:31:40.000Z", ProvisionOp::Plan, Verdict::Failed, 120, "Error: Invalid value for variable (variables.tf:1,1): Unknown metro code(s) for this lab: zz."),
            ]))),
        );
    }

    #[test]
    fn pane_without_an_installer() {
        let mut s = state(false);
        update(&mut s, Msg::Key(key('4')));
        both_sizes("provision_no_installer", &s);
    }

    #[test]
    fn pane_planned() {
        let mut s = planned(false);
        history(&mut s);
        update(&mut s, Msg::Tick(at(5)));
        both_sizes("provision_planned", &s);
    }

    #[test]
    fn pane_confirm() {
        let mut s = planned(false);
        update(&mut s, Msg::Key(key('A')));
        both_sizes("provision_confirm", &s);
        let mut s = planned(true);
        update(&mut s, Msg::Key(key('A')));
        for c in "dest".chars() {
            update(&mut s, Msg::Key(key(c)));
        }
        both_sizes("provision_confirm_destroy", &s);
    }

    #[test]
    fn pane_applying_midway() {
        let mut s = planned(false);
        history(&mut s);
        update(&mut s, Msg::Key(key('A')));
        update(&mut s, Msg::Key(key('y')));
        // Up to the provisioner's output: fr's router is being added.
        for ev in terraform_fixture("lab_apply_add.jsonl").into_iter().take(6) {
            update(&mut s, Msg::Provision(ProvisionMsg::Event(ev)));
        }
        update(
            &mut s,
            Msg::Provision(ProvisionMsg::Note(
                "waiting for another action to finish: withdraw am by op (up to 30s)".into(),
            )),
        );
        update(&mut s, Msg::Tick(at(9)));
        both_sizes("provision_applying", &s);
        update(&mut s, Msg::Key(key('l')));
        both_sizes("provision_raw_log", &s);
    }

    #[test]
    fn pane_failed_with_diagnostics() {
        let mut s = provisioned();
        update(&mut s, Msg::Key(key('4')));
        update(&mut s, Msg::Key(key('p')));
        for ev in terraform_fixture("lab_plan_unknown_metro.jsonl") {
            update(&mut s, Msg::Provision(ProvisionMsg::Event(ev)));
        }
        update(
            &mut s,
            Msg::Provision(ProvisionMsg::Planned {
                destroy: false,
                ok: false,
                has_changes: false,
                words: "Error: Invalid value for variable (variables.tf:1,1)".into(),
            }),
        );
        history(&mut s);
        update(&mut s, Msg::Tick(at(4)));
        both_sizes("provision_failed", &s);
    }

    #[test]
    fn pane_done_with_outputs_and_metros() {
        let mut s = planned(false);
        update(&mut s, Msg::Key(key('A')));
        update(&mut s, Msg::Key(key('y')));
        for ev in terraform_fixture("lab_apply_add.jsonl") {
            update(&mut s, Msg::Provision(ProvisionMsg::Event(ev)));
        }
        update(
            &mut s,
            Msg::Provision(ProvisionMsg::Outputs(Ok(vec![
                shown("admin_password", "(sensitive)", true),
                shown("public_ip_address", "\"198.18.0.10\"", false),
                shown(
                    "regional_ip_addresses",
                    r#"{"am":"127.0.0.10","da":"127.0.0.11","fr":"127.0.0.14"}"#,
                    false,
                ),
            ]))),
        );
        let mut diff = crate::provision::MetroDiff::default();
        diff.added
            .insert("fr".into(), "127.0.0.14".parse().unwrap());
        update(
            &mut s,
            Msg::Provision(ProvisionMsg::Applied {
                verdict: Verdict::Ok,
                message: "apply ok: 1 added, 0 changed, 0 destroyed".into(),
                diff: Some(Ok(diff)),
            }),
        );
        history(&mut s);
        update(&mut s, Msg::Tick(at(12)));
        both_sizes("provision_done", &s);
    }
}

/// The deployment pane, every state reached through the messages the deployment
/// executor sends (`DeployMsg`), in the order `ops::deploy` sends them.
mod deployment {
    use super::*;
    use crate::app::deploy::DeployMsg;
    use crate::app::testing::code;
    use crate::domain::deploy::{
        AllocCounts, DeployEvent, HistoryEntry, MetroPhase, MetroReport, Timings,
    };
    use crate::domain::journal::{Verdict, Via};
    use crossterm::event::KeyCode;

    fn send(s: &mut State, secs: u64, m: DeployMsg) {
        update(s, Msg::Tick(at(secs)));
        update(s, Msg::Deploy(m));
    }

    fn phase(s: &mut State, secs: u64, metro: &str, phase: MetroPhase, detail: &str) {
        send(
            s,
            secs,
            DeployMsg::Event(DeployEvent::Phase {
                metro: metro.into(),
                phase,
                detail: detail.into(),
            }),
        );
    }

    fn log(s: &mut State, secs: u64, metro: &str, message: &str) {
        send(
            s,
            secs,
            DeployMsg::Event(DeployEvent::Log {
                metro: Some(metro.into()),
                message: message.into(),
            }),
        );
    }

    fn allocs(s: &mut State, secs: u64, metro: &str, healthy: u64, unhealthy: u64, status: &str) {
        send(
            s,
            secs,
            DeployMsg::Event(DeployEvent::Allocs {
                metro: metro.into(),
                counts: AllocCounts {
                    desired: 1,
                    placed: 1,
                    healthy,
                    unhealthy,
                    status: status.into(),
                    description: String::new(),
                },
            }),
        );
    }

    fn seen(s: &mut State, secs: u64, metro: &str, version: &str) {
        send(
            s,
            secs,
            DeployMsg::Event(DeployEvent::Version {
                metro: metro.into(),
                version: version.into(),
            }),
        );
    }

    fn report(metro: &str, phase: MetroPhase, seen: Option<&str>, detail: &str) -> MetroReport {
        let ran = phase != MetroPhase::Untouched;
        MetroReport {
            metro: metro.into(),
            phase,
            drained: true,
            advertising: Some(true),
            previous_version: ran.then_some(0),
            job_version: ran.then_some(1),
            deployment_id: ran.then(|| "3f1c2a9e-0000-4000-8000-000000000001".into()),
            seen_version: seen.map(str::to_string),
            timings: Timings {
                drain_ms: ran.then_some(812.0),
                rollout_ms: ran.then_some(640.0),
                verify_ms: ran.then_some(35.0),
                restore_ms: ran.then_some(3.0),
                revert_ms: None,
                total_ms: if ran { 1490.0 } else { 0.0 },
            },
            detail: detail.into(),
        }
    }

    fn metro_done(s: &mut State, secs: u64, r: MetroReport) {
        phase(s, secs, &r.metro.clone(), r.phase, &r.detail.clone());
        send(s, secs, DeployMsg::Event(DeployEvent::Metro { report: r }));
    }

    /// The history as the executor reads it: v1 earlier, then `latest` (just finished).
    fn history(s: &mut State, latest: Option<(&str, Verdict, Vec<MetroReport>)>) {
        let entry =
            |time: &str, reference: &str, result, ms, metros: Vec<MetroReport>| HistoryEntry {
                time: time.into(),
                reference: reference.into(),
                digest: None,
                result,
                duration_ms: ms,
                user: "op".into(),
                via: Some(Via::Cli),
                metros,
                summary: String::new(),
            };
        let mut all = vec![entry(
            "2026-11-29T18:20:04.000Z",
            "registry.example/hello:v1",
            Verdict::Ok,
            3120,
            vec![
                report("da", MetroPhase::Done, Some("v1"), "v1 answers; restored"),
                report("am", MetroPhase::Done, Some("v1"), "v1 answers; restored"),
            ],
        )];
        if let Some((reference, result, metros)) = latest {
            all.push(entry(
                "2026-11-29T18:22:06.000Z",
                reference,
                result,
                6020,
                metros,
            ));
        }
        update(s, Msg::Deploy(DeployMsg::History(Ok(all))));
    }

    /// The pane with `reference` typed, Enter not yet pressed.
    fn typed(reference: &str) -> State {
        let mut s = overview();
        history(&mut s, None);
        update(&mut s, Msg::Key(key('5')));
        update(&mut s, Msg::Key(key('d')));
        for c in reference.chars() {
            update(&mut s, Msg::Key(key(c)));
        }
        s
    }

    /// Confirmed: the rollout runs; the executor's plan (decided under the lock) came.
    fn started(reference: &str) -> State {
        let mut s = typed(reference);
        update(&mut s, Msg::Key(code(KeyCode::Enter)));
        update(&mut s, Msg::Key(key('y')));
        let plan = crate::app::deploy::preview(
            &s,
            &crate::domain::deploy::AppRef::parse(reference).expect("ref"),
        );
        send(&mut s, 126, DeployMsg::Event(DeployEvent::Plan { plan }));
        s
    }

    /// One metro from drain to its new version verified, second by second from `t`.
    fn da_to_v2(s: &mut State, t: u64) {
        phase(
            s,
            t,
            "da",
            MetroPhase::Draining,
            "withdrawing da from anycast",
        );
        log(s, t, "da", "withdraw da (disable)");
        log(s, t, "da", "withdraw sent in 0.5 ms; verifying");
        log(
            s,
            t,
            "da",
            "da withdrawn, verified in 1.2 ms; anycast now via am",
        );
        phase(
            s,
            t,
            "da",
            MetroPhase::Draining,
            "withdrawn; 0.8s for requests in flight",
        );
        phase(
            s,
            t + 1,
            "da",
            MetroPhase::Registering,
            "registering hello (v2)",
        );
        log(
            s,
            t + 1,
            "da",
            "hello runs version 0 (registry.example/hello:v1) now",
        );
        log(s, t + 1, "da", "registered hello version 1");
        phase(
            s,
            t + 1,
            "da",
            MetroPhase::Placing,
            "waiting for Nomad's deployment",
        );
        log(s, t + 1, "da", "deployment 88dd301d of version 1");
        allocs(s, t + 1, "da", 0, 0, "running");
        allocs(s, t + 2, "da", 1, 0, "successful");
        phase(
            s,
            t + 2,
            "da",
            MetroPhase::Healthy,
            "1 of 1 healthy: Deployment completed successfully",
        );
        phase(s, t + 2, "da", MetroPhase::Verifying, "asking da for v2");
        seen(s, t + 2, "da", "v2");
        log(s, t + 2, "da", "v2 answers at 127.0.0.11:8080 after 308 ms");
        phase(
            s,
            t + 2,
            "da",
            MetroPhase::Restoring,
            "restoring da's advertisement",
        );
        log(s, t + 2, "da", "restore da (disable)");
        log(
            s,
            t + 2,
            "da",
            "da restored, verified in 0.9 ms; anycast now via am",
        );
    }

    #[test]
    fn pane_plan() {
        let mut s = typed("registry.example/hello:v2");
        update(&mut s, Msg::Key(code(KeyCode::Esc)));
        let screen = render(&s, 80, 24);
        assert!(screen.contains("the plan"), "{screen}");
        both_sizes("deploy_plan", &s);
    }

    #[test]
    fn pane_confirm() {
        let mut s = typed("registry.example/hello:v2");
        update(&mut s, Msg::Key(code(KeyCode::Enter)));
        assert!(matches!(s.mode, crate::app::Mode::ConfirmDeploy(_)));
        both_sizes("deploy_confirm", &s);
    }

    #[test]
    fn pane_mid_rollout() {
        let mut s = started("registry.example/hello:v2");
        da_to_v2(&mut s, 127);
        metro_done(
            &mut s,
            130,
            report("da", MetroPhase::Done, Some("v2"), "v2 answers; restored"),
        );
        phase(
            &mut s,
            130,
            "am",
            MetroPhase::Draining,
            "withdrawing am from anycast",
        );
        log(
            &mut s,
            130,
            "am",
            "am withdrawn, verified in 0.5 ms; anycast now via da",
        );
        phase(
            &mut s,
            131,
            "am",
            MetroPhase::Registering,
            "registering hello (v2)",
        );
        phase(
            &mut s,
            131,
            "am",
            MetroPhase::Placing,
            "waiting for Nomad's deployment",
        );
        allocs(&mut s, 131, "am", 0, 0, "running");
        update(&mut s, Msg::Tick(at(132)));
        let screen = render(&s, 80, 24);
        assert!(screen.contains("running"), "{screen}");
        both_sizes("deploy_running", &s);
    }

    #[test]
    fn pane_failed_and_reverted() {
        let mut s = started("registry.example/hello:broken");
        phase(
            &mut s,
            127,
            "da",
            MetroPhase::Draining,
            "withdrawing da from anycast",
        );
        log(
            &mut s,
            127,
            "da",
            "da withdrawn, verified in 5.6 ms; anycast now via am",
        );
        phase(
            &mut s,
            128,
            "da",
            MetroPhase::Registering,
            "registering hello (broken)",
        );
        log(
            &mut s,
            128,
            "da",
            "hello runs version 1 (registry.example/hello:v2) now",
        );
        log(&mut s, 128, "da", "registered hello version 2");
        phase(
            &mut s,
            128,
            "da",
            MetroPhase::Placing,
            "waiting for Nomad's deployment",
        );
        log(&mut s, 128, "da", "deployment 938acb89 of version 2");
        allocs(&mut s, 128, "da", 0, 0, "running");
        allocs(&mut s, 130, "da", 0, 1, "failed");
        let why = "Failed due to unhealthy allocations - rolling back to job version 1";
        log(&mut s, 130, "da", &format!("placing: {why}"));
        phase(
            &mut s,
            130,
            "da",
            MetroPhase::Reverting,
            "going back to the previous version",
        );
        log(&mut s, 130, "da", "Nomad reverted hello itself: version 3");
        phase(
            &mut s,
            130,
            "da",
            MetroPhase::Reverting,
            "waiting for the revert's deployment",
        );
        log(&mut s, 130, "da", "deployment 3d7ea80e of version 3");
        allocs(&mut s, 131, "da", 1, 0, "successful");
        phase(
            &mut s,
            131,
            "da",
            MetroPhase::Reverting,
            "asking da for the previous version",
        );
        seen(&mut s, 131, "da", "v2");
        log(
            &mut s,
            131,
            "da",
            "v2 answers at 127.0.0.11:8080 after 321 ms",
        );
        phase(
            &mut s,
            131,
            "da",
            MetroPhase::Restoring,
            "restoring da's advertisement",
        );
        log(
            &mut s,
            131,
            "da",
            "da restored, verified in 1.4 ms; anycast now via am",
        );
        let detail = format!("{why}; reverted to registry.example/hello:v2, verified");
        let mut da = report("da", MetroPhase::Reverted, Some("v2"), &detail);
        da.timings.revert_ms = Some(792.0);
        metro_done(&mut s, 131, da.clone());
        let mut am = report("am", MetroPhase::Untouched, None, "not reached");
        am.advertising = None;
        send(
            &mut s,
            131,
            DeployMsg::Event(DeployEvent::Metro { report: am.clone() }),
        );
        send(
            &mut s,
            131,
            DeployMsg::Finished {
                verdict: Verdict::Failed,
                message: format!("deployment failed: da: reverted ({detail}); am: untouched"),
                metros: vec![da.clone(), am.clone()],
            },
        );
        // Finished asks for the history again.
        history(
            &mut s,
            Some((
                "registry.example/hello:broken",
                Verdict::Failed,
                vec![da, am],
            )),
        );
        update(&mut s, Msg::Tick(at(132)));
        let screen = render(&s, 80, 24);
        assert!(screen.contains("reverted"), "{screen}");
        assert!(screen.contains("untouched"), "{screen}");
        assert!(
            screen.contains("rolling back to job version 1"),
            "why it failed, whole at 80 columns: {screen}"
        );
        both_sizes("deploy_failed_reverted", &s);
    }

    #[test]
    fn pane_done() {
        let mut s = started("registry.example/hello:v2");
        da_to_v2(&mut s, 127);
        let da = report("da", MetroPhase::Done, Some("v2"), "v2 answers; restored");
        metro_done(&mut s, 130, da.clone());
        phase(
            &mut s,
            130,
            "am",
            MetroPhase::Draining,
            "withdrawing am from anycast",
        );
        phase(
            &mut s,
            131,
            "am",
            MetroPhase::Registering,
            "registering hello (v2)",
        );
        phase(
            &mut s,
            131,
            "am",
            MetroPhase::Placing,
            "waiting for Nomad's deployment",
        );
        allocs(&mut s, 132, "am", 1, 0, "successful");
        phase(&mut s, 132, "am", MetroPhase::Verifying, "asking am for v2");
        seen(&mut s, 132, "am", "v2");
        phase(
            &mut s,
            132,
            "am",
            MetroPhase::Restoring,
            "restoring am's advertisement",
        );
        let am = report("am", MetroPhase::Done, Some("v2"), "v2 answers; restored");
        metro_done(&mut s, 133, am.clone());
        send(
            &mut s,
            133,
            DeployMsg::Finished {
                verdict: Verdict::Ok,
                message: "v2 runs on da, am and answers there".into(),
                metros: vec![da.clone(), am.clone()],
            },
        );
        history(
            &mut s,
            Some(("registry.example/hello:v2", Verdict::Ok, vec![da, am])),
        );
        update(&mut s, Msg::Tick(at(134)));
        let screen = render(&s, 80, 24);
        assert!(screen.contains("2/2 metros"), "{screen}");
        both_sizes("deploy_done", &s);
        // The latency chart carries a marker per metro step, over the anycast probes of
        // the rollout: via am while da changes, via da while am does, none lost.
        crate::app::testing::probe_history(&mut s, 126, 4, "am");
        crate::app::testing::probe_history(&mut s, 130, 3, "da");
        crate::app::testing::probe_history(&mut s, 133, 2, "am");
        update(&mut s, Msg::Key(key('2')));
        both_sizes("deploy_done_latency_markers", &s);
    }
}
