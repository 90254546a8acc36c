//! Named semantic styles built from the configured theme.

use ratatui::style::{Modifier, Style};

use crate::config::theme::Theme;
use crate::domain::Level;

pub fn ok(t: &Theme) -> Style {
    Style::new().fg(t.ok)
}
pub fn warn(t: &Theme) -> Style {
    Style::new().fg(t.warn)
}
pub fn error(t: &Theme) -> Style {
    Style::new().fg(t.error).add_modifier(Modifier::BOLD)
}
pub fn accent(t: &Theme) -> Style {
    Style::new().fg(t.accent)
}
pub fn dim(t: &Theme) -> Style {
    Style::new().fg(t.dim)
}
pub fn header(t: &Theme) -> Style {
    Style::new().fg(t.header).add_modifier(Modifier::BOLD)
}
pub fn selected(t: &Theme) -> Style {
    Style::new().bg(t.selected_bg).add_modifier(Modifier::BOLD)
}
pub fn lost(t: &Theme) -> Style {
    Style::new().fg(t.lost).add_modifier(Modifier::BOLD)
}
pub fn level(t: &Theme, l: Level) -> Style {
    match l {
        Level::Info => Style::new(),
        Level::Good => ok(t),
        Level::Warn => warn(t),
        Level::Error => error(t),
    }
}

/// A metro's colour, by its place in the config (`None`: not a configured metro): the
/// same in the anycast panel's big type, its timeline and the chart's served-by band.
pub fn metro(t: &Theme, index: Option<usize>) -> Style {
    let palette = [t.accent, t.warn, t.ok, t.lost, t.header];
    match index {
        Some(i) => Style::new().fg(palette[i % palette.len()]),
        None => dim(t),
    }
}
