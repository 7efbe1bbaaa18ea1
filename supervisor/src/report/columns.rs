//! The column dictionary, `OUTPUT/columns.md` and `OUTPUT/columns.json`: for
//! each CSV of the output folder (`traces.csv`, `lineage.csv`, `summary.csv`,
//! `.isobatch/memory.csv`, whichever exist), what each column is, its type and
//! its unit. Columns are read from the files' own header lines, so the
//! dictionary describes exactly what was written; a column isobatch does not
//! know is listed as undescribed rather than left out.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use isobatch_shared::atomic;
use isobatch_worker::fov::time::TimeUnit;
use serde::Serialize;

use super::traces::{self, TimePlan};
use crate::layout;
use crate::runner::batch::BatchResult;

/// One column of one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    /// Its header name.
    pub name: String,
    /// `int`, `float` or `str` (what pandas makes of it; an empty cell is NaN).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Its unit, or None for a count, an id or text.
    pub unit: Option<String>,
    /// What it is.
    pub description: String,
}

/// One described file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileColumns {
    /// Path relative to the output folder.
    pub file: String,
    /// What one row is.
    pub rows: &'static str,
    /// Its columns, in file order.
    pub columns: Vec<Column>,
    /// What a reader must know beyond the columns.
    pub notes: Vec<String>,
}

/// `(file, what a row is, known columns: name or `prefix*`, type, unit, description)`.
type Known = (&'static str, &'static str, &'static [Entry]);
type Entry = (
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
);

const TRACES: &[Entry] = &[
    ("fov", "str", None, "the FOV's task id"),
    (
        "cell",
        "int",
        None,
        "track id, unique within the FOV (the label value in the track_labels checkpoint)",
    ),
    ("frame", "int", None, "frame index, 0 = the first frame"),
    (
        "time_*",
        "float",
        None,
        "time since the FOV's first frame: frame × the frame interval",
    ),
    ("area_px", "int", Some("px"), "pixels of the cell's mask"),
    (
        "centroid_y",
        "float",
        Some("px"),
        "mean row of the mask's pixels (0 = the top row's centre)",
    ),
    (
        "centroid_x",
        "float",
        Some("px"),
        "mean column of the mask's pixels (0 = the left column's centre)",
    ),
    (
        "bbox_y0",
        "int",
        Some("px"),
        "first row of the mask's bounding box",
    ),
    (
        "bbox_x0",
        "int",
        Some("px"),
        "first column of the mask's bounding box",
    ),
    (
        "bbox_y1",
        "int",
        Some("px"),
        "one past the last row of the mask's bounding box",
    ),
    (
        "bbox_x1",
        "int",
        Some("px"),
        "one past the last column of the mask's bounding box",
    ),
    (
        "measured_px",
        "int",
        Some("px"),
        "pixels summed for the intensity columns: the mask plus its ring, the background pixels within measure_dilate (default 3 px) of the mask; a ring pixel within reach of several cells belongs to the nearest",
    ),
    (
        "intensity_total_*",
        "float",
        Some("counts"),
        "Σ (fluorescence − background) over the measured_px pixels of channel {} (camera counts; the name from the file's metadata, else cN for channel N)",
    ),
    (
        "intensity_mean_*",
        "float",
        Some("counts/px"),
        "intensity_total_{} ÷ measured_px: the mean background-subtracted value of the pixels summed",
    ),
    (
        "parent",
        "int",
        None,
        "the cell id this cell divided from; empty when none",
    ),
];

const LINEAGE: &[Entry] = &[
    ("fov", "str", None, "the FOV's task id"),
    ("cell", "int", None, "track id, as in traces.csv"),
    (
        "parent",
        "int",
        None,
        "the cell id it divided from; empty when none",
    ),
    ("frame_born", "int", None, "the first frame it is seen in"),
    (
        "frame_divided",
        "int",
        None,
        "the first frame of its daughters; empty when it did not divide",
    ),
];

const SUMMARY: &[Entry] = &[
    ("task", "str", None, "task id"),
    (
        "status",
        "str",
        None,
        "the verdict before its colon: done, skipped, failed, cancelled or missing",
    ),
    (
        "verdict",
        "str",
        None,
        "the final verdict (done, skipped, failed:error, failed:timeout, …; DESIGN.md)",
    ),
    ("attempts", "int", None, "attempts this run made"),
    (
        "duration_s",
        "float",
        Some("s"),
        "wall time of the task's attempts",
    ),
    (
        "peak_rss_bytes",
        "int",
        Some("bytes"),
        "highest resident memory of the task's process tree",
    ),
    (
        "message",
        "str",
        None,
        "why it failed or was skipped, in one line",
    ),
];

const MEMORY: &[Entry] = &[
    ("task", "str", None, "task id"),
    ("attempt", "int", None, "attempt number, from 1"),
    (
        "worker_pid",
        "int",
        None,
        "the worker's process id; empty when none ran",
    ),
    ("mode", "str", None, "subprocess, pool or serial"),
    (
        "rss_before_bytes",
        "int",
        Some("bytes"),
        "the worker's resident memory before the task",
    ),
    (
        "rss_after_bytes",
        "int",
        Some("bytes"),
        "the worker's resident memory after the task",
    ),
    (
        "peak_rss_bytes",
        "int",
        Some("bytes"),
        "highest resident memory during the task",
    ),
    ("duration_s", "float", Some("s"), "wall time of the attempt"),
];

/// Every file the dictionary knows.
const FILES: &[Known] = &[
    (
        "traces.csv",
        "one cell in one frame, sorted by fov, cell, frame",
        TRACES,
    ),
    ("lineage.csv", "one cell id of one FOV", LINEAGE),
    ("summary.csv", "one task", SUMMARY),
    (
        ".isobatch/memory.csv",
        "one attempt (--memory-debug)",
        MEMORY,
    ),
];

/// The first line of `path`, split at commas (None when it does not exist).
fn header(path: &Path) -> io::Result<Option<Vec<String>>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut line = String::new();
    BufReader::new(file).read_line(&mut line)?;
    let line = line.trim_end_matches(['\n', '\r']);
    Ok(Some(
        line.split(',')
            .map(|c| c.trim_matches('"').to_string())
            .collect(),
    ))
}

/// Describes `name` from `known`; `file` decides what an unknown column is.
fn describe(file: &str, known: &[Entry], name: &str, time: &TimePlan) -> Column {
    let hit = known.iter().find_map(|e| match e.0.strip_suffix('*') {
        Some(prefix) => name.strip_prefix(prefix).map(|rest| (e, rest)),
        None => (e.0 == name).then_some((e, "")),
    });
    let Some((&(_, kind, unit, description), rest)) = hit else {
        let description = match file {
            "summary.csv" => {
                "a field of the task's own result (the pipeline's, or the exec task's result.json)"
            }
            _ => "not described by this isobatch version",
        };
        return Column {
            name: name.into(),
            kind: "str",
            unit: None,
            description: description.into(),
        };
    };
    let mut column = Column {
        name: name.into(),
        kind,
        unit: unit.map(str::to_string),
        description: description.replace("{}", rest),
    };
    if let Some(u) = TimeUnit::of_column(name) {
        column.unit = Some(u.name().into());
        column.description = time_description(u, time);
    }
    column
}

/// The time column's description, with how the combined file made it.
fn time_description(unit: TimeUnit, plan: &TimePlan) -> String {
    let mut d = format!(
        "time since the FOV's first frame, in {}: frame × the FOV's frame interval \
         (--param frame_interval, else the file's metadata)",
        unit.name()
    );
    if !plan.converted.is_empty() {
        let from: Vec<String> = plan
            .converted
            .iter()
            .map(|(id, u)| format!("{id} ({})", u.name()))
            .collect();
        d.push_str(&format!(
            "; converted from another unit for {}",
            from.join(", ")
        ));
    }
    if !plan.untimed.is_empty() {
        d.push_str(&format!(
            "; EMPTY for FOVs with no frame interval known: {}",
            plan.untimed.join(", ")
        ));
    }
    d
}

/// The dictionary of the CSVs present in `output`.
pub fn dictionary(result: &BatchResult, output: &Path) -> io::Result<Vec<FileColumns>> {
    let plan = traces::sources(&result.tasks, output)
        .map(|s| traces::time_plan(&s))
        .unwrap_or_default();
    let mut files = Vec::new();
    for &(file, rows, known) in FILES {
        let Some(names) = header(&output.join(file))? else {
            continue;
        };
        let columns = names
            .iter()
            .map(|n| describe(file, known, n, &plan))
            .collect();
        let mut notes = Vec::new();
        if file == "traces.csv" {
            notes.push(
                "each TASK/traces.csv has the same columns, its time column in the unit its own \
                 frame interval was given in; without a frame interval there is no time_* column"
                    .to_string(),
            );
        }
        if file == "lineage.csv" {
            notes.push("each TASK/lineage.csv has the same columns for its FOV".to_string());
        }
        files.push(FileColumns {
            file: file.into(),
            rows,
            columns,
            notes,
        });
    }
    Ok(files)
}

/// `columns.md`: a table per file.
pub fn markdown(files: &[FileColumns]) -> String {
    let mut md = String::from(
        "# Columns of the output files\n\nWritten by isobatch at the end of each run; \
         `columns.json` holds the same for programs. Every CSV loads with a bare \
         `pandas.read_csv(path)`; an empty cell is a missing value.\n",
    );
    for f in files {
        md.push_str(&format!("\n## {}\n\nOne row: {}.\n\n", f.file, f.rows));
        md.push_str("| column | type | unit | what it is |\n|---|---|---|---|\n");
        for c in &f.columns {
            md.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                c.name,
                c.kind,
                c.unit.as_deref().unwrap_or(""),
                c.description.replace('|', "\\|")
            ));
        }
        for n in &f.notes {
            md.push_str(&format!("\n{n}.\n"));
        }
    }
    md
}

/// Writes `columns.md` and `columns.json` (each atomically) for the CSVs of
/// `output`; returns the paths written.
pub fn write(result: &BatchResult, output: &Path) -> io::Result<Vec<PathBuf>> {
    let files = dictionary(result, output)?;
    let (md, json) = (layout::columns_md(output), layout::columns_json(output));
    atomic::write(&md, markdown(&files).as_bytes())?;
    let doc = serde_json::json!({
        "isobatch_version": env!("CARGO_PKG_VERSION"),
        "files": files,
    });
    let mut text = serde_json::to_vec_pretty(&doc).map_err(io::Error::other)?;
    text.push(b'\n');
    atomic::write(&json, &text)?;
    Ok(vec![md, json])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_described_by_name_pattern_and_channel() {
        let plan = TimePlan {
            unit: Some(TimeUnit::Seconds),
            converted: vec![("fov2".into(), TimeUnit::Minutes)],
            untimed: vec!["fov3".into()],
        };
        let c = describe("traces.csv", TRACES, "intensity_mean_GFP", &plan);
        assert_eq!(c.unit.as_deref(), Some("counts/px"));
        assert!(
            c.description
                .starts_with("intensity_total_GFP ÷ measured_px"),
            "{c:?}"
        );
        let t = describe("traces.csv", TRACES, "time_s", &plan);
        assert_eq!((t.kind, t.unit.as_deref()), ("float", Some("seconds")));
        assert!(t.description.contains("fov2 (minutes)"), "{t:?}");
        assert!(
            t.description
                .contains("EMPTY for FOVs with no frame interval known: fov3")
        );
        let extra = describe("summary.csv", SUMMARY, "scale", &plan);
        assert!(extra.description.contains("result"), "{extra:?}");
        let odd = describe("lineage.csv", LINEAGE, "mystery", &plan);
        assert!(odd.description.contains("not described"));
        let md = markdown(&[FileColumns {
            file: "traces.csv".into(),
            rows: "one cell in one frame",
            columns: vec![t],
            notes: vec!["a note".into()],
        }]);
        assert!(md.contains("| `time_s` | float | seconds |") && md.contains("\na note.\n"));
    }
}
