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
//! tracker labels them. One frame at a time; the buffers are sized by the frame.

use crate::fov::runs::find;

/// Chamfer weights: an axial step, a diagonal step (≈ 3·√2).
const AXIAL: u32 = 3;
const DIAGONAL: u32 = 4;
/// A pixel not yet flooded.
const NONE: u32 = u32::MAX;

/// Splits touching cells in 0/1 masks of one size; reuses its buffers.
#[derive(Debug, Clone, Default)]
pub struct Splitter {
    dist: Vec<u32>,
    parent: Vec<u32>,
    order: Vec<u32>,
    start: Vec<u32>,
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
        self.sort(mask, top);
        self.flood(h, w, hh);
        // Cut: of every 4-adjacent pair of pixels in different basins, clear one.
        let parent = &mut self.parent;
        for &p in &self.order {
            let r = find(parent, p);
            parent[p as usize] = r;
        }
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                if mask[i] == 0 {
                    continue;
                }
                let a = parent[i];
                let right = x + 1 < w && mask[i + 1] != 0 && parent[i + 1] != a;
                let down = y + 1 < h && mask[i + w] != 0 && parent[i + w] != a;
                if right || down {
                    mask[i] = 0;
                }
            }
        }
    }

    /// Chamfer 3-4 distance of every mask pixel to the background (outside the
    /// frame counts as cell, so cells cut by the edge keep their peak); returns
    /// the largest value.
    fn distance(&mut self, mask: &[u8], h: usize, w: usize) -> u32 {
        let n = h * w;
        let cap = AXIAL * (h + w) as u32;
        let d = &mut self.dist;
        d.clear();
        d.extend(mask.iter().map(|&m| if m == 0 { 0 } else { cap }));
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                if d[i] == 0 {
                    continue;
                }
                let mut v = d[i];
                if x > 0 {
                    v = v.min(d[i - 1] + AXIAL);
                }
                if y > 0 {
                    v = v.min(d[i - w] + AXIAL);
                    if x > 0 {
                        v = v.min(d[i - w - 1] + DIAGONAL);
                    }
                    if x + 1 < w {
                        v = v.min(d[i - w + 1] + DIAGONAL);
                    }
                }
                d[i] = v;
            }
        }
        let mut top = 0;
        for i in (0..n).rev() {
            if d[i] == 0 {
                continue;
            }
            let (y, x) = (i / w, i % w);
            let mut v = d[i];
            if x + 1 < w {
                v = v.min(d[i + 1] + AXIAL);
            }
            if y + 1 < h {
                v = v.min(d[i + w] + AXIAL);
                if x + 1 < w {
                    v = v.min(d[i + w + 1] + DIAGONAL);
                }
                if x > 0 {
                    v = v.min(d[i + w - 1] + DIAGONAL);
                }
            }
            d[i] = v;
            top = top.max(v);
        }
        top
    }

    /// Mask pixels into `order` by falling distance (raster order within a level).
    fn sort(&mut self, mask: &[u8], top: u32) {
        let start = &mut self.start;
        start.clear();
        start.resize(top as usize + 2, 0);
        for (&v, &m) in self.dist.iter().zip(mask) {
            if m != 0 {
                start[(top - v) as usize + 1] += 1;
            }
        }
        for k in 1..start.len() {
            start[k] += start[k - 1];
        }
        let total = start[start.len() - 1] as usize;
        self.order.clear();
        self.order.resize(total, 0);
        for (i, (&v, &m)) in self.dist.iter().zip(mask).enumerate() {
            if m != 0 {
                let s = &mut start[(top - v) as usize];
                self.order[*s as usize] = i as u32;
                *s += 1;
            }
        }
    }

    /// Floods the sorted pixels from the peaks down (8-neighbours); a basin whose
    /// peak is under `hh` above the level where it meets a higher one joins it.
    fn flood(&mut self, h: usize, w: usize, hh: u32) {
        let (dist, parent) = (&self.dist, &mut self.parent);
        parent.clear();
        parent.resize(h * w, NONE);
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
            for (dy, dx) in [
                (-1, -1),
                (-1, 0),
                (-1, 1),
                (0, -1),
                (0, 1),
                (1, -1),
                (1, 0),
                (1, 1),
            ] {
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
mod tests {
    use super::*;
    use crate::fov::runs::{Connectivity, RunScratch, label_components, parse_mask};

    fn count(mask: &[u8], h: usize, w: usize) -> usize {
        let mut labels = vec![0; h * w];
        label_components(
            mask,
            h,
            w,
            Connectivity::Four,
            &mut labels,
            &mut RunScratch::default(),
        )
    }

    /// Two disks of radius `r` whose centres are `d` apart.
    fn pair(r: f64, d: f64) -> (Vec<u8>, usize, usize) {
        let (h, w) = (2 * r as usize + 8, (2.0 * r + d) as usize + 8);
        let mut m = vec![0u8; h * w];
        let cy = h as f64 / 2.0;
        for y in 0..h {
            for x in 0..w {
                for cx in [4.0 + r, 4.0 + r + d] {
                    if (y as f64 + 0.5 - cy).hypot(x as f64 + 0.5 - cx) <= r {
                        m[y * w + x] = 1;
                    }
                }
            }
        }
        (m, h, w)
    }

    #[test]
    fn splits_touching_disks_and_keeps_most_pixels() {
        let (mut m, h, w) = pair(8.0, 14.0);
        let before = m.iter().filter(|v| **v == 1).count();
        assert_eq!(count(&m, h, w), 1);
        Splitter::default().split(&mut m, h, w, 2.0);
        assert_eq!(count(&m, h, w), 2);
        let after = m.iter().filter(|v| **v == 1).count();
        assert!(
            after + 2 * h >= before && after < before,
            "{before} → {after}"
        );
    }

    #[test]
    fn keeps_single_cells_and_wide_necks() {
        let rows = [
            "..........................",
            ".########################.",
            ".########################.",
            ".########################.",
            ".########################.",
            ".########################.",
            ".########################.",
            "..........................",
        ];
        let (mut m, h, w) = parse_mask(&rows);
        let before = m.clone();
        Splitter::default().split(&mut m, h, w, 2.0);
        assert_eq!(m, before, "a rod is one cell");
        // Heavily overlapping disks: the neck is barely narrower than the cells.
        let (mut m, h, w) = pair(8.0, 5.0);
        Splitter::default().split(&mut m, h, w, 2.0);
        assert_eq!(count(&m, h, w), 1);
    }

    #[test]
    fn off_empty_full_and_tiny_masks_are_left_alone() {
        let (mut m, h, w) = pair(8.0, 14.0);
        let before = m.clone();
        Splitter::default().split(&mut m, h, w, 0.0);
        assert_eq!(m, before);
        let mut s = Splitter::default();
        for (h, w) in [(0, 0), (1, 1), (1, 5), (5, 1), (9, 9)] {
            for v in [0u8, 1] {
                let mut m = vec![v; h * w];
                s.split(&mut m, h, w, 2.0);
                assert!(m.iter().all(|x| *x == v));
            }
        }
    }
}
