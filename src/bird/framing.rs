//! Incremental framing of BIRD control-socket replies.
//!
//! Grammar (bird.md §1): `DDDD-text` is a reply line with more to follow,
//! `DDDD text` (space) is the last line of a reply, a line starting with a
//! single space continues with the previous code, and `+text` is an
//! asynchronous log line that may appear anywhere. A reply ends only on the
//! space separator, never on a "known" code.

use super::BirdError;

/// Longest physical line we accept; BIRD caps its own lines at 512 bytes, so
/// anything near this is a desynchronised or hostile peer.
pub const MAX_LINE: usize = 64 * 1024;
/// Largest reply we buffer (a full-table `show route all` stays well below).
pub const MAX_REPLY: usize = 16 * 1024 * 1024;

/// One physical line of a reply, with its 5-character prefix (or the single
/// continuation space) removed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplyLine {
    pub code: u16,
    pub text: String,
}

/// A complete reply: every line up to and including the `DDDD ` line.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Reply {
    pub lines: Vec<ReplyLine>,
    /// Code of the final `DDDD ` line.
    pub code: u16,
    /// `+` lines seen while this reply was being read.
    pub asyncs: Vec<String>,
}

impl Reply {
    /// BIRD run-time (8xxx) and parse (9xxx) errors.
    pub fn is_error(&self) -> bool {
        self.code >= 8000
    }

    /// Text of the last line (the error message for 8xxx/9xxx replies).
    pub fn message(&self) -> &str {
        self.lines.last().map(|l| l.text.as_str()).unwrap_or("")
    }
}

/// Feed bytes, get complete replies. Keeps partial lines between calls.
#[derive(Debug, Default)]
pub struct Framer {
    /// Bytes not yet terminated by `\n`.
    partial: Vec<u8>,
    /// Lines of the reply being assembled.
    lines: Vec<ReplyLine>,
    /// Async lines not yet attached to a completed reply.
    asyncs: Vec<String>,
    /// Bytes held by `lines` + `asyncs`, for the memory bound.
    held: usize,
}

impl Framer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Consume `bytes`; return every reply completed by them, in order.
    ///
    /// After an error the framer is reset: the stream is out of sync and the
    /// caller is expected to drop the connection.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Reply>, BirdError> {
        let result = self.push_inner(bytes);
        if result.is_err() {
            *self = Self::default();
        }
        result
    }

    /// True when part of a reply (or a partial line) has been received.
    pub fn in_reply(&self) -> bool {
        !self.partial.is_empty() || !self.lines.is_empty()
    }

    /// Async lines received outside any reply that have not been attached to
    /// one yet (e.g. an `echo all` event feed between requests).
    pub fn take_asyncs(&mut self) -> Vec<String> {
        let taken = std::mem::take(&mut self.asyncs);
        self.held -= taken.iter().map(String::len).sum::<usize>();
        taken
    }

    fn push_inner(&mut self, bytes: &[u8]) -> Result<Vec<Reply>, BirdError> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let (head, tail) = rest.split_at(nl);
            rest = &tail[1..];
            if self.partial.len() + head.len() > MAX_LINE {
                return Err(line_too_long());
            }
            let reply = if self.partial.is_empty() {
                self.line(head)?
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(head);
                self.line(&line)?
            };
            if let Some(r) = reply {
                out.push(r);
            }
        }
        if self.partial.len() + rest.len() > MAX_LINE {
            return Err(line_too_long());
        }
        self.partial.extend_from_slice(rest);
        Ok(out)
    }

    /// Handle one physical line (without its `\n`).
    fn line(&mut self, raw: &[u8]) -> Result<Option<Reply>, BirdError> {
        match raw.first() {
            Some(b'+') => {
                let text = String::from_utf8_lossy(&raw[1..]).into_owned();
                self.hold(text.len())?;
                self.asyncs.push(text);
                Ok(None)
            }
            Some(b' ') => {
                let Some(prev) = self.lines.last() else {
                    return Err(BirdError::Protocol(format!(
                        "continuation line outside a reply: {}",
                        excerpt(raw)
                    )));
                };
                let code = prev.code;
                let text = String::from_utf8_lossy(&raw[1..]).into_owned();
                self.hold(text.len() + 8)?;
                self.lines.push(ReplyLine { code, text });
                Ok(None)
            }
            _ => {
                let (code, last) = match raw {
                    [a, b, c, d, sep, ..]
                        if [a, b, c, d].iter().all(|x| x.is_ascii_digit())
                            && (*sep == b'-' || *sep == b' ') =>
                    {
                        let code = [a, b, c, d]
                            .iter()
                            .fold(0u16, |acc, x| acc * 10 + u16::from(**x - b'0'));
                        (code, *sep == b' ')
                    }
                    _ => {
                        return Err(BirdError::Protocol(format!(
                            "line does not match the reply grammar: {}",
                            excerpt(raw)
                        )))
                    }
                };
                let text = String::from_utf8_lossy(&raw[5..]).into_owned();
                self.hold(text.len() + 8)?;
                self.lines.push(ReplyLine { code, text });
                if !last {
                    return Ok(None);
                }
                let reply = Reply {
                    lines: std::mem::take(&mut self.lines),
                    code,
                    asyncs: std::mem::take(&mut self.asyncs),
                };
                self.held = 0;
                Ok(Some(reply))
            }
        }
    }

    fn hold(&mut self, n: usize) -> Result<(), BirdError> {
        self.held += n;
        if self.held > MAX_REPLY {
            return Err(BirdError::Protocol(format!(
                "reply larger than {} MiB",
                MAX_REPLY >> 20
            )));
        }
        Ok(())
    }
}

fn line_too_long() -> BirdError {
    BirdError::Protocol(format!("line longer than {} KiB", MAX_LINE >> 10))
}

/// Short printable excerpt of a bad line for error messages.
fn excerpt(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(&raw[..raw.len().min(60)]);
    format!("{s:?}")
}

/// Frame the whole transcript of ONE reply (fixtures, tests). `+` lines after
/// the final line are attached to the reply; a second reply is an error.
pub fn parse_reply(text: &str) -> Result<Reply, BirdError> {
    let mut framer = Framer::new();
    let mut replies = framer.push(text.as_bytes())?;
    if !text.is_empty() && !text.ends_with('\n') {
        replies.extend(framer.push(b"\n")?);
    }
    if framer.in_reply() {
        return Err(BirdError::Closed);
    }
    let trailing = framer.take_asyncs();
    match replies.len() {
        0 => Err(BirdError::Closed),
        1 => {
            let mut reply = replies.remove(0);
            reply.asyncs.extend(trailing);
            Ok(reply)
        }
        n => Err(BirdError::Protocol(format!("expected one reply, got {n}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(code: u16, text: &str) -> ReplyLine {
        ReplyLine {
            code,
            text: text.to_string(),
        }
    }

    #[test]
    fn banner_is_a_reply() {
        let r = parse_reply("0001 BIRD 2.0.12 ready.\n").expect("banner");
        assert_eq!(r.code, 1);
        assert_eq!(r.message(), "BIRD 2.0.12 ready.");
        assert!(!r.is_error());
    }

    #[test]
    fn continuation_inherits_code_and_keeps_tabs() {
        let r = parse_reply("1007-Table master4:\n 198.18.0.10/32  x\n \tvia 1.2.3.4\n0000 \n")
            .expect("reply");
        assert_eq!(
            r.lines,
            vec![
                line(1007, "Table master4:"),
                line(1007, "198.18.0.10/32  x"),
                line(1007, "\tvia 1.2.3.4"),
                line(0, ""),
            ]
        );
        assert_eq!(r.code, 0);
        assert_eq!(r.message(), "");
    }

    #[test]
    fn code_changes_inside_reply() {
        let t = "1007-Table master4:\n x\n1008-\tType: BGP univ\n1012-\tBGP.origin: IGP\n \tBGP.as_path: 65001\n1007-   y\n0000 \n";
        let r = parse_reply(t).expect("reply");
        let codes: Vec<u16> = r.lines.iter().map(|l| l.code).collect();
        assert_eq!(codes, vec![1007, 1007, 1008, 1012, 1012, 1007, 0]);
    }

    #[test]
    fn does_not_end_on_known_code() {
        let mut f = Framer::new();
        assert!(f.push(b"0010-x: already enabled\n").expect("ok").is_empty());
        assert!(f.in_reply());
        let r = f.push(b"0000 \n").expect("ok");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].lines.len(), 2);
    }

    #[test]
    fn final_line_trailing_space_and_empty_text() {
        let r = parse_reply("0000 \n").expect("reply");
        assert_eq!(r.lines, vec![line(0, "")]);
        let r = parse_reply("0013 Daemon is up and running \n").expect("reply");
        assert_eq!(r.message(), "Daemon is up and running ");
    }

    #[test]
    fn async_lines_anywhere() {
        let mut f = Framer::new();
        let t = b"+before\n0009-anycast: disabled\n+middle\n0000 \n+after\n0011-x\n0000 \n";
        let r = f.push(t).expect("ok");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].asyncs, vec!["before", "middle"]);
        assert_eq!(r[1].asyncs, vec!["after"]);
        assert!(f.push(b"+lonely\n").expect("ok").is_empty());
        assert_eq!(f.take_asyncs(), vec!["lonely"]);
        assert!(f.take_asyncs().is_empty());
    }

    #[test]
    fn chunked_at_every_position() {
        let t = "+a\n1007-Table master4:\n 198.18.0.10/32  x\n1008-\tType: y\n+b\n0000 \n0001 BIRD 2.0.12 ready.\n";
        let mut whole = Framer::new();
        let expect = whole.push(t.as_bytes()).expect("ok");
        assert_eq!(expect.len(), 2);
        for i in 0..=t.len() {
            let mut f = Framer::new();
            let mut got = f.push(&t.as_bytes()[..i]).expect("ok");
            got.extend(f.push(&t.as_bytes()[i..]).expect("ok"));
            assert_eq!(got, expect, "split at {i}");
        }
        // and byte by byte
        let mut f = Framer::new();
        let mut got = Vec::new();
        for b in t.as_bytes() {
            got.extend(f.push(std::slice::from_ref(b)).expect("ok"));
        }
        assert_eq!(got, expect);
    }

    #[test]
    fn garbage_is_protocol_error() {
        for bad in [
            "hello\n",
            "0000\n",
            "000 x\n",
            "00a0 x\n",
            "\n",
            " continuation first\n",
            "0000:x\n",
            "\t0000 x\n",
        ] {
            let mut f = Framer::new();
            assert!(
                matches!(f.push(bad.as_bytes()), Err(BirdError::Protocol(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn framer_resets_after_error() {
        let mut f = Framer::new();
        assert!(f.push(b"1002-x\nbogus\n").is_err());
        assert!(!f.in_reply());
        assert_eq!(f.push(b"0000 \n").expect("ok").len(), 1);
    }

    #[test]
    fn invalid_utf8_is_lossy() {
        let mut f = Framer::new();
        let r = f.push(b"1002-caf\xe9\n0000 \n").expect("ok");
        assert_eq!(r[0].lines[0].text, "caf\u{fffd}");
    }

    #[test]
    fn line_and_reply_bounds() {
        let mut f = Framer::new();
        let long = vec![b'x'; MAX_LINE + 1];
        assert!(matches!(f.push(&long), Err(BirdError::Protocol(_))));
        let mut f = Framer::new();
        // Split a long line over many pushes: still caught.
        let mut err = None;
        for _ in 0..70 {
            if let Err(e) = f.push(&[b'1'; 1024]) {
                err = Some(e);
                break;
            }
        }
        assert!(matches!(err, Some(BirdError::Protocol(_))));
        // Many short lines exceeding the reply bound.
        let mut f = Framer::new();
        let chunk: Vec<u8> = " ".bytes().chain([b'y'; 1000]).chain(*b"\n").collect();
        f.push(b"1007-x\n").expect("ok");
        let mut err = None;
        for _ in 0..(MAX_REPLY / 1000 + 10) {
            if let Err(e) = f.push(&chunk) {
                err = Some(e);
                break;
            }
        }
        assert!(matches!(err, Some(BirdError::Protocol(_))));
    }

    #[test]
    fn parse_reply_rejects_incomplete_and_multiple() {
        assert_eq!(parse_reply(""), Err(BirdError::Closed));
        assert_eq!(parse_reply("1002-x\n"), Err(BirdError::Closed));
        assert!(matches!(
            parse_reply("0000 \n0000 \n"),
            Err(BirdError::Protocol(_))
        ));
        // missing final newline is tolerated for hand-written transcripts
        assert_eq!(parse_reply("0000 ").expect("ok").code, 0);
    }
}
