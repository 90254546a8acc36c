//! Where each entry of a JSON list starts and ends, found byte by byte as the body
//! streams in ([`ArraySplitter`], [`ValueScan`]), without parsing the entries. Answers
//! "which bytes are one entry?"; what an entry means is decided in `wire`.

use super::MAX_ENTRY;
use crate::nomad::client::NomadError;

/// Where the splitter is in the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    /// Before the opening `[` (or a `null`).
    #[default]
    Start,
    /// Inside `null`; this many of its letters seen.
    Null(u8),
    /// After `[`: an entry or `]`.
    First,
    /// After `,`: an entry.
    Next,
    /// Inside an entry.
    Entry,
    /// After an entry: `,` or `]`.
    After,
    /// After the closing `]`: only whitespace.
    Done,
}

/// Where one JSON value ends, found in bytes that arrive in pieces: the scan remembers
/// where it stopped (depth, inside a string, after a backslash), so every byte is looked
/// at once however the value is cut. Nothing is parsed here; framing comes first and the
/// value's decoder sees it whole, so a cut never looks like bad JSON (serde_json calls
/// `1.` or `-` at the end of its input an invalid number, not the end of the input).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValueScan {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// A bare scalar (number, `true`, ...): it ends at `,` `]` `}` or space.
    scalar: bool,
}

/// The bytes that matter inside a string.
const STRING_STOPS: [bool; 256] = stops(b"\"\\");
/// The bytes that matter inside an object or array, outside strings.
const STRUCT_STOPS: [bool; 256] = stops(b"\"{}[]");
/// The bytes that end a bare scalar.
const SCALAR_STOPS: [bool; 256] = stops(b",]} \t\n\r");

const fn stops(bytes: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] = true;
        i += 1;
    }
    t
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl ValueScan {
    /// A value whose first byte is `first` (not yet scanned: [`ValueScan::end`] starts
    /// at it).
    pub fn new(first: u8) -> ValueScan {
        ValueScan {
            scalar: !matches!(first, b'{' | b'[' | b'"'),
            ..ValueScan::default()
        }
    }

    /// Scan `piece[from..]`. `Some(end)`: the value ends before `piece[end]` (a scalar
    /// ends before the byte that ends it, which is not part of it). `None`: it goes on
    /// in the next piece.
    pub fn end(&mut self, piece: &[u8], from: usize) -> Option<usize> {
        let mut i = from;
        while i < piece.len() {
            // Most bytes change nothing: skip to the next one that may.
            let stops = if self.scalar {
                &SCALAR_STOPS
            } else if self.in_string {
                &STRING_STOPS
            } else {
                &STRUCT_STOPS
            };
            if !self.escaped && !stops[usize::from(piece[i])] {
                i = piece[i..]
                    .iter()
                    .position(|&c| stops[usize::from(c)])
                    .map_or(piece.len(), |k| i + k);
                continue;
            }
            let b = piece[i];
            if self.scalar {
                return Some(i);
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    _ => {
                        // `}` or `]`.
                        self.depth = self.depth.saturating_sub(1);
                        if self.depth == 0 {
                            return Some(i + 1);
                        }
                    }
                }
            }
            i += 1;
        }
        None
    }
}

/// Splits a JSON array arriving in pieces into its entries, without holding more than
/// one entry. `null` (Go's nil slice) is an empty array. Entries are not validated
/// here; their decoder does that.
#[derive(Debug, Default)]
pub struct ArraySplitter {
    phase: Phase,
    /// Bytes of an entry that started in an earlier piece.
    entry: Vec<u8>,
    scan: ValueScan,
}

impl ArraySplitter {
    /// Feed the next piece of the body; `entry` is called with each complete entry.
    pub fn push(
        &mut self,
        piece: &[u8],
        mut entry: impl FnMut(&[u8]) -> Result<(), NomadError>,
    ) -> Result<(), NomadError> {
        let bad = |what: &str| Err(NomadError::Decode(format!("not a JSON list: {what}")));
        let mut i = 0;
        while i < piece.len() {
            let b = piece[i];
            match self.phase {
                Phase::Start => match b {
                    b'[' => self.phase = Phase::First,
                    b'n' => self.phase = Phase::Null(1),
                    _ if is_ws(b) => {}
                    _ => return bad("expected `[`"),
                },
                Phase::Null(n) => {
                    if Some(&b) != b"null".get(usize::from(n)) {
                        return bad("expected `null`");
                    }
                    self.phase = if n == 3 {
                        Phase::Done
                    } else {
                        Phase::Null(n + 1)
                    };
                }
                Phase::First | Phase::Next if is_ws(b) => {}
                Phase::First if b == b']' => self.phase = Phase::Done,
                Phase::Next if b == b']' => return bad("a `,` before `]`"),
                Phase::First | Phase::Next => {
                    self.phase = Phase::Entry;
                    self.scan = ValueScan::new(b);
                    // Scanned as part of the entry, from this byte on.
                    continue;
                }
                Phase::Entry => {
                    // The entry started at `i` in this piece, or in an earlier one.
                    let start = if self.entry.is_empty() { i } else { 0 };
                    let Some(end) = self.scan.end(piece, i) else {
                        if self.entry.len() + (piece.len() - start) > MAX_ENTRY {
                            return Err(NomadError::Decode(format!(
                                "one entry is longer than {} MB",
                                MAX_ENTRY >> 20
                            )));
                        }
                        self.entry.extend_from_slice(&piece[start..]);
                        return Ok(());
                    };
                    if self.entry.is_empty() {
                        entry(&piece[start..end])?;
                    } else {
                        self.entry.extend_from_slice(&piece[..end]);
                        let done = std::mem::take(&mut self.entry);
                        entry(&done)?;
                    }
                    self.phase = Phase::After;
                    // A scalar ends before the byte that ends it: look at it again.
                    i = end;
                    continue;
                }
                Phase::After => match b {
                    b',' => self.phase = Phase::Next,
                    b']' => self.phase = Phase::Done,
                    _ if is_ws(b) => {}
                    _ => return bad("expected `,` or `]` after an entry"),
                },
                Phase::Done if is_ws(b) => {}
                Phase::Done => return bad("data after the closing `]`"),
            }
            i += 1;
        }
        Ok(())
    }

    /// The body ended: it must have been a whole array.
    pub fn finish(&self) -> Result<(), NomadError> {
        if self.phase == Phase::Done {
            Ok(())
        } else {
            Err(NomadError::Decode(
                "not a JSON list: the body ended early".into(),
            ))
        }
    }
}
