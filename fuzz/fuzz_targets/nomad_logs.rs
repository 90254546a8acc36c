//! `GET /v1/client/fs/logs/:alloc`: the body of concatenated `StreamFrame` objects
//! through [`LogDecoder`], in arbitrary chunkings ([`chunked`]).
//!
//! Checked besides "no panic": the decoded chunks, and whether and where the stream
//! failed, do not depend on how the body was cut ([`CHECK_CHUNKING`]). Repoint `push`
//! when the decoder changes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tui::nomad::logs::{LogChunk, LogDecoder};
use platform_tui_fuzz::chunked;

/// On: the decoder frames each `StreamFrame` before parsing it, so a cut inside a
/// number of a field it ignores (`\x01\x00{"x":1.5}`, byte by byte, used to fail) no
/// longer reads as bad JSON. Turn off only to look at other findings first.
const CHECK_CHUNKING: bool = true;

/// Decoded chunks, with errors reduced to "an error here" (their text quotes the
/// decoder's buffer, which legitimately depends on the chunking).
fn push(d: &mut LogDecoder, bytes: &[u8], out: &mut Vec<Option<LogChunk>>) {
    out.extend(d.push(bytes).into_iter().map(Result::ok));
}

fuzz_target!(|data: &[u8]| {
    let Some((chunks, stream)) = chunked(data) else {
        return;
    };
    let mut whole = LogDecoder::default();
    let mut expected = Vec::new();
    push(&mut whole, stream, &mut expected);

    let mut decoder = LogDecoder::default();
    let mut got = Vec::new();
    for chunk in chunks {
        push(&mut decoder, chunk, &mut got);
    }
    if CHECK_CHUNKING || !got.contains(&None) {
        assert_eq!(got, expected, "log chunks depend on chunking");
        assert_eq!(decoder.is_clean(), whole.is_clean());
    }
});
