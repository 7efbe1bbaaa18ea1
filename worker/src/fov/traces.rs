//! The extract stage's output, `TASK/traces.csv`: one row per cell per frame,
//! sorted by (cell, frame), the time unit in a `#` comment line above the
//! header (pandas: `read_csv(path, comment="#")`).
//!
//! Measurements come frame by frame while rows must be sorted by cell, so each
//! formatted row goes to a temporary file and only a 24-byte index entry stays
//! in memory (2.4 MB for 500 cells × 200 frames); the sorted file is then
//! written from the index.

use std::fs::{self, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use isobatch_shared::atomic;

use super::extract::{CellRow, MeasureScratch, measure};
use super::stages::{Fov, checkpoint_error};
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
    let mut fl_src = f
        .layout
        .fl
        .iter()
        .map(|c| f.source(&format!("copy_c{c}")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut bg_src = f
        .layout
        .fl
        .iter()
        .map(|c| f.source(&format!("background_c{c}")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut labels = vec![0u32; n];
    let mut scratch = MeasureScratch::default();
    let mut fl = vec![vec![0f32; n]; fl_src.len()];
    let mut bg = vec![vec![0f32; n]; bg_src.len()];

    let failed = |what: &str, e: std::io::Error| StageError::Failed(format!("{what}: {e}"));
    let unsorted_path = f.dir.join(format!(
        ".traces.unsorted{}{}",
        atomic::TEMP_MARKER,
        std::process::id()
    ));
    let unsorted = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&unsorted_path)
        .map_err(|e| failed("cannot create a temporary file in the task folder", e))?;
    let result = (|| {
        let mut out = BufWriter::new(&unsorted);
        let mut index: Vec<(u32, u32, u64, u32)> = Vec::new();
        let mut offset = 0u64;
        for t in 0..f.shape.frames {
            labels_src.read(t, &mut labels).map_err(checkpoint_error)?;
            for (src, buf) in fl_src.iter_mut().zip(&mut fl) {
                src.read_f32(t, buf).map_err(checkpoint_error)?;
            }
            for (src, buf) in bg_src.iter_mut().zip(&mut bg) {
                src.read_f32(t, buf).map_err(checkpoint_error)?;
            }
            let fl_refs: Vec<&[f32]> = fl.iter().map(Vec::as_slice).collect();
            let bg_refs: Vec<&[f32]> = bg.iter().map(Vec::as_slice).collect();
            for r in measure(
                t,
                &labels,
                h,
                w,
                &fl_refs,
                &bg_refs,
                &f.config.extract,
                &mut scratch,
            ) {
                let line = row(&f.task, f.layout.time(t), &r) + "\n";
                out.write_all(line.as_bytes())
                    .map_err(|e| failed("cannot write traces", e))?;
                index.push((r.cell, t as u32, offset, line.len() as u32));
                offset += line.len() as u64;
            }
            if t % 8 == 7 || t + 1 == f.shape.frames {
                progress((t + 1) as f32 / f.shape.frames as f32 * 0.9, "measuring");
            }
        }
        out.flush().map_err(|e| failed("cannot write traces", e))?;
        drop(out);
        index.sort_unstable_by_key(|&(cell, frame, _, _)| (cell, frame));
        let target = path(&f.dir);
        let mut line = Vec::new();
        atomic::write_with(&target, |w| {
            writeln!(w, "{}", f.layout.time_comment())?;
            writeln!(w, "{}", header(&f.layout.fl))?;
            for &(_, _, off, len) in &index {
                line.resize(len as usize, 0);
                unsorted.read_exact_at(&mut line, off)?;
                w.write_all(&line)?;
            }
            Ok(())
        })
        .map_err(|e| failed(&format!("cannot write {}", target.display()), e))
    })();
    let _ = fs::remove_file(&unsorted_path);
    result
}
