//! Smooth background of a fluorescence (or phase) frame from tiled medians.
//!
//! The cell mask is dilated by `bg_dilate`; the frame is split into a grid of about
//! `bg_tile` pixels per tile (at least one tile per axis, so any frame size works);
//! each tile's background is the median of its unmasked pixels. Tiles with too few
//! usable pixels (`bg_min_fraction`, or [`CROWDED_MIN_FRACTION`] on a crowded frame
//! where under a quarter of the tiles reach it) take the value of a robust quadratic
//! surface fitted to the usable tiles, weighted by their usable fraction
//! ([`Surface`]): under a confluent colony the nearest usable tiles are at the
//! field's margin, and the surface follows the curved illumination in between. A
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
use crate::fov::surface::{Sample, Surface};

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
    /// The crowded fallbacks and the surface fill (off: the segmenter's tuning).
    crowded_fallback: bool,
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
            crowded_fallback: true,
            source: Source::Tiles,
            samples: Vec::new(),
            padded: Vec::new(),
            tmp: Vec::new(),
            row: Vec::new(),
        }
    }

    /// As the segmenter's phase reference was tuned: tiles below `bg_min_fraction`
    /// are always filled with the mean of their neighbours (repeatedly, so any hole
    /// closes), and a frame without one takes the frame's median.
    pub fn without_crowded_fallback(mut self) -> Self {
        self.crowded_fallback = false;
        self
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
        } else if !self.crowded_fallback || !self.fill_from_surface(fl) {
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

    /// Marks the tiles whose median counts: those with `bg_min_fraction` usable
    /// pixels; on a crowded frame (under a quarter of the tiles have that) those with
    /// [`CROWDED_MIN_FRACTION`]; with none of those either, those with any usable pixel
    /// ([`Source::FewPixels`]).
    fn choose_tiles(&mut self) {
        let reach = |usable: &[(usize, usize)], fraction: f32| -> Vec<bool> {
            usable
                .iter()
                .map(|&(k, total)| k >= ((fraction as f64 * total as f64).ceil() as usize).max(1))
                .collect()
        };
        self.valid = reach(&self.usable, self.params.min_fraction);
        if !self.crowded_fallback {
            return;
        }
        let count = |v: &[bool]| v.iter().filter(|&&v| v).count();
        // A crowded frame: the narrow gaps between cells are all there is.
        if count(&self.valid) * 4 < self.valid.len() {
            self.valid = reach(
                &self.usable,
                CROWDED_MIN_FRACTION.min(self.params.min_fraction),
            );
        }
        if count(&self.valid) == 0 {
            self.valid = reach(&self.usable, 0.0);
            if count(&self.valid) > 0 {
                self.source = Source::FewPixels;
            }
        }
    }

    /// Fills the tiles not chosen from a robust quadratic surface through the chosen
    /// ones, weighted by their usable fraction; false if no surface could be fitted.
    /// Each chosen tile's median stands at the centroid of its usable pixels: next to
    /// a colony those are off the tile's centre, and on a curved background that
    /// offset is worth a few per cent in the middle of the colony.
    fn fill_from_surface(&mut self, fl: &[f32]) -> bool {
        if self.valid.iter().all(|&v| v) {
            return true;
        }
        let (nx, w, s) = (self.xe.len() - 1, self.w, self.params.sample.max(1));
        self.samples.clear();
        for ty in 0..self.ye.len() - 1 {
            for tx in 0..nx {
                let i = ty * nx + tx;
                if !self.valid[i] {
                    continue;
                }
                let (mut sy, mut sx, mut k) = (0usize, 0usize, 0usize);
                let (x0, x1) = (self.xe[tx], self.xe[tx + 1]);
                for y in (self.ye[ty]..self.ye[ty + 1]).step_by(s) {
                    for x in (x0..x1).step_by(s) {
                        if self.dil[y * w + x] == 0 && fl[y * w + x].is_finite() {
                            (sy, sx, k) = (sy + y, sx + x, k + 1);
                        }
                    }
                }
                let (usable, total) = self.usable[i];
                let k = k.max(1) as f64;
                self.samples.push(Sample {
                    y: sy as f64 / k,
                    x: sx as f64 / k,
                    v: f64::from(self.grid[i]),
                    w: usable as f64 / total.max(1) as f64,
                });
            }
        }
        let Some(surface) = Surface::fit(&self.samples) else {
            return false;
        };
        // Tile centres in pixel coordinates (a pixel's centre is at its index).
        let centre = |e: &[usize], i: usize| (e[i] + e[i + 1]) as f64 / 2.0 - 0.5;
        let mut chosen = self.samples.iter();
        for ty in 0..self.ye.len() - 1 {
            for tx in 0..nx {
                let i = ty * nx + tx;
                let at = surface.at(centre(&self.ye, ty), centre(&self.xe, tx));
                if !self.valid[i] {
                    self.grid[i] = at as f32;
                } else if let Some(p) = chosen.next() {
                    // The median moved from its centroid to the tile's centre along the surface.
                    self.grid[i] = (p.v + at - surface.at(p.y, p.x)) as f32;
                }
            }
        }
        true
    }

    /// Fills invalid tiles with the mean of their valid neighbours, repeatedly.
    fn fill_from_neighbours(&mut self) {
        let (ny, nx) = (self.ye.len() - 1, self.xe.len() - 1);
        let mut fresh: Vec<(usize, f32)> = Vec::new();
        while self.valid.iter().any(|&v| !v) {
            fresh.clear();
            for ty in 0..ny {
                for tx in 0..nx {
                    if self.valid[ty * nx + tx] {
                        continue;
                    }
                    let (mut sum, mut cnt) = (0.0f64, 0usize);
                    for yy in ty.saturating_sub(1)..(ty + 2).min(ny) {
                        for xx in tx.saturating_sub(1)..(tx + 2).min(nx) {
                            if self.valid[yy * nx + xx] {
                                sum += self.grid[yy * nx + xx] as f64;
                                cnt += 1;
                            }
                        }
                    }
                    if cnt > 0 {
                        fresh.push((ty * nx + tx, (sum / cnt as f64) as f32));
                    }
                }
            }
            for &(i, v) in &fresh {
                self.grid[i] = v;
                self.valid[i] = true;
            }
        }
    }

    /// No usable tile: one value for the whole frame, the median of the pixels
    /// outside `mask` ([`Source::CellEdges`]) or, with none, of the frame
    /// ([`Source::FrameMedian`]). The segmenter's reference goes straight to the latter.
    fn fill_constant(&mut self, fl: &[f32], mask: &[u8]) {
        let step = (fl.len() / 65536).max(1);
        self.keys.clear();
        if self.crowded_fallback {
            self.keys.extend(
                fl.iter()
                    .zip(mask)
                    .filter(|&(v, &m)| m == 0 && v.is_finite())
                    .map(|(&v, _)| key(v)),
            );
            self.source = Source::CellEdges;
        }
        if self.keys.is_empty() {
            self.keys.extend(
                fl.iter()
                    .step_by(step)
                    .filter(|v| v.is_finite())
                    .map(|&v| key(v)),
            );
            self.source = Source::FrameMedian;
        }
        let m = median(&mut self.keys).unwrap_or(0.0);
        self.grid.fill(m);
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
mod tests {
    use super::*;

    #[test]
    fn gradient_is_recovered_under_cells() {
        let (h, w) = (100, 130);
        let truth: Vec<f32> = (0..h * w)
            .map(|i| 200.0 + 0.8 * (i / w) as f32 + 0.5 * (i % w) as f32)
            .collect();
        let mut fl = truth.clone();
        let mut mask = vec![0u8; h * w];
        for y in 30..60 {
            for x in 40..90 {
                mask[y * w + x] = 1;
                fl[y * w + x] += 500.0;
            }
        }
        let mut bg = vec![0.0; h * w];
        let mut est = BackgroundEstimator::new(h, w, &BackgroundParams::default());
        // Without cells the ramp comes back exactly (ghost tiles extend it to the edges).
        est.estimate(&truth, &vec![0; h * w], &mut bg);
        for (b, t) in bg.iter().zip(&truth) {
            assert!((b - t).abs() < 0.05, "{b} vs {t}");
        }
        // The bright masked block does not leak into the background (partly masked
        // tiles sample off-centre, hence a few counts on this steep ramp).
        est.estimate(&fl, &mask, &mut bg);
        for (b, t) in bg.iter().zip(&truth) {
            assert!((b - t).abs() < 4.0, "{b} vs {t}");
        }
    }

    /// The band-wise gather gives every tile exactly its own samples: compared with a
    /// tile-by-tile reference on unequal tiles, with and without a sampling stride.
    #[test]
    fn tile_medians_match_a_per_tile_reference() {
        let (h, w) = (100, 130);
        let mut x = 12345u32;
        let mut next = || {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            x >> 8
        };
        let fl: Vec<f32> = (0..h * w).map(|_| (next() % 1000) as f32).collect();
        let mask: Vec<u8> = (0..h * w).map(|_| u8::from(next() % 3 == 0)).collect();
        for sample in [1, 2, 3] {
            let params = BackgroundParams {
                tile: 48,
                dilate: 0,
                min_fraction: 0.0,
                sample,
            };
            let mut est = BackgroundEstimator::new(h, w, &params);
            est.dil.copy_from_slice(&mask);
            est.tile_medians(&fl);
            est.choose_tiles();
            let (ye, xe) = (edges(h, 48), edges(w, 48));
            for ty in 0..ye.len() - 1 {
                for tx in 0..xe.len() - 1 {
                    let mut keys: Vec<u32> = (ye[ty]..ye[ty + 1])
                        .step_by(sample)
                        .flat_map(|y| (xe[tx]..xe[tx + 1]).step_by(sample).map(move |x| y * w + x))
                        .filter(|&i| mask[i] == 0)
                        .map(|i| key(fl[i]))
                        .collect();
                    let i = ty * (xe.len() - 1) + tx;
                    assert_eq!(
                        Some(est.grid[i]),
                        median(&mut keys),
                        "tile {ty},{tx} / {sample}"
                    );
                    assert!(est.valid[i]);
                }
            }
        }
    }

    /// A curved (vignetted) background under a confluent centre: no tile there has a
    /// usable pixel, and the fill follows the curve the margin tiles show, where the
    /// mean of the neighbours took the margin's level.
    #[test]
    fn a_confluent_centre_follows_the_curved_background() {
        let (h, w) = (288, 288);
        let truth: Vec<f32> = (0..h * w)
            .map(|i| {
                let (y, x) = (
                    (i / w) as f32 / h as f32 - 0.4,
                    (i % w) as f32 / w as f32 - 0.5,
                );
                300.0 * (1.0 + 0.2 * x - 0.1 * y - 0.5 * (x * x + y * y))
            })
            .collect();
        let mut fl = truth.clone();
        let mut mask = vec![0u8; h * w];
        for y in 40..250 {
            for x in 40..250 {
                mask[y * w + x] = 1;
                fl[y * w + x] += 800.0;
            }
        }
        let mut bg = vec![0.0; h * w];
        let mut est = BackgroundEstimator::new(h, w, &BackgroundParams::default());
        est.estimate(&fl, &mask, &mut bg);
        assert_eq!(est.source(), Source::Tiles);
        let centre = (h / 2) * w + w / 2;
        let worst = |bg: &[f32]| {
            (40..250)
                .flat_map(|y| (40..250).map(move |x| y * w + x))
                .map(|i| (bg[i] - truth[i]).abs() / truth[i])
                .fold(0.0f32, f32::max)
        };
        assert!(worst(&bg) < 0.01, "worst relative error {}", worst(&bg));
        assert!((bg[centre] - truth[centre]).abs() < 1.0);
        // The neighbour fill (the segmenter's) misses the centre by several per cent.
        let mut old =
            BackgroundEstimator::new(h, w, &BackgroundParams::default()).without_crowded_fallback();
        old.estimate(&fl, &mask, &mut bg);
        assert!((bg[centre] - truth[centre]).abs() / truth[centre] > 0.05);
        assert!(worst(&bg) > 0.1);
    }

    /// Without a tile clear of cells the background comes from the best pixels there
    /// are, and says so: a frame cells cover save one thin gap takes the gap's level,
    /// never the cells'.
    #[test]
    fn without_usable_tiles_the_source_says_so() {
        let (h, w) = (96, 96);
        let mut fl = vec![1000.0f32; h * w];
        let mut mask = vec![1u8; h * w];
        for y in 0..h {
            fl[y * w + 50] = 100.0;
            mask[y * w + 50] = 0;
        }
        let mut bg = vec![0.0; h * w];
        let mut est = BackgroundEstimator::new(h, w, &BackgroundParams::default());
        est.estimate(&fl, &mask, &mut bg);
        assert_eq!(est.source(), Source::CellEdges);
        assert!(bg.iter().all(|&v| (v - 100.0).abs() < 1e-3));
        est.estimate(&fl, &vec![1u8; h * w], &mut bg);
        assert_eq!(est.source(), Source::FrameMedian);
        // A few clear pixels in one tile: fewer than 2 %, still the best there is.
        let mut mask = vec![1u8; h * w];
        for x in 0..20 {
            mask[10 * w + x] = 0;
            fl[10 * w + x] = 100.0;
        }
        let params = BackgroundParams {
            dilate: 0,
            ..BackgroundParams::default()
        };
        let mut est = BackgroundEstimator::new(h, w, &params);
        est.estimate(&fl, &mask, &mut bg);
        assert_eq!(est.source(), Source::FewPixels);
        assert!(bg.iter().all(|&v| (v - 100.0).abs() < 1e-3));
        est.estimate(&fl, &vec![0u8; h * w], &mut bg);
        assert_eq!(est.source(), Source::Tiles);
    }

    #[test]
    fn degenerate_inputs_stay_finite() {
        for (h, w) in [(1, 1), (1, 7), (5, 1), (64, 64), (3, 200)] {
            let mut est = BackgroundEstimator::new(h, w, &BackgroundParams::default());
            let fl = vec![0.0f32; h * w];
            let mut bg = vec![f32::NAN; h * w];
            est.estimate(&fl, &vec![1u8; h * w], &mut bg);
            assert!(bg.iter().all(|v| *v == 0.0));
            let fl: Vec<f32> = (0..h * w).map(|i| (i % 5) as f32).collect();
            est.estimate(&fl, &vec![0u8; h * w], &mut bg);
            assert!(bg.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn keys_preserve_order() {
        let v = [-3.5f32, -0.0, 0.0, 1e-30, 2.0, 1e30];
        for p in v.windows(2) {
            assert!(key(p[0]) <= key(p[1]));
            assert_eq!(unkey(key(p[0])), p[0]);
        }
        let mut k: Vec<u32> = [4.0f32, 1.0, 3.0, 2.0].iter().map(|&v| key(v)).collect();
        assert_eq!(median(&mut k), Some(2.5));
    }
}
