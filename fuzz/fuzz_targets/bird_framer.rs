//! BIRD control-socket stream: arbitrary bytes in arbitrary chunkings through the
//! [`Framer`], then every reply it yields through every reply parser.
//!
//! Checked besides "no panic": framing does not depend on how the socket cut the stream
//! (same replies, same pending state, same error or none as one whole push).
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tui::bird::framing::{parse_reply, Framer};
use platform_tui_fuzz::{chunked, parse_with_every_parser};

fuzz_target!(|data: &[u8]| {
    let Some((chunks, stream)) = chunked(data) else {
        return;
    };

    let mut whole = Framer::new();
    let whole_result = whole.push(stream);

    let mut framer = Framer::new();
    let mut replies = Vec::new();
    let mut failed = false;
    for chunk in chunks {
        // After an error the framer resets and takes the rest as a new stream, as
        // documented; keep feeding it to exercise that path too.
        match framer.push(chunk) {
            Ok(r) => replies.extend(r),
            Err(_) => failed = true,
        }
        let _ = framer.in_reply();
    }
    match whole_result {
        Ok(expected) => {
            assert!(!failed, "chunked stream failed where the whole one framed");
            assert_eq!(replies, expected, "replies depend on chunking");
            assert_eq!(framer.in_reply(), whole.in_reply());
            assert_eq!(framer.take_asyncs(), whole.take_asyncs());
        }
        Err(_) => assert!(failed, "chunked stream framed where the whole one failed"),
    }

    for reply in &replies {
        parse_with_every_parser(reply);
    }
    // The one-reply helper that fixtures and tests go through.
    if let Ok(reply) = parse_reply(&String::from_utf8_lossy(stream)) {
        parse_with_every_parser(&reply);
    }
});
