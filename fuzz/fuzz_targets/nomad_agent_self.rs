//! `GET /v1/agent/self`: the agent's config and stats (lenient: stray numbers in
//! `stats`, a string or object `Version`), as `nomad::Client::agent_self` decodes it.
//! Repoint `decode` when the decoder changes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tui::nomad::{decode, AgentSelf};

fn decode(body: &[u8]) -> Option<AgentSelf> {
    decode::agent(body).ok()
}

fuzz_target!(|data: &[u8]| {
    if let Some(a) = decode(data) {
        let _ = format!("{a:?}");
    }
});
