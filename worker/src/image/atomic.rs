//! The temp-file half of the atomic-write convention for streamed writers.
//!
//! `isobatch_shared::atomic::write_with` needs the whole content in one
//! closure; stack writers instead keep a file open across many calls, so they
//! hold a [`TempPath`]: it names `.NAME.tmp-PID` next to the destination, and
//! either commits (fsync, rename, fsync the folder) or removes it on drop.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use isobatch_shared::atomic::{sync_dir, temp_path};

use super::ImageError;

/// A temporary file that becomes `dest` on [`TempPath::commit`], or is removed on drop.
#[derive(Debug)]
pub(crate) struct TempPath {
    tmp: PathBuf,
    dest: PathBuf,
    armed: bool,
}

impl TempPath {
    /// Creates (or truncates) the temp file for `dest`, opened read-write.
    pub(crate) fn create(dest: &Path) -> Result<(Self, File), ImageError> {
        let tmp = temp_path(dest).map_err(|e| ImageError::usage(dest, e.to_string()))?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| ImageError::io(dest, e))?;
        let guard = TempPath {
            tmp,
            dest: dest.to_path_buf(),
            armed: true,
        };
        Ok((guard, file))
    }

    /// The final path.
    pub(crate) fn dest(&self) -> &Path {
        &self.dest
    }

    /// The temporary path (for tests and messages).
    #[cfg(test)]
    pub(crate) fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Fsyncs `file`, renames the temp file over `dest` and fsyncs the folder.
    pub(crate) fn commit(mut self, file: File) -> Result<(), ImageError> {
        file.sync_all().map_err(|e| ImageError::io(&self.dest, e))?;
        drop(file);
        fs::rename(&self.tmp, &self.dest).map_err(|e| ImageError::io(&self.dest, e))?;
        self.armed = false;
        let dir = match self.dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        sync_dir(dir).map_err(|e| ImageError::io(dir, e))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isobatch_shared::atomic::is_temp_name;

    #[test]
    fn temp_name_follows_the_shared_convention() {
        let dir = std::env::temp_dir().join(format!("isobatch-tmpname-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("stack.npy");
        let (guard, file) = TempPath::create(&dest).unwrap();
        let name = guard
            .tmp()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(is_temp_name(&name), "{name}");
        assert!(name.starts_with(".stack.npy"));
        assert!(guard.tmp().exists());
        drop(file);
        drop(guard);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        let (guard, file) = TempPath::create(&dest).unwrap();
        guard.commit(file).unwrap();
        assert!(dest.exists());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
