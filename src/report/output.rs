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
    fs::create_dir_all(root)?;
    let tmp = root.join(format!(".{name}.tmp-{}", std::process::id()));
    let dest = root.join(name);
    let result = (|| {
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        for (rel, bytes) in files {
            let path = tmp.join(rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(&path, bytes)?;
        }
        if dest.exists() {
            let old = root.join(format!(".{name}.old-{}", std::process::id()));
            fs::rename(&dest, &old)?;
            fs::rename(&tmp, &dest)?;
            fs::remove_dir_all(&old)?;
        } else {
            fs::rename(&tmp, &dest)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result.map(|()| dest)
}
