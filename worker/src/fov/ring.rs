//! The measurement ring of [`super::extract::measure`]: the background pixels
//! within `measure_dilate` of a cell, each counted for exactly one cell.
//!
//! A pixel in one cell's ring only (claim 1) is that cell's; a pixel in several
//! rings (claim ≥ 2) goes to the nearest cell. Only those contested pixels get an
//! owner, and only ring runs holding one read the owner array, so a sparse field
//! costs what a plain claim count does.

use crate::fov::extract::lane_sum;
use crate::fov::runs::Run;

/// Claims count up to this (only 1 and ≥ 2 matter).
const MAX_CLAIM: u8 = 0x7f;

/// The claim of a contested pixel once it has its owner.
const ASSIGNED: u8 = 0x80;

/// Reusable buffers of the ring: dilated runs per cell, per-pixel claims and owners.
#[derive(Debug, Clone, Default)]
pub struct Ring {
    /// Every cell's dilated runs, merged per row, cell after cell.
    runs: Vec<Run>,
    /// Cell `k`'s runs are `runs[start[k]..start[k + 1]]`.
    start: Vec<usize>,
    /// Per run of `runs`: whether it holds a contested pixel.
    contested: Vec<bool>,
    /// Label → index of the cell in `cells` (see [`Ring::index_cells`]).
    index: Vec<u32>,
    /// Background pixels owned per cell.
    owned: Vec<u64>,
    tmp: Vec<Run>,
    /// Per pixel: how many rings hold it (up to [`MAX_CLAIM`]), or [`ASSIGNED`];
    /// cell pixels stay 0.
    claim: Vec<u8>,
    /// Per contested pixel: the cell it goes to (0 elsewhere).
    owner: Vec<u32>,
    /// Half-widths of the disk per row offset, for the radius `disk.radius`.
    half: Vec<u32>,
    disk: Disk,
}

/// The offsets of a disk, nearest first, as `(dy, dx)` and as index steps in a
/// frame of width `width`.
#[derive(Debug, Clone, Default)]
struct Disk {
    radius: usize,
    width: usize,
    offsets: Vec<(isize, isize)>,
    steps: Vec<isize>,
}

impl Disk {
    /// The disk of radius `d` (`dy² + dx² ≤ d²`), nearest first, ties in raster
    /// order, so the first cell pixel found is a nearest one.
    fn new(d: usize, w: usize) -> Disk {
        let r = d as isize;
        let mut offsets: Vec<(isize, isize)> = (-r..=r)
            .flat_map(|dy| (-r..=r).map(move |dx| (dy, dx)))
            .filter(|&(dy, dx)| dy * dy + dx * dx <= r * r)
            .collect();
        offsets.sort_by_key(|&(dy, dx)| (dy * dy + dx * dx, dy, dx));
        let steps = offsets
            .iter()
            .map(|&(dy, dx)| dy * w as isize + dx)
            .collect();
        Disk {
            radius: d,
            width: w,
            offsets,
            steps,
        }
    }

    /// The label of a nearest cell pixel within the disk around `(y, x)` (0 if none).
    fn nearest(&self, labels: &[u32], h: usize, y: usize, x: usize) -> u32 {
        let (d, w) = (self.radius, self.width);
        let i = y * w + x;
        if y >= d && y + d < h && x >= d && x + d < w {
            for &s in &self.steps {
                let l = labels[(i as isize + s) as usize];
                if l != 0 {
                    return l;
                }
            }
            return 0;
        }
        for &(dy, dx) in &self.offsets {
            let (yy, xx) = (y as isize + dy, x as isize + dx);
            if (0..h as isize).contains(&yy) && (0..w as isize).contains(&xx) {
                let l = labels[yy as usize * w + xx as usize];
                if l != 0 {
                    return l;
                }
            }
        }
        0
    }
}

/// The pixel indices of `r` in a frame of width `w`.
fn pixels(r: &Run, w: usize) -> std::ops::Range<usize> {
    let o = r.y as usize * w;
    o + r.x0 as usize..o + r.x1 as usize
}

impl Ring {
    /// Builds the rings of radius `d` (1..=254) of the cells whose mask runs are
    /// `runs[g0..g1]` for each `(g0, g1)` of `groups`, claims their pixels and
    /// gives every contested one to the nearest cell. `cells` are the cells' labels
    /// in the order of `groups`, ascending. Call [`Ring::clear`] before the next frame.
    pub fn build(
        &mut self,
        labels: &[u32],
        (h, w): (usize, usize),
        d: usize,
        runs: &[(u32, Run)],
        groups: &[(usize, usize)],
        cells: &[u32],
    ) {
        debug_assert_eq!(cells.len(), groups.len());
        if self.half.len() != d + 1 || self.disk.radius != d || self.disk.width != w {
            self.half = (0..=d)
                .map(|dy| ((d * d - dy * dy) as f64).sqrt() as u32)
                .collect();
            self.disk = Disk::new(d, w);
        }
        self.dilate(h, w, d, runs, groups);
        self.claim.resize(h * w, 0);
        self.owner.resize(h * w, 0);
        for r in &self.runs {
            let p = pixels(r, w);
            for (c, &l) in self.claim[p.clone()].iter_mut().zip(&labels[p]) {
                *c += u8::from(l == 0 && *c < MAX_CLAIM);
            }
        }
        self.index_cells(cells, h * w);
        self.owned.clear();
        self.owned.resize(groups.len(), 0);
        self.contested.clear();
        for k in 0..groups.len() {
            for ri in self.start[k]..self.start[k + 1] {
                let p = pixels(&self.runs[ri], w);
                let (mut ones, mut shared) = (0u32, false);
                for &c in &self.claim[p.clone()] {
                    ones += u32::from(c == 1);
                    shared |= c >= 2;
                }
                self.owned[k] += u64::from(ones);
                self.contested.push(shared);
                if shared {
                    self.assign(labels, h, p, cells);
                }
            }
        }
    }

    /// The merged dilated runs of every cell, each row's runs widened by the
    /// disk's half-width at that row offset.
    fn dilate(
        &mut self,
        h: usize,
        w: usize,
        d: usize,
        runs: &[(u32, Run)],
        groups: &[(usize, usize)],
    ) {
        self.runs.clear();
        self.start.clear();
        for &(g0, g1) in groups {
            self.start.push(self.runs.len());
            let cell = &runs[g0..g1];
            let (Some(first), Some(last)) = (cell.first(), cell.last()) else {
                continue;
            };
            // The cell's runs come sorted by row: each output row takes the runs
            // of the rows within `d` (a sliding window), sorted by start (a few,
            // so this is cheaper than sorting the whole cell's dilated runs); the
            // merge does not depend on the order of equal starts.
            let mut lo = 0;
            for yy in (first.1.y as usize).saturating_sub(d)..(last.1.y as usize + d + 1).min(h) {
                while cell[lo].1.y as usize + d < yy {
                    lo += 1;
                }
                self.tmp.clear();
                for &(_, r) in cell[lo..]
                    .iter()
                    .take_while(|(_, r)| r.y as usize <= yy + d)
                {
                    let hw = self.half[yy.abs_diff(r.y as usize)];
                    self.tmp.push(Run {
                        y: yy as u32,
                        x0: r.x0.saturating_sub(hw),
                        x1: (r.x1 + hw).min(w as u32),
                    });
                }
                self.tmp.sort_unstable_by_key(|r| r.x0);
                let own = self.runs.len();
                for &r in &self.tmp {
                    match self.runs[own..].last_mut() {
                        Some(last) if r.x0 <= last.x1 => last.x1 = last.x1.max(r.x1),
                        _ => self.runs.push(r),
                    }
                }
            }
        }
        self.start.push(self.runs.len());
    }

    /// Gives each contested pixel of `p` without an owner to the nearest cell.
    fn assign(&mut self, labels: &[u32], h: usize, p: std::ops::Range<usize>, cells: &[u32]) {
        let w = self.disk.width;
        for i in p {
            if (2..ASSIGNED).contains(&self.claim[i]) {
                let l = self.disk.nearest(labels, h, i / w, i % w);
                self.owner[i] = l;
                self.claim[i] = ASSIGNED;
                let k = match self.index.get(l as usize) {
                    Some(&k) => Some(k as usize),
                    None => cells.binary_search(&l).ok(),
                };
                if let Some(k) = k.filter(|_| l != 0) {
                    self.owned[k] += 1;
                }
            }
        }
    }

    /// Maps each label of `cells` (ascending) to its index in `index`, when the
    /// largest is at most `n` (the frame's pixels; larger labels are looked up
    /// by binary search, so a corrupt label never sizes an allocation).
    fn index_cells(&mut self, cells: &[u32], n: usize) {
        self.index.clear();
        let Some(&max) = cells.last() else { return };
        if max as usize <= n {
            self.index.resize(max as usize + 1, 0);
            for (k, &l) in cells.iter().enumerate() {
                self.index[l as usize] = k as u32;
            }
        }
    }

    /// Background pixels of cell `k`'s ring that are its own.
    pub fn owned(&self, k: usize) -> u64 {
        self.owned[k]
    }

    /// `Σ (f − b)` over the ring pixels of cell `k` (label `cell`) that are its
    /// own, summed run by run as [`lane_sum`] does, so the figure does not depend
    /// on which runs hold contested pixels.
    pub fn sum(&self, k: usize, cell: u32, w: usize, f: &[f32], b: Option<&[f32]>) -> f64 {
        let mut sum = 0f64;
        for ri in self.start[k]..self.start[k + 1] {
            let p = pixels(&self.runs[ri], w);
            let claim = &self.claim[p.clone()];
            let bp = b.map(|b| &b[p.clone()]);
            let part = if self.contested[ri] {
                let owner = &self.owner[p.clone()];
                lane_sum(&f[p], bp, |i| claim[i] == 1 || owner[i] == cell)
            } else {
                lane_sum(&f[p], bp, |i| claim[i] == 1)
            };
            sum += f64::from(part);
        }
        sum
    }

    /// Resets the claims and owners the last [`Ring::build`] set.
    pub fn clear(&mut self) {
        let w = self.disk.width;
        for (r, &shared) in self.runs.iter().zip(&self.contested) {
            self.claim[pixels(r, w)].fill(0);
            if shared {
                self.owner[pixels(r, w)].fill(0);
            }
        }
        self.runs.clear();
        self.contested.clear();
    }

    /// True if no claim or owner is left set (for tests).
    #[cfg(test)]
    pub fn is_clear(&self) -> bool {
        self.claim.iter().all(|&c| c == 0) && self.owner.iter().all(|&o| o == 0)
    }
}
