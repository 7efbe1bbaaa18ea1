//! Per-cell, per-frame measurements from a label frame and fluorescence channels.

use crate::fov::cells::Cells;
use crate::fov::params::ExtractParams;
use crate::fov::ring::{Key, MAX_RADIUS, Ring};
use crate::fov::runs::runs_of;

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

/// `Σ (f − b)` over a run, each pixel's difference taken in `f32` as the
/// images hold it and summed in `f64` (four partial sums so the loop vectorises).
fn run_sum(f: &[f32], b: Option<&[f32]>) -> f64 {
    let mut lanes = [0f64; 4];
    let mut rest = 0f64;
    match b {
        Some(b) => {
            let (f4, b4) = (f.chunks_exact(4), b.chunks_exact(4));
            for (&f, &b) in f4.remainder().iter().zip(b4.remainder()) {
                rest += f64::from(f - b);
            }
            for (f, b) in f4.zip(b4) {
                for (l, (&f, &b)) in lanes.iter_mut().zip(f.iter().zip(b)) {
                    *l += f64::from(f - b);
                }
            }
        }
        None => {
            let f4 = f.chunks_exact(4);
            rest = f4.remainder().iter().map(|&f| f64::from(f)).sum();
            for f in f4 {
                for (l, &f) in lanes.iter_mut().zip(f) {
                    *l += f64::from(f);
                }
            }
        }
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + rest
}

/// Reusable buffers of [`measure`].
#[derive(Debug, Clone, Default)]
pub struct MeasureScratch {
    cells: Cells,
    /// The ring search for small radii (the default) and for the others.
    narrow: Ring<i16>,
    wide: Ring<i32>,
    /// The owner of each pixel of the current row (see [`Ring::owners`]).
    owner: Vec<u32>,
}

/// Measures every cell of `labels` (`h × w`, 0 = background) in frame `frame`.
///
/// Fluorescence totals are `Σ (fl − bg)` over the cell's pixels plus a ring: the
/// background pixels within a disk of `measure_dilate` (at most
/// [`MAX_RADIUS`]) around the cell. A ring pixel within that distance of several
/// cells goes to the nearest (ties: the first in the disk's raster order), so on
/// a crowded field the light in a narrow gap is neither lost nor counted twice
/// (see [`Ring`]). The ring catches the light the optics spread past the mask
/// edge, which otherwise biases totals low by a few percent. `measured` counts
/// the mask and ring pixels summed, and the mean is `total / measured`. Each
/// pixel's `fl − bg` is taken in `f32` and summed in `f64`.
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
    let d = if nch == 0 {
        0
    } else {
        params.measure_dilate.min(MAX_RADIUS)
    };
    let s = scratch;
    s.cells.start(n, nch);
    let frame_ = Frame {
        labels,
        h,
        w,
        fl,
        bg,
    };
    if d <= <i16 as Key>::MAX_RADIUS {
        scan(&frame_, d, &mut s.narrow, &mut s.cells, &mut s.owner);
    } else {
        scan(&frame_, d, &mut s.wide, &mut s.cells, &mut s.owner);
    }
    s.cells.rows(frame)
}

/// One frame's labels (`h × w`) and channels.
struct Frame<'a> {
    labels: &'a [u32],
    h: usize,
    w: usize,
    fl: &'a [&'a [f32]],
    bg: &'a [&'a [f32]],
}

/// One raster pass over `f`: each row's mask runs into the cells' shapes, each
/// row's owned runs (mask and ring within `d`) into their sums.
fn scan<K: Key>(
    f: &Frame<'_>,
    d: usize,
    ring: &mut Ring<K>,
    cells: &mut Cells,
    owner: &mut Vec<u32>,
) {
    let (h, w) = (f.h, f.w);
    let n = h * w;
    let row = |r: usize| &f.labels[r * w..][..w];
    ring.start(d, w);
    owner.clear();
    owner.resize(w, 0);
    for r in 0..d.min(h) {
        ring.push_row(r, row(r));
    }
    for y in 0..h {
        if y + d < h {
            ring.push_row(y + d, row(y + d));
        }
        for &(l, x0, x1) in ring.runs(y) {
            cells.mask_run(l, y, x0, x1);
        }
        ring.owners(f.labels, h, y, owner);
        let o = y * w;
        runs_of(owner, |l, x0, x1| {
            let p = o + x0..o + x1;
            let sums = cells.measured_run(l, x1 - x0);
            for (c, t) in sums.iter_mut().enumerate() {
                let b = f.bg.get(c).map(|b| &b[..n][p.clone()]);
                *t += run_sum(&f.fl[c][..n][p.clone()], b);
            }
        });
    }
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
        // The scratch carries nothing into the next frame: a frame with cell 7
        // alone measures as with fresh buffers.
        labels[10 * w + 10] = 0;
        let one = ExtractParams { measure_dilate: 1 };
        let again = measure(5, &labels, h, w, &[&fl], &[&bg], &one, &mut s);
        let fresh = &mut MeasureScratch::default();
        let want = measure(5, &labels, h, w, &[&fl], &[&bg], &one, fresh);
        assert_eq!((again.len(), &again), (1, &want));
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
