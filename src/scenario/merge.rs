//! `extends`: reading the chain of layer files (child first) and merging them into one document.
//!
//! Merge rules (the README's "Scenario format"): tables merge key by key; any other value, arrays included,
//! replaces the base's; top-level `[[policy]]` entries append to the base's timeline, except that an
//! entry whose `name` matches a base entry replaces it in place, and entries with `enabled = false`
//! are dropped once all layers are merged. `extends` itself is removed from every layer before the
//! merge, so a child never inherits its base's `extends`.
//!
//! The merge is lenient about types (a `policy` that is not an array simply replaces): the serde pass
//! over the merged document reports wrong types with their paths, which is the better message.

use std::path::{Path, PathBuf};

use super::locate::{key, Location, Locator, Seg, Want};
use super::{ScenarioError, BASELINE_TOML, EMBEDDED_BASELINE};

/// One scenario file of a load, parsed twice: `toml` for the values, `toml_edit` for the spans.
pub(crate) struct Layer {
    /// The file as shown to the user.
    pub name: String,
    /// Its text (hashed, and used to turn spans into line and column).
    pub text: String,
    /// The same text with spans.
    pub doc: toml_edit::Document<String>,
    /// Its values, without `extends`.
    pub table: toml::Table,
    /// Its `extends` value, if any (type-checked when the chain is followed).
    pub extends: Option<toml::Value>,
    /// The folder its `extends` is relative to (`None` for the embedded baseline).
    pub dir: Option<PathBuf>,
}

impl Layer {
    /// Parses one file. Syntax errors keep toml's span.
    pub(crate) fn parse(
        name: String,
        text: String,
        dir: Option<PathBuf>,
    ) -> Result<Layer, ScenarioError> {
        let mut table = match text.parse::<toml::Table>() {
            Ok(t) => t,
            Err(e) => {
                let at = match e.span() {
                    Some(span) => Location::from_span(&name, &text, span),
                    None => Location::start_of(&name),
                };
                return Err(ScenarioError::Syntax {
                    at,
                    message: e.message().trim().to_string(),
                    help: "fix the TOML at this point: strings need quotes, dates are written \
                           unquoted (2025-01-01), each key appears once per table"
                        .to_string(),
                });
            }
        };
        // Both parsers sit on toml_parser, so this cannot fail where `toml` succeeded; should it
        // ever, report it as a syntax error rather than panic.
        let doc = match toml_edit::Document::parse(text.clone()) {
            Ok(d) => d,
            Err(e) => {
                let at = match e.span() {
                    Some(span) => Location::from_span(&name, &text, span),
                    None => Location::start_of(&name),
                };
                return Err(ScenarioError::Syntax {
                    at,
                    message: e.message().trim().to_string(),
                    help: "fix the TOML at this point".to_string(),
                });
            }
        };
        let extends = table.remove("extends");
        Ok(Layer {
            name,
            text,
            doc,
            table,
            extends,
            dir,
        })
    }

    /// A locator over this layer alone (errors found while following or merging layers).
    fn locate(&self, path: &[Seg], want: Want) -> (Box<Location>, String) {
        let merged = toml::Value::Table(self.table.clone());
        let loc = Locator {
            layers: std::slice::from_ref(self),
            policy_origin: &[],
            merged: &merged,
        };
        (loc.locate(path, want), loc.display(path))
    }
}

/// Follows `extends` from `root` to the last base. `root_id` identifies the root file for cycle
/// detection (its canonical path when it is a file).
pub(crate) fn load_chain(root: Layer, root_id: String) -> Result<Vec<Layer>, ScenarioError> {
    let mut layers = vec![root];
    let mut ids = vec![root_id];
    while let Some(last) = layers.last() {
        let target = match &last.extends {
            None => break,
            Some(toml::Value::String(s)) => s.clone(),
            Some(other) => {
                let (at, path) = last.locate(&[key("extends")], Want::Value);
                return Err(ScenarioError::BadValue {
                    at,
                    path,
                    message: format!("expected a file path string, found {}", other.type_str()),
                    help: "write extends = \"baseline.toml\" (relative to this file's folder)"
                        .to_string(),
                });
            }
        };
        let not_found = |tried: &Path| {
            let (at, _) = last.locate(&[key("extends")], Want::Value);
            ScenarioError::ExtendsNotFound {
                at,
                target: target.clone(),
                help: format!(
                    "looked for {}; the path is relative to the folder of {}, and only a missing \
                     'baseline.toml' falls back to the baseline built into capsim",
                    tried.display(),
                    last.name
                ),
            }
        };
        let wants_baseline = Path::new(&target).file_name() == Some("baseline.toml".as_ref());
        let (name, text, dir, id) = match &last.dir {
            Some(dir) => {
                let path = dir.join(&target);
                match read_scenario_file(&path) {
                    Ok(text) => {
                        let id = std::fs::canonicalize(&path)
                            .unwrap_or_else(|_| path.clone())
                            .display()
                            .to_string();
                        let dir = path.parent().map(Path::to_path_buf);
                        (path.display().to_string(), text, dir, id)
                    }
                    Err(ReadError::NotFound(_)) => {
                        if wants_baseline {
                            embedded()
                        } else {
                            return Err(not_found(&path));
                        }
                    }
                    Err(e) => {
                        let (at, shown) = last.locate(&[key("extends")], Want::Value);
                        return Err(ScenarioError::Invalid {
                            at,
                            path: shown,
                            message: format!("cannot read '{}': {e}", path.display()),
                            help: format!(
                                "extends names a scenario file (a regular file of at most {} MiB), \
                                 relative to the folder of {}",
                                MAX_FILE_BYTES >> 20,
                                last.name
                            ),
                        });
                    }
                }
            }
            // The embedded baseline has no folder; nothing it extends could be found.
            None => return Err(not_found(Path::new(&target))),
        };
        if let Some(first) = ids.iter().position(|i| *i == id) {
            let mut chain: Vec<String> = layers[first..].iter().map(|l| l.name.clone()).collect();
            chain.push(name);
            let (at, _) = last.locate(&[key("extends")], Want::Value);
            return Err(ScenarioError::ExtendsCycle { at, chain });
        }
        let layer = Layer::parse(name, text, dir)?;
        layers.push(layer);
        ids.push(id);
    }
    Ok(layers)
}

/// The largest scenario file read (the shipped ones are well under 100 KiB).
pub(crate) const MAX_FILE_BYTES: u64 = 16 << 20;

/// Why a scenario file could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// There is nothing at the path.
    NotFound(std::io::Error),
    /// Something that is not a regular file (a folder, a FIFO, a device): reading it could block
    /// for ever or never end.
    NotRegular(&'static str),
    /// Larger than [`MAX_FILE_BYTES`].
    TooLarge,
    /// Any other failure.
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotFound(e) | ReadError::Io(e) => write!(f, "{e}"),
            ReadError::NotRegular(what) => write!(f, "it is {what}, not a regular file"),
            ReadError::TooLarge => write!(f, "it is larger than {} MiB", MAX_FILE_BYTES >> 20),
        }
    }
}

/// Reads a scenario file: only a regular file (symbolic links followed) of at most
/// [`MAX_FILE_BYTES`], so that no path can make loading block or exhaust memory.
pub(crate) fn read_scenario_file(path: &Path) -> Result<String, ReadError> {
    use std::io::Read;
    let io = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ReadError::NotFound(e)
        } else {
            ReadError::Io(e)
        }
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let ft = meta.file_type();
    if !ft.is_file() {
        return Err(ReadError::NotRegular(if ft.is_dir() {
            "a folder"
        } else {
            "a device, pipe or socket"
        }));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge);
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| {
        ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })
}

/// The embedded baseline as a layer source: (name, text, folder, id).
fn embedded() -> (String, String, Option<PathBuf>, String) {
    (
        EMBEDDED_BASELINE.to_string(),
        BASELINE_TOML.to_string(),
        None,
        EMBEDDED_BASELINE.to_string(),
    )
}

/// The merged document and where each of its policies came from.
pub(crate) struct Merged {
    /// All layers applied, disabled policies removed.
    pub table: toml::Table,
    /// For each entry of the merged `policy` array: (layer index, index in that layer's array).
    pub policy_origin: Vec<(usize, usize)>,
}

/// Merges `layers` (child first) per the rules in this module's docs.
pub(crate) fn merge(layers: &[Layer]) -> Result<Merged, ScenarioError> {
    let mut table = toml::Table::new();
    let mut origin: Vec<(usize, usize)> = Vec::new();
    for (li, layer) in layers.iter().enumerate().rev() {
        check_policy_names(layer)?;
        for (k, v) in &layer.table {
            if k == "policy" {
                merge_policies(&mut table, &mut origin, li, layer, v)?;
            } else {
                merge_value(&mut table, k, v);
            }
        }
    }
    // Drop switched-off policies last, so a later layer can switch off a base entry by name.
    if let Some(toml::Value::Array(entries)) = table.get_mut("policy") {
        let mut kept = Vec::with_capacity(entries.len());
        let mut kept_origin = Vec::with_capacity(entries.len());
        for (i, e) in std::mem::take(entries).into_iter().enumerate() {
            if e.get("enabled").and_then(toml::Value::as_bool) != Some(false) {
                kept.push(e);
                if let Some(o) = origin.get(i) {
                    kept_origin.push(*o);
                }
            }
        }
        *entries = kept;
        origin = kept_origin;
    }
    Ok(Merged {
        table,
        policy_origin: origin,
    })
}

/// Tables merge key by key; anything else replaces.
fn merge_value(into: &mut toml::Table, k: &str, v: &toml::Value) {
    match (into.get_mut(k), v) {
        (Some(toml::Value::Table(base)), toml::Value::Table(over)) => {
            for (k2, v2) in over {
                merge_value(base, k2, v2);
            }
        }
        _ => {
            into.insert(k.to_string(), v.clone());
        }
    }
}

fn policy_name(v: &toml::Value) -> Option<&str> {
    v.get("name").and_then(toml::Value::as_str)
}

/// Appends `layer`'s policies to the merged timeline, replacing base entries of the same name.
fn merge_policies(
    table: &mut toml::Table,
    origin: &mut Vec<(usize, usize)>,
    li: usize,
    layer: &Layer,
    v: &toml::Value,
) -> Result<(), ScenarioError> {
    let (Some(toml::Value::Array(base)), toml::Value::Array(over)) = (table.get_mut("policy"), v)
    else {
        // First layer with policies, or a malformed one: replace, and let serde judge the type.
        table.insert("policy".to_string(), v.clone());
        *origin = match v {
            toml::Value::Array(a) => (0..a.len()).map(|j| (li, j)).collect(),
            _ => Vec::new(),
        };
        return Ok(());
    };
    let base_names: Vec<String> = base
        .iter()
        .filter_map(policy_name)
        .map(str::to_string)
        .collect();
    for (j, entry) in over.iter().enumerate() {
        let existing =
            policy_name(entry).and_then(|n| base.iter().position(|b| policy_name(b) == Some(n)));
        match existing {
            Some(i) => {
                base[i] = entry.clone();
                if let Some(o) = origin.get_mut(i) {
                    *o = (li, j);
                }
            }
            None => {
                let switch_off = entry.get("enabled").and_then(toml::Value::as_bool) == Some(false)
                    && entry.get("rule").is_none();
                if let (true, Some(n)) = (switch_off, policy_name(entry)) {
                    let (at, path) =
                        layer.locate(&[key("policy"), Seg::Index(j), key("name")], Want::Value);
                    let mut known = base_names.clone();
                    known.sort();
                    return Err(ScenarioError::Invalid {
                        at,
                        path,
                        message: format!(
                            "switches off policy '{n}', but no base scenario defines it"
                        ),
                        help: format!(
                            "policies defined by the base: {}{}",
                            super::list_or_none(&known),
                            super::did_you_mean(n, &known)
                        ),
                    });
                }
                base.push(entry.clone());
                origin.push((li, j));
            }
        }
    }
    Ok(())
}

/// Policy names must be unique within one file (across files, a repeat is a replacement).
fn check_policy_names(layer: &Layer) -> Result<(), ScenarioError> {
    let Some(toml::Value::Array(entries)) = layer.table.get("policy") else {
        return Ok(());
    };
    for (j, e) in entries.iter().enumerate() {
        let Some(n) = policy_name(e) else { continue };
        if let Some(first) = entries[..j].iter().position(|p| policy_name(p) == Some(n)) {
            let (at, _) = layer.locate(&[key("policy"), Seg::Index(j), key("name")], Want::Value);
            let (first_at, _) = layer.locate(
                &[key("policy"), Seg::Index(first), key("name")],
                Want::Value,
            );
            return Err(ScenarioError::Invalid {
                at,
                path: format!("policy.{}", super::locate::fmt_key(n)),
                message: format!(
                    "duplicate policy name '{n}' (first used at line {})",
                    first_at.line
                ),
                help: "policy names must be unique within a file; rename one of them (an \
                       extending file replaces a base policy by reusing its name)"
                    .to_string(),
            });
        }
    }
    Ok(())
}
