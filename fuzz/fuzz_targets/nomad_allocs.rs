//! `GET /v1/allocations`: a list of allocation stubs, through the console's streaming,
//! memory-bounded list decoder into counted compact rows (what `nomad::Client` does).
//! Repoint `decode` when the decoder changes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tui::domain::nomad::AllocList;
use platform_tui::nomad::{decode, DEFAULT_MAX_BODY};
use platform_tui_fuzz::touch_allocs;

fn decode(body: &[u8]) -> Option<AllocList> {
    decode::alloc_list(body, DEFAULT_MAX_BODY).ok()
}

fuzz_target!(|data: &[u8]| {
    if let Some(list) = decode(data) {
        touch_allocs(&list);
    }
});
