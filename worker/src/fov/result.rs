//! `TASK/result.json` of a fov task: the numbers a reader wants per FOV in
//! `summary.csv` — `cells_traced` (cell ids the tracker issued, one row each in
//! `lineage.csv`, from the track stage's QC), `frames`, `mean_coverage` (mean
//! over frames of the fraction of pixels covered by cells, from the segment
//! stage's QC) and `qc_warnings` (their count). A number the stage reports do
//! not hold (a run stopped by `--to-stage`, a checkpoint recorded before it was
//! kept) is left out, never made up. Written like an exec task's own
//! `result.json`, so the supervisor has one way to learn every task's results.

use std::path::{Path, PathBuf};

use isobatch_shared::{StageReport, atomic, qc_warnings};
use serde_json::json;

use super::stages::CELLS_TRACED;
use crate::stage::StageError;

/// `TASK/result.json`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("result.json")
}

/// Writes the task's results, from its stage reports.
pub fn write(dir: &Path, frames: usize, stages: &[StageReport]) -> Result<PathBuf, StageError> {
    let cells = stages
        .iter()
        .filter_map(|s| s.qc.as_ref())
        .flat_map(|q| &q.decisions)
        .find(|(k, _)| k == CELLS_TRACED)
        .and_then(|(_, v)| v.parse::<u64>().ok());
    let coverage: Vec<f64> = stages
        .iter()
        .filter_map(|s| s.qc.as_ref())
        .find(|q| !q.frames.is_empty())
        .map(|q| q.frames.iter().map(|f| f64::from(f.covered)).collect())
        .unwrap_or_default();
    // No segment QC (it cannot be known): the field is absent, never a made-up 0.
    let mean_coverage =
        (!coverage.is_empty()).then(|| coverage.iter().sum::<f64>() / coverage.len() as f64);
    let mut doc = json!({
        "frames": frames,
        "qc_warnings": qc_warnings(stages).len(),
    });
    if let Some(n) = cells {
        doc["cells_traced"] = json!(n);
    }
    if let Some(m) = mean_coverage {
        doc["mean_coverage"] = json!((m * 1e6).round() / 1e6);
    }
    let target = path(dir);
    let text = format!("{doc:#}\n");
    atomic::write(&target, text.as_bytes())
        .map_err(|e| StageError::Failed(format!("cannot write {}: {e}", target.display())))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use isobatch_shared::{FrameQc, StageAction, StageQc};

    #[test]
    fn counts_cells_frames_coverage_and_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let segment = StageReport {
            name: "segment".into(),
            action: StageAction::Computed,
            seconds: 0.0,
            peak_rss_bytes: 0,
            reason: String::new(),
            qc: Some(StageQc {
                frames: vec![
                    FrameQc {
                        cells: 2,
                        covered: 0.25,
                    },
                    FrameQc {
                        cells: 1,
                        covered: 0.5,
                    },
                ],
                decisions: Vec::new(),
                warnings: vec!["frame 1: cell count fell".into()],
            }),
        };
        let track = StageReport {
            name: "track".into(),
            qc: Some(StageQc {
                decisions: vec![(CELLS_TRACED.into(), "2".into())],
                ..StageQc::default()
            }),
            ..segment.clone()
        };
        let p = write(dir.path(), 2, &[segment, track]).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"cells_traced": 2, "frames": 2, "mean_coverage": 0.375, "qc_warnings": 1})
        );
        // Without stage QC the cells and coverage are left out, not guessed.
        let v = write(dir.path(), 2, &[]).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(v).unwrap()).unwrap();
        assert_eq!(v, json!({"frames": 2, "qc_warnings": 0}));
    }
}
