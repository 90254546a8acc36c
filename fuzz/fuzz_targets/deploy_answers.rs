//! What a deployment reads from outside: Nomad's answers to a job register (or revert),
//! to `/v1/job/:id/versions`, `/v1/job/:id/deployment` and `/v1/deployment/:id`, Spin's
//! `/.well-known/spin/info`, and the publish command's output scanned for `Pushed with
//! digest`. Every decoder sees every input (the fixtures are one of each shape); each
//! decoded value is read as the rollout reads it. Repoint the calls when a decoder changes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_tui::deploy::{pushed_digest, verify};
use platform_tui::nomad::jobs;
use platform_tui_fuzz::{touch_deployment, touch_register, touch_versions};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = jobs::decode_register(data) {
        touch_register(&r);
    }
    if let Ok(mut v) = jobs::decode_versions(data) {
        // `Client::job_versions` orders them newest first.
        v.sort_by_key(|j| std::cmp::Reverse(j.version));
        touch_versions(&v);
    }
    if let Ok(d) = jobs::decode_deployment(data) {
        touch_deployment(&d);
    }
    if let Ok(Some(d)) = jobs::decode_maybe_deployment(data) {
        touch_deployment(&d);
    }
    if let Ok(v) = verify::info_version(data) {
        let _ = v.map(|v| v.len());
    }
    if let Some(d) = pushed_digest(&String::from_utf8_lossy(data)) {
        let _ = d.len();
    }
});
