//! The run lock: one run per output folder, held for the whole run.
//!
//! Two kernel locks (`flock`), both dropped by the kernel when the process
//! dies, however it dies, so a killed run never blocks the next one:
//!
//! - on the output folder itself. This is the one that cannot be bypassed:
//!   a lock on a file inside `.isobatch/` is gone once someone deletes that
//!   file (the next run creates a new file and locks that), but the folder's
//!   inode lives as long as the folder. Deleting anything inside it, all of
//!   `.isobatch/` included, leaves the lock in place. Its holder is found in
//!   the kernel's lock table (`/proc/locks`), so it can be named even when
//!   the lock file with its details was deleted.
//! - on `.isobatch/lock`, which also carries the holder's pid, host and start
//!   time. On a network file system where a folder cannot be locked (NFS
//!   refuses `flock` on a read-only descriptor) this one still keeps out
//!   runs on other hosts; the run log then says the folder lock is missing.
//!
//! Alternatives weighed: an abstract unix socket named by the folder's device
//! and inode is equally deletion-proof but invisible across containers
//! (network namespaces) and hosts; re-checking the lock file's inode only
//! detects the deletion after the fact, when the second run is already in.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::Error;

/// A held run lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct RunLock {
    _folder: Option<File>,
    _file: File,
    /// Why the folder itself could not be locked, if it could not.
    pub folder_unlocked: Option<String>,
}

/// Takes the lock on `output` (whose lock file is `path`), or fails with
/// [`Error::Locked`] naming the holder.
pub fn acquire(path: &Path, output: &Path) -> Result<RunLock, Error> {
    let folder = File::open(output).map_err(|e| Error::io(output, e))?;
    let (folder, folder_unlocked) = match folder.try_lock() {
        Ok(()) => (Some(folder), None),
        Err(TryLockError::WouldBlock) => return Err(locked(output, path, holder_pid(&folder))),
        Err(TryLockError::Error(e)) => (None, Some(e.to_string())),
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(locked(output, path, None)),
        Err(TryLockError::Error(e)) => return Err(Error::io(path, e)),
    }
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into());
    let info = format!(
        "pid={} host={} started={:.0}\n",
        std::process::id(),
        host,
        crate::journal::now()
    );
    let written = file
        .set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(info.as_bytes()))
        .and_then(|()| file.sync_data());
    written.map_err(|e| Error::io(path, e))?;
    Ok(RunLock {
        _folder: folder,
        _file: file,
        folder_unlocked,
    })
}

/// The live process on this host that holds the run lock of `output` (the
/// folder's or, where the folder cannot be locked, the lock file's), read from
/// the kernel's lock table without taking the lock: `isobatch status` must
/// never make a run that starts at that moment think the folder is in use.
pub fn holder(output: &Path) -> Option<u32> {
    let held = |p: &Path| File::open(p).ok().and_then(|f| holder_pid(&f));
    let pid = held(output).or_else(|| held(&crate::layout::lock(output)))?;
    let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok();
    alive.then_some(pid)
}

/// The host named in the lock file of `output`, if it names one.
pub fn recorded_host(output: &Path) -> Option<String> {
    let text = std::fs::read_to_string(crate::layout::lock(output)).ok()?;
    text.split_whitespace()
        .find_map(|kv| kv.strip_prefix("host="))
        .map(str::to_string)
}

/// The refusal, naming the holder from the lock file or, when that is gone
/// or empty, from the kernel's lock table (`pid`).
fn locked(output: &Path, path: &Path, pid: Option<u32>) -> Error {
    let mut holder = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut holder);
    }
    let mut holder = holder.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(pid) = pid
        && !holder.contains(&format!("pid={pid} "))
    {
        holder = format!(
            "pid={pid} on this host; its lock file {} is gone",
            path.display()
        );
    }
    Error::Locked(format!(
        "{} is in use by another isobatch run ({}); wait for it to finish or stop it",
        output.display(),
        if holder.is_empty() {
            "holder unknown"
        } else {
            &holder
        }
    ))
}

/// The pid holding an exclusive `flock` on the file or folder open as `f`,
/// from `/proc/locks` (lines like `1: FLOCK ADVISORY WRITE 4242 08:01:1234 0 EOF`).
fn holder_pid(f: &File) -> Option<u32> {
    let meta = f.metadata().ok()?;
    let (dev, ino) = (meta.dev(), meta.ino());
    let id = format!(
        "{:02x}:{:02x}:{ino}",
        nix::sys::stat::major(dev),
        nix::sys::stat::minor(dev)
    );
    let table = std::fs::read_to_string("/proc/locks").ok()?;
    table.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let at = fields.iter().position(|f| *f == "FLOCK")?;
        (fields.get(at + 4) == Some(&id.as_str()))
            .then(|| fields.get(at + 3)?.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let held = acquire(&path, dir.path()).unwrap();
        let err = acquire(&path, dir.path()).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(
            err.to_string()
                .contains(&format!("pid={}", std::process::id())),
            "{err}"
        );
        // Deleting the lock file does not let a second holder in, and the holder is still named.
        std::fs::remove_file(&path).unwrap();
        let err = acquire(&path, dir.path()).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(
            err.to_string()
                .contains(&format!("pid={} on this host", std::process::id())),
            "{err}"
        );
        assert_eq!(holder(dir.path()), Some(std::process::id()));
        drop(held);
        assert_eq!(holder(dir.path()), None);
        acquire(&path, dir.path()).unwrap();
    }
}
