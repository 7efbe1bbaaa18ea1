//! `OUTPUT/traces.csv`: the per-FOV `traces.csv` files of a fov batch in one
//! file, sorted by (fov, cell, frame), loadable with a bare `pandas.read_csv`.
//!
//! Each task's file is already sorted by (cell, frame) and starts with its
//! header; tasks are concatenated in discovery order, which is the natural
//! order of FOV names (`fov2` before `fov10`). FOVs may state time in
//! different units, or not at all (no frame interval known): one column never
//! mixes them. Times are converted into the finest unit among the FOVs
//! (`time_s` when one FOV says minutes and another seconds), and the rows of a
//! FOV without an interval get an empty time, with a warning naming those
//! FOVs. Lines are streamed, never loaded whole, so a batch of hundreds of
//! FOVs costs no memory. Written atomically like every other output.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use isobatch_shared::{Verdict, atomic};
use isobatch_worker::fov::time::{self, TimeUnit};

use crate::layout;
use crate::runner::batch::TaskRecord;

/// One task's traces file, as the combined file takes it.
#[derive(Debug)]
pub struct Source {
    /// The task (FOV) id.
    pub id: String,
    path: PathBuf,
    /// Its columns, the time column left out.
    columns: Vec<String>,
    /// The time column's index and unit, if it has one.
    time: Option<(usize, TimeUnit)>,
}

/// How the combined file states time.
#[derive(Debug, Default, PartialEq)]
pub struct TimePlan {
    /// The unit of its time column; None when no FOV knows its frame interval.
    pub unit: Option<TimeUnit>,
    /// FOVs whose times were converted from another unit, with that unit.
    pub converted: Vec<(String, TimeUnit)>,
    /// FOVs without a frame interval: their rows have an empty time.
    pub untimed: Vec<String>,
}

/// The header line of `path` and a reader at its first row.
fn open(path: &Path) -> io::Result<(String, BufReader<File>)> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "no header line"));
    }
    Ok((line.trim_end_matches(['\n', '\r']).to_string(), reader))
}

/// One line read with its end (`\n` or `\r\n`), as text without it.
fn row(raw: &[u8]) -> io::Result<&str> {
    let line = raw.strip_suffix(b"\n").unwrap_or(raw);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    std::str::from_utf8(line).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a row is not UTF-8: {e}"),
        )
    })
}

/// The traces files of every task that ended done or skipped with one among
/// its outputs (a `--to-stage` run that stopped before extract has none, and
/// an older traces.csv of that task is not current), headers read.
pub fn sources(records: &[TaskRecord], output: &Path) -> Result<Vec<Source>, String> {
    records
        .iter()
        .filter(|t| t.verdict.is_some_and(Verdict::is_complete))
        .map(|t| (t, layout::task_traces(output, &t.task.id)))
        .filter(|(t, p)| t.outputs().contains(p))
        .map(|(t, path)| {
            let id = t.task.id.clone();
            let (header, _) =
                open(&path).map_err(|e| format!("cannot read {id}/traces.csv: {e}"))?;
            let mut columns: Vec<String> = header.split(',').map(str::to_string).collect();
            let time = columns
                .iter()
                .position(|c| c.starts_with("time_"))
                .map(|i| match TimeUnit::of_column(&columns[i]) {
                    Some(u) => Ok((i, u)),
                    None => Err(format!(
                        "{id}/traces.csv: {:?} is not a time column isobatch knows",
                        columns[i]
                    )),
                })
                .transpose()?;
            if let Some((i, _)) = time {
                columns.remove(i);
            }
            Ok(Source {
                id,
                path,
                columns,
                time,
            })
        })
        .collect()
}

/// The combined time column: the finest unit among `sources`, which FOVs
/// convert into it, and which have no time.
pub fn time_plan(sources: &[Source]) -> TimePlan {
    let unit = sources.iter().filter_map(|s| s.time.map(|t| t.1)).min();
    TimePlan {
        unit,
        converted: sources
            .iter()
            .filter_map(|s| match s.time {
                Some((_, u)) if Some(u) != unit => Some((s.id.clone(), u)),
                _ => None,
            })
            .collect(),
        untimed: match unit {
            Some(_) => sources
                .iter()
                .filter(|s| s.time.is_none())
                .map(|s| s.id.clone())
                .collect(),
            None => Vec::new(),
        },
    }
}

/// `fov_1, fov_2, fov_3 (+4)`.
fn list(ids: &[String]) -> String {
    let shown: Vec<&str> = ids.iter().take(3).map(String::as_str).collect();
    match ids.len() {
        n if n > 3 => format!("{} (+{})", shown.join(", "), n - 3),
        _ => shown.join(", "),
    }
}

/// Writes `OUTPUT/traces.csv` from every task [`sources`] finds. Returns
/// notes for the summary (a warning among them when some FOVs have no time),
/// or an error message when the files disagree on their columns and nothing
/// was written.
pub fn combine(records: &[TaskRecord], output: &Path) -> Result<Vec<String>, String> {
    let tasks = sources(records, output)?;
    let total = records.len();
    let target = layout::combined_traces(output);
    let Some(first) = tasks.first() else {
        // An older combined file would describe results this run replaced.
        return match std::fs::remove_file(&target) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(format!("cannot remove the stale {}: {e}", target.display()))
            }
            _ => Ok(vec!["traces.csv: no FOV produced traces".into()]),
        };
    };
    if let Some(other) = tasks.iter().find(|t| t.columns != first.columns) {
        return Err(format!(
            "traces.csv not combined: {}/traces.csv and {}/traces.csv have other columns",
            first.id, other.id
        ));
    }
    let plan = time_plan(&tasks);
    // The time column goes right after `frame`, where the worker puts it.
    let at = first
        .columns
        .iter()
        .position(|c| c == "frame")
        .map_or(0, |i| i + 1);
    let mut header = first.columns.clone();
    if let Some(u) = plan.unit {
        header.insert(at, u.column());
    }
    atomic::write_with(&target, |w| {
        writeln!(w, "{}", header.join(","))?;
        // One buffer for every row; rows that need no change are copied as bytes.
        let mut raw = Vec::new();
        for task in &tasks {
            let (_, mut reader) = open(&task.path)?;
            loop {
                raw.clear();
                if reader.read_until(b'\n', &mut raw)? == 0 {
                    break;
                }
                let line = row(&raw)?;
                if line.is_empty() {
                    continue;
                }
                match (plan.unit, task.time) {
                    (Some(u), Some((i, from))) if from != u || i != at => {
                        let mut fields: Vec<String> = line.split(',').map(str::to_string).collect();
                        let t = fields.remove(i.min(fields.len().saturating_sub(1)));
                        let t = t.parse::<f64>().map_err(|_| {
                            io::Error::other(format!("{}: time {t:?} is not a number", task.id))
                        })?;
                        fields.insert(at.min(fields.len()), time::format(t * from.factor(u)));
                        writeln!(w, "{}", fields.join(","))?;
                    }
                    (Some(_), None) => {
                        let mut fields: Vec<&str> = line.split(',').collect();
                        fields.insert(at.min(fields.len()), "");
                        writeln!(w, "{}", fields.join(","))?;
                    }
                    _ => {
                        w.write_all(line.as_bytes())?;
                        w.write_all(b"\n")?;
                    }
                }
            }
        }
        Ok(())
    })
    .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    let mut notes = vec![format!(
        "traces.csv: {} of {total} FOV(s) combined (failed ones are left out)",
        tasks.len()
    )];
    if let (Some(u), false) = (plan.unit, plan.converted.is_empty()) {
        let ids: Vec<String> = plan.converted.iter().map(|(id, _)| id.clone()).collect();
        notes.push(format!(
            "traces.csv: times in {} ({}); {} converted from another unit",
            u.name(),
            u.column(),
            list(&ids)
        ));
    }
    if let (Some(u), false) = (plan.unit, plan.untimed.is_empty()) {
        notes.push(format!(
            "warning: traces.csv: {} is empty for {} FOV(s) with no frame interval known \
             ({}); pass --param frame_interval=10m or give the files one",
            u.column(),
            plan.untimed.len(),
            list(&plan.untimed)
        ));
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::Task;

    /// A skipped task `id` whose traces.csv (under `out`) is `text`.
    fn task(out: &Path, id: &str, text: &str) -> TaskRecord {
        let path = layout::task_traces(out, id);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        let mut t = TaskRecord::new(
            Task {
                id: id.into(),
                fields: Vec::new(),
                inputs: Vec::new(),
                position: None,
            },
            0,
        );
        t.verdict = Some(Verdict::Skipped);
        t.earlier_outputs = vec![path];
        t
    }

    fn combined(out: &Path) -> String {
        std::fs::read_to_string(layout::combined_traces(out)).unwrap()
    }

    #[test]
    fn units_are_converted_to_the_finest_and_missing_times_left_empty() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        let records = [
            task(
                out,
                "a",
                "fov,cell,frame,time_min,area_px\na,1,0,0,5\na,1,1,1.5,6\n",
            ),
            task(out, "b", "fov,cell,frame,time_s,area_px\nb,1,2,60,7\n"),
            task(out, "c", "fov,cell,frame,area_px\nc,4,3,8\n"),
        ];
        let notes = combine(&records, out).unwrap();
        assert_eq!(
            combined(out),
            "fov,cell,frame,time_s,area_px\na,1,0,0,5\na,1,1,90,6\nb,1,2,60,7\nc,4,3,,8\n"
        );
        assert!(notes[1].contains("a converted"), "{notes:?}");
        assert!(
            notes[2].starts_with("warning: traces.csv: time_s is empty for 1 FOV(s)")
                && notes[2].contains("(c)"),
            "{notes:?}"
        );
        // The same unit everywhere: rows copied as they are, one note.
        let same = [
            task(out, "a", "fov,cell,frame,time_h,x\na,1,0,0.25,5\n"),
            task(out, "b", "fov,cell,frame,time_h,x\nb,1,0,0.5,5\n"),
        ];
        assert_eq!(combine(&same, out).unwrap().len(), 1);
        assert_eq!(
            combined(out),
            "fov,cell,frame,time_h,x\na,1,0,0.25,5\nb,1,0,0.5,5\n"
        );
        // Line ends normalised, blank lines dropped, a last row without its end kept;
        // a row that is not UTF-8 is an error.
        let ends = [task(
            out,
            "a",
            "fov,cell,frame,x\r\na,1,0,5\r\n\n\r\na,1,1,6",
        )];
        combine(&ends, out).unwrap();
        assert_eq!(combined(out), "fov,cell,frame,x\na,1,0,5\na,1,1,6\n");
        let bad = [task(out, "a", "fov,cell,frame,x\na,1,0,\u{fffd}\n")];
        let path = layout::task_traces(out, "a");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.splice(bytes.len() - 4..bytes.len() - 1, [0xff]);
        std::fs::write(&path, bytes).unwrap();
        assert!(combine(&bad, out).unwrap_err().contains("not UTF-8"));
        // No interval anywhere: no time column, no warning.
        let none = [task(out, "a", "fov,cell,frame,x\na,1,0,5\n")];
        assert_eq!(combine(&none, out).unwrap().len(), 1);
        assert_eq!(combined(out), "fov,cell,frame,x\na,1,0,5\n");
        // Other columns, or a time column isobatch does not know: an error.
        let other = [
            task(out, "a", "fov,cell,frame,x\na,1,0,5\n"),
            task(out, "b", "fov,cell,frame,y\nb,1,0,5\n"),
        ];
        assert!(combine(&other, out).unwrap_err().contains("other columns"));
        let odd = [task(out, "a", "fov,cell,frame,time_fortnight\na,1,0,5\n")];
        assert!(combine(&odd, out).unwrap_err().contains("time_fortnight"));
    }
}
