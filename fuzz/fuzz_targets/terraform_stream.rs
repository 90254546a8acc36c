//! The terraform/tofu `-json` stream: arbitrary bytes cut into lines as the run reads
//! stdout (lossy UTF-8, no line end), each through [`parse_line`] and folded into a
//! [`Tracker`], as the provision pane and `provision` do; and the same bytes as
//! `output -json` through [`Outputs::parse`]. Repoint `parse_line` when the parser changes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tui::provision::{parse_line, Outputs, Tracker};
use platform_tui_fuzz::{touch_outputs, touch_provision_event, touch_tracker};

fuzz_target!(|data: &[u8]| {
    let mut tracker = Tracker::default();
    for line in data.split(|&b| b == b'\n') {
        let event = parse_line(&String::from_utf8_lossy(line));
        touch_provision_event(&event);
        if let Some(progress) = tracker.take(&event) {
            let _ = progress.len();
        }
    }
    touch_tracker(&tracker);
    if let Ok(outputs) = Outputs::parse(data) {
        touch_outputs(&outputs);
    }
});
