//! `TASK/lineage.csv`: one row per cell id — `fov,cell,parent,frame_born,frame_divided`
//! (parent and frame_divided empty when there is none) — written by the track
//! stage and read back by extract for the `parent` column of traces.csv.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use isobatch_shared::atomic;

use super::track::Lineage;
use crate::stage::StageError;

/// The header line.
pub const HEADER: &str = "fov,cell,parent,frame_born,frame_divided";

/// `TASK/lineage.csv`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("lineage.csv")
}

/// Writes `rows` of FOV `fov` atomically.
pub fn write(dir: &Path, fov: &str, rows: &[Lineage]) -> Result<(), StageError> {
    let mut text = format!("{HEADER}\n");
    let opt = |v: Option<String>| v.unwrap_or_default();
    for r in rows {
        let _ = writeln!(
            text,
            "{fov},{},{},{},{}",
            r.cell,
            opt(r.parent.map(|p| p.to_string())),
            r.frame_born,
            opt(r.frame_divided.map(|f| f.to_string()))
        );
    }
    let target = path(dir);
    atomic::write(&target, text.as_bytes())
        .map_err(|e| StageError::Failed(format!("cannot write {}: {e}", target.display())))
}

/// Each cell's parent, from `TASK/lineage.csv` (cells without one are absent).
pub fn parents(dir: &Path) -> Result<HashMap<u32, u32>, StageError> {
    let target = path(dir);
    let bad = |what: String| StageError::Failed(format!("{}: {what}", target.display()));
    let text = std::fs::read_to_string(&target).map_err(|e| bad(e.to_string()))?;
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let mut f = line.split(',').skip(1);
        let (cell, parent) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
        if parent.is_empty() {
            continue;
        }
        match (cell.parse::<u32>(), parent.parse::<u32>()) {
            (Ok(c), Ok(p)) => {
                out.insert(c, p);
            }
            _ => {
                return Err(bad(format!(
                    "line {} is not a lineage row: {line:?}",
                    i + 1
                )));
            }
        }
    }
    Ok(out)
}
