//! The run lock: a kernel file lock on `.isobatch/lock`, held for the whole
//! run. The kernel drops it when the process dies, however it dies, so a
//! killed run never leaves a lock that blocks the next one.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::Error;

/// A held run lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Takes the lock on `path`, or fails with [`Error::Locked`] naming the holder.
pub fn acquire(path: &Path, output: &Path) -> Result<RunLock, Error> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.split_whitespace().collect::<Vec<_>>().join(" ");
            return Err(Error::Locked(format!(
                "{} is in use by another isobatch run ({}); wait for it to finish or stop it",
                output.display(),
                if holder.is_empty() {
                    "holder unknown".to_string()
                } else {
                    holder
                }
            )));
        }
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
    Ok(RunLock { _file: file })
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
        drop(held);
        acquire(&path, dir.path()).unwrap();
    }
}
