//! Writing a run's files: all into a temporary folder, then one rename, so a failed or interrupted
//! run never leaves a half-written output folder.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Writes `files` (relative path, bytes) as the folder `root/name`, replacing any previous one.
///
/// The files go to `root/.name.tmp-<pid>` first; only when every file is written is the folder
/// renamed into place. On error the temporary folder is removed and `root/name` is untouched.
pub fn write_folder(root: &Path, name: &str, files: &[(String, Vec<u8>)]) -> io::Result<PathBuf> {
    let folder = Folder::create(root, name)?;
    folder.write_all("", files)?;
    folder.finish()
}

/// An output folder being written: files go to a temporary folder beside the destination as they
/// come (from any thread), and [`Folder::finish`] renames it into place. Dropped unfinished (an
/// error, a panic), it removes the temporary folder and leaves any previous `root/name` untouched.
#[derive(Debug)]
pub struct Folder {
    root: PathBuf,
    name: String,
    tmp: PathBuf,
    finished: bool,
}

impl Folder {
    /// Starts writing `root/name` (created when it does not exist).
    pub fn create(root: &Path, name: &str) -> io::Result<Folder> {
        fs::create_dir_all(root)?;
        let tmp = root.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp)?;
        Ok(Folder {
            root: root.to_path_buf(),
            name: name.to_string(),
            tmp,
            finished: false,
        })
    }

    /// Writes `files` (relative path, bytes) under the subfolder `sub` ("" for the top).
    pub fn write_all(&self, sub: &str, files: &[(String, Vec<u8>)]) -> io::Result<()> {
        for (rel, bytes) in files {
            let path = self.tmp.join(sub).join(rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(&path, bytes)?;
        }
        Ok(())
    }

    /// Moves the finished folder into place, replacing any previous one; returns its path.
    pub fn finish(mut self) -> io::Result<PathBuf> {
        let dest = self.root.join(&self.name);
        if dest.exists() {
            let old = self
                .root
                .join(format!(".{}.old-{}", self.name, std::process::id()));
            fs::rename(&dest, &old)?;
            fs::rename(&self.tmp, &dest)?;
            fs::remove_dir_all(&old)?;
        } else {
            fs::rename(&self.tmp, &dest)?;
        }
        self.finished = true;
        Ok(dest)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        if !self.finished {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}
