//! Input identity: what a file was when an attempt read it, so a rerun can tell
//! whether the result it would skip is still what it would compute now.
//!
//! Every record carries size, modification time, inode and change time (a
//! replaced file has another inode even with the same size and mtime; a file
//! rewritten in place has a new mtime and ctime). With `--checksum` it also
//! carries an xxh3-128 hash of the content, streamed, and the content alone then
//! decides.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Read size for streaming a file through the hash.
const HASH_BUFFER: usize = 1 << 20;

/// One tracked file as an attempt found it before running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    /// The file (absolute).
    pub path: PathBuf,
    /// Size in bytes.
    pub bytes: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Inode number.
    pub inode: u64,
    /// Status-change time, nanoseconds since the Unix epoch.
    pub ctime_ns: i64,
    /// xxh3-128 of the content as 32 hex digits, with `--checksum`. Always
    /// serialised: bincode frames have no field names.
    #[serde(default)]
    pub xxh3: Option<String>,
}

/// Nanoseconds since the epoch (an i64 lasts until 2262; the journal's JSON
/// records are internally tagged, which cannot carry 128-bit integers).
fn nanos(secs: i64, nsec: i64) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

impl FileIdentity {
    /// Reads the identity of `path`; with `checksum` also hashes its content.
    pub fn of(path: &Path, checksum: bool) -> io::Result<FileIdentity> {
        let meta = fs::metadata(path)?;
        Ok(FileIdentity {
            path: path.to_path_buf(),
            bytes: meta.len(),
            mtime_ns: nanos(meta.mtime(), meta.mtime_nsec()),
            inode: meta.ino(),
            ctime_ns: nanos(meta.ctime(), meta.ctime_nsec()),
            xxh3: if checksum {
                Some(content_hash(path)?)
            } else {
                None
            },
        })
    }

    /// What changed between this record and `now` (the same path read again), in
    /// words, or None when it is the same file. With `checksum`, the content hash
    /// alone decides; a record without one cannot vouch for the content.
    pub fn change(&self, now: &FileIdentity, checksum: bool) -> Option<String> {
        if checksum {
            return match (&self.xxh3, &now.xxh3) {
                (Some(a), Some(b)) if a == b => None,
                (Some(_), Some(_)) => Some("content changed (--checksum)".into()),
                _ => {
                    Some("no content hash was recorded (the earlier run had no --checksum)".into())
                }
            };
        }
        if self.inode != now.inode {
            Some(format!(
                "replaced by another file (inode {} → {})",
                self.inode, now.inode
            ))
        } else if self.bytes != now.bytes {
            Some(format!(
                "size changed ({} → {} bytes)",
                self.bytes, now.bytes
            ))
        } else if self.mtime_ns != now.mtime_ns {
            Some("modified (mtime changed)".into())
        } else if self.ctime_ns != now.ctime_ns {
            Some("metadata changed (ctime changed: rewritten, renamed over or chmod)".into())
        } else {
            None
        }
    }
}

/// The xxh3-128 hash of a file's content, read in 1 MiB pieces (never whole).
pub fn content_hash(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; HASH_BUFFER];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
    }
    Ok(format!("{:032x}", hasher.digest128()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaced_touched_and_rewritten_files_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        fs::write(&a, b"one").unwrap();
        let first = FileIdentity::of(&a, true).unwrap();
        assert_eq!(
            first.change(&FileIdentity::of(&a, true).unwrap(), false),
            None
        );

        // Same content, another inode, same mtime: replaced.
        let b = dir.path().join("b");
        fs::write(&b, b"one").unwrap();
        let t = fs::metadata(&a).unwrap().modified().unwrap();
        File::options()
            .write(true)
            .open(&b)
            .unwrap()
            .set_modified(t)
            .unwrap();
        fs::rename(&b, &a).unwrap();
        let now = FileIdentity::of(&a, true).unwrap();
        assert!(first.change(&now, false).unwrap().contains("inode"));
        // ... but the content is the same, which --checksum says.
        assert_eq!(first.change(&now, true), None);

        fs::write(&a, b"two").unwrap();
        let rewritten = FileIdentity::of(&a, true).unwrap();
        assert!(now.change(&rewritten, true).unwrap().contains("content"));
        let unhashed = FileIdentity::of(&a, false).unwrap();
        assert!(
            unhashed
                .change(&rewritten, true)
                .unwrap()
                .contains("no content hash")
        );
    }

    #[test]
    fn hash_is_streamed_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        fs::write(&a, vec![7u8; 3 * HASH_BUFFER + 5]).unwrap();
        let h = content_hash(&a).unwrap();
        assert_eq!(h.len(), 32);
        assert_eq!(
            h,
            format!(
                "{:032x}",
                xxhash_rust::xxh3::xxh3_128(&vec![7u8; 3 * HASH_BUFFER + 5])
            )
        );
    }
}
