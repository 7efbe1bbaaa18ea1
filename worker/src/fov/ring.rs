//! The measurement ring of [`super::extract::measure`]: every background pixel
//! within `measure_dilate` of a cell belongs to exactly one cell, the nearest
//! (ties: the first in the disk's raster order, i.e. the smallest `(dy, dx)`).
//!
//! The owners are found row by row in one raster pass, whatever the crowding:
//! each row of the window `y − d ..= y + d` holds, per pixel, the horizontally
//! nearest cell pixel of that row as a sortable key `(dx², dx)`; adding the row
//! offset `(dy², dy)` and taking the minimum over the window gives the key
//! `(dy² + dx², dy, dx)` of the nearest cell pixel of the disk. The minimum is a
//! plain element-wise loop that vectorises, so a crowded field costs what a
//! sparse one does.

use crate::fov::runs::runs_of;

/// A key `(dist², dy + d, dx + d)` packed in a signed integer, so the minimum of
/// keys is the nearest offset in disk order. Narrow keys (`i16`, for small
/// radii) put twice the pixels in a vector.
pub trait Key: Copy + Ord + std::ops::Add<Output = Self> + std::fmt::Debug + Default {
    /// Bits of the `dy + d` and `dx + d` fields.
    const FIELD: u32;
    /// The largest radius the key holds (`2d` fits `FIELD` bits, `2d²` the rest).
    const MAX_RADIUS: usize;
    /// A row pixel with no cell pixel within the radius: above any valid key,
    /// with room to add a row offset without overflow.
    const NONE: Self;
    /// The key of `v` (which fits).
    fn of(v: i32) -> Self;
    /// The key's value.
    fn get(self) -> i32;
}

impl Key for i16 {
    const FIELD: u32 = 4;
    const MAX_RADIUS: usize = 7;
    const NONE: i16 = 1 << 14;
    fn of(v: i32) -> i16 {
        v as i16
    }
    fn get(self) -> i32 {
        i32::from(self)
    }
}

impl Key for i32 {
    const FIELD: u32 = 8;
    const MAX_RADIUS: usize = 127;
    const NONE: i32 = 1 << 30;
    fn of(v: i32) -> i32 {
        v
    }
    fn get(self) -> i32 {
        self
    }
}

/// The largest ring radius any key holds.
pub const MAX_RADIUS: usize = <i32 as Key>::MAX_RADIUS;

/// Reusable rows of the nearest-cell search for one frame.
#[derive(Debug, Clone, Default)]
pub struct Ring<K> {
    /// The radius `d`.
    d: usize,
    /// The frame's width.
    w: usize,
    /// `2d + 1` rows of horizontal keys; row `r` lives at `r % (2d + 1)`.
    near: Vec<K>,
    /// The same rows' cell runs `(label, x0, x1)`.
    runs: Vec<Vec<(u32, usize, usize)>>,
    /// Per row of the window of [`Ring::owners`]: where it starts in `near`
    /// and what its offset adds to the keys.
    window: Vec<(usize, K)>,
    /// The window's minimum key per pixel of the current row.
    key: Vec<K>,
}

/// The key of a cell pixel `dx` columns away in the same row.
fn horizontal<K: Key>(dx: isize, d: usize) -> K {
    K::of((((dx * dx) as i32) << (2 * K::FIELD)) | (dx + d as isize) as i32)
}

/// What a row `dy` rows away adds to its horizontal keys.
fn vertical<K: Key>(dy: isize, d: usize) -> K {
    K::of((((dy * dy) as i32) << (2 * K::FIELD)) | (((dy + d as isize) as i32) << K::FIELD))
}

impl<K: Key> Ring<K> {
    /// Prepares the search of radius `d` (at most `K::MAX_RADIUS`) in a frame of
    /// width `w`. Call before the first [`Ring::push_row`] of each frame.
    pub fn start(&mut self, d: usize, w: usize) {
        debug_assert!(d <= K::MAX_RADIUS);
        self.d = d;
        self.w = w;
        self.near.clear();
        self.near.resize((2 * d + 1) * w, K::NONE);
        self.runs.resize_with(2 * d + 1, Vec::new);
    }

    /// Records row `r` of the labels, `row`; rows must come in order, row `r`
    /// before the [`Ring::owners`] of the rows within `d` of it.
    pub fn push_row(&mut self, r: usize, row: &[u32]) {
        let (d, w) = (self.d, self.w);
        let slot = r % (2 * d + 1);
        let near = &mut self.near[slot * w..][..w];
        let runs = &mut self.runs[slot];
        near.fill(K::NONE);
        runs.clear();
        runs_of(row, |l, x0, x1| {
            runs.push((l, x0, x1));
            near[x0..x1].fill(horizontal(0, d));
            for k in 1..=d.min(x0) {
                let n = &mut near[x0 - k];
                *n = (*n).min(horizontal(k as isize, d));
            }
            for k in 1..=d.min(w - x1) {
                let n = &mut near[x1 - 1 + k];
                *n = (*n).min(horizontal(-(k as isize), d));
            }
        });
    }

    /// The runs `(label, x0, x1)` of row `r`, pushed and still in the window.
    pub fn runs(&self, r: usize) -> &[(u32, usize, usize)] {
        &self.runs[r % (2 * self.d + 1)]
    }

    /// The owner of each pixel of row `y` of `labels` (`h` rows): its own label
    /// for a cell pixel, the label of the nearest cell pixel within `d` for a
    /// background one, 0 for none.
    pub fn owners(&mut self, labels: &[u32], h: usize, y: usize, owner: &mut [u32]) {
        let (d, w) = (self.d, self.w);
        let span = 2 * d + 1;
        self.window.clear();
        for r in y.saturating_sub(d)..(y + d + 1).min(h) {
            let dy = r as isize - y as isize;
            self.window.push((r % span * w, vertical::<K>(dy, d)));
        }
        let limit = K::of(((d * d) as i32 + 1) << (2 * K::FIELD));
        let row = &labels[y * w..][..w];
        let field = (1 << K::FIELD) - 1;
        let decode = |x: usize, l: u32, k: K| {
            if l != 0 {
                l
            } else if k < limit {
                // Within the frame: the key came from a cell pixel of a row of it.
                let k = k.get();
                let dy = ((k >> K::FIELD) & field) as usize;
                let dx = (k & field) as usize;
                labels[(y + dy - d) * w + x + dx - d]
            } else {
                0
            }
        };
        self.key.clear();
        self.key.resize(w, K::NONE);
        for &(at, offset) in &self.window {
            for (k, &n) in self.key.iter_mut().zip(&self.near[at..at + w]) {
                *k = (*k).min(n + offset);
            }
        }
        // Eight pixels at a time: most blocks are all background out of reach,
        // or all cell.
        let (o, l, k) = (
            owner.chunks_exact_mut(BLOCK),
            row.chunks_exact(BLOCK),
            self.key.chunks_exact(BLOCK),
        );
        let tail = w - l.remainder().len();
        for (b, ((o, l), k)) in o.zip(l).zip(k).enumerate() {
            let (Ok(o), Ok(l), Ok(k)) = (
                <&mut [u32; BLOCK]>::try_from(o),
                <&[u32; BLOCK]>::try_from(l),
                <&[K; BLOCK]>::try_from(k),
            ) else {
                continue;
            };
            let far = k.iter().fold(true, |a, &k| a & (k >= limit));
            if far && l.iter().fold(0, |a, &l| a | l) == 0 {
                *o = [0; BLOCK];
            } else if l.iter().fold(true, |a, &l| a & (l != 0)) {
                *o = *l;
            } else {
                for (i, ((o, &l), &k)) in o.iter_mut().zip(l).zip(k).enumerate() {
                    *o = decode(b * BLOCK + i, l, k);
                }
            }
        }
        for x in tail..w {
            owner[x] = decode(x, row[x], self.key[x]);
        }
    }
}

/// Pixels per block of [`Ring::owners`].
const BLOCK: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    /// The owner of `(y, x)` by brute force over the disk in its stated order.
    fn nearest(labels: &[u32], (h, w): (usize, usize), d: usize, y: usize, x: usize) -> u32 {
        let r = d as isize;
        let mut best = None;
        for dy in -r..=r {
            for dx in -r..=r {
                let (yy, xx) = (y as isize + dy, x as isize + dx);
                let inside = (0..h as isize).contains(&yy) && (0..w as isize).contains(&xx);
                if inside && dy * dy + dx * dx <= r * r {
                    let l = labels[yy as usize * w + xx as usize];
                    let key = (dy * dy + dx * dx, dy, dx);
                    if l != 0 && best.is_none_or(|(k, _)| key < k) {
                        best = Some((key, l));
                    }
                }
            }
        }
        best.map_or(0, |(_, l)| l)
    }

    #[test]
    fn owners_match_the_nearest_cell_in_disk_order() {
        check::<i16>(&[0, 1, 2, 3, 5, 7]);
        check::<i32>(&[0, 3, 8, 12]);
    }

    /// Every pixel's owner against [`nearest`], for each radius of `ds`, in a
    /// frame whose width is not a multiple of the block.
    fn check<K: Key>(ds: &[usize]) {
        let (h, w) = (23, 31);
        // A scatter of labels from a fixed linear congruential sequence.
        let mut s = 7u32;
        let labels: Vec<u32> = (0..h * w)
            .map(|_| {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                if (s >> 16).is_multiple_of(9) {
                    (s >> 8) % 5 + 1
                } else {
                    0
                }
            })
            .collect();
        let mut ring = Ring::<K>::default();
        let mut owner = vec![0u32; w];
        for &d in ds {
            ring.start(d, w);
            let runs = |r: usize| &labels[r * w..][..w];
            for r in 0..d.min(h) {
                ring.push_row(r, runs(r));
            }
            for y in 0..h {
                if y + d < h {
                    ring.push_row(y + d, runs(y + d));
                }
                ring.owners(&labels, h, y, &mut owner);
                for (x, &o) in owner.iter().enumerate() {
                    let want = match labels[y * w + x] {
                        0 => nearest(&labels, (h, w), d, y, x),
                        l => l,
                    };
                    assert_eq!(o, want, "d {d} at ({y}, {x})");
                }
            }
        }
    }
}
