//! platform-tui: a terminal operations console for a multi-metro anycast platform.
//!
//! Modules are rooms that do not cross: backends (`bird`, `lab`, `ops`) never import
//! ratatui; `ui` never does I/O; `app::update` is pure and returns effects.

pub mod bird;
pub mod config;
