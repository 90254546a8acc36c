//! Text from outside (daemons, APIs, logs, commands, config values) is untrusted: before it
//! reaches a terminal or a CLI line, control characters are made visible, so a job name or
//! a log line can never retitle, recolour or repaint the operator's terminal.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `s` with every control character (C0, DEL, C1) and the Unicode bidi overrides written
/// as escapes: ESC as `\x1b`, U+009B as `\u{9b}`. Tabs become a space; newlines stay
/// only where `keep_newlines` is asked of [`visible_lines`].
pub fn visible(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// Like [`visible`], but newlines are kept (for multi-line text such as a log).
pub fn visible_lines(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

fn needs_escape(c: char, keep_newlines: bool) -> bool {
    (c.is_control() && !(keep_newlines && c == '\n'))
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    if !s.chars().any(|c| needs_escape(c, keep_newlines)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !needs_escape(c, keep_newlines) {
            out.push(c);
        } else if c == '\t' {
            out.push(' ');
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_made_visible() {
        assert_eq!(visible("plain"), "plain");
        assert!(matches!(visible("plain"), Cow::Borrowed(_)));
        assert_eq!(visible("a\x1b]0;title\x07b"), "a\\x1b]0;title\\x07b");
        assert_eq!(visible("csi\u{9b}2J"), "csi\\u{9b}2J");
        assert_eq!(visible("line\nnext\r"), "line\\x0anext\\x0d");
        assert_eq!(visible_lines("line\nnext\r"), "line\nnext\\x0d");
        assert_eq!(visible("tab\there"), "tab here");
        assert_eq!(visible("\u{202e}evil"), "\\u{202e}evil");
    }

    proptest::proptest! {
        #[test]
        fn nothing_control_survives(s in proptest::prelude::any::<String>()) {
            let v = visible(&s);
            proptest::prop_assert!(!v.chars().any(char::is_control));
        }
    }
}
