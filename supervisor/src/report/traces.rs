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

/// Writes `OUTPUT/traces.csv` from every task that ended done or skipped and
/// has a traces file. Returns a note for the summary, or an error message
/// when the files disagree (another time unit, another header) and nothing
/// was written.
pub fn combine(records: &[TaskRecord], output: &Path) -> Result<String, String> {
    let tasks: Vec<_> = records
        .iter()
        .filter(|t| t.verdict.is_some_and(Verdict::is_complete))
        .map(|t| (t.task.id.as_str(), layout::task_traces(output, &t.task.id)))
        .filter(|(_, p)| p.exists())
        .collect();
    let total = records.len();
    let Some((first_id, first)) = tasks.first() else {
        return Ok("traces.csv: no FOV produced traces".into());
    };
    let name = |id: &str| format!("{id}/traces.csv");
    let (comments, header, _) =
        preamble(first).map_err(|e| format!("cannot read {}: {e}", name(first_id)))?;
    for (id, path) in &tasks[1..] {
        let (c, h, _) = preamble(path).map_err(|e| format!("cannot read {}: {e}", name(id)))?;
        if c != comments || h != header {
            return Err(format!(
                "traces.csv not combined: {} and {} disagree on the time unit or columns",
                name(first_id),
                name(id)
            ));
        }
    }
    let target = layout::combined_traces(output);
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
