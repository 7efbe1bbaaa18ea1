//! How a frame's tile grid is completed: which tiles count, and what the others
//! take — a fitted surface, the neighbours' mean (the segmenter's phase
//! reference) or, without a usable tile, one value from the best pixels there are.

use super::{BackgroundEstimator, CROWDED_MIN_FRACTION, Source, key, median};
use crate::fov::surface::{Sample, Surface};

impl BackgroundEstimator {
    /// Marks the tiles whose median counts: those with `bg_min_fraction` usable
    /// pixels; on a crowded frame (under a quarter of the tiles have that) those with
    /// [`CROWDED_MIN_FRACTION`]; with none of those either, those with any usable pixel
    /// ([`Source::FewPixels`]).
    pub(super) fn choose_tiles(&mut self) {
        let reach = |usable: &[(usize, usize)], fraction: f32| -> Vec<bool> {
            usable
                .iter()
                .map(|&(k, total)| k >= ((fraction as f64 * total as f64).ceil() as usize).max(1))
                .collect()
        };
        self.valid = reach(&self.usable, self.params.min_fraction);
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
    pub(super) fn fill_from_surface(&mut self, fl: &[f32]) -> bool {
        if self.valid.iter().all(|&v| v) {
            return true;
        }
        let nx = self.xe.len() - 1;
        let sums = self.usable_sums(fl);
        self.samples.clear();
        for (i, &(sy, sx, k)) in sums.iter().enumerate() {
            if !self.valid[i] {
                continue;
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

    /// Per tile (zero for the tiles not chosen): the sums of the rows and of the
    /// columns of its usable samples, and their count. One pass over whole frame
    /// rows per band of tiles, as in `tile_medians`, without a branch per pixel.
    fn usable_sums(&self, fl: &[f32]) -> Vec<(usize, usize, usize)> {
        let (nx, w, s) = (self.xe.len() - 1, self.w, self.params.sample.max(1));
        let mut sums = vec![(0, 0, 0); self.valid.len()];
        for ty in 0..self.ye.len() - 1 {
            let band = ty * nx..(ty + 1) * nx;
            if !self.valid[band].iter().any(|&v| v) {
                continue;
            }
            for y in (self.ye[ty]..self.ye[ty + 1]).step_by(s) {
                let (frow, mrow) = (&fl[y * w..(y + 1) * w], &self.dil[y * w..(y + 1) * w]);
                for tx in (0..nx).filter(|&tx| self.valid[ty * nx + tx]) {
                    let (x0, x1) = (self.xe[tx], self.xe[tx + 1]);
                    let (m, f) = (&mrow[x0..x1], &frow[x0..x1]);
                    let (mut sx, mut k) = (0, 0);
                    for j in (0..x1 - x0).step_by(s) {
                        let u = usize::from(m[j] == 0 && f[j].is_finite());
                        (sx, k) = (sx + j * u, k + u);
                    }
                    let t = &mut sums[ty * nx + tx];
                    *t = (t.0 + y * k, t.1 + x0 * k + sx, t.2 + k);
                }
            }
        }
        sums
    }

    /// Fills invalid tiles with the mean of their valid neighbours, repeatedly.
    pub(super) fn fill_from_neighbours(&mut self) {
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
    pub(super) fn fill_constant(&mut self, fl: &[f32], mask: &[u8]) {
        let step = (fl.len() / 65536).max(1);
        self.keys.clear();
        self.keys.extend(
            fl.iter()
                .zip(mask)
                .filter(|&(v, &m)| m == 0 && v.is_finite())
                .map(|(&v, _)| key(v)),
        );
        self.source = Source::CellEdges;
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
}
