//! Terminal lifecycle: raw mode and the alternate screen in, and always back out — on
//! quit, on error, on panic. Restoring ignores write errors: after an SSH hang-up the
//! terminal is gone, and printing about it would itself fail (and panic).

use std::io::{self, stdout};
use std::sync::{Once, OnceLock};
use std::thread::ThreadId;

use crossterm::cursor::Show;
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::DefaultTerminal;

static HOOK: Once = Once::new();
/// The thread that draws: a panic there ends the console.
static UI_THREAD: OnceLock<ThreadId> = OnceLock::new();

/// Raw mode and the alternate screen, with a panic hook: a panic on the drawing thread
/// restores the terminal, then reports (and unwinds out of the console, whose teardown
/// stops the embedded lab); a panic in a worker is not printed over the screen — its
/// supervisor turns it into a message the console shows.
pub fn init() -> io::Result<DefaultTerminal> {
    let _ = UI_THREAD.set(std::thread::current().id());
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if UI_THREAD.get() == Some(&std::thread::current().id()) {
                restore();
                previous(info);
            }
        }));
    });
    enable_raw_mode()?;
    if let Err(e) = execute!(stdout(), EnterAlternateScreen) {
        restore();
        return Err(e);
    }
    ratatui::Terminal::new(CrosstermBackend::new(stdout()))
}

pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), LeaveAlternateScreen, Show);
}
