//! Text SSH hands the console: a teammate's public key line ([`PublicKey::parse`], then
//! its audit name and `authorized_keys` line) and ssh's stderr, classified by
//! [`failure`] into the line to show and whether a person must act (then its hint).
//! The same input is both. Repoint the calls when a parser changes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tui::ssh::args::{failure, hint};
use platform_tui::ssh::share::PublicKey;
use platform_tui_fuzz::touch_public_key;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match PublicKey::parse(&text) {
        Ok(k) => touch_public_key(&k),
        Err(e) => {
            let _ = e.len();
        }
    }
    // The master's stderr arrives as lines, lossy UTF-8.
    let stderr: Vec<String> = text.lines().map(str::to_string).collect();
    if let Some((line, kind)) = failure(&stderr) {
        let _ = (line.len(), kind.needs_person());
        let _ = hint(kind, "ssh -F /etc/platform-tui/ssh_config fr");
    }
});
