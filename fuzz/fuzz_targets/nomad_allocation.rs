//! `GET /v1/allocation/:id`: one allocation with its task states and events, decoded
//! and made visible for the detail pane (what `nomad::Client::allocation` does).
//! Repoint `decode` when the decoder changes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tui::domain::nomad::AllocDetail;
use platform_tui::nomad::decode;
use platform_tui_fuzz::touch_detail;

fn decode(body: &[u8]) -> Option<AllocDetail> {
    decode::allocation(body).ok()
}

fuzz_target!(|data: &[u8]| {
    if let Some(a) = decode(data) {
        touch_detail(&a);
    }
});
