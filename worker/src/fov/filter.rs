//! Local variance by running box sums, and the histogram-mode threshold on log std.

/// Computes local variances over square windows with separable running sums:
/// O(pixels) whatever the radius, with a ring buffer of `2r + 2` rows.
#[derive(Debug, Clone, Default)]
pub struct LocalStd {
    ring_s: Vec<f32>,
    ring_s2: Vec<f32>,
    acc_s: Vec<f64>,
    acc_s2: Vec<f64>,
    prefix: Vec<f64>,
    prefix2: Vec<f64>,
    inv_nx: Vec<f64>,
    sample: Vec<f32>,
    centred: Vec<f32>,
    squared: Vec<f32>,
    col_s: Vec<f32>,
    col_s2: Vec<f32>,
    inv_nx32: Vec<f32>,
}

/// Result of [`LocalStd::threshold`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextureThreshold {
    /// Variance above which a pixel counts as textured.
    pub var: f32,
    /// The modal local standard deviation: the background noise level.
    pub noise: f32,
}

impl LocalStd {
    /// Horizontal window sums of row `y` (values minus `off`) into ring slot `slot`.
    /// Small radii use direct taps (vectorised, no running error), larger ones f64
    /// prefix sums.
    fn row_sums(&mut self, img: &[f32], y: usize, w: usize, r: usize, off: f32, slot: usize) {
        let row = &img[y * w..(y + 1) * w];
        let out = &mut self.ring_s[slot * w..(slot + 1) * w];
        let out2 = &mut self.ring_s2[slot * w..(slot + 1) * w];
        if r <= 4 && w > 2 * r {
            let d = &mut self.centred;
            let d2 = &mut self.squared;
            d.clear();
            d.extend(row.iter().map(|&v| v - off));
            d2.clear();
            d2.extend(d.iter().map(|&v| v * v));
            let inner = w - 2 * r;
            out[r..w - r].copy_from_slice(&d[..inner]);
            out2[r..w - r].copy_from_slice(&d2[..inner]);
            for k in 1..=2 * r {
                for ((o, o2), (&a, &a2)) in out[r..w - r]
                    .iter_mut()
                    .zip(out2[r..w - r].iter_mut())
                    .zip(d[k..k + inner].iter().zip(&d2[k..k + inner]))
                {
                    *o += a;
                    *o2 += a2;
                }
            }
            // Clipped windows at both ends.
            for x in (0..r).chain(w - r..w) {
                let (lo, hi) = (x.saturating_sub(r), (x + r + 1).min(w));
                out[x] = d[lo..hi].iter().sum();
                out2[x] = d2[lo..hi].iter().sum();
            }
            return;
        }
        self.prefix[0] = 0.0;
        self.prefix2[0] = 0.0;
        let (mut s, mut s2) = (0.0f64, 0.0f64);
        for (x, &v) in row.iter().enumerate() {
            let d = f64::from(v - off);
            s += d;
            s2 += d * d;
            self.prefix[x + 1] = s;
            self.prefix2[x + 1] = s2;
        }
        for x in 0..w {
            let lo = x.saturating_sub(r);
            let hi = (x + r + 1).min(w);
            out[x] = (self.prefix[hi] - self.prefix[lo]) as f32;
            out2[x] = (self.prefix2[hi] - self.prefix2[lo]) as f32;
        }
    }

    fn accumulate(&mut self, w: usize, slot: usize, sign: f64) {
        let s = &self.ring_s[slot * w..(slot + 1) * w];
        let s2 = &self.ring_s2[slot * w..(slot + 1) * w];
        for (((a, a2), &v), &v2) in self
            .acc_s
            .iter_mut()
            .zip(self.acc_s2.iter_mut())
            .zip(s)
            .zip(s2)
        {
            *a += sign * v as f64;
            *a2 += sign * v2 as f64;
        }
    }

    /// Writes into `var` the variance of each pixel's `(2r+1)²` window, clipped at the
    /// frame edge (edge pixels use the part of the window inside the frame).
    pub fn variance(&mut self, img: &[f32], h: usize, w: usize, r: usize, var: &mut [f32]) {
        if h == 0 || w == 0 {
            return;
        }
        let slots = 2 * r + 2;
        self.ring_s.resize(slots * w, 0.0);
        self.ring_s2.resize(slots * w, 0.0);
        self.prefix.resize(w + 1, 0.0);
        self.prefix2.resize(w + 1, 0.0);
        self.acc_s.clear();
        self.acc_s.resize(w, 0.0);
        self.acc_s2.clear();
        self.acc_s2.resize(w, 0.0);
        self.inv_nx.clear();
        self.inv_nx
            .extend((0..w).map(|x| 1.0 / ((x + r + 1).min(w) - x.saturating_sub(r)) as f64));
        // Subtracting a typical value keeps the f32 row sums of squares precise.
        let step = (h * w / 4096).max(1);
        let (sum, count) = img[..h * w]
            .iter()
            .step_by(step)
            .fold((0f64, 0usize), |(s, c), &v| (s + f64::from(v), c + 1));
        let off = (sum / count.max(1) as f64) as f32;
        for yy in 0..=r.min(h - 1) {
            self.row_sums(img, yy, w, r, off, yy % slots);
            self.accumulate(w, yy % slots, 1.0);
        }
        if r <= 4 {
            self.direct_rows(img, h, w, r, off, var);
            return;
        }
        for y in 0..h {
            if y > 0 {
                if y + r < h {
                    self.row_sums(img, y + r, w, r, off, (y + r) % slots);
                    self.accumulate(w, (y + r) % slots, 1.0);
                }
                if y > r {
                    self.accumulate(w, (y - r - 1) % slots, -1.0);
                }
            }
            let ny = ((y + r).min(h - 1) - y.saturating_sub(r) + 1) as f64;
            let inv_ny = 1.0 / ny;
            let out = &mut var[y * w..(y + 1) * w];
            for (((o, &a), &a2), &ix) in out
                .iter_mut()
                .zip(&self.acc_s)
                .zip(&self.acc_s2)
                .zip(&self.inv_nx)
            {
                let inv = ix * inv_ny;
                let m = a * inv;
                *o = (a2 * inv - m * m).max(0.0) as f32;
            }
        }
    }

    /// Small radii: the vertical sums add the `2r + 1` ring rows directly in f32
    /// (vectorised, and no running error to accumulate).
    fn direct_rows(
        &mut self,
        img: &[f32],
        h: usize,
        w: usize,
        r: usize,
        off: f32,
        var: &mut [f32],
    ) {
        let slots = 2 * r + 2;
        let mut inv_nx = std::mem::take(&mut self.inv_nx32);
        inv_nx.clear();
        inv_nx.extend(self.inv_nx.iter().map(|&v| v as f32));
        self.centred.resize(w, 0.0);
        let mut acc = std::mem::take(&mut self.col_s);
        let mut acc2 = std::mem::take(&mut self.col_s2);
        acc.resize(w, 0.0);
        acc2.resize(w, 0.0);
        for y in 0..h {
            if y > 0 && y + r < h {
                self.row_sums(img, y + r, w, r, off, (y + r) % slots);
            }
            let (y0, y1) = (y.saturating_sub(r), (y + r).min(h - 1));
            acc.fill(0.0);
            acc2.fill(0.0);
            for yy in y0..=y1 {
                let k = yy % slots;
                let (s, s2) = (
                    &self.ring_s[k * w..(k + 1) * w],
                    &self.ring_s2[k * w..(k + 1) * w],
                );
                for ((a, a2), (&v, &v2)) in
                    acc.iter_mut().zip(acc2.iter_mut()).zip(s.iter().zip(s2))
                {
                    *a += v;
                    *a2 += v2;
                }
            }
            let inv_ny = 1.0 / (y1 - y0 + 1) as f32;
            let out = &mut var[y * w..(y + 1) * w];
            for (((o, &a), &a2), &ix) in out.iter_mut().zip(&acc).zip(&acc2).zip(&inv_nx) {
                let inv = ix * inv_ny;
                let m = a * inv;
                *o = (a2 * inv - m * m).max(0.0);
            }
        }
        self.col_s = acc;
        self.col_s2 = acc2;
        self.inv_nx32 = inv_nx;
    }

    /// Threshold on `ln(local std)` from the background's peak: camera noise is the
    /// *lowest* clear peak of the histogram (flat background has the smallest local
    /// std, however few of its pixels a crowded field leaves), never the global
    /// mode, which cell texture takes over above about 30 % coverage. σ comes from
    /// that peak's half width at half maximum (the side away from cells first),
    /// threshold = peak + `k`·σ.
    /// Pixels with (near) zero variance are ignored. `None` if nothing varies.
    pub fn threshold(
        &mut self,
        var: &[f32],
        h: usize,
        w: usize,
        k: f32,
    ) -> Option<TextureThreshold> {
        const BINS: usize = 256;
        // About 65 000 samples are plenty for a 256-bin histogram.
        let stride = ((h * w) as f64 / 65536.0).sqrt().floor().max(1.0) as usize;
        self.sample.clear();
        for y in (0..h).step_by(stride) {
            for &v in var[y * w..(y + 1) * w].iter().step_by(stride) {
                if v > 1e-8 {
                    self.sample.push(0.5 * v.ln());
                }
            }
        }
        let n = self.sample.len();
        if n == 0 {
            return None;
        }
        let key = |a: &f32, b: &f32| a.total_cmp(b);
        let lo = *self.sample.select_nth_unstable_by(n / 1000, key).1;
        let hi = *self.sample.select_nth_unstable_by(n - 1 - n / 1000, key).1;
        if !(hi - lo).is_finite() || hi - lo <= 1e-6 {
            return None;
        }
        let scale = (BINS - 1) as f32 / (hi - lo);
        let mut hist = [0f32; BINS];
        for &v in &self.sample {
            let i = ((v - lo) * scale).clamp(0.0, (BINS - 1) as f32) as usize;
            hist[i] += 1.0;
        }
        let mut sm = [0f32; BINS];
        for (i, s) in sm.iter_mut().enumerate() {
            for (d, wgt) in [(-2i32, 1.0f32), (-1, 2.0), (0, 3.0), (1, 2.0), (2, 1.0)] {
                let j = i as i32 + d;
                if (0..BINS as i32).contains(&j) {
                    *s += wgt * hist[j as usize];
                }
            }
        }
        let mode = lowest_peak(&sm);
        let half = sm[mode] / 2.0;
        let left = (0..mode).rev().find(|&i| sm[i] < half).map(|i| {
            let f = (half - sm[i]) / (sm[i + 1] - sm[i]).max(1e-12);
            mode as f32 - (i as f32 + f)
        });
        let right = || {
            (mode + 1..BINS).find(|&i| sm[i] < half).map(|i| {
                let f = (sm[i - 1] - half) / (sm[i - 1] - sm[i]).max(1e-12);
                (i - 1) as f32 + f - mode as f32
            })
        };
        let hwhm = left.or_else(right).unwrap_or(BINS as f32 / 8.0);
        let sigma = (hwhm / 1.1774).max(1.0) / scale;
        let mode_v = lo + mode as f32 / scale;
        let t = mode_v + k * sigma;
        Some(TextureThreshold {
            var: (2.0 * t).exp(),
            noise: mode_v.exp(),
        })
    }
}

/// Smallest height, relative to the tallest bin, of a peak that counts as the background's.
const PEAK_FLOOR: f32 = 0.03;
/// Bins on each side a peak must top.
const PEAK_REACH: usize = 8;

/// The lowest bin of smoothed histogram `sm` that is a local maximum over
/// ±[`PEAK_REACH`] bins and at least [`PEAK_FLOOR`] of the tallest bin.
fn lowest_peak(sm: &[f32]) -> usize {
    let top = sm.iter().copied().fold(0.0f32, f32::max);
    (0..sm.len())
        .find(|&i| {
            let (lo, hi) = (
                i.saturating_sub(PEAK_REACH),
                (i + PEAK_REACH + 1).min(sm.len()),
            );
            sm[i] >= PEAK_FLOOR * top && sm[lo..hi].iter().all(|&v| v <= sm[i])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variance_matches_brute_force() {
        for (h, w, r) in [(7, 9, 2), (7, 9, 1), (12, 20, 6), (3, 4, 3), (30, 11, 4)] {
            check_variance(h, w, r);
        }
    }

    fn check_variance(h: usize, w: usize, r: usize) {
        let img: Vec<f32> = (0..h * w)
            .map(|i| ((i * 37) % 11) as f32 + 1000.0)
            .collect();
        let mut var = vec![0.0; h * w];
        LocalStd::default().variance(&img, h, w, r, &mut var);
        for y in 0..h {
            for x in 0..w {
                let mut v = Vec::new();
                for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
                    for xx in x.saturating_sub(r)..=(x + r).min(w - 1) {
                        v.push(img[yy * w + xx] as f64);
                    }
                }
                let m = v.iter().sum::<f64>() / v.len() as f64;
                let want = v.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / v.len() as f64;
                assert!((var[y * w + x] as f64 - want).abs() < 1e-3, "{y} {x}");
            }
        }
    }

    #[test]
    fn constant_image_has_no_threshold() {
        let img = vec![5.0f32; 100];
        let mut ls = LocalStd::default();
        let mut var = vec![1.0; 100];
        ls.variance(&img, 10, 10, 2, &mut var);
        assert!(var.iter().all(|&v| v == 0.0));
        assert_eq!(ls.threshold(&var, 10, 10, 3.0), None);
    }

    #[test]
    fn noise_comes_from_the_lowest_peak_not_the_tallest() {
        // 10 % background (local std 8), 90 % texture (local std 170).
        let mut rng = crate::synth::rng::SplitMix64::new(4);
        let var: Vec<f32> = (0..200 * 200)
            .map(|i| {
                let s = if i % 10 == 0 { 8.0 } else { 170.0 };
                let v = s * (1.0 + 0.15 * rng.gauss());
                v * v
            })
            .collect();
        let t = LocalStd::default().threshold(&var, 200, 200, 3.0).unwrap();
        assert!((t.noise - 8.0).abs() < 1.0, "{t:?}");
        assert!(t.var.sqrt() < 20.0, "{t:?}");
    }
}
