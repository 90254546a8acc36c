//! `GET /v1/allocations` and `/v1/job/:id/allocations`: a list of allocation stubs.
//!
//! Today's decoder is `serde_json::from_slice` into `Vec<AllocStub>` (what
//! `nomad::Client::get` does); the streaming, memory-bounded list decoder of branch
//! truth-nomad replaces it: repoint `decode` and nothing else.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tui::nomad::AllocStub;
use platform_tui_fuzz::touch_alloc;

fn decode(body: &[u8]) -> Option<Vec<AllocStub>> {
    serde_json::from_slice(body).ok()
}

fuzz_target!(|data: &[u8]| {
    for a in decode(data).iter().flatten() {
        touch_alloc(a);
    }
});
