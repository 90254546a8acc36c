//! `GET /v1/event/stream`: NDJSON event frames through [`EventLineDecoder`] in
//! arbitrary chunkings ([`chunked`]), then what the watch does with each frame:
//! resume filtering and decoding the `Allocation`/`Job`/`Node` payloads into rows.
//!
//! Checked besides "no panic": the decoded lines do not depend on how the stream was
//! cut. Repoint `EventLineDecoder::push` when the decoder changes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tui::nomad::decode::{alloc_event, job_event, node_event, Names};
use platform_tui::nomad::events::{resume_filter, EventLineDecoder, Line};
use platform_tui_fuzz::{chunked, touch_alloc, touch_job, touch_node};

fuzz_target!(|data: &[u8]| {
    let Some((chunks, stream)) = chunked(data) else {
        return;
    };
    let expected = EventLineDecoder::default().push(stream);

    let mut decoder = EventLineDecoder::default();
    let mut got = Vec::new();
    for chunk in chunks {
        got.extend(decoder.push(chunk));
    }
    assert_eq!(got, expected, "event lines depend on chunking");

    let mut last = 0;
    let mut names = Names::default();
    for line in got.into_iter().flatten() {
        let Line::Frame(frame) = line else { continue };
        let Some(frame) = resume_filter(frame, &mut last) else {
            continue;
        };
        for event in &frame.events {
            if let Ok(Some(a)) = alloc_event(event.payload(), &mut names) {
                touch_alloc(&a);
            }
            if let Ok(Some(j)) = job_event(event.payload(), &mut names) {
                touch_job(&j);
            }
            if let Ok(Some(n)) = node_event(event.payload(), &mut names) {
                touch_node(&n);
            }
        }
    }
});
