//! Snapshot tests of every screen on ratatui's TestBackend, at 100x30 and 80x24.

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use crate::app::testing::{at, key, snapshot, state};
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
    update(&mut s, Msg::Tick(at(125)));
    s
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
    let mut s = state(false);
    update(
        &mut s,
        Msg::Snapshot(snapshot(1, &[("am", Ok(false)), ("da", Ok(true))])),
    );
    update(&mut s, Msg::Key(key('j')));
    update(&mut s, Msg::Key(key('w')));
    both_sizes("confirm_last_metro", &s);
}

#[test]
fn help_overlay() {
    let mut s = overview();
    update(&mut s, Msg::Key(key('?')));
    both_sizes("help", &s);
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
