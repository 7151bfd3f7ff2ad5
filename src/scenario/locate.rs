//! Field paths, and where they are written: a path into the merged scenario becomes `file:line:col`
//! in the file that wrote it, through toml_edit's spans.
//!
//! toml_edit is used only for its spans; the values come from `toml` (both sit on the same
//! `toml_parser`, so they accept the same documents). A path is looked up in the layers child first,
//! which is where a merged value comes from: tables merge key by key and arrays replace, so the first
//! layer that writes a path wrote the value in force. `[[policy]]` entries are the exception (they
//! append), so the merge records each entry's layer and index and the lookup follows that record.
//!
//! Within a layer, a path is looked for in each of its files (the file and those it includes): a
//! key or entry is written by one file of a layer only, so the first file that writes it wrote it.
//! Entries of a top-level array of tables concatenate across the files of a layer; the layer
//! records which file wrote each entry ([`Layer::part_paths`]).

use std::fmt;
use std::fmt::Write as _;
use std::ops::Range;

use super::merge::{Layer, Part};

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// A table-key segment.
pub(crate) fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

/// What to point at when a path names a key with a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Want {
    /// The key itself (unknown keys, keys that do not apply).
    Key,
    /// The value (wrong values; for a table, its `[header]` or `{`).
    Value,
}

/// A place in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file as shown to the user (`scenarios/whatif.toml`, `<embedded>/baseline.toml`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Byte range in the file, when known (as toml reports it).
    pub span: Option<Range<usize>>,
}

impl Location {
    /// The location of byte range `span` in `text` (boxed, as errors hold it).
    pub(crate) fn from_span(file: &str, text: &str, span: Range<usize>) -> Box<Location> {
        let mut at = span.start.min(text.len());
        // Spans are byte offsets; step back to a char boundary rather than slice mid-character.
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let before = &text[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        Box::new(Location {
            file: file.to_string(),
            line,
            column,
            span: Some(span),
        })
    }

    /// The start of a file, for errors that belong to no particular key.
    pub(crate) fn start_of(file: &str) -> Box<Location> {
        Box::new(Location {
            file: file.to_string(),
            line: 1,
            column: 1,
            span: None,
        })
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Whether a key can be written bare in TOML (and in a dotted path) without quotes.
fn is_bare(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A key as it appears in a dotted path: bare if it can be, quoted otherwise.
pub(crate) fn fmt_key(k: &str) -> String {
    if is_bare(k) {
        k.to_string()
    } else {
        format!("{k:?}")
    }
}

/// Looks paths up in the layers of one load.
pub(crate) struct Locator<'a> {
    /// The layers, child first.
    pub layers: &'a [Layer],
    /// For each merged `[[policy]]` entry: (layer, index in that layer's `policy` array).
    pub policy_origin: &'a [(usize, usize)],
    /// The merged document (to show array entries by name).
    pub merged: &'a toml::Value,
}

impl Locator<'_> {
    /// Where `path` is written; the nearest written ancestor if the path itself is not written
    /// (a missing key points at its table), or the start of the child file as a last resort.
    pub(crate) fn locate(&self, path: &[Seg], want: Want) -> Box<Location> {
        let candidates: Vec<(usize, Vec<Seg>)> = match path {
            [Seg::Key(k), Seg::Index(i), rest @ ..] if k == "policy" => {
                match self.policy_origin.get(*i) {
                    Some(&(layer, j)) => {
                        let mut p = vec![key("policy"), Seg::Index(j)];
                        p.extend_from_slice(rest);
                        vec![(layer, p)]
                    }
                    None => self.all_layers(path),
                }
            }
            _ => self.all_layers(path),
        };
        for len in (1..=path.len()).rev() {
            let w = if len == path.len() { want } else { Want::Value };
            for (layer, p) in &candidates {
                let Some(l) = self.layers.get(*layer) else {
                    continue;
                };
                for (part, pp) in l.part_paths(&p[..len]) {
                    if let Some(at) = l.parts.get(part).and_then(|f| find_in(f, &pp, w)) {
                        return at;
                    }
                }
            }
        }
        let file = self
            .layers
            .first()
            .map_or("<unknown>", |l| l.first().name.as_str());
        Location::start_of(file)
    }

    fn all_layers(&self, path: &[Seg]) -> Vec<(usize, Vec<Seg>)> {
        (0..self.layers.len()).map(|l| (l, path.to_vec())).collect()
    }

    /// The path as shown in messages: `sites.johor-1.chip`; entries of `policy` and of a firm's
    /// `workloads` by their `name` (`policy.h20-licence.from`), so the path matches provenance and
    /// does not depend on how layers were merged.
    pub(crate) fn display(&self, path: &[Seg]) -> String {
        let mut out = String::new();
        let mut cur = Some(self.merged);
        let mut parent: Option<&str> = None;
        for (depth, seg) in path.iter().enumerate() {
            match seg {
                Seg::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(&fmt_key(k));
                    cur = cur.and_then(|v| v.as_table()).and_then(|t| t.get(k));
                    parent = Some(k);
                }
                Seg::Index(i) => {
                    let elem = cur.and_then(|v| v.as_array()).and_then(|a| a.get(*i));
                    let is_policy = depth == 1 && parent == Some("policy");
                    let named = is_policy || parent == Some("workloads");
                    let name = elem
                        .and_then(|e| e.get("name"))
                        .and_then(|n| n.as_str())
                        .filter(|n| !n.is_empty());
                    match name {
                        Some(n) if named => {
                            out.push('.');
                            out.push_str(&fmt_key(n));
                        }
                        _ => {
                            // An unnamed policy entry: its index in the file that wrote it.
                            let shown = match self.policy_origin.get(*i) {
                                Some(&(l, j)) if is_policy => self
                                    .layers
                                    .get(l)
                                    .and_then(|l| l.arrays.get("policy"))
                                    .and_then(|o| o.get(j))
                                    .map_or(j, |&(_, k)| k),
                                _ => *i,
                            };
                            let _ = write!(out, "[{shown}]");
                        }
                    }
                    cur = elem;
                    parent = None;
                }
            }
        }
        out
    }
}

/// Where `path` is written in `part`, if it writes it.
pub(crate) fn find_in(part: &Part, path: &[Seg], want: Want) -> Option<Box<Location>> {
    find(&part.doc, path, want).map(|span| Location::from_span(&part.name, &part.text, span))
}

/// Where `path` is written in `part`: the nearest written ancestor if the path itself is not
/// written, or the start of the file.
pub(crate) fn locate_in(part: &Part, path: &[Seg], want: Want) -> Box<Location> {
    (1..=path.len())
        .rev()
        .find_map(|len| {
            let w = if len == path.len() { want } else { Want::Value };
            find_in(part, &path[..len], w)
        })
        .unwrap_or_else(|| Location::start_of(&part.name))
}

/// A step in a toml_edit document.
#[derive(Clone, Copy)]
enum Node<'a> {
    Table(&'a toml_edit::Table),
    Item(&'a toml_edit::Item),
    Value(&'a toml_edit::Value),
}

/// The span of `path` in `doc`, if the document writes it.
fn find(doc: &toml_edit::Document<String>, path: &[Seg], want: Want) -> Option<Range<usize>> {
    use toml_edit::Item;
    if path.is_empty() {
        return None;
    }
    let mut node = Node::Table(doc.as_table());
    let mut key_span = None;
    for seg in path {
        let (next, span) = match (node, seg) {
            (Node::Table(t) | Node::Item(Item::Table(t)), Seg::Key(k)) => {
                let (key, item) = t.get_key_value(k)?;
                (Node::Item(item), key.span())
            }
            (Node::Item(Item::Value(v)) | Node::Value(v), Seg::Key(k)) => {
                let (key, item) = v.as_inline_table()?.get_key_value(k)?;
                (Node::Item(item), key.span())
            }
            (Node::Item(Item::ArrayOfTables(a)), Seg::Index(i)) => {
                let t = a.get(*i)?;
                (Node::Table(t), t.span())
            }
            (Node::Item(Item::Value(v)) | Node::Value(v), Seg::Index(i)) => {
                let e = v.as_array()?.get(*i)?;
                (Node::Value(e), e.span())
            }
            _ => return None,
        };
        node = next;
        key_span = span;
    }
    let value_span = match node {
        Node::Table(t) => t.span(),
        Node::Item(i) => i.span(),
        Node::Value(v) => v.span(),
    };
    match want {
        Want::Key => key_span.or(value_span),
        Want::Value => value_span.or(key_span),
    }
}
