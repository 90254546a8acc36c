//! `GET /v1/nodes`: a list of node stubs.
//!
//! Today's decoder is `serde_json::from_slice` into `Vec<NodeStub>` (what
//! `nomad::Client::get` does); the streaming, memory-bounded list decoder of branch
//! truth-nomad replaces it: repoint `decode` and nothing else.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tui::nomad::NodeStub;
use platform_tui_fuzz::touch_node;

fn decode(body: &[u8]) -> Option<Vec<NodeStub>> {
    serde_json::from_slice(body).ok()
}

fuzz_target!(|data: &[u8]| {
    for n in decode(data).iter().flatten() {
        touch_node(n);
    }
});
