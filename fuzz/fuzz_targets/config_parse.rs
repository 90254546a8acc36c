//! The config loader, `config::parse(text, path)`, on arbitrary text: errors are fine
//! (and must format, with their file:line:col), panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    // `config::load` reads with `read_to_string`, which refuses invalid UTF-8; lossy
    // decoding lets every input reach the parser instead of being dropped.
    let text = String::from_utf8_lossy(data);
    match platform_tui::config::parse(&text, Path::new("/etc/platform-tui/config.toml")) {
        Ok(cfg) => {
            let _ = format!("{cfg:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
