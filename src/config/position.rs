//! Where things are written, for `file:line:col: key:` errors, and toml's own errors in
//! the file's words.
//!
//! Values carry their own byte range ([`toml::Spanned`] in [`super::raw`]); a serde error
//! carries the range toml gives it and the key path [`serde_path_to_error`] records. The
//! rest is asked of toml_edit's parse tree: where a table is written (a missing required
//! key is reported at its table), the name of a `Spanned` map key (serde_path_to_error
//! records only plain string keys), and for a syntax error, which table the parser was in.
//!
//! Why tables are not `Spanned` in the raw structs: toml 0.8 spans a `[header]` table
//! (header and body), an `[[array]]` element and an `{ inline }` table, but a table that
//! exists only through `[a.b]` or a dotted key (`a.b = 1`) has no span, and there a
//! `Spanned<T>` does not deserialize at all (`invalid type: string "b", expected a
//! borrowed string`): `tests/fixtures/config/valid/inline_and_dotted.toml` would be
//! refused.

use serde_path_to_error::{Path, Segment};
use toml_edit::{ImDocument, Item, Table, TableLike};

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// If `offset` is on a `[header]` line, where that header's `[` is: a table named in a
/// header is pointed at by the header, not by its name inside it.
pub(super) fn header_start(text: &str, offset: usize) -> Option<usize> {
    let line_start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    let trimmed = line.trim_start();
    trimmed
        .starts_with('[')
        .then(|| line_start + line.len() - trimmed.len())
}

/// Where a toml error is, the key it names and what it says, in the file's words: a
/// syntax error (no key path: named from the text), or a serde error with the path
/// serde_path_to_error recorded.
pub(super) fn place_toml_error(
    text: &str,
    e: serde_path_to_error::Error<toml::de::Error>,
) -> (usize, Option<String>, String) {
    let path = e.path().clone();
    let e = e.into_inner();
    let message = tidy_toml_message(e.message());
    let Some(span) = e.span() else {
        return (0, None, message);
    };
    let message = name_datetimes(message, text, span.start);
    let mut at = span.start;
    let mut steps = error_path(&path, text, span.start);
    let key = if steps.is_empty() {
        // Invalid TOML: no key path; name the key from the text.
        syntax_path(text, span.start)
    } else if message.starts_with("unknown key") {
        // The key is the error: name its table, and point at a `[header]` whole.
        at = header_start(text, at).unwrap_or(at);
        steps.pop();
        Some(dotted(&steps))
    } else {
        // A value of the wrong type: name its key, not the element of an array.
        while matches!(steps.last(), Some(Step::Index(_))) {
            steps.pop();
        }
        Some(dotted(&steps))
    };
    // `token` under `[metro.nomad]` is a secret in the wrong place, not a typo.
    let (key, message) = match key {
        Some(table) if is_nomad_table(&table) && message.starts_with("unknown key `token`,") => (
            Some(format!("{table}.token")),
            NOMAD_TOKEN_MESSAGE.to_string(),
        ),
        key if message.starts_with("unknown key") => (key, suggest_key(&message)),
        key => (key, message),
    };
    (at, key, message)
}

/// "unknown key `refrsh_ms`, expected one of …" gains "(did you mean `refresh_ms`?)" when
/// one expected key is close to the one written.
fn suggest_key(message: &str) -> String {
    let Some((head, list)) = message.split_once(", expected one of ") else {
        return message.to_string();
    };
    let written = head
        .trim_start_matches("unknown key `")
        .trim_end_matches('`');
    let closest = list
        .split(", ")
        .map(|k| k.trim_matches('`'))
        .map(|k| (strsim::jaro_winkler(written, k), k))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match closest {
        Some((score, near)) if score > 0.85 => {
            format!("{head} (did you mean `{near}`?), expected one of {list}")
        }
        _ => message.to_string(),
    }
}

/// What `token = ...` under `[metro.nomad]` gets instead of "unknown key": the value is
/// a secret, so it is neither stored nor repeated.
pub(super) const NOMAD_TOKEN_MESSAGE: &str = "the Nomad token is never written in the config: set \
     `token_env` to the name of the environment variable that holds it (default NOMAD_TOKEN)";

/// `metro[2].nomad`: the table [`NOMAD_TOKEN_MESSAGE`] is for.
pub(super) fn is_nomad_table(path: &str) -> bool {
    path.strip_prefix("metro[")
        .and_then(|rest| rest.split_once(']'))
        .is_some_and(|(index, rest)| {
            !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) && rest == ".nomad"
        })
}

/// Date-times reach serde as maps; say what the operator wrote.
fn name_datetimes(message: String, text: &str, offset: usize) -> String {
    let is_date = text
        .get(offset..)
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| c.is_ascii_digit());
    if is_date {
        message.replacen("invalid type: map", "invalid type: date-time", 1)
    } else {
        message
    }
}

/// serde's wording for our types is close but not quite the file's vocabulary.
fn tidy_toml_message(message: &str) -> String {
    let one_line = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    one_line
        .replace("unknown field", "unknown key")
        .replace("expected i64", "expected an integer")
        .replace("expected a sequence", "expected an array")
        .replace("expected a map", "expected a table")
}

/// One step of a key path: `metro[1].nomad` is `metro`, `[1]`, `nomad`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// `metro[1].nomad` from its steps.
fn dotted(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The steps of one of our own table paths (`anycast.observer`, `metro[1]`).
fn steps(path: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for part in path.split('.') {
        match part.strip_suffix(']').and_then(|p| p.split_once('[')) {
            Some((name, index)) => {
                out.push(Step::Key(name.to_string()));
                out.extend(index.parse().ok().map(Step::Index));
            }
            None => out.push(Step::Key(part.to_string())),
        }
    }
    out
}

/// The key path of a serde error at `offset`, as the operator reads it:
/// `metro[1].withdraw.method`. toml's private `Spanned` fields are left out, and a
/// `Spanned` map key (which serde_path_to_error cannot name) is named from the document.
fn error_path(path: &Path, text: &str, offset: usize) -> Vec<Step> {
    let mut steps = Vec::new();
    for segment in path {
        match segment {
            Segment::Map { key } if key.starts_with("$__") => {}
            Segment::Map { key } => steps.push(Step::Key(key.clone())),
            Segment::Seq { index } => steps.push(Step::Index(*index)),
            Segment::Enum { variant } => steps.push(Step::Key(variant.clone())),
            Segment::Unknown => match key_at(text, &steps, offset) {
                Some(key) => steps.push(Step::Key(key)),
                None => break,
            },
        }
    }
    steps
}

/// Where the table at `path` (`anycast`, `anycast.observer`, `metro[1]`, or the array
/// `metro`) is written: an element of an array of tables at its `[[header]]`, an inline
/// element at its first key, anything else at the key that names it, or at the header
/// that key is in. The start of the file when it cannot be found.
pub(super) fn table_position(text: &str, path: &str) -> usize {
    let Ok(doc) = ImDocument::parse(text) else {
        return 0;
    };
    let at = follow(doc.as_table(), &steps(path))
        .and_then(|(at, _)| at)
        .unwrap_or(0);
    header_start(text, at).unwrap_or(at)
}

/// Follow `steps` from the root: where the last one is written, and the table it
/// leads to, if it is one.
fn follow<'a>(
    root: &'a Table,
    steps: &[Step],
) -> Option<(Option<usize>, Option<&'a dyn TableLike>)> {
    let mut table: Option<&'a dyn TableLike> = Some(root);
    let mut item: Option<&'a Item> = None;
    let mut at = None;
    for step in steps {
        match step {
            Step::Key(name) => {
                let (key, found) = table?.get_key_value(name)?;
                at = key.span().map(|s| s.start).or(at);
                table = found.as_table_like();
                item = Some(found);
            }
            Step::Index(i) => {
                let element: &'a dyn TableLike = match item? {
                    Item::ArrayOfTables(array) => {
                        let t = array.get(*i)?;
                        at = t.span().map(|s| s.start).or(at);
                        t
                    }
                    other => {
                        let t = other.as_array()?.get(*i)?.as_inline_table()?;
                        at = first_key(t).or(at);
                        t
                    }
                };
                table = Some(element);
                item = None;
            }
        }
    }
    Some((at, table))
}

/// Where the first key written in `table` starts.
fn first_key(table: &dyn TableLike) -> Option<usize> {
    table
        .iter()
        .filter_map(|(name, _)| table.get_key_value(name)?.0.span())
        .map(|s| s.start)
        .min()
}

/// The key of the table at `steps` written last at or before `offset`: the entry an
/// error inside its value belongs to.
fn key_at(text: &str, steps: &[Step], offset: usize) -> Option<String> {
    let doc = ImDocument::parse(text).ok()?;
    let table = follow(doc.as_table(), steps)?.1?;
    table
        .iter()
        .filter_map(|(name, _)| {
            let start = table.get_key_value(name)?.0.span()?.start;
            (start <= offset).then(|| (start, name.to_string()))
        })
        .max()
        .map(|(_, name)| name)
}

/// For a syntax error, which has no key path: the table the parser was in (the last
/// header before the error's line, as toml_edit reads the text up to there) and the
/// `key =` on the error's line, e.g. `metro[1].withdraw.method`.
fn syntax_path(text: &str, offset: usize) -> Option<String> {
    let line_start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    // The text before the error's line is valid TOML, unless the error is inside a value
    // that spans lines (an unclosed array): then the text up to the last header is.
    let header_end = text[..line_start]
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .rev()
        .find(|&end| {
            let start = text[..end - 1].rfind('\n').map_or(0, |i| i + 1);
            text[start..end].trim_start().starts_with('[')
        });
    let table = std::iter::once(line_start)
        .chain(header_end)
        .find_map(|end| {
            let doc = ImDocument::parse(&text[..end]).ok()?;
            last_header(doc.as_table(), "")
        })
        .map(|(_, path)| path);
    let line = text[line_start..].lines().next().unwrap_or_default();
    let key = line.split_once('=').and_then(|(k, _)| {
        let parts: Vec<&str> = k.split('.').map(|p| p.trim().trim_matches('"')).collect();
        let bare = |p: &&str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        parts.iter().all(bare).then(|| parts.join("."))
    });
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (t, k) => t.or(k),
    }
}

/// The `[header]` or `[[header]]` table written last under `table`, with its path.
fn last_header(table: &Table, path: &str) -> Option<(usize, String)> {
    let join = |name: &str| {
        if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    let mut best: Option<(usize, String)> = None;
    let mut consider = |found: Option<(usize, String)>| {
        if found.as_ref().map(|f| f.0) > best.as_ref().map(|b| b.0) {
            best = found;
        }
    };
    for (name, item) in table.iter() {
        match item {
            Item::Table(t) => {
                let here = join(name);
                consider(t.position().map(|p| (p, here.clone())));
                consider(last_header(t, &here));
            }
            Item::ArrayOfTables(array) => {
                for (i, t) in array.iter().enumerate() {
                    let here = format!("{}[{i}]", join(name));
                    consider(t.position().map(|p| (p, here.clone())));
                    consider(last_header(t, &here));
                }
            }
            _ => {}
        }
    }
    best
}
