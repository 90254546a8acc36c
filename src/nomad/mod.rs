//! Nomad backend: everything between the console and one metro's Nomad agent
//! over its HTTP API (`shared/reference/nomad-api.md`).
//!
//! Owns settings from `NOMAD_*` and the HTTP client with blocking queries
//! ([`client`]), lenient serde models of the detail payloads ([`models`]), the
//! streaming decode of list answers into compact, visible rows ([`decode`]), the
//! reconnecting event stream ([`events`]), task log streaming ([`logs`]), and the
//! per-metro live snapshot the console and `status` read ([`watch`]). Each metro is
//! its own single-node cluster, so callers hold one [`Client`] per metro. Knows
//! nothing about the terminal UI.

pub mod client;
pub mod decode;
mod error;
pub mod events;
mod follow;
pub mod jobs;
pub mod logs;
pub mod models;
mod settings;
pub mod watch;

pub use client::{Client, Indexed, NomadError, QueryOptions, Settings, DEFAULT_MAX_BODY};
pub use events::{Event, EventFrame, EventStream, StreamItem, StreamOptions};
pub use jobs::{Deployment, JobVersion, RegisterResponse, Standing};
pub use logs::{LogChunk, LogKind};
pub use models::*;
pub use watch::{snapshot, spawn_watch, Follow, NomadSnapshot, NomadSummary, Piece};
