//! Helpers shared by the fuzz targets in `fuzz_targets/`: how an input is cut into the
//! chunks a socket would deliver, how arbitrary text becomes a BIRD reply, and the calls
//! the console makes on every decoded value. The targets themselves stay one small file
//! per decoder, so each can be repointed at a new decoder by changing one call.
//!
//! Owns nothing of the console: it only calls the main crate's public API.

use platform_tui::bird::{self, Reply, ReplyLine};
use platform_tui::domain::nomad::{AllocDetail, AllocList, AllocRow, JobRow, NodeRow};
use platform_tui::nomad::{Deployment, JobVersion, RegisterResponse};
use platform_tui::provision::stream::{Body, Hook};
use platform_tui::provision::{tracker, Event, Outputs, Tracker};
use platform_tui::ssh::share::PublicKey;

/// Split a streaming target's input into (chunk plan, stream bytes).
///
/// The first byte is the largest chunk (0 = the whole stream in one push, 1 = byte by
/// byte), the second seeds the chunk sizes. Seeds are fixture files with two bytes in
/// front (`fuzz/seed-corpora`), so the fuzzer mutates the chunking and the bytes alike.
pub fn chunked(data: &[u8]) -> Option<(Chunks<'_>, &[u8])> {
    let (&[max, seed], stream) = data.split_first_chunk::<2>()?;
    Some((
        Chunks {
            rest: stream,
            max: usize::from(max),
            // xorshift must not start at zero.
            state: u32::from(seed) | 0x100,
        },
        stream,
    ))
}

/// The chunks of a stream, in order; together they are the whole stream.
pub struct Chunks<'a> {
    rest: &'a [u8],
    max: usize,
    state: u32,
}

impl<'a> Iterator for Chunks<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let len = if self.max == 0 {
            self.rest.len()
        } else {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 17;
            self.state ^= self.state << 5;
            1 + self.state as usize % self.max
        };
        let (head, tail) = self.rest.split_at(len.min(self.rest.len()));
        self.rest = tail;
        Some(head)
    }
}

/// Arbitrary text as a BIRD reply, without the framer's grammar check, so the parsers
/// see every shape of line: `DDDD-text`/`DDDD text` take their code, `+text` is an async
/// line, anything else continues the previous code (1007 when there is none). The reply's
/// code is its last line's, as the framer would have it.
pub fn reply_from_text(data: &[u8]) -> Reply {
    let mut reply = Reply::default();
    let mut code = 1007;
    for raw in data.split(|&b| b == b'\n') {
        let text = match raw {
            [b'+', rest @ ..] => {
                reply
                    .asyncs
                    .push(String::from_utf8_lossy(rest).into_owned());
                continue;
            }
            [a, b, c, d, b'-' | b' ', rest @ ..]
                if [a, b, c, d].iter().all(|x| x.is_ascii_digit()) =>
            {
                code = [a, b, c, d]
                    .iter()
                    .fold(0u16, |acc, x| acc * 10 + u16::from(**x - b'0'));
                rest
            }
            [b' ', rest @ ..] => rest,
            other => other,
        };
        reply.lines.push(ReplyLine {
            code,
            text: String::from_utf8_lossy(text).into_owned(),
        });
    }
    reply.code = code;
    reply
}

/// Every BIRD reply parser on one reply, as the client would call them; whatever they
/// return must also serialise (`status --json`) and format (error cells).
pub fn parse_with_every_parser(r: &Reply) {
    let _ = r.is_error();
    let _ = r.message();
    json(bird::parse_status(r));
    json(bird::parse_protocols(r));
    json(bird::parse_protocol_detail(r));
    json(bird::parse_routes(r));
    json(bird::parse_toggle(r));
}

fn json<T: serde::Serialize>(result: Result<T, bird::BirdError>) {
    match result {
        Ok(v) => {
            serde_json::to_string(&v).expect("a parsed reply serialises");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// What the Nomad pane and `status` read off an allocation row.
pub fn touch_alloc(a: &AllocRow) {
    let _ = a.short_id();
    let _ = a.state().needs_attention();
    let _ = a.client.as_str();
    let _ = a.desired.as_str();
}

/// What the Nomad pane and `status` read off a metro's allocation list.
pub fn touch_allocs(l: &AllocList) {
    for a in l.rows.iter() {
        touch_alloc(a);
    }
    let _ = l.counts.attention();
    for c in l.by_job.values() {
        let _ = c.attention();
    }
}

/// What the Nomad pane reads off a job.
pub fn touch_job(j: &JobRow) {
    if let Some(s) = j.summary {
        // The jobs table's warning test and its queued column.
        let _ = s.failed + s.lost;
        let _ = s.queued + s.starting;
    }
}

/// What the Nomad pane reads off a node.
pub fn touch_node(n: &NodeRow) {
    let _ = n.is_ready();
}

/// What the detail pane reads off an opened allocation.
pub fn touch_detail(a: &AllocDetail) {
    let _ = a.short_id();
    let _ = a.restarts();
    let _ = a.is_bad();
    let _ = a.tasks();
}

/// What the provision pane, its progress lines and `provision --json` read off one
/// event of a terraform/tofu `-json` stream.
pub fn touch_provision_event(e: &Event) {
    let _ = e.text();
    let Event::Message(m) = e else { return };
    let _ = m.level;
    let _ = &m.program;
    let _ = m.timestamp.map(|t| t.duration_since(std::time::UNIX_EPOCH));
    match &m.body {
        Body::Version { version, ui } => {
            let _ = (version.len(), ui.len());
        }
        Body::Diagnostic(d) => {
            let _ = d.to_string();
            let _ = d.location();
            let _ = (
                &d.code,
                &d.context,
                d.range.as_ref().map(|r| (r.end_line, r.end_column)),
            );
        }
        Body::PlannedChange(c) | Body::ResourceDrift(c) => {
            let _ = (tracker::sign(&c.action), c.action.word());
            let _ = (&c.resource, &c.previous, &c.reason);
        }
        Body::ChangeSummary(s) => {
            let _ = s.is_empty();
            let _ = s.operation;
        }
        Body::Outputs(o) => {
            for (name, out) in o {
                let _ = format!("{name} = {} ({:?})", out.value, out.action);
            }
        }
        Body::ApplyStart(h)
        | Body::ApplyProgress(h)
        | Body::ApplyComplete(h)
        | Body::ApplyErrored(h)
        | Body::RefreshStart(h)
        | Body::RefreshComplete(h) => touch_hook(h),
        Body::ProvisionStart(p)
        | Body::ProvisionProgress(p)
        | Body::ProvisionComplete(p)
        | Body::ProvisionErrored(p) => {
            let _ = (
                &p.resource.addr,
                &p.resource.key,
                p.provisioner.len(),
                &p.output,
            );
        }
        Body::InitOutput { code } => {
            let _ = code.len();
        }
        Body::Unknown { kind } => {
            let _ = kind.len();
        }
        Body::Log | Body::StateLockAcquire | Body::StateLockRelease => {}
    }
    let _ = format!("{m:?}");
}

fn touch_hook(h: &Hook) {
    let _ = h.action.as_ref().map(|a| (a.word(), tracker::sign(a)));
    let _ = (&h.resource.addr, &h.id_key, &h.id_value);
    let _ = h.elapsed.map(tracker::seconds);
}

/// What the pane reads off a run's [`Tracker`] after every event.
pub fn touch_tracker(t: &Tracker) {
    let _ = (t.finished(), t.changing(), t.errors().count());
    for r in &t.rows {
        let _ = (
            r.state.word(),
            tracker::sign(&r.action),
            &r.reason,
            &r.last_line,
        );
        let _ = r.elapsed.map(tracker::seconds);
        let _ = r.started;
    }
    let _ = t.planned.map(|s| s.is_empty());
    let _ = t.applied.map(|s| s.is_empty());
    let _ = (t.log.len(), t.log_dropped, &t.version, t.state_lock);
}

/// What `provision` prints of `output -json`.
pub fn touch_outputs(o: &Outputs) {
    for line in o.lines() {
        let _ = line.len();
    }
    for (_, out) in o.0.iter() {
        let _ = (out.kind.to_string(), out.value.is_sensitive());
    }
}

/// What a rollout reads off a deployment: its standing and summed counts.
pub fn touch_deployment(d: &Deployment) {
    let _ = d.standing();
    let c = d.counts();
    let _ = (
        c.desired,
        c.placed,
        c.healthy,
        c.unhealthy,
        c.status,
        c.description,
    );
    let _ = (
        &d.id,
        &d.job_id,
        d.job_version,
        d.job_modify_index,
        d.job_spec_modify_index,
    );
    let _ = (d.create_index, d.modify_index);
}

/// What history and revert read off a job's versions.
pub fn touch_versions(v: &[JobVersion]) {
    for j in v {
        let _ = j.app_ref();
        let _ = (j.version, j.stable, j.job_modify_index, j.submit_time);
    }
}

/// What a rollout reads off a register (or revert) answer.
pub fn touch_register(r: &RegisterResponse) {
    let _ = (
        &r.eval_id,
        r.eval_create_index,
        r.job_modify_index,
        &r.warnings,
    );
}

/// What `share` does with a parsed key: its audit name and `authorized_keys` line.
pub fn touch_public_key(k: &PublicKey) {
    let _ = k.name();
    let line = platform_tui::ssh::share::line(
        std::path::Path::new("/usr/local/bin/platform-tui"),
        std::path::Path::new("/etc/platform-tui/config.toml"),
        k,
        false,
    );
    let _ = line.map(|l| l.len());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_stream_in_order() {
        for max in [0u8, 1, 2, 7, 255] {
            let mut data = vec![max, 42];
            data.extend(0..=200u8);
            let (chunks, stream) = chunked(&data).expect("two control bytes");
            let parts: Vec<&[u8]> = chunks.collect();
            assert_eq!(parts.concat(), stream);
            match max {
                0 => assert_eq!(parts.len(), 1),
                1 => assert!(parts.iter().all(|p| p.len() == 1)),
                m => assert!(parts.iter().all(|p| p.len() <= usize::from(m))),
            }
        }
        assert!(chunked(b"x").is_none());
    }

    #[test]
    fn text_becomes_reply() {
        let r = reply_from_text(b"1002-a b c\n+log\n more\ngarbage\n0000 ");
        let codes: Vec<u16> = r.lines.iter().map(|l| l.code).collect();
        assert_eq!(codes, vec![1002, 1002, 1002, 0]);
        assert_eq!(r.lines[1].text, "more");
        assert_eq!(r.lines[2].text, "garbage");
        assert_eq!(r.asyncs, vec!["log"]);
        assert_eq!(r.code, 0);
    }
}
