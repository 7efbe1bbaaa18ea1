//! How checkpoint writers and the Stage machinery use the kernel's page cache.
//!
//! A batch writes far more checkpoint data than RAM (~0.5 GB per 1024² × 50
//! frame FOV), each checkpoint is fsynced when committed, and each is read only
//! by later stages of its own task. Two hints follow from that:
//! - [`start_writeback`]: a writer starts each frame on its way to disk as soon
//!   as it is written, so the commit's fsync finds little left to write and
//!   does not stall behind a stage's whole output (nor behind another worker's).
//! - [`release`]: once no later stage reads a checkpoint, its pages are dropped.
//!   Left cached, every FOV takes fresh pages and pushes out what the lab's
//!   other programs had cached; dropped, the next stage or task reuses them. On
//!   a virtual machine whose free memory the host takes back (free page
//!   reporting), a fresh page also costs a host fault on first touch.
//!
//! Both are advice: a failure changes no result and is ignored.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::fcntl::{PosixFadviseAdvice, posix_fadvise};
use nix::libc;

/// Starts writing `len` bytes of `file` at `offset` to disk, without waiting.
pub fn start_writeback(file: &File, offset: u64, len: u64) {
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: a plain system call on a descriptor `file` keeps open; no memory is passed.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

/// Drops the cached pages of each of `paths` that exists. Dirty pages are
/// not dropped, so call it on committed (fsynced) files.
pub fn release<'a>(paths: impl IntoIterator<Item = &'a Path>) {
    for path in paths {
        if let Ok(file) = File::open(path) {
            let _ = posix_fadvise(&file, 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED);
        }
    }
}
