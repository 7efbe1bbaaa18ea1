//! Smooth background of a fluorescence (or phase) frame from tiled medians.
//!
//! The cell mask is dilated by `bg_dilate`; the frame is split into a grid of about
//! `bg_tile` pixels per tile (at least one tile per axis, so any frame size works);
//! each tile's background is the median of its unmasked pixels. Tiles with too few
//! usable pixels (`bg_min_fraction`, or [`CROWDED_MIN_FRACTION`] on a crowded frame
//! where under a quarter of the tiles reach it) take the value of a robust quadratic
//! surface fitted to the usable tiles, weighted by their usable fraction
//! ([`Surface`](crate::fov::surface::Surface)): under a confluent colony the nearest
//! usable tiles are at the field's margin, and the surface follows the curved
//! illumination in between. A
//! Catmull-Rom spline through the tile centres, with linearly extrapolated ghost
//! tiles at the edges (a linear gradient is reproduced exactly), gives the
//! full-frame background. Non-finite pixels are never sampled, so the output is
//! always finite.
//!
//! When no tile reaches even the crowded fraction, the best pixels there are make
//! the background and [`BackgroundEstimator::source`] says which (a QC warning of
//! the stage): any pixel clear of the dilated mask, else any pixel outside the
//! mask, else (every pixel in a cell) the frame's median.

use crate::fov::morph::Morph;
use crate::fov::params::BackgroundParams;
use crate::fov::surface::Sample;

mod fill;

/// The least usable fraction of a tile when fewer than a quarter of the tiles reach
/// `bg_min_fraction`: on a crowded field the mask dilated by `bg_dilate` leaves only
/// narrow gaps, and without them the background came from the neighbours of the
/// few edge tiles, or from the frame's median with cells included (35 % too high
/// at 45 % coverage; docs/benchmarks.md). 2 % of a 48² tile is 46 pixels.
pub const CROWDED_MIN_FRACTION: f32 = 0.02;

/// Order-preserving map of a finite `f32` to `u32` (faster to select on).
fn key(v: f32) -> u32 {
    let b = v.to_bits();
    let neg = ((b as i32) >> 31) as u32;
    b ^ (neg | 0x8000_0000)
}

fn unkey(k: u32) -> f32 {
    f32::from_bits(if k >> 31 == 1 { k & 0x7fff_ffff } else { !k })
}

/// Median of the keys (mean of the two middle values for an even count).
fn median(keys: &mut [u32]) -> Option<f32> {
    let n = keys.len();
    if n == 0 {
        return None;
    }
    let (left, &mut upper, _) = keys.select_nth_unstable(n / 2);
    let upper = unkey(upper);
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = left.iter().copied().max().map_or(upper, unkey);
    Some(0.5 * (lower + upper))
}

/// Tile edges `0 = e[0] < … < e[n] = len` for `n = ceil(len / tile)` near-equal tiles.
fn edges(len: usize, tile: usize) -> Vec<usize> {
    let n = len.div_ceil(tile.max(1)).max(1);
    (0..=n).map(|i| (i * len + n / 2) / n).collect()
}

/// Per output coordinate: the padded-grid index of the first of 4 spline points and
/// their Catmull-Rom weights.
fn spline_weights(len: usize, e: &[usize]) -> Vec<(usize, [f32; 4])> {
    let n = e.len() - 1;
    let c: Vec<f64> = (0..n)
        .map(|i| (e[i] + e[i + 1]) as f64 / 2.0 - 0.5)
        .collect();
    let step_lo = if n >= 2 {
        c[1] - c[0]
    } else {
        len.max(1) as f64
    };
    let step_hi = if n >= 2 {
        c[n - 1] - c[n - 2]
    } else {
        len.max(1) as f64
    };
    // Padded centres: two ghosts on each side.
    let pc = |p: usize| -> f64 {
        let i = p as f64 - 2.0;
        if p < 2 {
            c[0] + i * step_lo
        } else if p < n + 2 {
            c[p - 2]
        } else {
            c[n - 1] + (i - (n - 1) as f64) * step_hi
        }
    };
    let mut out = Vec::with_capacity(len);
    let mut k = 1;
    for y in 0..len {
        let yf = y as f64;
        while k + 1 < n + 3 && pc(k + 1) <= yf {
            k += 1;
        }
        let t = ((yf - pc(k)) / (pc(k + 1) - pc(k))).clamp(0.0, 1.0) as f32;
        let (t2, t3) = (t * t, t * t * t);
        out.push((
            k - 1,
            [
                -0.5 * t3 + t2 - 0.5 * t,
                1.5 * t3 - 2.5 * t2 + 1.0,
                -1.5 * t3 + 2.0 * t2 + 0.5 * t,
                0.5 * t3 - 0.5 * t2,
            ],
        ));
    }
    out
}

/// Where a frame's background came from (see the module doc); anything but
/// [`Source::Tiles`] is worth a QC warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Tiles with enough usable pixels, the rest filled from them.
    Tiles,
    /// No tile had [`CROWDED_MIN_FRACTION`] usable pixels: the tiles with any.
    FewPixels,
    /// No pixel clear of the dilated mask: the pixels outside the mask itself
    /// (within `bg_dilate` of a cell, so they may carry its light).
    CellEdges,
    /// Every pixel is in a cell: the frame's median, cells included (too high).
    FrameMedian,
}

/// Estimates smooth backgrounds for frames of one size; reuses its buffers.
#[derive(Debug, Clone)]
pub struct BackgroundEstimator {
    h: usize,
    w: usize,
    params: BackgroundParams,
    ye: Vec<usize>,
    xe: Vec<usize>,
    rows: Vec<(usize, [f32; 4])>,
    cols: Vec<(usize, [f32; 4])>,
    morph: Morph,
    dil: Vec<u8>,
    last_mask: Vec<u8>,
    keys: Vec<u32>,
    counts: Vec<usize>,
    grid: Vec<f32>,
    valid: Vec<bool>,
    /// Per tile: usable pixels and pixels sampled.
    usable: Vec<(usize, usize)>,
    source: Source,
    samples: Vec<Sample>,
    padded: Vec<f32>,
    tmp: Vec<f32>,
    row: Vec<f32>,
}

impl BackgroundEstimator {
    /// An estimator for `h × w` frames.
    pub fn new(h: usize, w: usize, params: &BackgroundParams) -> Self {
        let ye = edges(h, params.tile);
        let xe = edges(w, params.tile);
        let rows = spline_weights(h, &ye);
        let cols = spline_weights(w, &xe);
        BackgroundEstimator {
            h,
            w,
            params: params.clone(),
            ye,
            xe,
            rows,
            cols,
            morph: Morph::default(),
            dil: vec![0; h * w],
            last_mask: Vec::new(),
            keys: Vec::new(),
            counts: Vec::new(),
            grid: Vec::new(),
            valid: Vec::new(),
            usable: Vec::new(),
            source: Source::Tiles,
            samples: Vec::new(),
            padded: Vec::new(),
            tmp: Vec::new(),
            row: Vec::new(),
        }
    }

    /// Where the last estimate's background came from.
    pub fn source(&self) -> Source {
        self.source
    }

    /// Writes into `bg` the background of `fl`, ignoring pixels near `mask` (nonzero =
    /// cell). All three slices are `h × w`, row-major.
    ///
    /// # Panics
    /// If a slice is shorter than `h × w`.
    pub fn estimate(&mut self, fl: &[f32], mask: &[u8], bg: &mut [f32]) {
        let w = self.w;
        let bg = &mut bg[..self.h * w];
        self.estimate_rows(fl, mask, |y, row| {
            bg[y * w..(y + 1) * w].copy_from_slice(row);
        });
    }

    /// Like [`estimate`](Self::estimate), but hands each background row `(y, row)` to
    /// `emit` instead of filling a frame, so a caller storing another type converts
    /// row by row without a full-frame `f32` buffer.
    ///
    /// # Panics
    /// If `fl` or `mask` is shorter than `h × w`.
    pub fn estimate_rows(&mut self, fl: &[f32], mask: &[u8], emit: impl FnMut(usize, &[f32])) {
        let (h, w) = (self.h, self.w);
        let n = h * w;
        self.source = Source::Tiles;
        if n == 0 {
            return;
        }
        let (fl, mask) = (&fl[..n], &mask[..n]);
        // Dilating the same mask again (one per fluorescence channel) is skipped.
        if self.last_mask.as_slice() != mask {
            self.last_mask.clear();
            self.last_mask.extend_from_slice(mask);
            self.morph
                .dilate(mask, &mut self.dil, h, w, self.params.dilate);
        }
        self.tile_medians(fl);
        self.choose_tiles();
        if !self.valid.iter().any(|&v| v) {
            self.fill_constant(fl, mask);
        } else if !self.fill_from_surface(fl) {
            self.fill_from_neighbours();
        }
        self.interpolate(emit);
    }

    /// Median of each tile's usable samples (any, however few) into `grid`, their
    /// count into `usable`.
    ///
    /// A band of tiles (one tile row) is gathered in one top-to-bottom pass over whole
    /// frame rows, each row split among the band's tiles: the frame streams through
    /// memory in order, where visiting tile by tile would touch a new page every few
    /// dozen pixels. Keys go to a per-tile slot of `keys` (`stride` apart), which for
    /// the default 48-px tiles stays within the core's own cache.
    fn tile_medians(&mut self, fl: &[f32]) {
        let (ny, nx, w, s) = (
            self.ye.len() - 1,
            self.xe.len() - 1,
            self.w,
            self.params.sample.max(1),
        );
        self.grid.clear();
        self.grid.resize(ny * nx, 0.0);
        self.usable.clear();
        let cols = |tx: usize| (self.xe[tx + 1] - self.xe[tx]).div_ceil(s);
        let widest = (0..nx).map(cols).max().unwrap_or(0);
        for ty in 0..ny {
            let (y0, y1) = (self.ye[ty], self.ye[ty + 1]);
            let rows = (y1 - y0).div_ceil(s);
            let stride = rows * widest;
            self.keys.resize(nx * stride, 0);
            self.counts.clear();
            self.counts.resize(nx, 0);
            for y in (y0..y1).step_by(s) {
                let o = y * w;
                let (frow, mrow) = (&fl[o..o + w], &self.dil[o..o + w]);
                for tx in 0..nx {
                    let (x0, x1) = (self.xe[tx], self.xe[tx + 1]);
                    let keys = &mut self.keys[tx * stride..(tx + 1) * stride];
                    let mut k = self.counts[tx];
                    // Branch-free compaction: every sample is written, the count only
                    // advances for usable ones.
                    let samples = frow[x0..x1].iter().zip(&mrow[x0..x1]);
                    if s == 1 {
                        for (&v, &m) in samples {
                            keys[k] = key(v);
                            k += usize::from(m == 0 && v.is_finite());
                        }
                    } else {
                        for (&v, &m) in samples.step_by(s) {
                            keys[k] = key(v);
                            k += usize::from(m == 0 && v.is_finite());
                        }
                    }
                    self.counts[tx] = k;
                }
            }
            for tx in 0..nx {
                let k = self.counts[tx];
                if let Some(m) = median(&mut self.keys[tx * stride..tx * stride + k]) {
                    self.grid[ty * nx + tx] = m;
                }
                self.usable.push((k, rows * cols(tx)));
            }
        }
    }

    /// Catmull-Rom interpolation of the (ghost-padded) tile grid to the full frame.
    fn interpolate(&mut self, mut emit: impl FnMut(usize, &[f32])) {
        let (ny, nx, w) = (self.ye.len() - 1, self.xe.len() - 1, self.w);
        let (py, px) = (ny + 4, nx + 4);
        self.padded.clear();
        self.padded.resize(py * px, 0.0);
        let extrapolate = |line: &mut [f32], n: usize| {
            // line has n + 4 entries, real values at 2..n + 2.
            let (a, b) = (line[2], if n >= 2 { line[3] } else { line[2] });
            line[1] = 2.0 * a - b;
            line[0] = 3.0 * a - 2.0 * b;
            let (z, y) = (line[n + 1], if n >= 2 { line[n] } else { line[n + 1] });
            line[n + 2] = 2.0 * z - y;
            line[n + 3] = 3.0 * z - 2.0 * y;
        };
        for ty in 0..ny {
            let line = &mut self.padded[(ty + 2) * px..(ty + 3) * px];
            line[2..nx + 2].copy_from_slice(&self.grid[ty * nx..(ty + 1) * nx]);
            extrapolate(line, nx);
        }
        let mut col = vec![0f32; py];
        for x in 0..px {
            for (j, c) in col.iter_mut().enumerate().take(ny + 2).skip(2) {
                *c = self.padded[j * px + x];
            }
            extrapolate(&mut col, ny);
            for (j, &c) in col.iter().enumerate() {
                self.padded[j * px + x] = c;
            }
        }
        self.tmp.resize(py * w, 0.0);
        for j in 0..py {
            let g = &self.padded[j * px..(j + 1) * px];
            let out = &mut self.tmp[j * w..(j + 1) * w];
            for (o, (i, wt)) in out.iter_mut().zip(&self.cols) {
                *o = wt[0] * g[*i] + wt[1] * g[i + 1] + wt[2] * g[i + 2] + wt[3] * g[i + 3];
            }
        }
        self.row.resize(w, 0.0);
        for (y, (i, wt)) in self.rows.iter().enumerate() {
            let r = |k: usize| &self.tmp[(i + k) * w..(i + k + 1) * w];
            let (r0, r1, r2, r3) = (r(0), r(1), r(2), r(3));
            for (x, o) in self.row.iter_mut().enumerate() {
                *o = wt[0] * r0[x] + wt[1] * r1[x] + wt[2] * r2[x] + wt[3] * r3[x];
            }
            emit(y, &self.row);
        }
    }
}

#[cfg(test)]
mod tests;
