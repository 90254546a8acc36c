//! `GET /v1/jobs`: a list of job stubs with their summaries.
//!
//! Today's decoder is `serde_json::from_slice` into `Vec<JobStub>` (what
//! `nomad::Client::get` does); the streaming, memory-bounded list decoder of branch
//! truth-nomad replaces it: repoint `decode` and nothing else.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tui::nomad::JobStub;
use platform_tui_fuzz::touch_job;

fn decode(body: &[u8]) -> Option<Vec<JobStub>> {
    serde_json::from_slice(body).ok()
}

fuzz_target!(|data: &[u8]| {
    for j in decode(data).iter().flatten() {
        touch_job(j);
    }
});
