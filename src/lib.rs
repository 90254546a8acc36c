//! platform-tui: a terminal operations console for a multi-metro anycast platform.
//!
//! Modules are rooms that do not cross: backends (`bird`, `lab`, `ops`) never import
//! ratatui; `ui` never does I/O; `app::update` is pure and returns effects.

pub mod app;
pub mod bird;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod domain;
pub mod lab;
pub mod nomad;
pub mod ops;
pub mod probe;
pub mod provision;
pub mod runtime;
pub mod signals;
pub mod ssh;
pub mod tui;
pub mod ui;
pub mod world;
