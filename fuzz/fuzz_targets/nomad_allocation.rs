//! `GET /v1/allocation/:id`: one allocation with its task states and events.
//!
//! Today's decoder is `serde_json::from_slice` into `Allocation` (what
//! `nomad::Client::get` does); repoint `decode` when the decoder changes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tui::nomad::Allocation;
use platform_tui_fuzz::touch_alloc;

fn decode(body: &[u8]) -> Option<Allocation> {
    serde_json::from_slice(body).ok()
}

fuzz_target!(|data: &[u8]| {
    if let Some(a) = decode(data) {
        touch_alloc(&a);
    }
});
