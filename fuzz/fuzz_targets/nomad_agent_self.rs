//! `GET /v1/agent/self`: the agent's config, serf member and stats (lenient: stray
//! numbers in `stats`, a string or object `Version`).
//!
//! Today's decoder is `serde_json::from_slice` into `AgentSelf` (what
//! `nomad::Client::get` does); repoint `decode` when the decoder changes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tui::nomad::AgentSelf;
use platform_tui_fuzz::touch_agent;

fn decode(body: &[u8]) -> Option<AgentSelf> {
    serde_json::from_slice(body).ok()
}

fuzz_target!(|data: &[u8]| {
    if let Some(a) = decode(data) {
        touch_agent(&a);
    }
});
