//! `extends` and `include`: reading the chain of layers (child first), each a file and the files it
//! includes, and merging them into one document.
//!
//! # Layers (`include`)
//!
//! A layer is the file given to capsim (or reached by `extends`) together with the files its
//! top-level `include = ["a.toml", "b.toml"]` names, paths relative to the file that names them.
//! An included file is a fragment of the same document: any top-level keys and tables. It may have
//! its own `include` (relative to itself), read depth first; a file that includes itself or a file
//! that includes it is refused as a cycle ([`ScenarioError::IncludeCycle`]), and a file included
//! twice in one layer is refused. An included file may not have `extends`: the layer's base is
//! named by its first file only.
//!
//! The files of a layer combine into one table, as though each included file came first, in
//! `include` order (its own includes before it), then the including file's own keys:
//!
//! - top-level tables (`[chips]`, `[sites]`, `[firms]`, `[sources]`, `[sweep]`) combine entry by
//!   entry, and each entry (`[chips.h100]` whole, a key of `[sources]`) is written by one file only;
//! - top-level arrays of tables (`[[policy]]`) concatenate in that order;
//! - anything else written by two files of one layer (a top-level `name`, the same chip in two
//!   files) is an error that names both places ([`ScenarioError::DuplicateKey`]): a split must not
//!   override silently; overriding is what `extends` is for.
//!
//! Each file keeps its own spans, so an error anywhere in an included file is located in that file
//! (`locate.rs`). Files built into the binary (the embedded baseline) resolve their includes among
//! the built-in files ([`super::EMBEDDED_FILES`]).
//!
//! # Merge rules (`extends`)
//!
//! The README's "Scenario format": tables merge key by key; any other value, arrays included,
//! replaces the base's; top-level `[[policy]]` entries append to the base's timeline, except that an
//! entry whose `name` matches a base entry replaces it in place, and bare switch-offs (`name` and
//! `enabled = false`, no `rule`) are dropped once all layers are merged; a switched-off entry
//! written out in full is kept for the loader, which checks it and leaves it out of the run. `extends` itself is removed from every layer before the
//! merge, so a child never inherits its base's `extends`.
//!
//! The merge is lenient about types (a `policy` that is not an array simply replaces): the serde pass
//! over the merged document reports wrong types with their paths, which is the better message.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::locate::{key, Location, Locator, Seg, Want};
use super::{embedded_file, ScenarioError, EMBEDDED_FILES};

/// The folder a scenario file's paths (`extends`, `include`, `observations`) are relative to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Folder {
    /// A folder on disk (empty: the current directory).
    Disk(PathBuf),
    /// A folder of the files built into the binary ([`super::EMBEDDED_FILES`]), relative to
    /// `scenarios/` (`""` for `scenarios/` itself, `"baseline"` for `scenarios/baseline/`).
    Embedded(String),
}

/// One file of a layer, parsed twice: `toml` for the values, `toml_edit` for the spans.
pub(crate) struct Part {
    /// The file as shown to the user.
    pub name: String,
    /// Its text (hashed, and used to turn spans into line and column).
    pub text: String,
    /// The same text with spans.
    pub doc: toml_edit::Document<String>,
    /// The folder the paths it names are relative to.
    pub folder: Folder,
}

/// For each top-level array of tables of a layer: for each entry, (part, index in that part's
/// array).
pub(crate) type ArrayOrigins = BTreeMap<String, Vec<(usize, usize)>>;

/// One layer of a load: the file given (or reached by `extends`) and every file it includes,
/// combined into one table.
pub(crate) struct Layer {
    /// Its files: the one given or reached by `extends` first, then the files it includes, depth
    /// first, in `include` order.
    pub parts: Vec<Part>,
    /// Its values, all its files combined, without `extends` and `include`.
    pub table: toml::Table,
    /// Its `extends` value, if any (type-checked when the chain is followed).
    pub extends: Option<toml::Value>,
    /// For each top-level array of tables of `table` (`policy`): for each entry, the part that
    /// wrote it and its index in that part's array.
    pub arrays: ArrayOrigins,
    /// The id of its first file (see [`FileSource`]), to find a cycle of `extends`.
    pub id: String,
}

/// A file to read as the first part of a layer: (name, text, folder, id). The id identifies the
/// file for cycle detection: its canonical path on disk, or its `<embedded>/` name.
pub(crate) struct FileSource {
    /// The file as shown to the user.
    pub name: String,
    /// Its text.
    pub text: String,
    /// The folder the paths it names are relative to.
    pub folder: Folder,
    /// Its identity, for cycles.
    pub id: String,
}

impl FileSource {
    /// The file at `path` on disk, read as `text`: shown as the path, its includes and bases
    /// resolved beside it, identified by its canonical path (for cycles).
    pub fn on_disk(path: &Path, text: String) -> Self {
        FileSource {
            name: path.display().to_string(),
            text,
            folder: Folder::Disk(path.parent().map(Path::to_path_buf).unwrap_or_default()),
            id: std::fs::canonicalize(path)
                .unwrap_or_else(|_| path.to_path_buf())
                .display()
                .to_string(),
        }
    }
}

/// Parses one file. Syntax errors keep toml's span.
fn parse_file(
    name: String,
    text: String,
    folder: Folder,
) -> Result<(Part, toml::Table), ScenarioError> {
    // A parse error of either parser, located at its span.
    let syntax = |span: Option<std::ops::Range<usize>>, message: &str, help: &str| {
        let at = match span {
            Some(span) => Location::from_span(&name, &text, span),
            None => Location::start_of(&name),
        };
        ScenarioError::Syntax {
            at,
            message: message.trim().to_string(),
            help: help.to_string(),
        }
    };
    let table = text.parse::<toml::Table>().map_err(|e| {
        syntax(
            e.span(),
            e.message(),
            "fix the TOML at this point: strings need quotes, dates are written unquoted \
             (2025-01-01), each key appears once per table",
        )
    })?;
    // Both parsers sit on toml_parser, so this cannot fail where `toml` succeeded; should it
    // ever, report it as a syntax error rather than panic.
    let doc = toml_edit::Document::parse(text.clone())
        .map_err(|e| syntax(e.span(), e.message(), "fix the TOML at this point"))?;
    Ok((
        Part {
            name,
            text,
            doc,
            folder,
        },
        table,
    ))
}

/// What [`Layer::load`] keeps while it follows `include`.
struct Gather {
    /// The parts read so far, in reading order (depth first, `include` order).
    parts: Vec<Part>,
    /// The id of each part.
    ids: Vec<String>,
    /// Each part's table, without `extends` and `include`, in combining order: a file's includes
    /// (each with its own includes before it) before the file itself.
    tables: Vec<(usize, toml::Table)>,
    /// The parts being included, outermost first (to report a cycle).
    stack: Vec<usize>,
}

impl Layer {
    /// Reads one layer: parses `root`, reads every file it includes (and they include), and
    /// combines them per this module's docs.
    pub(crate) fn load(root: FileSource) -> Result<Layer, ScenarioError> {
        let (part, mut table) = parse_file(root.name, root.text, root.folder)?;
        let extends = table.remove("extends");
        let include = table.remove("include");
        let mut g = Gather {
            parts: vec![part],
            ids: vec![root.id],
            tables: Vec::new(),
            stack: Vec::new(),
        };
        g.follow(0, include, table)?;
        let (table, arrays) = combine(&g.parts, g.tables)?;
        let id = g.ids.swap_remove(0);
        Ok(Layer {
            parts: g.parts,
            table,
            extends,
            arrays,
            id,
        })
    }

    /// The file given or reached by `extends` (its other parts are the files it includes).
    pub(crate) fn first(&self) -> &Part {
        &self.parts[0]
    }

    /// The paths, in this layer's parts, that `path` of the layer's table may be written at:
    /// (part, path in that part). An entry of a top-level array of tables is in the one part that
    /// wrote it; any other path is looked for in every part.
    pub(crate) fn part_paths(&self, path: &[Seg]) -> Vec<(usize, Vec<Seg>)> {
        if let [Seg::Key(k), Seg::Index(i), rest @ ..] = path {
            if let Some(&(part, j)) = self.arrays.get(k).and_then(|o| o.get(*i)) {
                let mut p = vec![Seg::Key(k.clone()), Seg::Index(j)];
                p.extend_from_slice(rest);
                return vec![(part, p)];
            }
        }
        (0..self.parts.len()).map(|p| (p, path.to_vec())).collect()
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

impl Gather {
    /// Reads the files that part `pi` includes (`include`, its value), and theirs, then queues
    /// `table`, the part's own values, to be combined after them.
    fn follow(
        &mut self,
        pi: usize,
        include: Option<toml::Value>,
        table: toml::Table,
    ) -> Result<(), ScenarioError> {
        self.stack.push(pi);
        let targets = match include {
            None => Vec::new(),
            Some(v) => self.include_list(pi, v)?,
        };
        for (idx, target) in targets.into_iter().enumerate() {
            let at = || locate_include(&self.parts[pi], idx);
            if self.stack.len() >= MAX_INCLUDE_DEPTH {
                return Err(ScenarioError::Invalid {
                    at: at(),
                    path: format!("include[{idx}]"),
                    message: format!(
                        "includes nested more than {MAX_INCLUDE_DEPTH} deep (a file that \
                         includes a file that includes ...)"
                    ),
                    help: format!(
                        "include the files from fewer levels: a file may list many files in \
                         its `include`, at most {MAX_INCLUDE_DEPTH} levels deep"
                    ),
                });
            }
            if self.parts.len() >= MAX_LAYER_FILES {
                return Err(ScenarioError::Invalid {
                    at: at(),
                    path: format!("include[{idx}]"),
                    message: format!(
                        "more than {MAX_LAYER_FILES} files in one layer (a file and all it \
                         includes)"
                    ),
                    help: "merge some of the included files; a layer may have at most \
                           1000 files"
                        .to_string(),
                });
            }
            let src = self.read(pi, &target, idx)?;
            if let Some(open) = self.stack.iter().position(|&s| self.ids[s] == src.id) {
                let mut chain: Vec<String> = self.stack[open..]
                    .iter()
                    .map(|&s| self.parts[s].name.clone())
                    .collect();
                chain.push(src.name);
                return Err(ScenarioError::IncludeCycle { at: at(), chain });
            }
            if let Some(first) = self.ids.iter().position(|i| *i == src.id) {
                return Err(ScenarioError::Invalid {
                    at: at(),
                    path: format!("include[{idx}]"),
                    message: format!(
                        "'{target}' ({}) is already included in this layer",
                        self.parts[first].name
                    ),
                    help: "include each file once: the files of a layer (a file and all it \
                           includes) may not define the same key twice"
                        .to_string(),
                });
            }
            let (part, mut sub) = parse_file(src.name, src.text, src.folder)?;
            if sub.contains_key("extends") {
                let includer = self.parts[pi].name.clone();
                let at = super::locate::locate_in(&part, &[key("extends")], Want::Key);
                return Err(ScenarioError::Invalid {
                    at,
                    path: "extends".to_string(),
                    message: format!(
                        "an included file cannot extend another: it is part of {includer}"
                    ),
                    help: format!(
                        "move `extends` to {}, the file given to capsim or reached by \
                         `extends`; the files it includes share its base",
                        self.parts[self.stack[0]].name
                    ),
                });
            }
            let sub_include = sub.remove("include");
            self.parts.push(part);
            self.ids.push(src.id);
            let next = self.parts.len() - 1;
            self.follow(next, sub_include, sub)?;
        }
        self.stack.pop();
        self.tables.push((pi, table));
        Ok(())
    }

    /// The paths that `include` (in part `pi`) names, type-checked.
    fn include_list(&self, pi: usize, v: toml::Value) -> Result<Vec<String>, ScenarioError> {
        let part = &self.parts[pi];
        let toml::Value::Array(entries) = v else {
            return Err(ScenarioError::BadValue {
                at: super::locate::locate_in(part, &[key("include")], Want::Value),
                path: "include".to_string(),
                message: format!("expected an array of file paths, found {}", v.type_str()),
                help: "write include = [\"chips.toml\", \"sites.toml\"] (relative to this \
                       file's folder)"
                    .to_string(),
            });
        };
        entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| match e {
                toml::Value::String(s) => Ok(s),
                other => Err(ScenarioError::BadValue {
                    at: super::locate::locate_in(
                        part,
                        &[key("include"), Seg::Index(i)],
                        Want::Value,
                    ),
                    path: format!("include[{i}]"),
                    message: format!("expected a file path string, found {}", other.type_str()),
                    help: "each entry of include is a path string, relative to this file's \
                           folder"
                        .to_string(),
                }),
            })
            .collect()
    }

    /// Reads `target`, entry `idx` of part `pi`'s `include`.
    fn read(&self, pi: usize, target: &str, idx: usize) -> Result<FileSource, ScenarioError> {
        let part = &self.parts[pi];
        let at = || locate_include(part, idx);
        match &part.folder {
            Folder::Disk(dir) => {
                let path = dir.join(target);
                match read_scenario_file(&path) {
                    Ok(text) => Ok(FileSource::on_disk(&path, text)),
                    Err(ReadError::NotFound(_)) => Err(ScenarioError::IncludeNotFound {
                        at: at(),
                        target: target.to_string(),
                        help: format!(
                            "looked for {}; the path is relative to the folder of {}",
                            path.display(),
                            part.name
                        ),
                    }),
                    Err(e) => Err(ScenarioError::Invalid {
                        at: at(),
                        path: format!("include[{idx}]"),
                        message: format!("cannot read '{}': {e}", path.display()),
                        help: format!(
                            "include names scenario files (regular files of at most {} MiB), \
                             relative to the folder of {}",
                            MAX_FILE_BYTES >> 20,
                            part.name
                        ),
                    }),
                }
            }
            Folder::Embedded(folder) => {
                let found = embedded_join(folder, target)
                    .and_then(|rel| embedded_file(&rel).map(|text| (rel, text)));
                match found {
                    Some((rel, text)) => Ok(embedded_source(&rel, text)),
                    None => {
                        let built_in: Vec<String> =
                            EMBEDDED_FILES.iter().map(|(p, _)| p.to_string()).collect();
                        Err(ScenarioError::IncludeNotFound {
                            at: at(),
                            target: target.to_string(),
                            help: format!(
                                "{} is built into capsim, and so must be every file it includes; \
                                 built in: {} (a file is built in by a line in \
                                 scenario::EMBEDDED_FILES)",
                                part.name,
                                built_in.join(", ")
                            ),
                        })
                    }
                }
            }
        }
    }
}

/// Where entry `idx` of a part's `include` is written.
fn locate_include(part: &Part, idx: usize) -> Box<Location> {
    super::locate::locate_in(part, &[key("include"), Seg::Index(idx)], Want::Value)
}

/// A built-in file as a layer's file: `rel` is its path relative to `scenarios/`.
fn embedded_source(rel: &str, text: &str) -> FileSource {
    let name = format!("<embedded>/{rel}");
    let folder = match rel.rsplit_once('/') {
        Some((dir, _)) => dir.to_string(),
        None => String::new(),
    };
    FileSource {
        id: name.clone(),
        name,
        text: text.to_string(),
        folder: Folder::Embedded(folder),
    }
}

/// `target` relative to the built-in folder `folder`, as a path relative to `scenarios/`
/// (`.` and `..` resolved); `None` if it leaves `scenarios/` or is absolute.
pub(crate) fn embedded_join(folder: &str, target: &str) -> Option<String> {
    if target.starts_with('/') || target.contains('\\') {
        return None;
    }
    let mut parts: Vec<&str> = folder.split('/').filter(|s| !s.is_empty()).collect();
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// The combined table of a layer's parts, and where each entry of its top-level arrays of
/// tables comes from. `tables` are in combining order.
fn combine(
    parts: &[Part],
    tables: Vec<(usize, toml::Table)>,
) -> Result<(toml::Table, ArrayOrigins), ScenarioError> {
    let mut out = toml::Table::new();
    let mut arrays = ArrayOrigins::new();
    // The parts combined so far, in combining order (where a clash's first definition is).
    let mut done: Vec<usize> = Vec::new();
    for (pi, table) in tables {
        for (k, v) in table {
            let path = [key(&k)];
            match (out.get_mut(&k), v) {
                (None, v) => {
                    if let Some(n) = tables_in(&v) {
                        arrays.insert(k.clone(), (0..n).map(|j| (pi, j)).collect());
                    }
                    out.insert(k, v);
                }
                (Some(toml::Value::Table(base)), toml::Value::Table(over)) => {
                    // A table of entries: each entry (`[chips.h100]`, a key of `[sources]`)
                    // comes from one file.
                    for (k2, v2) in over {
                        if base.contains_key(&k2) {
                            return Err(clash(parts, &done, pi, &[key(&k), key(&k2)]));
                        }
                        base.insert(k2, v2);
                    }
                }
                (Some(toml::Value::Array(base)), toml::Value::Array(over))
                    if base.iter().chain(&over).all(toml::Value::is_table) =>
                {
                    let origin = arrays.entry(k.clone()).or_default();
                    origin.extend((0..over.len()).map(|j| (pi, j)));
                    base.extend(over);
                }
                _ => return Err(clash(parts, &done, pi, &path)),
            }
        }
        done.push(pi);
    }
    Ok((out, arrays))
}

/// The number of entries of an array of tables (`None` for anything else).
fn tables_in(v: &toml::Value) -> Option<usize> {
    match v {
        toml::Value::Array(a) if a.iter().all(toml::Value::is_table) => Some(a.len()),
        _ => None,
    }
}

/// `path` is written by part `pi` and by one of the parts `done`.
fn clash(parts: &[Part], done: &[usize], pi: usize, path: &[Seg]) -> ScenarioError {
    let at = super::locate::locate_in(&parts[pi], path, Want::Key);
    let first = done
        .iter()
        .find_map(|&d| super::locate::find_in(&parts[d], path, Want::Key))
        .unwrap_or_else(|| Location::start_of(&parts[done.first().copied().unwrap_or(0)].name));
    let shown: Vec<String> = path
        .iter()
        .map(|s| match s {
            Seg::Key(k) => super::locate::fmt_key(k),
            Seg::Index(i) => format!("[{i}]"),
        })
        .collect();
    ScenarioError::DuplicateKey {
        at,
        path: shown.join("."),
        first,
        help: "the files a scenario includes, and the file that includes them, form one layer: \
               each key, and each entry such as [chips.h100], is written in one of them only; \
               keep one of the two, or override it in a file that `extends` this one"
            .to_string(),
    }
}

/// Follows `extends` from `root` to the last base, reading each base with its includes.
pub(crate) fn load_chain(root: Layer) -> Result<Vec<Layer>, ScenarioError> {
    let mut layers = vec![root];
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
        let last_name = &last.first().name;
        let not_found = |tried: &Path| {
            let (at, _) = last.locate(&[key("extends")], Want::Value);
            ScenarioError::ExtendsNotFound {
                at,
                target: target.clone(),
                help: format!(
                    "looked for {}; the path is relative to the folder of {}, and only a missing \
                     'baseline.toml' falls back to the baseline built into capsim",
                    tried.display(),
                    last_name
                ),
            }
        };
        let wants_baseline = Path::new(&target).file_name() == Some("baseline.toml".as_ref());
        let src = match &last.first().folder {
            Folder::Disk(dir) => {
                let path = dir.join(&target);
                match read_scenario_file(&path) {
                    Ok(text) => FileSource::on_disk(&path, text),
                    Err(ReadError::NotFound(_)) => {
                        if wants_baseline {
                            embedded_baseline()
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
                                last_name
                            ),
                        });
                    }
                }
            }
            // The built-in files extend nothing; nothing they extend could be found.
            Folder::Embedded(_) => return Err(not_found(Path::new(&target))),
        };
        if let Some(first) = layers.iter().position(|l| l.id == src.id) {
            let mut chain: Vec<String> = layers[first..]
                .iter()
                .map(|l| l.first().name.clone())
                .collect();
            chain.push(src.name);
            let (at, _) = last.locate(&[key("extends")], Want::Value);
            return Err(ScenarioError::ExtendsCycle { at, chain });
        }
        let layer = Layer::load(src)?;
        layers.push(layer);
    }
    Ok(layers)
}

/// The most files one layer may have: a file and all it includes, at any depth.
pub(crate) const MAX_LAYER_FILES: usize = 1000;

/// The deepest chain of includes (a file that includes a file that includes ...): reading one
/// level takes a frame of the loader's stack, so the depth is bounded well under what a thread's
/// stack holds (a test thread's 2 MiB held about 1,000 levels in a debug build, and no more).
pub(crate) const MAX_INCLUDE_DEPTH: usize = 64;

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

/// The built-in baseline as a layer's file.
pub(crate) fn embedded_baseline() -> FileSource {
    embedded_source("baseline.toml", super::BASELINE_TOML)
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
    // Drop bare switch-offs (`name` and `enabled = false`, no `rule`) last, so a later layer can
    // switch off a base entry by name. A switched-off policy written out in full stays: the loader
    // checks it and leaves it out of the run.
    if let Some(toml::Value::Array(entries)) = table.get_mut("policy") {
        let mut kept = Vec::with_capacity(entries.len());
        let mut kept_origin = Vec::with_capacity(entries.len());
        for (i, e) in std::mem::take(entries).into_iter().enumerate() {
            let off = e.get("enabled").and_then(toml::Value::as_bool) == Some(false);
            if !off || e.get("rule").is_some() {
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

/// Policy names must be unique within one layer: a file and the files it includes (across
/// layers, a repeat is a replacement).
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
            // Within one file by line; across the files of a layer, by file and line.
            let first_shown = if first_at.file == at.file {
                format!("line {}", first_at.line)
            } else {
                first_at.to_string()
            };
            return Err(ScenarioError::Invalid {
                at,
                path: format!("policy.{}", super::locate::fmt_key(n)),
                message: format!("duplicate policy name '{n}' (first used at {first_shown})"),
                help: "policy names must be unique within a file and the files it includes; \
                       rename one of them (an extending file replaces a base policy by reusing \
                       its name)"
                    .to_string(),
            });
        }
    }
    Ok(())
}
