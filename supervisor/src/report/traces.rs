//! `OUTPUT/traces.csv`: the per-FOV `traces.csv` files of a fov batch in one
//! file, sorted by (fov, cell, frame).
//!
//! Each task's file is already sorted by (cell, frame) and starts with the
//! same `#` comment lines (the time unit) and header; tasks are concatenated
//! in discovery order, which is the natural order of FOV names (`fov2` before
//! `fov10`). Lines are streamed, never loaded whole, so a batch of hundreds of
//! FOVs costs no memory. Written atomically like every other output.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use isobatch_shared::{Verdict, atomic};

use crate::layout;
use crate::runner::batch::TaskRecord;

/// The preamble of one task's traces file: its comment lines and its header.
fn preamble(path: &Path) -> io::Result<(Vec<String>, String, BufReader<File>)> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut comments = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "no header line"));
        }
        let text = line.trim_end_matches(['\n', '\r']).to_string();
        if text.starts_with('#') {
            comments.push(text);
        } else {
            return Ok((comments, text, reader));
        }
    }
}

/// Writes `OUTPUT/traces.csv` from every task that ended done or skipped with
/// a traces file among its outputs (a `--to-stage` run that stopped before
/// extract has none, and an older traces.csv of that task is not current). Returns a note for the summary, or an error message
/// when the files disagree (another time unit, another header) and nothing
/// was written.
pub fn combine(records: &[TaskRecord], output: &Path) -> Result<String, String> {
    let tasks: Vec<_> = records
        .iter()
        .filter(|t| t.verdict.is_some_and(Verdict::is_complete))
        .map(|t| (t, layout::task_traces(output, &t.task.id)))
        .filter(|(t, p)| t.outputs().contains(p))
        .map(|(t, p)| (t.task.id.as_str(), p))
        .collect();
    let total = records.len();
    let target = layout::combined_traces(output);
    let Some((first_id, first)) = tasks.first() else {
        // An older combined file would describe results this run replaced.
        return match std::fs::remove_file(&target) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(format!("cannot remove the stale {}: {e}", target.display()))
            }
            _ => Ok("traces.csv: no FOV produced traces".into()),
        };
    };
    let name = |id: &str| format!("{id}/traces.csv");
    let (mut comments, header, _) =
        preamble(first).map_err(|e| format!("cannot read {}: {e}", name(first_id)))?;
    // "# time: minutes since the first frame (10 minutes per frame, from …)":
    // FOVs may differ in interval, never in unit or columns.
    let unit = |c: &[String]| -> Vec<String> {
        c.iter()
            .map(|l| l.split(" (").next().unwrap_or("").to_string())
            .collect()
    };
    let mut same_interval = true;
    for (id, path) in &tasks[1..] {
        let (c, h, _) = preamble(path).map_err(|e| format!("cannot read {}: {e}", name(id)))?;
        if unit(&c) != unit(&comments) || h != header {
            return Err(format!(
                "traces.csv not combined: {} and {} disagree on the time unit or columns",
                name(first_id),
                name(id)
            ));
        }
        same_interval &= c == comments;
    }
    if !same_interval {
        comments = unit(&comments)
            .into_iter()
            .map(|u| format!("{u} (frame intervals differ between FOVs; each FOV's traces.csv states its own)"))
            .collect();
    }
    atomic::write_with(&target, |w| {
        for c in &comments {
            writeln!(w, "{c}")?;
        }
        writeln!(w, "{header}")?;
        for (_, path) in &tasks {
            let (_, _, reader) = preamble(path)?;
            for line in reader.lines() {
                let line = line?;
                if !line.is_empty() {
                    writeln!(w, "{line}")?;
                }
            }
        }
        Ok(())
    })
    .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    Ok(format!(
        "traces.csv: {} of {total} FOV(s) combined (failed ones are left out)",
        tasks.len()
    ))
}
