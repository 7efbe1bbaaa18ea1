//! What a multi-stage pipeline is asked to do and what it reports back.
//!
//! The supervisor turns `--from-stage`, `--to-stage`, `--force` and
//! `--checkpoint-format` into a [`StageControl`] inside every
//! [`crate::TaskSpec`]; the worker's stage machinery answers with one
//! [`StageReport`] per stage, which the journal keeps so that a rerun can be
//! audited ("which stages were recomputed, and how long did each take?").

use std::fmt;

use serde::{Deserialize, Serialize};

/// How stage checkpoints are written (`--checkpoint-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum CheckpointFormat {
    /// `.npy` stacks (numpy.load, memory-mappable). The default.
    #[default]
    Npy,
    /// ImageJ TIFF stacks (tifffile, Fiji).
    Tiff,
    /// Both, with identical values.
    Both,
}

impl CheckpointFormat {
    /// File extensions a checkpoint in this format gets, in the order they are written.
    pub const fn extensions(self) -> &'static [&'static str] {
        match self {
            CheckpointFormat::Npy => &["npy"],
            CheckpointFormat::Tiff => &["tif"],
            CheckpointFormat::Both => &["npy", "tif"],
        }
    }

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckpointFormat::Npy => "npy",
            CheckpointFormat::Tiff => "tiff",
            CheckpointFormat::Both => "both",
        }
    }
}

impl fmt::Display for CheckpointFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which stages an attempt must run and how it keeps their results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageControl {
    /// `--from-stage`: recompute this stage and every later one even when
    /// their checkpoints are up to date (earlier stages are reused when valid).
    pub from: Option<String>,
    /// `--to-stage`: stop after this stage.
    pub to: Option<String>,
    /// `--force`: recompute every stage.
    pub force: bool,
    /// How checkpoints are written.
    pub format: CheckpointFormat,
    /// `--keep-checkpoints final`: delete stage checkpoints (keeping their
    /// records) once the task's final outputs are written.
    pub final_only: bool,
}

/// What happened to one stage in one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageAction {
    /// Computed in this attempt (its checkpoint was missing, stale, damaged or forced).
    Computed,
    /// Its checkpoint was up to date and was used as is.
    Reused,
    /// Not run: after `--to-stage`.
    NotRun,
    /// Started and failed; the attempt ends here.
    Failed,
}

impl StageAction {
    /// The name used in logs and the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            StageAction::Computed => "computed",
            StageAction::Reused => "reused",
            StageAction::NotRun => "not_run",
            StageAction::Failed => "failed",
        }
    }
}

/// One stage's record for one attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    /// Stage name (`copy`, `segment`, …).
    pub name: String,
    /// Computed, reused or not run.
    pub action: StageAction,
    /// Wall time spent on the stage (checking a reused checkpoint included), seconds.
    pub seconds: f64,
    /// The worker's RSS high-water mark during the stage, bytes (0 when not measured).
    pub peak_rss_bytes: u64,
    /// Why it was computed (e.g. "parameter threshold_k changed"), or empty.
    /// Always serialised: bincode frames have no field names, so a skipped
    /// field would shift every byte after it.
    pub reason: String,
    /// Quality-control findings of the stage, when it makes any (fov `segment`:
    /// cells and covered fraction per frame, decisions, warnings). Reused
    /// stages report what their checkpoint recorded.
    #[serde(default)]
    pub qc: Option<StageQc>,
}

/// Quality control of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrameQc {
    /// Cells found in the frame.
    pub cells: u32,
    /// Fraction of the frame's pixels covered by cells (0–1).
    pub covered: f32,
}

/// A stage's quality-control findings: what a reader needs to trust (or
/// distrust) a `done` result that numbers alone would not show.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageQc {
    /// One entry per frame, in frame order.
    pub frames: Vec<FrameQc>,
    /// Choices the stage made from the data, `key → value` (e.g. `polarity → dark (auto)`).
    pub decisions: Vec<(String, String)>,
    /// Warnings in plain words (e.g. a frame whose cell count collapsed).
    pub warnings: Vec<String>,
}

/// Every QC warning of an attempt's stages, each prefixed with its stage name.
pub fn qc_warnings(stages: &[StageReport]) -> Vec<String> {
    stages
        .iter()
        .filter_map(|s| s.qc.as_ref().map(|q| (s, q)))
        .flat_map(|(s, q)| q.warnings.iter().map(move |w| format!("{}: {w}", s.name)))
        .collect()
}
