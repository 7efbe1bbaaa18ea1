//! Where ipc-channel puts each worker's rendezvous socket.
//!
//! Every worker start creates a one-shot server: a fresh folder and a socket in the
//! default temp folder, both removed once the worker connects. On a disk file system
//! that is four inode operations per worker, a visible share of subprocess mode's
//! per-task cost; on a tmpfs it is a few memory operations. Unless the user chose
//! `TMPDIR`, the default temp folder is moved to a writable tmpfs when there is one.

use std::path::{Path, PathBuf};

use nix::sys::statfs::{TMPFS_MAGIC, statfs};
use nix::unistd::{AccessFlags, access};

/// Makes the process's default temp folder (`tempfile`'s, which ipc-channel uses) a tmpfs:
/// `$XDG_RUNTIME_DIR` or `/dev/shm`, whichever is first a writable tmpfs. Does nothing when
/// `TMPDIR` is set or neither qualifies.
pub fn prefer_tmpfs() {
    if std::env::var_os("TMPDIR").is_some() {
        return;
    }
    let mut candidates = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/dev/shm")]);
    if let Some(dir) = candidates.find(|d| is_writable_tmpfs(d)) {
        // Only the first override in a process takes effect; a later call keeps that folder.
        let _ = tempfile::env::override_temp_dir(&dir);
    }
}

fn is_writable_tmpfs(dir: &Path) -> bool {
    dir.is_absolute()
        && statfs(dir).is_ok_and(|fs| fs.filesystem_type() == TMPFS_MAGIC)
        && access(dir, AccessFlags::W_OK | AccessFlags::X_OK).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_writable_tmpfs_qualifies() {
        assert!(!is_writable_tmpfs(Path::new("relative")));
        assert!(!is_writable_tmpfs(Path::new("/nonexistent-isobatch")));
        assert!(!is_writable_tmpfs(Path::new("/proc")));
        if statfs("/dev/shm").is_ok_and(|fs| fs.filesystem_type() == TMPFS_MAGIC) {
            assert!(is_writable_tmpfs(Path::new("/dev/shm")));
        }
    }
}
