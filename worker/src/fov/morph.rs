//! Binary morphology with disk-shaped structuring elements, on bit-packed rows.
//!
//! A disk of radius `r` holds the offsets `dy² + dx² ≤ r²`. Masks are packed 64
//! pixels to a word; a dilation ORs, for each `dy`, the row `y + dy` dilated
//! horizontally by the disk's half width there (shift-ORs with doubling steps, so
//! O(log r) word passes). Cost: O(pixels / 64 · r · log r) plus packing, i.e. well
//! under a millisecond for a 1024² frame at small radii. Erosion is the complement
//! of the dilation of the complement.
//!
//! Frame border: dilation treats the outside as background, erosion as foreground,
//! so objects touching the edge are not shaved by an opening (a closing may join an
//! object to the edge when it comes within `r` of it).
//! Hole filling, small-object removal and connected components live in
//! [`runs`](crate::fov::runs) and are re-exported here.

pub use crate::fov::runs::{Connectivity, RunScratch, fill_holes, label_components, remove_small};

/// Reusable buffers for morphology.
#[derive(Debug, Clone, Default)]
pub struct Morph {
    a: Vec<u64>,
    b: Vec<u64>,
    hrow: Vec<u64>,
    tmp: Vec<u64>,
}

/// Words per packed row.
fn wpr(w: usize) -> usize {
    w.div_ceil(64)
}

/// Valid-bit mask of a row's last word.
fn tail(w: usize) -> u64 {
    match w % 64 {
        0 => u64::MAX,
        r => (1u64 << r) - 1,
    }
}

/// Bit `i` of the result is set iff byte `i` of `x` (little-endian) is nonzero.
fn gather8(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let nz = (((x & LOW7) + LOW7) | x) & HIGH;
    ((nz >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// Byte `i` of the result is bit `i` of `b` (0 or 1).
fn spread8(b: u64) -> u64 {
    let y = (b & 0xff).wrapping_mul(0x0101_0101_0101_0101) & 0x8040_2010_0804_0201;
    ((y + 0x7f7f_7f7f_7f7f_7f7f) >> 7) & 0x0101_0101_0101_0101
}

/// Packs `src` (nonzero = set), optionally inverted, into `dst`; padding bits stay 0.
fn pack(src: &[u8], h: usize, w: usize, invert: bool, dst: &mut Vec<u64>) {
    let n = wpr(w);
    dst.clear();
    dst.resize(h * n, 0);
    let flip = if invert { u64::MAX } else { 0 };
    for (row, out) in src.chunks_exact(w).zip(dst.chunks_exact_mut(n)).take(h) {
        for (chunk, o) in row.chunks(64).zip(out.iter_mut()) {
            let mut v = 0u64;
            let mut bytes = chunk.chunks_exact(8);
            for (k, b) in bytes.by_ref().enumerate() {
                let x = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                v |= gather8(x) << (8 * k);
            }
            let done = chunk.len() / 8 * 8;
            for (i, &b) in bytes.remainder().iter().enumerate() {
                v |= u64::from(b != 0) << (done + i);
            }
            *o = v ^ flip;
        }
        out[n - 1] &= tail(w);
    }
}

/// Unpacks bits into 0/1 bytes, optionally inverted.
fn unpack(src: &[u64], h: usize, w: usize, invert: bool, dst: &mut [u8]) {
    let n = wpr(w);
    let flip = if invert { u64::MAX } else { 0 };
    for (row, words) in dst.chunks_exact_mut(w).zip(src.chunks_exact(n)).take(h) {
        for (chunk, &v) in row.chunks_mut(64).zip(words) {
            let v = v ^ flip;
            let done = chunk.len() / 8 * 8;
            let mut bytes = chunk.chunks_exact_mut(8);
            for (k, b) in bytes.by_ref().enumerate() {
                b.copy_from_slice(&spread8(v >> (8 * k)).to_le_bytes());
            }
            for (i, o) in bytes.into_remainder().iter_mut().enumerate() {
                *o = ((v >> (done + i)) & 1) as u8;
            }
        }
    }
}

/// Inverts packed bits, keeping padding bits 0.
fn invert(bits: &mut [u64], w: usize) {
    let n = wpr(w);
    for row in bits.chunks_exact_mut(n) {
        for v in row.iter_mut() {
            *v = !*v;
        }
        row[n - 1] &= tail(w);
    }
}

/// ORs into `out` the bits of `src` moved by `s` pixels toward larger x (`up`) or
/// toward smaller x.
fn or_shifted(src: &[u64], s: usize, up: bool, out: &mut [u64]) {
    let n = src.len();
    let (q, r) = (s / 64, (s % 64) as u32);
    if q >= n {
        return;
    }
    if up {
        for j in q..n {
            let lo = if r > 0 && j > q {
                src[j - q - 1] >> (64 - r)
            } else {
                0
            };
            out[j] |= (src[j - q] << r) | lo;
        }
    } else {
        for j in 0..n - q {
            let hi = if r > 0 && j + q + 1 < n {
                src[j + q + 1] << (64 - r)
            } else {
                0
            };
            out[j] |= (src[j + q] >> r) | hi;
        }
    }
}

/// Dilates one packed row horizontally by `k` pixels in place (doubling steps).
fn hdilate(row: &mut [u64], k: usize, w: usize, tmp: &mut Vec<u64>) {
    let mut c = 0;
    while c < k {
        let s = (c + 1).min(k - c);
        tmp.clear();
        tmp.extend_from_slice(row);
        or_shifted(tmp, s, true, row);
        or_shifted(tmp, s, false, row);
        if let Some(last) = row.last_mut() {
            *last &= tail(w);
        }
        c += s;
    }
}

impl Morph {
    /// Disk dilation of packed `src` into packed `dst`: for each distinct half width
    /// `k` of the disk, the whole frame is dilated horizontally by `k` once and ORed
    /// into the rows `y ± dy` whose half width is `k`.
    #[allow(clippy::too_many_arguments)]
    fn dilate_bits(
        src: &[u64],
        dst: &mut Vec<u64>,
        h: usize,
        w: usize,
        r: usize,
        hrow: &mut Vec<u64>,
        tmp: &mut Vec<u64>,
    ) {
        let n = wpr(w);
        dst.clear();
        dst.resize(h * n, 0);
        let half: Vec<usize> = (0..=r)
            .map(|dy| ((r * r - dy * dy) as f64).sqrt().floor() as usize)
            .collect();
        let mut dy = 0;
        while dy <= r {
            let k = half[dy];
            // Offsets dy..=dy_end share half width k.
            let mut dy_end = dy;
            while dy_end < r && half[dy_end + 1] == k {
                dy_end += 1;
            }
            hrow.clear();
            hrow.extend_from_slice(&src[..h * n]);
            for row in hrow.chunks_exact_mut(n) {
                hdilate(row, k, w, tmp);
            }
            for d in dy..=dy_end {
                if d >= h {
                    break;
                }
                // dst[y] |= H[y + d] and dst[y + d] |= H[y].
                for (o, v) in dst[..(h - d) * n].iter_mut().zip(&hrow[d * n..]) {
                    *o |= v;
                }
                if d > 0 {
                    for (o, v) in dst[d * n..].iter_mut().zip(&hrow[..(h - d) * n]) {
                        *o |= v;
                    }
                }
            }
            dy = dy_end + 1;
        }
    }

    /// Dilates `src` into `dst` (`h × w`, values 0/1) by a disk of radius `r`.
    pub fn dilate(&mut self, src: &[u8], dst: &mut [u8], h: usize, w: usize, r: usize) {
        if r == 0 || h == 0 || w == 0 {
            dst[..h * w].copy_from_slice(&src[..h * w]);
            return;
        }
        pack(src, h, w, false, &mut self.a);
        Self::dilate_bits(&self.a, &mut self.b, h, w, r, &mut self.hrow, &mut self.tmp);
        unpack(&self.b, h, w, false, dst);
    }

    /// Erodes `src` into `dst` by a disk of radius `r` (outside the frame counts as foreground).
    pub fn erode(&mut self, src: &[u8], dst: &mut [u8], h: usize, w: usize, r: usize) {
        if r == 0 || h == 0 || w == 0 {
            dst[..h * w].copy_from_slice(&src[..h * w]);
            return;
        }
        pack(src, h, w, true, &mut self.a);
        Self::dilate_bits(&self.a, &mut self.b, h, w, r, &mut self.hrow, &mut self.tmp);
        unpack(&self.b, h, w, true, dst);
    }

    /// Opening (erosion then dilation) of `mask` in place.
    pub fn open(&mut self, mask: &mut [u8], h: usize, w: usize, r: usize) {
        if r == 0 || h == 0 || w == 0 {
            return;
        }
        pack(mask, h, w, true, &mut self.a);
        Self::dilate_bits(&self.a, &mut self.b, h, w, r, &mut self.hrow, &mut self.tmp);
        invert(&mut self.b, w);
        Self::dilate_bits(&self.b, &mut self.a, h, w, r, &mut self.hrow, &mut self.tmp);
        unpack(&self.a, h, w, false, mask);
    }

    /// Closing (dilation then erosion) of `mask` in place.
    pub fn close(&mut self, mask: &mut [u8], h: usize, w: usize, r: usize) {
        if r == 0 || h == 0 || w == 0 {
            return;
        }
        pack(mask, h, w, false, &mut self.a);
        Self::dilate_bits(&self.a, &mut self.b, h, w, r, &mut self.hrow, &mut self.tmp);
        invert(&mut self.b, w);
        Self::dilate_bits(&self.b, &mut self.a, h, w, r, &mut self.hrow, &mut self.tmp);
        unpack(&self.a, h, w, true, mask);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fov::runs::parse_mask as parse;

    #[test]
    fn dilate_point_gives_disk() {
        let (m, h, w) = parse(&[".....", ".....", "..#..", ".....", "....."]);
        let mut out = vec![0; h * w];
        let mut mo = Morph::default();
        mo.dilate(&m, &mut out, h, w, 1);
        assert_eq!(out, parse(&[".....", "..#..", ".###.", "..#..", "....."]).0);
        mo.dilate(&m, &mut out, h, w, 2);
        assert_eq!(out, parse(&["..#..", ".###.", "#####", ".###.", "..#.."]).0);
    }

    #[test]
    fn erode_keeps_edge_objects() {
        let (m, h, w) = parse(&["###..", "###..", "###..", "....."]);
        let mut out = vec![0; h * w];
        let mut mo = Morph::default();
        mo.erode(&m, &mut out, h, w, 1);
        assert_eq!(out, parse(&["##...", "##...", ".....", "....."]).0);
    }

    #[test]
    fn open_removes_spur_close_fills_gap() {
        let (mut m, h, w) = parse(&["......", ".###..", ".####.", ".###..", "......"]);
        let mut mo = Morph::default();
        mo.open(&mut m, h, w, 1);
        assert_eq!(
            m,
            parse(&["......", "..##..", ".####.", "..##..", "......"]).0
        );
        let (mut m, h, w) = parse(&[
            ".........",
            "..##.##..",
            "..##.##..",
            "..##.##..",
            ".........",
        ]);
        mo.close(&mut m, h, w, 1);
        let want = parse(&[
            ".........",
            "..##.##..",
            "..#####..",
            "..##.##..",
            ".........",
        ])
        .0;
        assert_eq!(m, want);
    }

    #[test]
    fn matches_brute_force_disk() {
        let mut seed = 99u64;
        for (h, w, r) in [
            (9, 70, 1),
            (13, 130, 3),
            (6, 64, 2),
            (20, 150, 70),
            (5, 3, 4),
        ] {
            let m: Vec<u8> = (0..h * w)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    u8::from((seed >> 60) < 3)
                })
                .collect();
            let mut mo = Morph::default();
            let (mut d, mut e) = (vec![0; h * w], vec![0; h * w]);
            mo.dilate(&m, &mut d, h, w, r);
            mo.erode(&m, &mut e, h, w, r);
            for y in 0..h as i64 {
                for x in 0..w as i64 {
                    let (mut any, mut all) = (false, true);
                    let r = r as i64;
                    for dy in -r..=r {
                        for dx in -r..=r {
                            let (yy, xx) = (y + dy, x + dx);
                            if dy * dy + dx * dx > r * r
                                || yy < 0
                                || xx < 0
                                || yy >= h as i64
                                || xx >= w as i64
                            {
                                continue;
                            }
                            let v = m[(yy * w as i64 + xx) as usize] == 1;
                            any |= v;
                            all &= v;
                        }
                    }
                    let i = (y * w as i64 + x) as usize;
                    assert_eq!(
                        (d[i] == 1, e[i] == 1),
                        (any, all),
                        "{h}x{w} r{r} at {y},{x}"
                    );
                }
            }
        }
    }

    #[test]
    fn bit_tricks() {
        for x in [
            0u64,
            1,
            0xff,
            0x0100_0000_0000_0080,
            0xffff_ffff_ffff_ffff,
            0x0001_0200_0300_0400,
        ] {
            let want = (0..8)
                .filter(|i| (x >> (8 * i)) & 0xff != 0)
                .fold(0, |a, i| a | 1 << i);
            assert_eq!(gather8(x), want, "{x:x}");
        }
        for b in 0..256u64 {
            assert_eq!(gather8(spread8(b)), b);
        }
    }

    #[test]
    fn one_pixel_frames() {
        let mut mo = Morph::default();
        let mut m = vec![1u8];
        mo.open(&mut m, 1, 1, 3);
        assert_eq!(m, vec![1]);
        mo.close(&mut m, 1, 1, 3);
        assert_eq!(m, vec![1]);
        let mut out = vec![0u8];
        mo.erode(&[0], &mut out, 1, 1, 2);
        assert_eq!(out, vec![0]);
    }
}
