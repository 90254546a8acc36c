//! Terminal lifecycle: raw mode and the alternate screen in, and always back out — on
//! quit, on error, on panic. Restoring ignores write errors: after an SSH hang-up the
//! terminal is gone, and printing about it would itself fail (and panic).

use std::io::{self, stdout};
use std::sync::Once;

use crossterm::cursor::Show;
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::DefaultTerminal;

static HOOK: Once = Once::new();

pub fn init() -> io::Result<DefaultTerminal> {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
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
