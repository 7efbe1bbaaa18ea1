//! `OUTPUT/lineage.csv`: the per-FOV `lineage.csv` files of a fov batch in one
//! file (`fov,cell,parent,frame_born,frame_divided`), in discovery order,
//! streamed line by line and written atomically.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use isobatch_shared::{Verdict, atomic};
use isobatch_worker::fov::lineage;

use crate::runner::batch::TaskRecord;

/// Writes `OUTPUT/lineage.csv` from every done or skipped task whose outputs
/// include its lineage file (removing an older combined file when none does).
/// Returns an error message when a file cannot be read or the result written.
pub fn combine(records: &[TaskRecord], output: &Path) -> Result<(), String> {
    let files: Vec<_> = records
        .iter()
        .filter(|t| t.verdict.is_some_and(Verdict::is_complete))
        .map(|t| (t, lineage::path(&output.join(&t.task.id))))
        .filter(|(t, p)| t.outputs().contains(p))
        .map(|(_, p)| p)
        .collect();
    let target = output.join("lineage.csv");
    if files.is_empty() {
        return match std::fs::remove_file(&target) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("cannot remove the stale {}: {e}", target.display()))
            }
            _ => Ok(()),
        };
    }
    atomic::write_with(&target, |w| {
        writeln!(w, "{}", lineage::HEADER)?;
        for path in &files {
            for line in BufReader::new(File::open(path)?).lines().skip(1) {
                let line = line?;
                if !line.is_empty() {
                    writeln!(w, "{line}")?;
                }
            }
        }
        Ok(())
    })
    .map_err(|e| format!("lineage.csv not combined: {e}"))
}
