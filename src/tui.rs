//! Terminal lifecycle: raw mode and the alternate screen in, and always back out — on
//! quit, on error, on panic (ratatui's init installs a hook that restores first).

use std::io;

use ratatui::DefaultTerminal;

pub fn init() -> io::Result<DefaultTerminal> {
    ratatui::try_init()
}

pub fn restore() {
    ratatui::restore();
}
