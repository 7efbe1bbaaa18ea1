//! Per-cell, per-frame measurements from a label frame and fluorescence channels.

use crate::fov::params::ExtractParams;
use crate::fov::ring::Ring;
use crate::fov::runs::Run;

/// One cell in one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct CellRow {
    /// Track id (label value).
    pub cell: u32,
    /// Frame index.
    pub frame: usize,
    /// Pixels of the cell's mask.
    pub area: u64,
    /// Mean row of the mask's pixels.
    pub centroid_y: f64,
    /// Mean column of the mask's pixels.
    pub centroid_x: f64,
    /// Bounding box `[y0, x0, y1, x1]`, ends exclusive.
    pub bbox: [usize; 4],
    /// Pixels summed for `total`: the mask plus the ring pixels assigned to the
    /// cell (see [`measure`]).
    pub measured: u64,
    /// Per channel: background-subtracted intensity summed over the mask and its
    /// measurement ring (see [`measure`]).
    pub total: Vec<f64>,
    /// Per channel: `total / measured`, the mean over the pixels summed.
    pub mean: Vec<f64>,
}

/// `Σ (f − b)` over the pixels `i` where `keep(i)`, with eight independent
/// partial sums so the loop vectorises.
pub(crate) fn lane_sum(f: &[f32], b: Option<&[f32]>, keep: impl Fn(usize) -> bool) -> f32 {
    let mut lanes = [0f32; 8];
    let n = f.len();
    let value = |i: usize| {
        let v = f[i] - b.map_or(0.0, |b| b[i]);
        if keep(i) { v } else { 0.0 }
    };
    let full = n / 8 * 8;
    for base in (0..full).step_by(8) {
        for (k, l) in lanes.iter_mut().enumerate() {
            *l += value(base + k);
        }
    }
    let mut rest = 0.0;
    for i in full..n {
        rest += value(i);
    }
    lanes.iter().sum::<f32>() + rest
}

/// Reusable buffers of [`measure`].
#[derive(Debug, Clone, Default)]
pub struct MeasureScratch {
    /// `(label, run)` of every cell pixel run, sorted by label, row, column.
    runs: Vec<(u32, Run)>,
    /// Per cell: its runs `runs[g0..g1]`.
    groups: Vec<(usize, usize)>,
    /// The cells' labels, ascending.
    cells: Vec<u32>,
    /// Counting-sort buffers of [`sort_by_label`].
    count: Vec<usize>,
    sorted: Vec<(u32, Run)>,
    ring: Ring,
}

/// The runs of every label of `labels` (`h × w`) into `runs`, sorted by label,
/// row and column (`count` and `sorted` are scratch).
fn label_runs(
    labels: &[u32],
    (h, w): (usize, usize),
    runs: &mut Vec<(u32, Run)>,
    count: &mut Vec<usize>,
    sorted: &mut Vec<(u32, Run)>,
) {
    runs.clear();
    for (y, row) in labels.chunks_exact(w.max(1)).enumerate().take(h) {
        let mut x = 0;
        while x < w {
            // Skip background four labels at a time.
            while x + 4 <= w && (row[x] | row[x + 1] | row[x + 2] | row[x + 3]) == 0 {
                x += 4;
            }
            if x >= w {
                break;
            }
            let l = row[x];
            let x0 = x;
            while x < w && row[x] == l {
                x += 1;
            }
            if l != 0 {
                let (y, x0, x1) = (y as u32, x0 as u32, x as u32);
                runs.push((l, Run { y, x0, x1 }));
            }
        }
    }
    sort_by_label(runs, h * w, count, sorted);
}

/// Sorts `runs`, found in raster order, by label, then row and column. Labels up
/// to `n` (the frame's pixels, so the counts are bounded by the frame) go through
/// a stable counting sort; larger ones through a comparison sort.
fn sort_by_label(
    runs: &mut Vec<(u32, Run)>,
    n: usize,
    count: &mut Vec<usize>,
    sorted: &mut Vec<(u32, Run)>,
) {
    let top = runs.iter().map(|&(l, _)| l as usize).max().unwrap_or(0);
    if top > n {
        runs.sort_unstable_by_key(|&(l, r)| (l, r.y, r.x0));
        return;
    }
    count.clear();
    count.resize(top + 2, 0);
    for &(l, _) in runs.iter() {
        count[l as usize + 1] += 1;
    }
    for k in 1..count.len() {
        count[k] += count[k - 1];
    }
    sorted.clear();
    sorted.resize(runs.len(), (0, Run { y: 0, x0: 0, x1: 0 }));
    for &(l, r) in runs.iter() {
        let at = &mut count[l as usize];
        sorted[*at] = (l, r);
        *at += 1;
    }
    std::mem::swap(runs, sorted);
}

/// Measures every cell of `labels` (`h × w`, 0 = background) in frame `frame`.
///
/// Fluorescence totals are `Σ (fl − bg)` over the cell's pixels plus a ring: the
/// background pixels within a disk of `measure_dilate` around the cell. A ring
/// pixel within that distance of several cells goes to the nearest (ties: the
/// first in the disk's raster order), so on a crowded field the light in a
/// narrow gap is neither lost nor counted twice (see [`Ring`]). The ring catches
/// the light the optics spread past the mask edge, which otherwise biases totals
/// low by a few percent. `measured` counts the mask and ring pixels summed, and
/// the mean is `total / measured`.
/// Channel `c` uses `bg[c]`; a missing background counts as zero. Rows are sorted
/// by cell id.
///
/// # Panics
/// If `labels` or a channel slice is shorter than `h × w`.
#[allow(clippy::too_many_arguments)] // the stage's agreed signature
pub fn measure(
    frame: usize,
    labels: &[u32],
    h: usize,
    w: usize,
    fl: &[&[f32]],
    bg: &[&[f32]],
    params: &ExtractParams,
    scratch: &mut MeasureScratch,
) -> Vec<CellRow> {
    let n = h * w;
    let labels = &labels[..n];
    let nch = fl.len();
    let channel = |c: usize| (&fl[c][..n], bg.get(c).map(|b| &b[..n]));
    let s = scratch;
    label_runs(labels, (h, w), &mut s.runs, &mut s.count, &mut s.sorted);
    s.groups.clear();
    s.cells.clear();
    let mut rows: Vec<CellRow> = Vec::new();
    let mut i = 0;
    while i < s.runs.len() {
        let l = s.runs[i].0;
        let g0 = i;
        let (mut area, mut sy, mut sx) = (0u64, 0f64, 0f64);
        let mut bbox = [usize::MAX, usize::MAX, 0, 0];
        let mut total = vec![0.0; nch];
        while i < s.runs.len() && s.runs[i].0 == l {
            let r = s.runs[i].1;
            let (y, x0, x1) = (r.y as usize, r.x0 as usize, r.x1 as usize);
            let len = (x1 - x0) as u64;
            area += len;
            sy += (y as f64) * len as f64;
            sx += (x0 + x1 - 1) as f64 * 0.5 * len as f64;
            bbox = [
                bbox[0].min(y),
                bbox[1].min(x0),
                bbox[2].max(y + 1),
                bbox[3].max(x1),
            ];
            let p = y * w + x0..y * w + x1;
            for (c, t) in total.iter_mut().enumerate() {
                let (f, b) = channel(c);
                *t += f64::from(lane_sum(&f[p.clone()], b.map(|b| &b[p.clone()]), |_| true));
            }
            i += 1;
        }
        s.groups.push((g0, i));
        s.cells.push(l);
        rows.push(CellRow {
            cell: l,
            frame,
            area,
            centroid_y: sy / area as f64,
            centroid_x: sx / area as f64,
            bbox,
            measured: area,
            total,
            mean: Vec::new(),
        });
    }
    let d = params.measure_dilate.min(254);
    if d > 0 && nch > 0 {
        s.ring
            .build(labels, (h, w), d, &s.runs, &s.groups, &s.cells);
        for (k, row) in rows.iter_mut().enumerate() {
            row.measured += s.ring.owned(k);
            for (c, t) in row.total.iter_mut().enumerate() {
                let (f, b) = channel(c);
                *t += s.ring.sum(k, row.cell, w, f, b);
            }
        }
        s.ring.clear();
    }
    for row in &mut rows {
        row.mean = row.total.iter().map(|t| t / row.measured as f64).collect();
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_area_centroid_bbox_and_ring() {
        let (h, w) = (12, 12);
        let mut labels = vec![0u32; h * w];
        for y in 3..6 {
            for x in 2..6 {
                labels[y * w + x] = 7;
            }
        }
        labels[10 * w + 10] = 3;
        let fl = vec![10.0f32; h * w];
        let bg = vec![9.0f32; h * w];
        let mut s = MeasureScratch::default();
        let none = ExtractParams { measure_dilate: 0 };
        let rows = measure(4, &labels, h, w, &[&fl], &[&bg], &none, &mut s);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].cell, rows[0].area, rows[0].frame), (3, 1, 4));
        let r = &rows[1];
        assert_eq!((r.cell, r.area, r.bbox), (7, 12, [3, 2, 6, 6]));
        assert_eq!((r.centroid_y, r.centroid_x), (4.0, 3.5));
        assert_eq!((r.total[0], r.mean[0]), (12.0, 1.0));
        // With a ring of 1 (a plus-shaped disk): 3·2 + 4·2 = 14 more pixels.
        let rows = measure(
            4,
            &labels,
            h,
            w,
            &[&fl],
            &[&bg],
            &ExtractParams { measure_dilate: 1 },
            &mut s,
        );
        assert_eq!((rows[1].total[0], rows[1].measured), (26.0, 26));
        assert_eq!((rows[1].mean[0], rows[1].area), (1.0, 12));
        assert!(s.ring.is_clear());
    }

    #[test]
    fn shared_ring_pixels_go_to_the_nearest_cell() {
        // Row 1: cell 1 at x = 0, cell 2 at x = 3; (1, 1) is nearer cell 1, (1, 2) cell 2.
        let (h, w) = (3, 5);
        let mut labels = vec![0u32; h * w];
        labels[w] = 1;
        labels[w + 3] = 2;
        let mut fl = vec![0.0f32; h * w];
        fl[w + 1] = 10.0;
        fl[w + 2] = 100.0;
        let rows = measure(
            0,
            &labels,
            h,
            w,
            &[&fl],
            &[],
            &ExtractParams { measure_dilate: 2 },
            &mut MeasureScratch::default(),
        );
        assert_eq!((rows[0].total[0], rows[1].total[0]), (10.0, 100.0));
    }

    #[test]
    fn every_pixel_within_reach_is_counted_once() {
        let (h, w, d) = (20, 24, 3usize);
        let mut labels = vec![0u32; h * w];
        // Blobs 1–3 px apart, one at the frame edge.
        for (l, y0, x0, size) in [(1u32, 2, 2, 4), (2, 2, 8, 3), (3, 7, 4, 5), (4, 0, 19, 3)] {
            for y in y0..y0 + size {
                for x in x0..x0 + size {
                    labels[y * w + x] = l;
                }
            }
        }
        let fl = vec![1.0f32; h * w];
        let rows = measure(
            0,
            &labels,
            h,
            w,
            &[&fl],
            &[],
            &ExtractParams { measure_dilate: d },
            &mut MeasureScratch::default(),
        );
        let reach = (0..h * w)
            .filter(|&i| {
                let (y, x) = ((i / w) as isize, (i % w) as isize);
                (0..h * w).any(|j| {
                    let (yy, xx) = ((j / w) as isize, (j % w) as isize);
                    labels[j] != 0 && (y - yy).pow(2) + (x - xx).pow(2) <= (d * d) as isize
                })
            })
            .count();
        let measured: u64 = rows.iter().map(|r| r.measured).sum();
        let total: f64 = rows.iter().map(|r| r.total[0]).sum();
        assert_eq!((measured, total), (reach as u64, reach as f64));
        for r in &rows {
            assert!(r.measured > r.area, "cell {} got no ring", r.cell);
            assert_eq!(r.mean[0], 1.0);
        }
    }

    #[test]
    fn labels_larger_than_the_frame_measure_the_same() {
        // Two cells 2 px apart share ring pixels; ids above h × w skip the label index.
        let (h, w) = (8, 12);
        let measure_with = |ids: [u32; 2]| {
            let mut labels = vec![0u32; h * w];
            for y in 2..6 {
                labels[y * w + 3] = ids[0];
                labels[y * w + 6] = ids[1];
            }
            let fl: Vec<f32> = (0..h * w).map(|i| (i % 7) as f32).collect();
            let params = ExtractParams { measure_dilate: 2 };
            let mut s = MeasureScratch::default();
            measure(0, &labels, h, w, &[&fl], &[], &params, &mut s)
                .into_iter()
                .map(|r| (r.measured, r.total[0]))
                .collect::<Vec<_>>()
        };
        let small = measure_with([1, 2]);
        assert_eq!(small, measure_with([u32::MAX - 1, u32::MAX]));
        // Within 2 px of either column: 4 rows × 8 + 2 rows × 6 + 2 rows × 2.
        assert_eq!(
            small.iter().map(|r| r.0).sum::<u64>(),
            4 * 8 + 2 * 6 + 2 * 2
        );
    }

    #[test]
    fn empty_frames() {
        let rows = measure(
            0,
            &[],
            0,
            0,
            &[],
            &[],
            &ExtractParams::default(),
            &mut MeasureScratch::default(),
        );
        assert!(rows.is_empty());
        let rows = measure(
            0,
            &[0; 4],
            2,
            2,
            &[&[1.0; 4]],
            &[&[0.0; 4]],
            &ExtractParams::default(),
            &mut MeasureScratch::default(),
        );
        assert!(rows.is_empty());
    }
}
