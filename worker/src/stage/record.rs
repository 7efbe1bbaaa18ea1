//! A stage's checkpoint record: `TASK/NAME.stage.json`, written after the
//! stage's outputs, naming what the outputs were computed from.
//!
//! A checkpoint is reused only when its record says it was made by the same
//! stage version, with the same parameters, from the same inputs (size and
//! modification time; inode and change time too for files outside the task
//! folder, such as the raw input, so a replaced input is seen) after the same upstream record, and every output still
//! has the size and modification time recorded. Anything else — a missing or
//! unreadable record, a changed parameter, a truncated or replaced output — is
//! a reason to recompute, which [`StageRecord::stale_reason`] puts into words.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use isobatch_shared::{StageQc, atomic, digest};
use serde::{Deserialize, Serialize};

/// The identity of one file: where, how big, when last written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    /// Relative to the task folder when inside it, else absolute.
    pub path: PathBuf,
    /// Size in bytes.
    pub bytes: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: u128,
    /// Inode, for files outside the task folder (a checkpoint inside it may be
    /// a hard link of the published one, whose change time moves on linking).
    #[serde(default)]
    pub inode: Option<u64>,
    /// Status-change time in nanoseconds, for files outside the task folder.
    #[serde(default)]
    pub ctime_ns: Option<i64>,
}

impl FileId {
    /// Reads the identity of `path`, recorded relative to `task_dir` when inside it.
    pub fn of(task_dir: &Path, path: &Path) -> io::Result<FileId> {
        let meta = fs::metadata(path)?;
        let mtime_ns = meta
            .modified()?
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let outside = !path.starts_with(task_dir);
        Ok(FileId {
            path: path.strip_prefix(task_dir).unwrap_or(path).to_path_buf(),
            bytes: meta.len(),
            mtime_ns,
            inode: outside.then(|| meta.ino()),
            ctime_ns: outside.then(|| {
                meta.ctime()
                    .saturating_mul(1_000_000_000)
                    .saturating_add(meta.ctime_nsec())
            }),
        })
    }

    /// Why the file at `self.path` no longer matches, or None when it does.
    fn mismatch(&self, task_dir: &Path, role: &str) -> Option<String> {
        let name = self.path.display();
        match FileId::of(task_dir, &task_dir.join(&self.path)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Some(format!("{role} {name} is missing"))
            }
            Err(e) => Some(format!("cannot read {role} {name}: {e}")),
            Ok(now) if now.bytes != self.bytes => Some(format!(
                "{role} {name} has {} bytes, the checkpoint recorded {}{}",
                now.bytes,
                self.bytes,
                if now.bytes < self.bytes {
                    " (truncated)"
                } else {
                    ""
                }
            )),
            Ok(now) if now.mtime_ns != self.mtime_ns => {
                Some(format!("{role} {name} was modified after the checkpoint"))
            }
            Ok(_) => None,
        }
    }
}

/// A stage record that exists but cannot vouch for its checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The record file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The file is not a record (truncated or edited).
    #[error("{} is damaged ({source})", path.display())]
    Damaged {
        /// The record file.
        path: PathBuf,
        /// What the JSON parser found.
        source: serde_json::Error,
    },
}

/// What `TASK/NAME.stage.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    /// Stage name.
    pub stage: String,
    /// The stage's algorithm version.
    pub version: u32,
    /// Parameters it was computed with.
    pub params: BTreeMap<String, String>,
    /// Digest of the previous stage's record (empty for the first stage).
    pub upstream: String,
    /// Files it read.
    pub inputs: Vec<FileId>,
    /// Files it wrote.
    pub outputs: Vec<FileId>,
    /// How long it took, seconds.
    pub seconds: f64,
    /// Quality-control findings of the run that made the checkpoint (per-frame
    /// cell counts, data-driven decisions, warnings); absent for most stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qc: Option<StageQc>,
}

impl StageRecord {
    /// The record's path for stage `name` in `task_dir`.
    pub fn path(task_dir: &Path, name: &str) -> PathBuf {
        task_dir.join(format!("{name}.stage.json"))
    }

    /// Loads the record of stage `name`; None when there is none.
    /// A record that cannot be read or parsed is the reason to recompute.
    pub fn load(task_dir: &Path, name: &str) -> Result<Option<StageRecord>, RecordError> {
        let path = Self::path(task_dir, name);
        match fs::read(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(RecordError::Read { path, source }),
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| RecordError::Damaged { path, source }),
        }
    }

    /// Writes the record atomically (after the outputs it names are final).
    pub fn save(&self, task_dir: &Path) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        atomic::write(&Self::path(task_dir, &self.stage), &bytes)
    }

    /// Removes the record of stage `name` (before recomputing it, so a killed
    /// recomputation never leaves an old record beside new outputs).
    pub fn remove(task_dir: &Path, name: &str) -> io::Result<()> {
        match fs::remove_file(Self::path(task_dir, name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// A short digest of the record, which the next stage records as its upstream.
    pub fn digest(&self) -> String {
        digest::hex_digest(&serde_json::to_vec(self).unwrap_or_default())
    }

    /// Why this record does not vouch for a checkpoint made by `wanted`
    /// (a record of what the stage would record now, outputs aside), or None
    /// when the checkpoint can be reused.
    pub fn stale_reason(&self, wanted: &StageRecord, task_dir: &Path) -> Option<String> {
        if self.version != wanted.version {
            return Some(format!(
                "the stage changed (version {} → {})",
                self.version, wanted.version
            ));
        }
        if self.params != wanted.params {
            return Some(param_change(&self.params, &wanted.params));
        }
        if self.upstream != wanted.upstream {
            return Some("an earlier stage was recomputed".into());
        }
        if self.inputs.len() != wanted.inputs.len()
            || self.inputs.iter().zip(&wanted.inputs).any(|(a, b)| a != b)
        {
            let changed = self
                .inputs
                .iter()
                .find(|a| !wanted.inputs.contains(a))
                .map_or_else(|| "the inputs".into(), |a| a.path.display().to_string());
            return Some(format!("input {changed} changed"));
        }
        let wanted_names: Vec<_> = wanted.outputs.iter().map(|o| &o.path).collect();
        let names: Vec<_> = self.outputs.iter().map(|o| &o.path).collect();
        if names != wanted_names {
            return Some("the checkpoint files differ (another --checkpoint-format?)".into());
        }
        self.outputs
            .iter()
            .find_map(|o| o.mismatch(task_dir, "checkpoint"))
    }
}

/// Names the first parameter that differs, with both values.
fn param_change(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> String {
    let keys = old.keys().chain(new.keys());
    for k in keys {
        let (a, b) = (old.get(k), new.get(k));
        if a != b {
            let show = |v: Option<&String>| v.map_or("unset".to_string(), Clone::clone);
            return format!("parameter {k} changed ({} → {})", show(a), show(b));
        }
    }
    "parameters changed".into()
}
