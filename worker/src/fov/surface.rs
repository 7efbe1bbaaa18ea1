//! A smooth surface through scattered weighted samples: a robust least-squares
//! polynomial of degree ≤ 2 in `(y, x)`.
//!
//! The background estimator fills tiles without usable pixels from it: under a
//! confluent colony the nearest usable tiles are at the field's margin, and their
//! mean misses the curved illumination in between (4–5 % intensity error at 60 %
//! coverage, docs/benchmarks.md); a quadratic through the margin follows it.
//! The order drops (quadratic → plane → constant) when the samples cannot
//! determine it; outliers (tiles lit by nearby cells) are down-weighted by
//! Tukey's biweight over a few reweighting rounds.

/// Reweighting rounds after the first fit.
const ROUNDS: usize = 3;
/// Tukey's biweight constant, in robust standard deviations (95 % efficiency).
const TUKEY: f64 = 4.685;

/// One sample: position, value and weight (> 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Row coordinate.
    pub y: f64,
    /// Column coordinate.
    pub x: f64,
    /// Observed value.
    pub v: f64,
    /// Weight (for tiles: the fraction of usable pixels).
    pub w: f64,
}

/// A fitted polynomial `c · [1, x, y, x², xy, y²]` in normalised coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Surface {
    coef: [f64; 6],
    terms: usize,
    centre: (f64, f64),
    scale: f64,
    /// The fitted values never leave `[lo, hi]`: one value range beyond the samples'
    /// (a quadratic's extrapolation past the sampled area grows without bound).
    lo: f64,
    hi: f64,
}

impl Surface {
    /// The robust fit of the highest order (of quadratic, plane, constant) the
    /// samples determine; `None` without a sample of positive weight.
    pub fn fit(samples: &[Sample]) -> Option<Surface> {
        let samples: Vec<Sample> = samples
            .iter()
            .copied()
            .filter(|s| s.w > 0.0 && s.v.is_finite() && s.y.is_finite() && s.x.is_finite())
            .collect();
        if samples.is_empty() {
            return None;
        }
        let total: f64 = samples.iter().map(|s| s.w).sum();
        let centre = (
            samples.iter().map(|s| s.w * s.y).sum::<f64>() / total,
            samples.iter().map(|s| s.w * s.x).sum::<f64>() / total,
        );
        let scale = samples
            .iter()
            .map(|s| (s.y - centre.0).abs().max((s.x - centre.1).abs()))
            .fold(0.0, f64::max)
            .max(1.0);
        let (lo, hi) = samples
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| {
                (lo.min(s.v), hi.max(s.v))
            });
        let span = hi - lo;
        let mut surface = Surface {
            coef: [0.0; 6],
            terms: 1,
            centre,
            scale,
            lo: lo - span,
            hi: hi + span,
        };
        // A quadratic from barely more samples than terms would chase the noise.
        for terms in [6, 3, 1] {
            if samples.len() < terms + usize::from(terms > 1) * 2 {
                continue;
            }
            surface.terms = terms;
            let weights: Vec<f64> = samples.iter().map(|s| s.w).collect();
            if let Some(coef) = surface.solve(&samples, &weights) {
                surface.coef = coef;
                surface.reweight(&samples);
                return Some(surface);
            }
        }
        None
    }

    /// The surface at `(y, x)`.
    pub fn at(&self, y: f64, x: f64) -> f64 {
        let t = self.basis(y, x);
        let v: f64 = self.coef[..self.terms]
            .iter()
            .zip(&t[..self.terms])
            .map(|(c, t)| c * t)
            .sum();
        v.clamp(self.lo, self.hi)
    }

    /// How many polynomial terms the fit kept (6 quadratic, 3 plane, 1 constant).
    pub fn terms(&self) -> usize {
        self.terms
    }

    fn basis(&self, y: f64, x: f64) -> [f64; 6] {
        let (y, x) = (
            (y - self.centre.0) / self.scale,
            (x - self.centre.1) / self.scale,
        );
        [1.0, x, y, x * x, x * y, y * y]
    }

    /// Tukey-biweight rounds: residuals scaled by their median absolute value.
    fn reweight(&mut self, samples: &[Sample]) {
        for _ in 0..ROUNDS {
            let res: Vec<f64> = samples.iter().map(|s| s.v - self.raw(s.y, s.x)).collect();
            let mut abs: Vec<f64> = res.iter().map(|r| r.abs()).collect();
            let mid = abs.len() / 2;
            abs.select_nth_unstable_by(mid, f64::total_cmp);
            let c = TUKEY * 1.4826 * abs[mid];
            if c <= 0.0 {
                return;
            }
            let weights: Vec<f64> = samples
                .iter()
                .zip(&res)
                .map(|(s, r)| {
                    let u = r / c;
                    if u.abs() < 1.0 {
                        s.w * (1.0 - u * u).powi(2)
                    } else {
                        0.0
                    }
                })
                .collect();
            match self.solve(samples, &weights) {
                Some(coef) => self.coef = coef,
                None => return,
            }
        }
    }

    fn raw(&self, y: f64, x: f64) -> f64 {
        let t = self.basis(y, x);
        self.coef[..self.terms]
            .iter()
            .zip(&t[..self.terms])
            .map(|(c, t)| c * t)
            .sum()
    }

    /// Weighted least squares over the first `terms` basis functions (normal
    /// equations, Gaussian elimination with partial pivoting); `None` when singular.
    fn solve(&self, samples: &[Sample], weights: &[f64]) -> Option<[f64; 6]> {
        let n = self.terms;
        let mut a = [[0.0f64; 7]; 6];
        for (s, &w) in samples.iter().zip(weights) {
            if w <= 0.0 {
                continue;
            }
            let t = self.basis(s.y, s.x);
            for i in 0..n {
                for j in 0..n {
                    a[i][j] += w * t[i] * t[j];
                }
                a[i][n] += w * t[i] * s.v;
            }
        }
        let norm = (0..n).map(|i| a[i][i]).fold(0.0, f64::max);
        for col in 0..n {
            let pivot = (col..n).max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))?;
            if a[pivot][col].abs() <= 1e-9 * norm || norm == 0.0 {
                return None;
            }
            a.swap(col, pivot);
            let top = a[col];
            for (r, row) in a.iter_mut().enumerate().take(n) {
                if r != col {
                    let f = row[col] / top[col];
                    for (v, p) in row[col..=n].iter_mut().zip(&top[col..=n]) {
                        *v -= f * p;
                    }
                }
            }
        }
        let mut coef = [0.0; 6];
        for (i, c) in coef.iter_mut().enumerate().take(n) {
            *c = a[i][n] / a[i][i];
        }
        Some(coef)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(f: impl Fn(f64, f64) -> f64, keep: impl Fn(f64, f64) -> bool) -> Vec<Sample> {
        (0..10)
            .flat_map(|y| (0..10).map(move |x| (y as f64, x as f64)))
            .filter(|&(y, x)| keep(y, x))
            .map(|(y, x)| Sample {
                y,
                x,
                v: f(y, x),
                w: 1.0,
            })
            .collect()
    }

    #[test]
    fn a_quadratic_ring_gives_back_its_centre() {
        let f = |y: f64, x: f64| {
            300.0 + 4.0 * x - 3.0 * y - 0.9 * ((x - 4.5).powi(2) + (y - 4.0).powi(2))
        };
        let ring = grid(f, |y, x| {
            !(2.0..=7.0).contains(&y) || !(2.0..=7.0).contains(&x)
        });
        let s = Surface::fit(&ring).unwrap();
        assert_eq!(s.terms(), 6);
        for (y, x) in [(4.5, 4.5), (3.0, 6.0), (5.0, 2.5)] {
            assert!((s.at(y, x) - f(y, x)).abs() < 1e-6, "{y},{x}");
        }
    }

    #[test]
    fn outliers_are_down_weighted() {
        let f = |y: f64, x: f64| 200.0 + 2.0 * x + y;
        let mut samples = grid(f, |_, _| true);
        samples[13].v += 500.0;
        samples[57].v += 300.0;
        let s = Surface::fit(&samples).unwrap();
        assert!((s.at(1.0, 3.0) - f(1.0, 3.0)).abs() < 1e-6);
        assert!((s.at(5.0, 7.0) - f(5.0, 7.0)).abs() < 1e-6);
    }

    #[test]
    fn the_order_drops_when_samples_cannot_determine_it() {
        // One row of samples: no y terms can be fitted, a constant can.
        let row: Vec<Sample> = (0..5)
            .map(|x| Sample {
                y: 0.0,
                x: x as f64,
                v: 7.0,
                w: 1.0,
            })
            .collect();
        let s = Surface::fit(&row).unwrap();
        assert_eq!(s.terms(), 1);
        assert_eq!(s.at(3.0, 1.0), 7.0);
        let three = &row[..3];
        assert_eq!(Surface::fit(three).unwrap().terms(), 1);
        assert_eq!(Surface::fit(&[]), None);
        let zero = [Sample { w: 0.0, ..row[0] }];
        assert_eq!(Surface::fit(&zero), None);
    }

    #[test]
    fn extrapolation_is_bounded() {
        // Samples in one corner only: far away the value stays within a range of theirs.
        let f = |y: f64, x: f64| 100.0 + x * x + y * y;
        let corner = grid(f, |y, x| y < 3.0 && x < 3.0);
        let s = Surface::fit(&corner).unwrap();
        let v = s.at(100.0, 100.0);
        assert!((100.0..=100.0 + 2.0 * 8.0).contains(&v), "{v}");
    }
}
