//! Writing output folders: all into a temporary folder, then one rename, so a failed or interrupted
//! run never leaves a half-written output folder, and never replaces what capsim did not write.
//!
//! - **Only capsim's own folders are replaced.** The destination may be missing, an empty folder, or
//!   a folder capsim wrote of the same kind ([`Kind`]), recognised by its identity file:
//!   `manifest.json` that parses as a run's or a sweep's manifest, or `comparison.csv` that starts
//!   with a comparison's header; and holding nothing but the names capsim writes there. Anything
//!   else (a file, a link, a folder of the user's, a capsim folder with the user's files added) is
//!   refused up front ([`check`]) and again at the swap.
//! - **One writer swaps at a time.** The final swap (the old folder aside, the new one in, the old
//!   one removed) holds an exclusive lock on the parent folder, so concurrent runs into one `--out`
//!   each complete, the last one winning.
//! - **No temporary folder outlives its process.** Temporary folders are named
//!   `.<name>.tmp-<pid>` (and `.<name>.old-<pid>` during a swap). [`abandon_and_exit`] (the
//!   binary's SIGINT/SIGTERM handler) removes this process's; [`Folder::create`] removes those of
//!   dead processes for the same destination (restoring a displaced `.old-` folder whose
//!   replacement never arrived).

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock, RwLockWriteGuard};

use super::compare::COMPARISON_COLUMNS;
use super::manifest::Manifest;
use super::sweep::SweepManifest;

/// The kinds of folder capsim writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `capsim run`: CSVs, `manifest.json`, report and charts.
    Run,
    /// `capsim sweep` or `capsim merge` (a whole sweep or a shard).
    Sweep,
    /// `capsim compare`.
    Comparison,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Run => "run folder",
            Kind::Sweep => "sweep folder",
            Kind::Comparison => "comparison folder",
        }
    }

    /// The names capsim writes at the top of a folder of this kind.
    fn entries(self) -> &'static [&'static str] {
        match self {
            Kind::Run => &[
                "timeseries.csv",
                "firms.csv",
                "summary.csv",
                "headline.csv",
                "jobs.csv",
                "decisions.csv",
                "provenance.csv",
                "inputs.csv",
                "draws.csv",
                "observations.csv",
                "timeseries.parquet",
                "firms.parquet",
                "summary.parquet",
                "headline.parquet",
                "jobs.parquet",
                "decisions.parquet",
                "provenance.parquet",
                "inputs.parquet",
                "draws.parquet",
                "observations.parquet",
                "schema.json",
                "manifest.json",
                "report.html",
                "charts",
            ],
            Kind::Sweep => &[
                "records.csv",
                "sweep.csv",
                "report.html",
                "charts",
                "manifest.json",
                "points",
            ],
            Kind::Comparison => &["comparison.csv", "periods.csv", "report.html", "charts"],
        }
    }

    fn help(self) -> &'static str {
        match self {
            Kind::Run => "choose another --out or --name, or move that folder away yourself",
            Kind::Sweep | Kind::Comparison => {
                "choose another --out, or move that folder away yourself"
            }
        }
    }
}

/// Why an output folder could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The folder that should receive the output is a file (or lies under one).
    #[error("{path} is not a folder (it, or a folder above it, is a file)\n  help: --out names a folder, created when missing")]
    NotAFolder {
        /// The path.
        path: String,
    },
    /// The destination holds something capsim did not write (or another kind of capsim folder).
    #[error("{path} is {what}: capsim replaces only a {noun} it wrote itself, nothing else\n  help: {help}")]
    NotOurs {
        /// The destination.
        path: String,
        /// What is there.
        what: String,
        /// The kind of folder being written.
        noun: &'static str,
        /// How to go on.
        help: &'static str,
    },
    /// A run name that is not one safe folder name (`../x`, `a/b`, `.x`).
    #[error("invalid folder name '{name}': {reason}\n  help: {NAME_HELP}")]
    BadName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl OutputError {
    /// Whether the destination was refused (the user's input: exit 2) rather than an I/O failure.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, OutputError::Io { .. })
    }
}

/// The longest run name (`--name`, Python's `name=`, the web app's runs): a file system's name is
/// at most 255 bytes, and the temporary folder adds `.` and `.tmp-<pid>` to it.
pub const MAX_FOLDER_NAME: usize = 230;

/// How to name a run folder, as [`OutputError::BadName`] says it.
pub const NAME_HELP: &str = "use letters, digits, '-', '_' and '.' (not first), at most 230 of \
                             them: the folder is written under --out, never above or beside it";

/// Refuses a run name that is not one safe folder name ([`name_problem`]): `root/name` must be a
/// folder under `root`, never above or beside it.
pub fn check_name(name: &str) -> Result<(), OutputError> {
    match name_problem(name) {
        None => Ok(()),
        Some(reason) => Err(OutputError::BadName {
            name: name.to_string(),
            reason,
        }),
    }
}

/// What is wrong with `name` as the name of a run folder capsim writes under its output folder, if
/// anything: one folder name of letters, digits, `-`, `_` and `.`, not starting with a dot (which
/// names capsim's temporary folders, and `..` a folder above), at most [`MAX_FOLDER_NAME`] long.
/// The one rule of `--name`, the Python `name=` and the web app's run names.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("it is empty".into())
    } else if name.chars().count() > MAX_FOLDER_NAME {
        Some(format!(
            "it is {} characters long, more than {MAX_FOLDER_NAME}",
            name.chars().count()
        ))
    } else if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
    {
        Some(format!("{c:?} is not allowed"))
    } else if name.starts_with('.') {
        Some("it starts with '.'".into())
    } else {
        None
    }
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Refuses a destination `root/name` that a folder of `kind` may not replace (see the module
/// documentation); `Ok` when it is missing, empty, or capsim's own folder of that kind.
pub fn check(root: &Path, name: &str, kind: Kind) -> Result<(), OutputError> {
    match fs::metadata(root) {
        Ok(m) if !m.is_dir() => return Err(not_a_folder(root)),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => return Err(not_a_folder(root)),
        _ => {}
    }
    let dest = root.join(name);
    let refuse = |what: String| OutputError::NotOurs {
        path: dest.display().to_string(),
        what,
        noun: kind.noun(),
        help: kind.help(),
    };
    let meta = match fs::symlink_metadata(&dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_at(&dest)(e)),
        Ok(m) => m,
    };
    if meta.file_type().is_symlink() {
        return Err(refuse("a symbolic link".into()));
    }
    if !meta.is_dir() {
        return Err(refuse("a file".into()));
    }
    let mut entries: Vec<String> = fs::read_dir(&dest)
        .map_err(io_at(&dest))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    if entries.is_empty() {
        return Ok(());
    }
    match kind_of(&dest) {
        None => Err(refuse(format!(
            "a folder capsim did not write (it holds {})",
            listing(&entries)
        ))),
        Some(k) if k != kind => Err(refuse(format!("a {}", k.noun()))),
        Some(k) => {
            let foreign: Vec<String> = entries
                .into_iter()
                .filter(|e| !k.entries().contains(&e.as_str()))
                .collect();
            if foreign.is_empty() {
                Ok(())
            } else {
                Err(refuse(format!(
                    "a {} that also holds files capsim did not write ({})",
                    k.noun(),
                    listing(&foreign)
                )))
            }
        }
    }
}

fn not_a_folder(path: &Path) -> OutputError {
    OutputError::NotAFolder {
        path: path.display().to_string(),
    }
}

/// `a, b, c and 4 more`.
fn listing(names: &[String]) -> String {
    let shown = names.len().min(3);
    let mut s = names[..shown].join(", ");
    if names.len() > shown {
        s.push_str(&format!(" and {} more", names.len() - shown));
    }
    s
}

/// The kind of capsim folder `dir` is, by its identity file; `None` if it is none of capsim's.
fn kind_of(dir: &Path) -> Option<Kind> {
    if let Some(bytes) = small_file(&dir.join("manifest.json")) {
        if serde_json::from_slice::<SweepManifest>(&bytes).is_ok() {
            return Some(Kind::Sweep);
        }
        if serde_json::from_slice::<Manifest>(&bytes).is_ok() {
            return Some(Kind::Run);
        }
        return None;
    }
    let csv = small_file(&dir.join("comparison.csv"))?;
    // The key columns, which comparisons written before the long form share.
    let header = COMPARISON_COLUMNS[..6].join(",");
    csv.starts_with(header.as_bytes())
        .then_some(Kind::Comparison)
}

/// The bytes of `path` if it is a regular file of at most 64 MiB.
fn small_file(path: &Path) -> Option<Vec<u8>> {
    let meta = fs::symlink_metadata(path).ok()?;
    (meta.is_file() && meta.len() <= 64 << 20)
        .then(|| fs::read(path).ok())
        .flatten()
}

/// Writes a file's bytes to the writer it is given.
pub type Writes<'a> = Box<dyn Fn(&mut dyn io::Write) -> io::Result<()> + 'a>;

/// What a file of an output folder holds: bytes made in memory, or a writer that streams a large
/// file to disk as it is made (see [`Body`]).
pub enum Content<'a> {
    /// The file's bytes.
    Bytes(Vec<u8>),
    /// Writes the file's bytes to the writer it is given.
    Stream(Writes<'a>),
}

impl Content<'_> {
    /// The file's bytes, made in memory.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Content::Bytes(b) => b.clone(),
            Content::Stream(f) => {
                let mut out = Vec::new();
                f(&mut out).expect("writing to memory cannot fail");
                out
            }
        }
    }
}

impl std::fmt::Debug for Content<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Content::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Content::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// A file's content as [`Folder::write_all`] writes it.
pub trait Body {
    /// Writes the file at `path`.
    fn write_file(&self, path: &Path) -> io::Result<()>;
}

impl Body for Vec<u8> {
    fn write_file(&self, path: &Path) -> io::Result<()> {
        fs::write(path, self)
    }
}

impl Body for Content<'_> {
    fn write_file(&self, path: &Path) -> io::Result<()> {
        match self {
            Content::Bytes(b) => fs::write(path, b),
            Content::Stream(f) => {
                let mut w = io::BufWriter::with_capacity(1 << 20, File::create(path)?);
                f(&mut w)?;
                io::Write::flush(&mut w)
            }
        }
    }
}

/// Writes `files` (relative path, content) as the folder `root/name`, replacing a previous folder
/// of the same `kind` (see [`Folder`]).
pub fn write_folder<B: Body>(
    root: &Path,
    name: &str,
    kind: Kind,
    files: &[(String, B)],
) -> Result<PathBuf, OutputError> {
    let folder = Folder::create(root, name, kind)?;
    let tmp = folder.tmp.clone();
    folder.write_all("", files).map_err(io_at(&tmp))?;
    folder.finish()
}

/// The temporary folders of this process that are being written. Writers of files take it shared;
/// creating, finishing, dropping a folder and [`abandon_and_exit`] take it exclusive, so a
/// temporary folder is never removed while a file is being written into it, nor recreated after.
static TEMPS: RwLock<Vec<PathBuf>> = RwLock::new(Vec::new());

fn temps() -> RwLockWriteGuard<'static, Vec<PathBuf>> {
    TEMPS.write().unwrap_or_else(PoisonError::into_inner)
}

/// Removes this process's temporary folders and exits with `code`, waiting for any file being
/// written or any swap under way to end first. For the binary's SIGINT/SIGTERM handler.
pub fn abandon_and_exit(code: i32) -> ! {
    let temps = temps();
    for t in temps.iter() {
        let _ = fs::remove_dir_all(t);
    }
    std::process::exit(code)
}

/// An exclusive lock on a folder (released when dropped); none where the platform or the file
/// system does not offer one.
struct FolderLock(#[allow(dead_code)] Option<File>);

impl FolderLock {
    fn take(dir: &Path) -> FolderLock {
        FolderLock(File::open(dir).ok().filter(|f| f.lock().is_ok()))
    }
}

/// An output folder being written: files go to a temporary folder beside the destination as they
/// come (from any thread), and [`Folder::finish`] renames it into place. Dropped unfinished (an
/// error, a panic), it removes the temporary folder and leaves any previous `root/name` untouched.
#[derive(Debug)]
pub struct Folder {
    root: PathBuf,
    name: String,
    kind: Kind,
    tmp: PathBuf,
    finished: bool,
}

impl Folder {
    /// Starts writing `root/name` (created when it does not exist), after [`check`]ing that it may
    /// be replaced, and removes the temporary folders that dead processes left for it.
    pub fn create(root: &Path, name: &str, kind: Kind) -> Result<Folder, OutputError> {
        check(root, name, kind)?;
        fs::create_dir_all(root).map_err(io_at(root))?;
        {
            let _lock = FolderLock::take(root);
            remove_stale(root, name);
        }
        let tmp = root.join(format!(".{name}.tmp-{}", std::process::id()));
        let mut temps = temps();
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io_at(&tmp))?;
        }
        fs::create_dir_all(&tmp).map_err(io_at(&tmp))?;
        temps.push(tmp.clone());
        Ok(Folder {
            root: root.to_path_buf(),
            name: name.to_string(),
            kind,
            tmp,
            finished: false,
        })
    }

    /// Writes `files` (relative path, content) under the subfolder `sub` ("" for the top).
    pub fn write_all<B: Body>(&self, sub: &str, files: &[(String, B)]) -> io::Result<()> {
        let _writing = TEMPS.read().unwrap_or_else(PoisonError::into_inner);
        for (rel, body) in files {
            let path = self.tmp.join(sub).join(rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            body.write_file(&path)?;
        }
        Ok(())
    }

    /// Moves the finished folder into place, replacing a previous folder of its kind; returns its
    /// path. Refuses (and writes nothing) if the destination has become something else meanwhile.
    pub fn finish(mut self) -> Result<PathBuf, OutputError> {
        let dest = self.root.join(&self.name);
        let lock = FolderLock::take(&self.root);
        let mut temps = temps();
        check(&self.root, &self.name, self.kind)?;
        if fs::symlink_metadata(&dest).is_ok() {
            let old = self
                .root
                .join(format!(".{}.old-{}", self.name, std::process::id()));
            fs::rename(&dest, &old).map_err(io_at(&dest))?;
            if let Err(e) = fs::rename(&self.tmp, &dest) {
                let _ = fs::rename(&old, &dest);
                return Err(io_at(&dest)(e));
            }
            fs::remove_dir_all(&old).map_err(io_at(&old))?;
        } else {
            fs::rename(&self.tmp, &dest).map_err(io_at(&dest))?;
        }
        temps.retain(|t| *t != self.tmp);
        self.finished = true;
        drop(temps);
        drop(lock);
        Ok(dest)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        if !self.finished {
            let mut temps = temps();
            let _ = fs::remove_dir_all(&self.tmp);
            temps.retain(|t| *t != self.tmp);
        }
    }
}

/// Removes `root/.name.tmp-<pid>` left by processes that are gone, and settles their
/// `root/.name.old-<pid>`: put back as `root/name` if that is missing (the process died between
/// the two renames of its swap), else removed.
fn remove_stale(root: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    let tmp = format!(".{name}.tmp-");
    let old = format!(".{name}.old-");
    for e in entries.flatten() {
        let file_name = e.file_name();
        let Some(s) = file_name.to_str() else {
            continue;
        };
        let (pid, restore) = match (s.strip_prefix(&tmp), s.strip_prefix(&old)) {
            (Some(pid), _) => (pid, false),
            (_, Some(pid)) => (pid, true),
            _ => continue,
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() || alive(pid) {
            continue;
        }
        let dest = root.join(name);
        if restore && fs::symlink_metadata(&dest).is_err() {
            let _ = fs::rename(e.path(), &dest);
        } else {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Whether process `pid` runs (on Linux, by `/proc`; elsewhere assumed to, so nothing is removed).
fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("capsim-output-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn only_missing_empty_or_own_folders_of_the_kind_may_be_replaced() {
        let root = scratch("check");
        assert!(check(&root, "new", Kind::Run).is_ok());
        fs::create_dir(root.join("empty")).unwrap();
        assert!(check(&root, "empty", Kind::Run).is_ok());
        fs::create_dir(root.join("docs")).unwrap();
        fs::write(root.join("docs/thesis.txt"), "draft").unwrap();
        let e = check(&root, "docs", Kind::Comparison).unwrap_err();
        assert!(
            e.is_refusal() && e.to_string().contains("thesis.txt"),
            "{e}"
        );
        fs::write(root.join("file"), "x").unwrap();
        assert!(check(&root, "file", Kind::Run)
            .unwrap_err()
            .to_string()
            .contains("is a file"));
        assert!(matches!(
            check(&root.join("file"), "x", Kind::Run),
            Err(OutputError::NotAFolder { .. })
        ));
        fs::create_dir(root.join("cmp")).unwrap();
        fs::write(
            root.join("cmp/comparison.csv"),
            format!("{},a_mean\n", COMPARISON_COLUMNS.join(",")),
        )
        .unwrap();
        assert!(check(&root, "cmp", Kind::Comparison).is_ok());
        assert!(check(&root, "cmp", Kind::Run).is_err());
        fs::write(root.join("cmp/notes.md"), "mine").unwrap();
        assert!(check(&root, "cmp", Kind::Comparison)
            .unwrap_err()
            .to_string()
            .contains("notes.md"));
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn stale_temporary_folders_of_dead_processes_are_removed_and_old_ones_put_back() {
        let root = scratch("stale");
        // pid 4194305 is above Linux's largest pid (2^22), so never alive.
        let dead = 4_194_305;
        fs::create_dir_all(root.join(format!(".a.tmp-{dead}/points"))).unwrap();
        fs::create_dir_all(root.join(format!(".a.old-{dead}"))).unwrap();
        fs::write(root.join(format!(".a.old-{dead}/manifest.json")), "{}").unwrap();
        fs::create_dir_all(root.join(format!(".b.tmp-{dead}"))).unwrap();
        let f = Folder::create(&root, "a", Kind::Comparison).unwrap();
        drop(f);
        let mut left: Vec<String> = fs::read_dir(&root)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        if cfg!(target_os = "linux") {
            // `a` was missing: its displaced folder is back; `b`'s are another destination's.
            assert_eq!(left, [format!(".b.tmp-{dead}"), "a".to_string()]);
            assert!(root.join("a/manifest.json").is_file());
        }
        let _ = fs::remove_dir_all(&root);
    }
}
