//! The extract stage's output, `TASK/traces.csv`: one row per cell per frame,
//! sorted by (cell, frame), a plain header first (`pandas.read_csv(path)`
//! needs nothing else): the time unit is in the time column's name
//! (`time_min`), the column dictionary in `OUTPUT/columns.md`.
//!
//! Measurements come frame by frame while rows must be sorted by cell, so the
//! formatted rows go to a temporary file first, and sequential passes over it
//! place each row in its cell's slot of the final file, a few MiB of the file
//! at a time ([`regroup_by_cell`]). Memory is that window plus a counter per
//! cell, whatever the number of frames.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use isobatch_shared::atomic::TempFile;

use super::extract::{CellRow, MeasureScratch, measure};
use super::fixed;
use super::stages::{Fov, frames_of, tick};
use super::time;
use crate::stage::StageError;

/// `TASK/traces.csv`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("traces.csv")
}

/// The CSV header: `time` is the time column (`time_min`, None without a
/// frame interval), `labels` name the fluorescence channels (from the
/// metadata, else `cN`).
pub fn header(time: Option<&str>, labels: &[String]) -> String {
    let mut h = String::from("fov,cell,frame");
    if let Some(t) = time {
        h.push(',');
        h.push_str(t);
    }
    h.push_str(",area_px,centroid_y,centroid_x,bbox_y0,bbox_x0,bbox_y1,bbox_x1,measured_px");
    for l in labels {
        h.push_str(&format!(",intensity_total_{l},intensity_mean_{l}"));
    }
    h.push_str(",parent");
    h
}

/// Appends one row and its newline to `out` (`parent` empty when there is
/// none; no time field when `time` is None, else it is already formatted).
/// Numbers are written as `{}`, `{:.3}` and `{:.4}` write them ([`fixed`]).
fn push_row(out: &mut String, fov: &str, parent: Option<u32>, time: Option<&str>, r: &CellRow) {
    let int = |out: &mut String, n: u64| {
        out.push(',');
        fixed::push_uint(out, n, 1);
    };
    let float = |out: &mut String, x: f64, p: usize| {
        out.push(',');
        fixed::push_fixed(out, x, p);
    };
    out.push_str(fov);
    int(out, r.cell.into());
    int(out, r.frame as u64);
    if let Some(t) = time {
        out.push(',');
        out.push_str(t);
    }
    int(out, r.area);
    float(out, r.centroid_y, 3);
    float(out, r.centroid_x, 3);
    for v in r.bbox {
        int(out, v as u64);
    }
    int(out, r.measured);
    for (&total, &mean) in r.total.iter().zip(&r.mean) {
        float(out, total, 3);
        float(out, mean, 4);
    }
    out.push(',');
    if let Some(p) = parent {
        fixed::push_uint(out, p.into(), 1);
    }
    out.push('\n');
}

/// Runs the extract stage: measures every frame and writes `traces.csv`.
pub fn extract(f: &Fov<'_>, progress: &mut dyn FnMut(f32, &str)) -> Result<(), StageError> {
    // Never committed: dropping it removes the file, whatever happens below.
    let (_unsorted_guard, unsorted) = TempFile::create(&f.dir.join("traces.unsorted"))
        .map_err(|e| StageError::io("cannot create a temporary file in the task folder", e))?;
    // The last tenth is the regrouping pass.
    let bytes_per_cell = measure_frames(f, &unsorted, &mut |fraction, msg| {
        progress(fraction * 0.9, msg)
    })?;
    let labels: Vec<String> = f.layout.fl.iter().map(|&c| f.layout.label(c)).collect();
    let preamble = format!("{}\n", header(f.layout.time_column().as_deref(), &labels));
    let target = path(&f.dir);
    regroup_by_cell(&unsorted, &preamble, &bytes_per_cell, &target)
        .map_err(|e| StageError::io(format!("cannot write {}", target.display()), e))
}

/// Measures every frame, writing the rows frame-major to `unsorted`; returns
/// the bytes of rows per cell. Its frame buffers are freed before the
/// regrouping pass allocates its window.
fn measure_frames(
    f: &Fov<'_>,
    unsorted: &File,
    progress: &mut dyn FnMut(f32, &str),
) -> Result<BTreeMap<u32, u64>, StageError> {
    let (h, w) = (f.shape.height, f.shape.width);
    let n = h * w;
    let mut labels_src = f.source("track_labels")?;
    let mut labels_frames = labels_src.frames().map_err(StageError::Checkpoint)?;
    let mut fl_src = f.fl_sources("copy")?;
    let mut fl_frames = frames_of(&mut fl_src)?;
    let mut bg_src = f.fl_sources("background")?;
    let mut bg_frames = frames_of(&mut bg_src)?;
    let mut labels = vec![0u32; n];
    let mut scratch = MeasureScratch::default();
    let mut fl = vec![vec![0f32; n]; fl_frames.len()];
    let mut bg = vec![vec![0f32; n]; bg_frames.len()];
    let mut out = BufWriter::new(unsorted);
    let mut bytes_per_cell: BTreeMap<u32, u64> = BTreeMap::new();
    let parents = super::lineage::parents(&f.dir)?;
    let mut line = String::new();
    for t in 0..f.shape.frames {
        labels_frames
            .read_labels(t, &mut labels)
            .map_err(StageError::Checkpoint)?;
        for (src, buf) in fl_frames.iter_mut().zip(&mut fl) {
            src.read_f32(t, buf).map_err(StageError::Checkpoint)?;
        }
        for (src, buf) in bg_frames.iter_mut().zip(&mut bg) {
            src.read_f32(t, buf).map_err(StageError::Checkpoint)?;
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
        let time = f.layout.time(t).map(time::format);
        for r in rows {
            let parent = parents.get(&r.cell).copied();
            line.clear();
            push_row(&mut line, &f.task, parent, time.as_deref(), &r);
            out.write_all(line.as_bytes())
                .map_err(|e| StageError::io("cannot write traces", e))?;
            *bytes_per_cell.entry(r.cell).or_default() += line.len() as u64;
        }
        tick(progress, t, f.shape.frames);
    }
    out.flush()
        .map_err(|e| StageError::io("cannot write traces", e))?;
    Ok(bytes_per_cell)
}

/// Bytes of `traces.csv` assembled in memory per pass of [`regroup_by_cell`]:
/// one pass (and one write) for a typical FOV, a few for a very long one.
const WINDOW: usize = 4 << 20;

/// Writes `target` atomically: the preamble (the header line), then the rows of `unsorted`
/// (frame-major) regrouped by cell. Each cell's rows get a contiguous slot
/// whose size pass one counted, and arrive in frame order.
fn regroup_by_cell(
    unsorted: &File,
    preamble: &str,
    bytes_per_cell: &BTreeMap<u32, u64>,
    target: &Path,
) -> io::Result<()> {
    regroup_in_windows(unsorted, preamble, bytes_per_cell, target, WINDOW)
}

/// [`regroup_by_cell`] with the file built `window` bytes at a time: each pass
/// reads `unsorted` through, copies the rows (or parts of rows) that land in
/// the window into a buffer, and writes the buffer with one call. Memory is the
/// window plus one cursor per cell, whatever the number of frames.
fn regroup_in_windows(
    unsorted: &File,
    preamble: &str,
    bytes_per_cell: &BTreeMap<u32, u64>,
    target: &Path,
    window: usize,
) -> io::Result<()> {
    let mut slots: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    let mut end = preamble.len() as u64;
    for (&cell, &bytes) in bytes_per_cell {
        slots.insert(cell, (end, end + bytes));
        end += bytes;
    }
    let (tmp, out) = TempFile::create(target)?;
    let window = window.max(1);
    let mut buf = vec![0u8; window.min(usize::try_from(end).unwrap_or(usize::MAX))];
    let mut lo = 0u64;
    while lo < end {
        let len = usize::try_from(end - lo).map_or(buf.len(), |rest| rest.min(buf.len()));
        let part = &mut buf[..len];
        place(preamble.as_bytes(), 0, lo, part);
        fill_window(unsorted, &slots, lo, part)?;
        out.write_all_at(part, lo)?;
        lo += len as u64;
    }
    tmp.commit(out)
}

/// One pass of [`regroup_in_windows`]: every row of `unsorted` that lands in
/// `window` (file offsets `lo..lo + window.len()`) is copied into it. Checks
/// that each cell's rows fill exactly the slot counted for it.
fn fill_window(
    unsorted: &File,
    slots: &BTreeMap<u32, (u64, u64)>,
    lo: u64,
    window: &mut [u8],
) -> io::Result<()> {
    let mut cursor: BTreeMap<u32, u64> = slots.iter().map(|(&c, &(start, _))| (c, start)).collect();
    let mut reader = BufReader::new(unsorted);
    reader.seek(SeekFrom::Start(0))?;
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 {
        let at = line
            .split(',')
            .nth(1)
            .and_then(|c| c.parse::<u32>().ok())
            .and_then(|c| cursor.get_mut(&c))
            .ok_or_else(|| io::Error::other(format!("unexpected row {line:?}")))?;
        place(line.as_bytes(), *at, lo, window);
        *at += line.len() as u64;
        line.clear();
    }
    match slots
        .iter()
        .find(|(c, (_, end))| cursor.get(c) != Some(end))
    {
        Some((cell, _)) => Err(io::Error::other(format!(
            "the rows of cell {cell} do not fill the space counted for them"
        ))),
        None => Ok(()),
    }
}

/// Copies the part of `bytes`, which belongs at file offset `at`, that falls in
/// `window` (file offsets `lo..lo + window.len()`); nothing if none does.
fn place(bytes: &[u8], at: u64, lo: u64, window: &mut [u8]) {
    let hi = lo + window.len() as u64;
    let (start, end) = (at.max(lo), (at + bytes.len() as u64).min(hi));
    if start < end {
        let (from, to) = ((start - at) as usize, (end - at) as usize);
        window[(start - lo) as usize..(end - lo) as usize].copy_from_slice(&bytes[from..to]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREAMBLE: &str = "h,e,a,d\n";

    /// Rows of three cells over four frames, frame-major as extract writes them
    /// (cell 9 appears late, cell 2 leaves early; row lengths differ).
    fn frame_major() -> Vec<(u32, String)> {
        let mut rows = Vec::new();
        for frame in 0..4 {
            for cell in [2u32, 5, 9] {
                if (cell == 2 && frame > 1) || (cell == 9 && frame == 0) {
                    continue;
                }
                let pad = "x".repeat((cell as usize * 7 + frame) % 11);
                rows.push((cell, format!("f,{cell},{frame},{pad}\n")));
            }
        }
        rows
    }

    /// Bytes per cell, as extract counts them.
    fn count(rows: &[(u32, String)]) -> BTreeMap<u32, u64> {
        let mut counted = BTreeMap::new();
        for (cell, r) in rows {
            *counted.entry(*cell).or_default() += r.len() as u64;
        }
        counted
    }

    /// Regroups `rows` into a fresh traces.csv; its text, or the error and
    /// whether a traces.csv was left behind.
    fn regroup(
        rows: &[(u32, String)],
        counted: &BTreeMap<u32, u64>,
        window: usize,
    ) -> Result<String, (io::Error, bool)> {
        let dir = tempfile::tempdir().unwrap();
        let unsorted = dir.path().join("unsorted");
        let text: String = rows.iter().map(|(_, r)| r.as_str()).collect();
        std::fs::write(&unsorted, text).unwrap();
        let target = dir.path().join("traces.csv");
        let file = File::open(&unsorted).unwrap();
        match regroup_in_windows(&file, PREAMBLE, counted, &target, window) {
            Ok(()) => Ok(std::fs::read_to_string(&target).unwrap()),
            Err(e) => Err((e, target.exists())),
        }
    }

    #[test]
    fn a_row_has_every_field_in_header_order() {
        let r = CellRow {
            cell: 12,
            frame: 3,
            area: 140,
            centroid_y: 10.0625,
            centroid_x: -0.0,
            bbox: [4, 0, 17, 1023],
            measured: 181,
            total: vec![-1234.56789, 1e300],
            mean: vec![0.00005, f64::NAN],
        };
        let mut line = String::new();
        push_row(&mut line, "fov01", Some(7), Some("30"), &r);
        push_row(&mut line, "f", None, None, &r);
        let fields = "140,10.062,-0.000,4,0,17,1023,181,-1234.568,0.0001,";
        let huge = format!("{:.3}", 1e300);
        assert_eq!(
            line,
            format!("fov01,12,3,30,{fields}{huge},NaN,7\nf,12,3,{fields}{huge},NaN,\n")
        );
    }

    #[test]
    fn rows_regroup_by_cell_in_frame_order_for_any_window() {
        let rows = frame_major();
        let mut sorted = rows.clone();
        sorted.sort_by_key(|(cell, _)| *cell); // stable: frame order within a cell
        let expected = sorted
            .into_iter()
            .fold(PREAMBLE.to_string(), |s, (_, r)| s + &r);
        // Windows of 1, 5 and 17 bytes cut through rows and the preamble; 4096 is one pass;
        // 0 is taken as 1.
        for window in [0, 1, 5, 17, 4096] {
            let got = regroup(&rows, &count(&rows), window).map_err(|(e, _)| e);
            assert_eq!(got.unwrap(), expected, "window {window}");
        }
    }

    #[test]
    fn rows_that_do_not_match_the_counts_are_an_error_and_leave_no_file() {
        let rows = frame_major();
        let mut counted = count(&rows);
        *counted.entry(5).or_default() += 1;
        let (err, left) = regroup(&rows, &counted, 8).unwrap_err();
        assert!(err.to_string().contains("cell 5"), "{err}");
        assert!(!left);

        let mut stray = rows.clone();
        stray.push((7, "f,7,3,\n".into()));
        let (err, left) = regroup(&stray, &count(&rows), 64).unwrap_err();
        assert!(err.to_string().contains("unexpected row"), "{err}");
        assert!(!left);
    }
}
