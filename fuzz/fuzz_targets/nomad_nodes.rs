//! `GET /v1/nodes`: a list of node stubs, through the console's streaming list decoder
//! into compact rows. Repoint `decode` when the decoder changes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tui::domain::nomad::NodeRow;
use platform_tui::nomad::{decode, DEFAULT_MAX_BODY};
use platform_tui_fuzz::touch_node;

fn decode(body: &[u8]) -> Option<Vec<NodeRow>> {
    decode::decode_all(body, DEFAULT_MAX_BODY).ok()
}

fuzz_target!(|data: &[u8]| {
    for n in decode(data).iter().flatten() {
        touch_node(n);
    }
});
