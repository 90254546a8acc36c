//! `GET /v1/jobs`: a list of job stubs with their summaries, through the console's
//! streaming list decoder into compact rows. Repoint `decode` when the decoder changes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tui::domain::nomad::JobRow;
use platform_tui::nomad::{decode, DEFAULT_MAX_BODY};
use platform_tui_fuzz::touch_job;

fn decode(body: &[u8]) -> Option<Vec<JobRow>> {
    decode::decode_all(body, DEFAULT_MAX_BODY).ok()
}

fuzz_target!(|data: &[u8]| {
    for j in decode(data).iter().flatten() {
        touch_job(j);
    }
});
