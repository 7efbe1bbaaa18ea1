//! Atomic file writes: a file carries its final name only when it is complete.
//!
//! Write to a temporary name in the same folder, fsync it, rename it over the
//! final name, fsync the folder. A crash at any point leaves either the old
//! file or the new one, never a torn mix; leftovers are `.*.tmp-*` files that
//! [`is_temp_name`] recognises so a retry can clean them.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Marker inside temporary names, so leftovers of killed attempts can be recognised.
pub const TEMP_MARKER: &str = ".tmp-";

/// True for names this module uses for in-progress files.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(TEMP_MARKER)
}

/// The temporary name `.NAME.tmp-PID` beside `path` that a write goes to before its rename.
pub fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = format!(
        ".{}{}{}",
        name.to_string_lossy(),
        TEMP_MARKER,
        std::process::id()
    );
    Ok(path.with_file_name(tmp))
}

/// Fsyncs a directory so that a rename inside it survives a power cut.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A file written under its temporary name: it becomes `dest` on
/// [`TempFile::commit`] (fsync, rename, fsync the folder) and is removed if
/// dropped uncommitted. For writers that keep the file open across many calls
/// (stacks written frame by frame); [`write_with`] is the one-closure form.
#[derive(Debug)]
pub struct TempFile {
    tmp: PathBuf,
    dest: PathBuf,
    armed: bool,
}

impl TempFile {
    /// Creates (or truncates) the temporary file for `dest`, opened read-write.
    pub fn create(dest: &Path) -> io::Result<(TempFile, File)> {
        let tmp = temp_path(dest)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        let guard = TempFile {
            tmp,
            dest: dest.to_path_buf(),
            armed: true,
        };
        Ok((guard, file))
    }

    /// The final path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The temporary path.
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Fsyncs `file`, renames it over the final path and fsyncs the folder.
    pub fn commit(mut self, file: File) -> io::Result<()> {
        file.sync_all()?;
        drop(file);
        fs::rename(&self.tmp, &self.dest)?;
        self.armed = false;
        let dir = match self.dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        sync_dir(dir)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `path` atomically with whatever `fill` writes into the buffered writer.
pub fn write_with<F>(path: &Path, fill: F) -> io::Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> io::Result<()>,
{
    let (tmp, file) = TempFile::create(path)?;
    let mut writer = BufWriter::new(file);
    fill(&mut writer)?;
    let file = writer.into_inner().map_err(|e| e.into_error())?;
    tmp.commit(file)
}

/// Writes `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |w| w.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("isobatch-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.bin");
        write(&target, b"one").unwrap();
        write(&target, b"two").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["out.bin".to_string()]);
        assert!(is_temp_name(".out.bin.tmp-123"));
        assert!(!is_temp_name("out.bin"));
        let failed = write_with(&target, |_| Err(io::Error::other("boom")));
        assert!(failed.is_err());
        assert_eq!(fs::read(&target).unwrap(), b"two");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temp_file_is_named_by_the_convention_and_removed_unless_committed() {
        let dir = std::env::temp_dir().join(format!("isobatch-tmpfile-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("stack.npy");
        let (guard, file) = TempFile::create(&dest).unwrap();
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
        let (guard, file) = TempFile::create(&dest).unwrap();
        guard.commit(file).unwrap();
        assert!(dest.exists());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
