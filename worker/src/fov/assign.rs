//! Optimal one-to-one assignment (Hungarian algorithm, O(n²·m) for n ≤ m).
//!
//! The tracker solves one small problem per cluster of mutually overlapping cells
//! and tracks, so a dense solver on tiny matrices is all it needs (no dependency).

/// Reusable solver for maximum-weight one-to-one assignment.
#[derive(Debug, Clone, Default)]
pub struct Assignment {
    cost: Vec<f64>,
    u: Vec<f64>,
    v: Vec<f64>,
    p: Vec<usize>,
    way: Vec<usize>,
    minv: Vec<f64>,
    used: Vec<bool>,
}

impl Assignment {
    /// For `weights` (`rows × cols`, row-major, non-negative, finite), finds the
    /// one-to-one assignment with the largest total weight. `out[r]` is the column
    /// given to row `r`, or `None`; pairs of weight 0 are never reported.
    pub fn solve(
        &mut self,
        weights: &[f64],
        rows: usize,
        cols: usize,
        out: &mut Vec<Option<usize>>,
    ) {
        out.clear();
        out.resize(rows, None);
        if rows == 0 || cols == 0 {
            return;
        }
        let transposed = rows > cols;
        let (n, m) = if transposed {
            (cols, rows)
        } else {
            (rows, cols)
        };
        let wt = |i: usize, j: usize| {
            let x = if transposed {
                weights[j * cols + i]
            } else {
                weights[i * cols + j]
            };
            if x.is_finite() { x.max(0.0) } else { 0.0 }
        };
        let maxw = (0..n)
            .flat_map(|i| (0..m).map(move |j| (i, j)))
            .map(|(i, j)| wt(i, j))
            .fold(0.0, f64::max);
        // 1-based cost matrix of the minimisation, as in the classic formulation.
        self.cost.clear();
        self.cost.resize((n + 1) * (m + 1), 0.0);
        for i in 0..n {
            for j in 0..m {
                self.cost[(i + 1) * (m + 1) + j + 1] = maxw - wt(i, j);
            }
        }
        self.u.clear();
        self.u.resize(n + 1, 0.0);
        self.v.clear();
        self.v.resize(m + 1, 0.0);
        self.p.clear();
        self.p.resize(m + 1, 0);
        self.way.clear();
        self.way.resize(m + 1, 0);
        for i in 1..=n {
            self.p[0] = i;
            let mut j0 = 0;
            self.minv.clear();
            self.minv.resize(m + 1, f64::INFINITY);
            self.used.clear();
            self.used.resize(m + 1, false);
            loop {
                self.used[j0] = true;
                let i0 = self.p[j0];
                let mut delta = f64::INFINITY;
                let mut j1 = 0;
                for j in 1..=m {
                    if !self.used[j] {
                        let cur = self.cost[i0 * (m + 1) + j] - self.u[i0] - self.v[j];
                        if cur < self.minv[j] {
                            self.minv[j] = cur;
                            self.way[j] = j0;
                        }
                        if self.minv[j] < delta {
                            delta = self.minv[j];
                            j1 = j;
                        }
                    }
                }
                if j1 == 0 {
                    break; // cannot happen for n ≤ m and finite costs
                }
                for j in 0..=m {
                    if self.used[j] {
                        self.u[self.p[j]] += delta;
                        self.v[j] -= delta;
                    } else {
                        self.minv[j] -= delta;
                    }
                }
                j0 = j1;
                if self.p[j0] == 0 {
                    break;
                }
            }
            loop {
                let j1 = self.way[j0];
                self.p[j0] = self.p[j1];
                j0 = j1;
                if j0 == 0 {
                    break;
                }
            }
        }
        for j in 1..=m {
            let i = self.p[j];
            if i == 0 || wt(i - 1, j - 1) <= 0.0 {
                continue;
            }
            if transposed {
                out[j - 1] = Some(i - 1);
            } else {
                out[i - 1] = Some(j - 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(w: &[f64], rows: usize, cols: usize) -> f64 {
        fn go(w: &[f64], rows: usize, cols: usize, r: usize, used: &mut Vec<bool>) -> f64 {
            if r == rows {
                return 0.0;
            }
            let mut best = go(w, rows, cols, r + 1, used);
            for c in 0..cols {
                if !used[c] {
                    used[c] = true;
                    best = best.max(w[r * cols + c] + go(w, rows, cols, r + 1, used));
                    used[c] = false;
                }
            }
            best
        }
        go(w, rows, cols, 0, &mut vec![false; cols])
    }

    #[test]
    fn matches_brute_force() {
        let mut s = 7u64;
        let mut a = Assignment::default();
        let mut out = Vec::new();
        for (rows, cols) in [(1, 1), (2, 3), (3, 2), (4, 4), (5, 3), (3, 6)] {
            for _ in 0..20 {
                let w: Vec<f64> = (0..rows * cols)
                    .map(|_| {
                        s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                        let x = (s >> 33) as f64 / (1u64 << 31) as f64;
                        if x < 0.3 { 0.0 } else { x }
                    })
                    .collect();
                a.solve(&w, rows, cols, &mut out);
                let mut total = 0.0;
                let mut seen = vec![false; cols];
                for (r, c) in out.iter().enumerate() {
                    if let Some(c) = *c {
                        assert!(!seen[c] && w[r * cols + c] > 0.0);
                        seen[c] = true;
                        total += w[r * cols + c];
                    }
                }
                assert!((total - brute(&w, rows, cols)).abs() < 1e-9);
            }
        }
    }
}
