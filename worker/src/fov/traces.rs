//! The extract stage's output, `TASK/traces.csv`: one row per cell per frame,
//! sorted by (cell, frame), the time unit in a `#` comment line above the
//! header (pandas: `read_csv(path, comment="#")`).
//!
//! Measurements come frame by frame while rows must be sorted by cell, so the
//! formatted rows go to a temporary file first, and a second sequential pass
//! places each row in its cell's slot of the final file ([`regroup_by_cell`]).
//! Memory is a counter per cell, whatever the number of frames.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use isobatch_shared::atomic::TempFile;

use super::extract::{CellRow, MeasureScratch, measure};
use super::stages::{Fov, checkpoint_error, tick};
use crate::stage::StageError;

/// `TASK/traces.csv`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("traces.csv")
}

/// The CSV header for fluorescence channels `fl`.
pub fn header(fl: &[usize]) -> String {
    let mut h = String::from(
        "fov,cell,frame,time,area,centroid_y,centroid_x,bbox_y0,bbox_x0,bbox_y1,bbox_x1",
    );
    for c in fl {
        h.push_str(&format!(",intensity_total_c{c},intensity_mean_c{c}"));
    }
    h
}

/// One row, without the trailing newline.
fn row(fov: &str, time: f64, r: &CellRow) -> String {
    let [y0, x0, y1, x1] = r.bbox;
    let mut s = format!(
        "{fov},{},{},{},{},{:.3},{:.3},{y0},{x0},{y1},{x1}",
        r.cell,
        r.frame,
        fmt_g(time),
        r.area,
        r.centroid_y,
        r.centroid_x
    );
    for (total, mean) in r.total.iter().zip(&r.mean) {
        s.push_str(&format!(",{total:.3},{mean:.4}"));
    }
    s
}

/// A time value without float noise (`0.1 * 3` prints as 0.3).
fn fmt_g(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Runs the extract stage: measures every frame and writes `traces.csv`.
pub fn extract(f: &Fov<'_>, progress: &mut dyn FnMut(f32, &str)) -> Result<(), StageError> {
    let (h, w) = (f.shape.height, f.shape.width);
    let n = h * w;
    let mut labels_src = f.source("track_labels")?;
    let mut fl_src = f.fl_sources("copy")?;
    let mut bg_src = f.fl_sources("background")?;
    let mut labels = vec![0u32; n];
    let mut scratch = MeasureScratch::default();
    let mut fl = vec![vec![0f32; n]; fl_src.len()];
    let mut bg = vec![vec![0f32; n]; bg_src.len()];

    let failed = |what: &str, e: io::Error| StageError::Failed(format!("{what}: {e}"));
    // Never committed: dropping it removes the file, whatever happens below.
    let (_unsorted_guard, unsorted) = TempFile::create(&f.dir.join("traces.unsorted"))
        .map_err(|e| failed("cannot create a temporary file in the task folder", e))?;
    let mut out = BufWriter::new(&unsorted);
    let mut bytes_per_cell: BTreeMap<u32, u64> = BTreeMap::new();
    for t in 0..f.shape.frames {
        labels_src
            .read_labels(t, &mut labels)
            .map_err(checkpoint_error)?;
        for (src, buf) in fl_src.iter_mut().zip(&mut fl) {
            src.read_f32(t, buf).map_err(checkpoint_error)?;
        }
        for (src, buf) in bg_src.iter_mut().zip(&mut bg) {
            src.read_f32(t, buf).map_err(checkpoint_error)?;
        }
        let fl_refs: Vec<&[f32]> = fl.iter().map(Vec::as_slice).collect();
        let bg_refs: Vec<&[f32]> = bg.iter().map(Vec::as_slice).collect();
        let rows = measure(
            t,
            &labels,
            h,
            w,
            &fl_refs,
            &bg_refs,
            &f.config.extract,
            &mut scratch,
        );
        for r in rows {
            let line = row(&f.task, f.layout.time(t), &r) + "\n";
            out.write_all(line.as_bytes())
                .map_err(|e| failed("cannot write traces", e))?;
            *bytes_per_cell.entry(r.cell).or_default() += line.len() as u64;
        }
        // The last tenth is the regrouping pass.
        tick(
            &mut |fraction, msg| progress(fraction * 0.9, msg),
            t,
            f.shape.frames,
        );
    }
    out.flush().map_err(|e| failed("cannot write traces", e))?;
    drop(out);
    let preamble = format!("{}\n{}\n", f.layout.time_comment(), header(&f.layout.fl));
    let target = path(&f.dir);
    regroup_by_cell(&unsorted, &preamble, &bytes_per_cell, &target)
        .map_err(|e| failed(&format!("cannot write {}", target.display()), e))
}

/// Writes `target` atomically: the preamble, then the rows of `unsorted`
/// (frame-major) regrouped by cell. Each cell's rows get a contiguous slot
/// whose size pass one counted, and arrive in frame order, so one sequential
/// read of `unsorted` places every row; memory is one cursor per cell.
fn regroup_by_cell(
    unsorted: &File,
    preamble: &str,
    bytes_per_cell: &BTreeMap<u32, u64>,
    target: &Path,
) -> io::Result<()> {
    let mut cursor: BTreeMap<u32, u64> = BTreeMap::new();
    let mut end = preamble.len() as u64;
    for (&cell, &bytes) in bytes_per_cell {
        cursor.insert(cell, end);
        end += bytes;
    }
    let (tmp, out) = TempFile::create(target)?;
    out.set_len(end)?;
    out.write_all_at(preamble.as_bytes(), 0)?;
    let mut reader = BufReader::new(unsorted);
    reader.seek(SeekFrom::Start(0))?;
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 {
        let cell = line
            .split(',')
            .nth(1)
            .and_then(|c| c.parse::<u32>().ok())
            .and_then(|c| cursor.get_mut(&c))
            .ok_or_else(|| io::Error::other(format!("unexpected row {line:?}")))?;
        out.write_all_at(line.as_bytes(), *cell)?;
        *cell += line.len() as u64;
        line.clear();
    }
    tmp.commit(out)
}
