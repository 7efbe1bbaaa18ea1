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
//! crowded field) are sorted and flooded, which keeps the random access of the
//! flood to their pixels. One frame at a time; the buffers are sized by the
//! frame and reused.

use crate::fov::runs::{Components, Connectivity, Run, RunImage, find};

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

/// Lowers each pixel of `row` to its chamfer distance through the three 8-neighbours
/// in the adjacent, finished row `near` (same width).
fn min_of_row(row: &mut [u32], near: &[u32]) {
    let w = row.len();
    if w == 1 {
        row[0] = row[0].min(near[0] + AXIAL);
        return;
    }
    row[0] = row[0].min(near[0] + AXIAL).min(near[1] + DIAGONAL);
    for (v, n) in row[1..w - 1].iter_mut().zip(near.windows(3)) {
        *v = (*v)
            .min(n[1] + AXIAL)
            .min(n[0] + DIAGONAL)
            .min(n[2] + DIAGONAL);
    }
    row[w - 1] = row[w - 1]
        .min(near[w - 1] + AXIAL)
        .min(near[w - 2] + DIAGONAL);
}

/// The runs of the blobs with two or more high peaks.
fn blob_runs<'a>(
    runs: &'a RunImage,
    comps: &'a Components,
    peaks: &'a [u8],
) -> impl Iterator<Item = Run> + 'a {
    runs.runs
        .iter()
        .zip(&comps.run_label)
        .filter(|(_, l)| peaks[**l as usize] >= 2)
        .map(|(r, _)| *r)
}

/// Splits touching cells in 0/1 masks of one size; reuses its buffers.
#[derive(Debug, Clone, Default)]
pub struct Splitter {
    dist: Vec<u32>,
    /// Union-find over flooded pixels; [`NONE`] everywhere between calls.
    parent: Vec<u32>,
    order: Vec<u32>,
    start: Vec<u32>,
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
        let top = self.distance(mask, h, w);
        if top < hh + AXIAL || !self.candidates(mask, h, w, hh + AXIAL) {
            return;
        }
        self.sort(w, top);
        if self.parent.len() != n {
            self.parent.clear();
            self.parent.resize(n, NONE);
        }
        self.flood(h, w, hh);
        let parent = &mut self.parent;
        for &p in &self.order {
            let r = find(parent, p);
            parent[p as usize] = r;
        }
        // Cut: of every 4-adjacent pair of pixels in different basins, clear one
        // (raster order, so each test sees the mask as flooded).
        for r in blob_runs(&self.runs, &self.comps, &self.peaks) {
            let (y, o) = (r.y as usize, r.y as usize * w);
            for i in o + r.x0 as usize..o + r.x1 as usize {
                let a = parent[i];
                let right = i + 1 < o + w && mask[i + 1] != 0 && parent[i + 1] != a;
                let down = y + 1 < h && mask[i + w] != 0 && parent[i + w] != a;
                if right || down {
                    mask[i] = 0;
                }
            }
        }
        for &p in &self.order {
            parent[p as usize] = NONE;
        }
    }

    /// Labels the 8-connected blobs of `mask` and counts their peaks at least
    /// `low` high (a pixel above each of its 8 neighbours in the flooding
    /// order: higher distance, or the same and an earlier raster index); true
    /// if any blob has two.
    fn candidates(&mut self, mask: &[u8], h: usize, w: usize, low: u32) -> bool {
        self.runs.encode(mask, h, w, true);
        self.comps.label(&self.runs, Connectivity::Eight);
        self.peaks.clear();
        self.peaks.resize(self.comps.count, 0);
        let d = &self.dist;
        let mut any = false;
        for (r, &l) in self.runs.runs.iter().zip(&self.comps.run_label) {
            let (y, o) = (r.y as usize, r.y as usize * w);
            for x in r.x0 as usize..r.x1 as usize {
                let (i, v) = (o + x, d[o + x]);
                if v < low {
                    continue;
                }
                let peak = NEIGHBOURS.iter().all(|&(dy, dx)| {
                    let (yy, xx) = (y as isize + dy, x as isize + dx);
                    if yy < 0 || xx < 0 || yy >= h as isize || xx >= w as isize {
                        return true;
                    }
                    let q = yy as usize * w + xx as usize;
                    d[q] < v || (d[q] == v && q > i)
                });
                if peak {
                    let c = &mut self.peaks[l as usize];
                    *c = (*c + 1).min(2);
                    any |= *c == 2;
                }
            }
        }
        any
    }

    /// Chamfer 3-4 distance of every mask pixel to the background (outside the
    /// frame counts as cell, so cells cut by the edge keep their peak); returns
    /// the largest value.
    fn distance(&mut self, mask: &[u8], h: usize, w: usize) -> u32 {
        let cap = AXIAL * (h + w) as u32;
        let d = &mut self.dist;
        d.clear();
        d.extend(mask.iter().map(|&m| if m == 0 { 0 } else { cap }));
        // Row by row against the finished row before (after): first the three
        // neighbours in that row (no dependency along the row), then the one
        // beside (a running minimum). Background stays 0, as min(0, _) is 0.
        for y in 0..h {
            let (done, rest) = d.split_at_mut(y * w);
            let row = &mut rest[..w];
            if y > 0 {
                min_of_row(row, &done[done.len() - w..]);
            }
            let mut left = row[0];
            for v in &mut row[1..] {
                left = (*v).min(left + AXIAL);
                *v = left;
            }
        }
        let mut top = 0;
        for y in (0..h).rev() {
            let (head, below) = d.split_at_mut((y + 1) * w);
            let row = &mut head[y * w..];
            if y + 1 < h {
                min_of_row(row, &below[..w]);
            }
            let mut right = row[w - 1];
            for v in row.iter_mut().rev() {
                right = (*v).min(right + AXIAL);
                *v = right;
                top = top.max(right);
            }
        }
        top
    }

    /// The pixels of the candidate blobs into `order` by falling distance
    /// (raster order within a level).
    fn sort(&mut self, w: usize, top: u32) {
        let mut start = std::mem::take(&mut self.start);
        let mut order = std::mem::take(&mut self.order);
        start.clear();
        start.resize(top as usize + 2, 0);
        for r in blob_runs(&self.runs, &self.comps, &self.peaks) {
            let o = r.y as usize * w;
            for &v in &self.dist[o + r.x0 as usize..o + r.x1 as usize] {
                start[(top - v) as usize + 1] += 1;
            }
        }
        for k in 1..start.len() {
            start[k] += start[k - 1];
        }
        order.clear();
        order.resize(start[start.len() - 1] as usize, 0);
        for r in blob_runs(&self.runs, &self.comps, &self.peaks) {
            let o = r.y as usize * w;
            for i in o + r.x0 as usize..o + r.x1 as usize {
                let s = &mut start[(top - self.dist[i]) as usize];
                order[*s as usize] = i as u32;
                *s += 1;
            }
        }
        (self.start, self.order) = (start, order);
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
        for &p in &self.order {
            let i = p as usize;
            let (y, x) = (i / w, i % w);
            let level = dist[i];
            // The pixel joins the basin of its highest flooded neighbour (steepest
            // ascent), so a basin cannot creep round another's rim.
            let (mut root, mut up, mut best) = (NONE, NONE, 0);
            for (dy, dx) in NEIGHBOURS {
                let (yy, xx) = (y as isize + dy, x as isize + dx);
                if yy < 0 || xx < 0 || yy >= h as isize || xx >= w as isize {
                    continue;
                }
                let q = yy as usize * w + xx as usize;
                if parent[q] == NONE {
                    continue;
                }
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
