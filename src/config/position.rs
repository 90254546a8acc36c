//! Positions: byte offsets into `file:line:col`, and the dotted key path of an offset.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

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

/// Where every key of a (syntactically valid) file is, with its dotted path; serde's
/// errors carry a byte range but no path, and this turns one into the other.
#[derive(Default)]
pub(super) struct Locator {
    keys: Vec<KeyLoc>,
}

struct KeyLoc {
    span: Range<usize>,
    parent: String,
    path: String,
}

/// A TOML document reduced to what the locator needs: keys with spans, and nesting.
enum Node {
    Table(Vec<(Spanned<String>, Node)>),
    Array(Vec<Node>),
    Leaf,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Node::Table(entries))
    }
}

impl Locator {
    /// `None` when the text is not valid TOML (or holds dates, which no key accepts).
    pub(super) fn build(text: &str) -> Option<Locator> {
        let root: Node = toml::from_str(text).ok()?;
        let mut loc = Locator::default();
        loc.walk(&root, "");
        Some(loc)
    }

    fn walk(&mut self, node: &Node, path: &str) {
        match node {
            Node::Table(entries) => {
                for (key, child) in entries {
                    let child_path = if path.is_empty() {
                        key.get_ref().clone()
                    } else {
                        format!("{path}.{}", key.get_ref())
                    };
                    self.keys.push(KeyLoc {
                        span: key.span(),
                        parent: path.to_string(),
                        path: child_path.clone(),
                    });
                    self.walk(child, &child_path);
                }
            }
            Node::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.walk(item, &format!("{path}[{i}]"));
                }
            }
            Node::Leaf => {}
        }
    }

    /// The path of the key written last before `offset`: the key a value belongs to.
    pub(super) fn path_at(&self, offset: usize) -> Option<String> {
        self.keys
            .iter()
            .filter(|k| k.span.start <= offset)
            .max_by_key(|k| k.span.start)
            .map(|k| k.path.clone())
    }

    /// The table holding the key written at `span`.
    pub(super) fn parent_of_key(&self, span: &Range<usize>) -> Option<String> {
        match self.keys.iter().find(|k| k.span == *span) {
            Some(k) => Some(k.parent.clone()),
            None => self.path_at(span.start),
        }
    }

    /// Where the table at `path` is written: its `[header]` if it has one, else its key.
    pub(super) fn table_position(&self, text: &str, path: &str) -> usize {
        if let Some((array, index)) = split_index(path) {
            if let Some(at) = array_header(text, array, index) {
                return at;
            }
            // An inline array of tables: point at the first key inside the element.
            let inner = format!("{path}.");
            if let Some(k) = self
                .keys
                .iter()
                .filter(|k| k.path.starts_with(&inner))
                .min_by_key(|k| k.span.start)
            {
                return k.span.start;
            }
            return self.table_position(text, array);
        }
        match self.keys.iter().find(|k| k.path == path) {
            Some(k) => header_start(text, k.span.start).unwrap_or(k.span.start),
            None => 0,
        }
    }
}

/// `metro[3]` -> (`metro`, 3), only for a trailing index.
fn split_index(path: &str) -> Option<(&str, usize)> {
    let open = path.rfind('[')?;
    let index = path.strip_suffix(']')?.get(open + 1..)?.parse().ok()?;
    Some((&path[..open], index))
}

/// The lines of `text` with their byte offsets.
fn lines_with_offsets(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    text.split_inclusive('\n').map(move |line| {
        let at = offset;
        offset += line.len();
        (at, line)
    })
}

/// A `[header]` or `[[header]]` line's name, and whether it is an array of tables.
fn header_name(line: &str) -> Option<(String, bool)> {
    let t = line.trim();
    let (inner, array) = if let Some(rest) = t.strip_prefix("[[") {
        (rest.split("]]").next()?, true)
    } else {
        (t.strip_prefix('[')?.split(']').next()?, false)
    };
    let name: String = inner
        .split('.')
        .map(|p| p.trim().trim_matches('"'))
        .collect::<Vec<_>>()
        .join(".");
    Some((name, array))
}

/// The offset of the `index`-th `[[array]]` header.
fn array_header(text: &str, array: &str, index: usize) -> Option<usize> {
    lines_with_offsets(text)
        .filter(|(_, line)| header_name(line).is_some_and(|(n, a)| a && n == array))
        .nth(index)
        .map(|(at, line)| at + line.len() - line.trim_start().len())
}

/// If `offset` is on a header line, where that header's `[` is.
pub(super) fn header_start(text: &str, offset: usize) -> Option<usize> {
    let line_start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    let trimmed = line.trim_start();
    trimmed
        .starts_with('[')
        .then(|| line_start + line.len() - trimmed.len())
}

/// For syntax errors: the table whose header precedes `offset`, e.g. `metro[1].withdraw`.
fn header_before(text: &str, offset: usize) -> Option<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut current = None;
    for (at, line) in lines_with_offsets(text) {
        if at + line.len() > offset {
            break;
        }
        let Some((name, array)) = header_name(line) else {
            continue;
        };
        if array {
            let n = counts.entry(name.clone()).or_insert(0);
            *n += 1;
            current = Some(format!("{name}[{}]", *n - 1));
        } else {
            // `[metro.withdraw]` belongs to the latest `[[metro]]`.
            let indexed = counts.iter().find_map(|(array, n)| {
                name.strip_prefix(array.as_str())
                    .filter(|rest| rest.starts_with('.'))
                    .map(|rest| format!("{array}[{}]{rest}", n - 1))
            });
            current = Some(indexed.unwrap_or(name));
        }
    }
    current
}

/// For errors the locator cannot place: the enclosing table plus, when the line is a
/// `key = value`, its key; e.g. `metro[1].withdraw.method`.
pub(super) fn line_path(text: &str, offset: usize) -> Option<String> {
    let table = header_before(text, offset);
    let line_start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
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
