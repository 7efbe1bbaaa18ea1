//! A built-in pipeline's attempt runs in a fresh staging folder; this brings
//! in the stage checkpoints of the task's last published result so that valid
//! ones are reused, as hard links (never copies of gigabytes).
//!
//! Hard links are safe here because every output is written to a temporary
//! name and renamed over the final one ([`isobatch_shared::atomic`]): a stage
//! that recomputes replaces the link, it never writes through it into the
//! published file.

use std::fs;
use std::io;
use std::path::Path;

use isobatch_shared::atomic::is_temp_name;

/// Hard-links every regular file directly inside `published` into `staging`
/// (created if needed), skipping leftovers of killed writes. Returns how many
/// files were linked; a file that cannot be linked is left out, so its stage
/// is recomputed instead.
pub fn link_published(published: &Path, staging: &Path) -> io::Result<usize> {
    fs::create_dir_all(staging)?;
    let entries = match fs::read_dir(published) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut linked = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if is_temp_name(&name.to_string_lossy()) || !entry.file_type()?.is_file() {
            continue;
        }
        if fs::hard_link(entry.path(), staging.join(&name)).is_ok() {
            linked += 1;
        }
    }
    Ok(linked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn links_files_not_copies_and_skips_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let published = dir.path().join("TASK");
        fs::create_dir_all(published.join("sub")).unwrap();
        fs::write(published.join("copy.npy"), b"xyz").unwrap();
        fs::write(published.join(".copy.npy.tmp-12"), b"partial").unwrap();
        let staging = dir.path().join("stage/attempt-2");
        assert_eq!(link_published(&published, &staging).unwrap(), 1);
        let a = fs::metadata(published.join("copy.npy")).unwrap();
        let b = fs::metadata(staging.join("copy.npy")).unwrap();
        assert_eq!(a.ino(), b.ino());
        assert!(!staging.join(".copy.npy.tmp-12").exists());
        assert_eq!(
            link_published(&dir.path().join("none"), &staging).unwrap(),
            0
        );
    }
}
