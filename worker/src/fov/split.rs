//! Splitting touching cells: a seeded watershed on the distance transform of the
//! cell mask.
//!
//! Two cells that touch form one blob with a narrow neck between them. The
//! distance from each mask pixel to the nearest background pixel (chamfer 3-4)
//! peaks once per cell; a peak is a seed when it rises at least `neck` pixels
//! above the saddle joining it to a higher peak (h-maxima by dynamics, so the
//! ridge of one elongated cell never splits it). The blob is flooded from the
//! peaks down, and where two seeded basins meet, one side of every 4-adjacent
//! pair is cleared: the cells become separate 4-connected components, as the
//! tracker labels them.
//!
//! Only blobs that can split are flooded. A basin starts at a pixel above all
//! its 8 neighbours in the flooding order (a peak), and since every mask pixel
//! lies at least one axial step inside, a basin whose peak is under `neck + 1`
//! steps high always joins the basin it meets; the flood never crosses from one
//! 8-connected blob to another. So a blob with fewer than two such high peaks
//! comes out whole, and only the others (a few percent of the blobs of a
//! crowded field) are sorted and flooded, one blob after the other, which keeps
//! the random access of the flood to one blob's pixels. One frame at a time;
//! the buffers are sized by the frame and reused. `split/tests.rs` checks the
//! result against a plain whole-frame watershed.

use crate::fov::runs::{Components, Connectivity, RunImage, find};

mod distance;
mod peaks;

/// Chamfer weights: an axial step, a diagonal step (≈ 3·√2).
const AXIAL: u32 = 3;
const DIAGONAL: u32 = 4;
/// A pixel not yet flooded.
const NONE: u32 = u32::MAX;
/// The 8 neighbours, as (dy, dx).
const NEIGHBOURS: [(isize, isize); 8] = [
    (-1, -1),
    (-1, 0),
    (-1, 1),
    (0, -1),
    (0, 1),
    (1, -1),
    (1, 0),
    (1, 1),
];

/// Splits touching cells in 0/1 masks of one size; reuses its buffers.
#[derive(Debug, Clone, Default)]
pub struct Splitter {
    dist: Vec<u32>,
    /// Union-find over flooded pixels; [`NONE`] everywhere between calls.
    parent: Vec<u32>,
    order: Vec<u32>,
    /// Per distance level, a count then a cursor into `order`; zero between blobs.
    level: Vec<u32>,
    /// The indices of the candidate blobs' runs, grouped by blob (raster order within).
    grouped: Vec<u32>,
    /// Per blob, the end of its runs in `grouped`.
    blob_end: Vec<u32>,
    runs: RunImage,
    comps: Components,
    /// High peaks per blob (counted up to 2).
    peaks: Vec<u8>,
}

impl Splitter {
    /// Cuts the 0/1 `mask` (`h × w`) between touching cells whose neck is at least
    /// `neck` pixels narrower (in distance to the edge) than both cells; `neck` ≤ 0
    /// leaves the mask as it is.
    ///
    /// # Panics
    /// If `mask` is shorter than `h × w`.
    pub fn split(&mut self, mask: &mut [u8], h: usize, w: usize, neck: f32) {
        let n = h * w;
        if neck <= 0.0 || n == 0 {
            return;
        }
        let mask = &mut mask[..n];
        let hh = (neck * AXIAL as f32).round().max(1.0) as u32;
        self.runs.encode(mask, h, w, true);
        let top = distance::distance(&mut self.dist, &self.runs, h, w);
        if top < hh + AXIAL || !self.candidates(h, w, hh + AXIAL) {
            return;
        }
        self.sort(w, top);
        if self.parent.len() != n {
            self.parent.clear();
            self.parent.resize(n, NONE);
        }
        self.flood(h, w, hh);
        let parent = &mut self.parent;
        let pixels = |k: &u32| {
            let r = self.runs.runs[*k as usize];
            let o = r.y as usize * w;
            o + r.x0 as usize..o + r.x1 as usize
        };
        for i in self.grouped.iter().flat_map(pixels) {
            parent[i] = find(parent, i as u32);
        }
        // Cut: of every 4-adjacent pair of pixels in different basins, clear one
        // (raster order within a blob, so each test sees the mask as flooded).
        // A neighbour off the mask is unflooded (NONE): a mask neighbour is in
        // the same blob, so flooded.
        let apart = |a: u32, b: u32| b != a && b != NONE;
        for &k in &self.grouped {
            let r = self.runs.runs[k as usize];
            let (y, o) = (r.y as usize, r.y as usize * w);
            let below = |i: usize| if y + 1 < h { parent[i + w] } else { NONE };
            for x in r.x0 as usize..r.x1 as usize {
                let (i, a) = (o + x, parent[o + x]);
                let right = if x + 1 < w { parent[i + 1] } else { NONE };
                if apart(a, right) | apart(a, below(i)) {
                    mask[i] = 0;
                }
            }
        }
        for k in &self.grouped {
            parent[pixels(k)].fill(NONE);
        }
    }

    /// Labels the 8-connected blobs of the mask and counts their peaks at least
    /// `low` high; true if any blob has two.
    fn candidates(&mut self, h: usize, w: usize, low: u32) -> bool {
        self.comps.label(&self.runs, Connectivity::Eight);
        self.peaks.clear();
        self.peaks.resize(self.comps.count, 0);
        let (d, labels) = (&self.dist, &self.comps.run_label);
        peaks::count(d, &self.runs, labels, &mut self.peaks, (h, w), low)
    }

    /// The pixels of the candidate blobs into `order`, blob by blob (so the
    /// flood works on one small area at a time), by falling distance within a
    /// blob and in raster order within a level. The flood never crosses from
    /// one blob to another, so this floods as one whole-frame order would.
    fn sort(&mut self, w: usize, top: u32) {
        let (labels, peaks) = (&self.comps.run_label, &self.peaks);
        let end = &mut self.blob_end;
        end.clear();
        end.resize(self.comps.count, 0);
        for &l in labels {
            if peaks[l as usize] >= 2 {
                end[l as usize] += 1;
            }
        }
        let mut at = 0;
        for e in end.iter_mut() {
            (at, *e) = (at + *e, at);
        }
        // `end` holds each blob's start; placing its runs moves it to the end.
        self.grouped.clear();
        self.grouped.resize(at as usize, 0);
        for (k, &l) in labels.iter().enumerate() {
            if peaks[l as usize] >= 2 {
                self.grouped[end[l as usize] as usize] = k as u32;
                end[l as usize] += 1;
            }
        }
        let (dist, level, order) = (&self.dist, &mut self.level, &mut self.order);
        level.clear();
        level.resize(top as usize + 1, 0);
        order.clear();
        let mut from = 0;
        for &to in end.iter() {
            let blob = &self.grouped[from as usize..to as usize];
            from = to;
            if blob.is_empty() {
                continue;
            }
            let pixels = || {
                blob.iter().flat_map(|&k| {
                    let r = self.runs.runs[k as usize];
                    let o = r.y as usize * w;
                    o + r.x0 as usize..o + r.x1 as usize
                })
            };
            let (mut lo, mut hi) = (u32::MAX, 0);
            for i in pixels() {
                let v = dist[i];
                level[v as usize] += 1;
                (lo, hi) = (lo.min(v), hi.max(v));
            }
            let mut at = order.len() as u32;
            for v in (lo..=hi).rev() {
                let c = level[v as usize];
                level[v as usize] = at;
                at += c;
            }
            order.resize(at as usize, 0);
            for i in pixels() {
                let s = &mut level[dist[i] as usize];
                order[*s as usize] = i as u32;
                *s += 1;
            }
            level[lo as usize..=hi as usize].fill(0);
        }
    }

    /// Floods the sorted pixels from the peaks down (8-neighbours); a basin whose
    /// peak is under `hh` above the level where it meets a higher one joins it.
    fn flood(&mut self, h: usize, w: usize, hh: u32) {
        let (dist, parent) = (&self.dist, &mut self.parent);
        // A basin's root is its first (highest) pixel: its peak is dist[root];
        // ties go to the lower index.
        let higher = |a: u32, b: u32| {
            (dist[a as usize], std::cmp::Reverse(a)) > (dist[b as usize], std::cmp::Reverse(b))
        };
        let step = [-(w as isize) - 1, -(w as isize), 1 - w as isize, -1, 1];
        let offset = |k: usize| if k < 5 { step[k] } else { -step[7 - k] };
        for &p in &self.order {
            let i = p as usize;
            let (y, x) = (i / w, i % w);
            let level = dist[i];
            // The flooded neighbours, bit k for NEIGHBOURS[k]: in the flooding
            // order, those before the pixel (found from the distances alone
            // inside the frame: a mask neighbour is in the same blob).
            let mut bits = 0u32;
            if y > 0 && x > 0 && y + 1 < h && x + 1 < w {
                for k in 0..8 {
                    let d = dist[(i as isize + offset(k)) as usize];
                    let before = if k < 4 { d >= level } else { d > level };
                    bits |= u32::from(before) << k;
                }
            } else {
                for (k, (dy, dx)) in NEIGHBOURS.into_iter().enumerate() {
                    let (yy, xx) = (y as isize + dy, x as isize + dx);
                    if yy >= 0 && xx >= 0 && yy < h as isize && xx < w as isize {
                        let q = yy as usize * w + xx as usize;
                        bits |= u32::from(parent[q] != NONE) << k;
                    }
                }
            }
            // The pixel joins the basin of its highest flooded neighbour (steepest
            // ascent), so a basin cannot creep round another's rim.
            let (mut root, mut up, mut best) = (NONE, NONE, 0);
            while bits != 0 {
                let k = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let q = (i as isize + offset(k)) as usize;
                let r = find(parent, q as u32);
                if up == NONE || dist[q] > best {
                    (up, best) = (q as u32, dist[q]);
                }
                if root == NONE {
                    root = r;
                } else if r != root {
                    let (hi, lo) = if higher(r, root) {
                        (r, root)
                    } else {
                        (root, r)
                    };
                    if dist[lo as usize] - level < hh {
                        parent[lo as usize] = hi;
                    }
                    root = hi;
                }
            }
            parent[i] = if up == NONE { p } else { find(parent, up) };
        }
    }
}

#[cfg(test)]
mod tests;
