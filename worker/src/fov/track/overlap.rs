//! Overlap candidates: a frame's connected components, and the (component, track)
//! pairs whose masks share pixels, found through a bucket grid over the tracks'
//! bounding boxes.

use super::Tracker;
use crate::fov::runs::{Connectivity, Run};

/// Bucket size (pixels) of the spatial grid used to find overlap candidates.
const BUCKET: usize = 32;

/// A component and a track whose masks share `inter` pixels.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pair {
    pub(super) comp: usize,
    pub(super) track: usize,
    pub(super) inter: u64,
}

/// Pixels shared by two run lists sorted by row then column.
pub(super) fn intersect(a: &[Run], b: &[Run]) -> u64 {
    let (mut i, mut j, mut n) = (0, 0, 0u64);
    while i < a.len() && j < b.len() {
        let (p, q) = (a[i], b[j]);
        if p.y != q.y {
            if p.y < q.y {
                i += 1
            } else {
                j += 1
            }
            continue;
        }
        let lo = p.x0.max(q.x0);
        let hi = p.x1.min(q.x1);
        if hi > lo {
            n += u64::from(hi - lo);
        }
        if p.x1 < q.x1 { i += 1 } else { j += 1 }
    }
    n
}

impl Tracker {
    /// Connected components of `mask`, their runs grouped per component.
    pub(super) fn components(&mut self, mask: &[u8]) {
        self.rs.image.encode(mask, self.h, self.w, true);
        self.rs.comps.label(&self.rs.image, Connectivity::Four);
        let nc = self.rs.comps.count;
        self.start.clear();
        self.start.resize(nc + 1, 0);
        for &l in &self.rs.comps.run_label {
            self.start[l as usize + 1] += 1;
        }
        for c in 0..nc {
            self.start[c + 1] += self.start[c];
        }
        let mut fill = self.start.clone();
        self.runs.clear();
        self.runs
            .resize(self.rs.image.runs.len(), Run { y: 0, x0: 0, x1: 0 });
        self.area.clear();
        self.area.resize(nc, 0);
        self.bbox.clear();
        self.bbox.resize(nc, [u32::MAX, u32::MAX, 0, 0]);
        for (r, &l) in self.rs.image.runs.iter().zip(&self.rs.comps.run_label) {
            let c = l as usize;
            self.runs[fill[c]] = *r;
            fill[c] += 1;
            self.area[c] += r.len() as u64;
            let b = &mut self.bbox[c];
            b[0] = b[0].min(r.y);
            b[1] = b[1].min(r.x0);
            b[2] = b[2].max(r.y + 1);
            b[3] = b[3].max(r.x1);
        }
    }

    /// All (component, track) pairs whose masks overlap, found through a bucket grid.
    pub(super) fn candidates(&mut self) {
        let nby = self.h.div_ceil(BUCKET);
        let nbx = self.w.div_ceil(BUCKET);
        let cells = |b: &[u32; 4]| {
            let ys = b[0] as usize / BUCKET..(b[2] as usize).div_ceil(BUCKET).min(nby);
            let xs = b[1] as usize / BUCKET..(b[3] as usize).div_ceil(BUCKET).min(nbx);
            ys.flat_map(move |y| xs.clone().map(move |x| y * nbx + x))
        };
        self.buckets.clear();
        self.buckets.resize(nby * nbx + 1, 0);
        for tr in &self.tracks {
            for b in cells(&tr.bbox) {
                self.buckets[b + 1] += 1;
            }
        }
        for b in 0..nby * nbx {
            self.buckets[b + 1] += self.buckets[b];
        }
        let mut fill = self.buckets.clone();
        self.items.clear();
        self.items.resize(self.buckets[nby * nbx], 0);
        for (k, tr) in self.tracks.iter().enumerate() {
            for b in cells(&tr.bbox) {
                self.items[fill[b]] = k;
                fill[b] += 1;
            }
        }
        self.stamp.clear();
        self.stamp.resize(self.tracks.len(), usize::MAX);
        self.pairs.clear();
        for c in 0..self.area.len() {
            let cb = self.bbox[c];
            let cruns = &self.runs[self.start[c]..self.start[c + 1]];
            for b in cells(&cb) {
                for &k in &self.items[self.buckets[b]..self.buckets[b + 1]] {
                    if self.stamp[k] == c {
                        continue;
                    }
                    self.stamp[k] = c;
                    let tb = self.tracks[k].bbox;
                    if tb[0] >= cb[2] || cb[0] >= tb[2] || tb[1] >= cb[3] || cb[1] >= tb[3] {
                        continue;
                    }
                    let inter = intersect(cruns, &self.tracks[k].runs);
                    if inter > 0 {
                        self.pairs.push(Pair {
                            comp: c,
                            track: k,
                            inter,
                        });
                    }
                }
            }
        }
    }
}
