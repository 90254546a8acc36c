//! BIRD reply parsers (`show status`, `show protocols [all]`, `show route [all]`,
//! `show route export`, `enable`/`disable`) on arbitrary text, each line taken as a
//! reply line with whatever code it claims ([`reply_from_text`]), so the parsers see
//! shapes the framer would pass but no fixture has.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tui_fuzz::{parse_with_every_parser, reply_from_text};

fuzz_target!(|data: &[u8]| {
    parse_with_every_parser(&reply_from_text(data));
});
