//! Slot layouts of a synthetic scene: the sparse 32-pixel grid, and the dense
//! staggered lattice that reaches a target coverage.
//!
//! The dense lattice is the affine image of a hexagonal circle packing: rows
//! `√3·(B + g)` apart, slots `2·(A + g)` apart in a row, odd rows shifted by
//! half a slot, where `A × B` are the largest semi-axes a cell may have and `g`
//! the gap that gives the wanted coverage. Cells lie near the row direction
//! (small tilt, no spin) and wander less than the gap, so neighbours come close
//! (a pixel or two apart at high coverage) but never overlap.

/// Largest long semi-axis of a dense-layout cell, pixels.
pub(crate) const A_MAX: f64 = 9.0;
/// Largest short semi-axis of a dense-layout cell, pixels.
pub(crate) const B_MAX: f64 = 6.0;
/// Cells are drawn `FILL..1` times the largest semi-axes.
pub(crate) const FILL: f64 = 0.9;
/// Smallest gap between neighbours at their largest, pixels.
const MIN_GAP: f64 = 0.8;

/// A place for one cell (or a special event): its centre, its position in the
/// lattice, and the field edges it touches (outward unit directions).
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub cy: f64,
    pub cx: f64,
    pub row: usize,
    pub col: usize,
    pub edges: Vec<(f64, f64)>,
}

/// The dense layout's geometry for one target coverage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Dense {
    /// Gap between neighbours at their largest, pixels.
    pub gap: f64,
    /// Wander amplitude (keeps neighbours apart).
    pub amp: f64,
    /// Largest tilt of a cell's long axis from the row direction, radians.
    pub tilt: f64,
}

impl Dense {
    /// The geometry whose lattice covers about `coverage` of the field.
    pub fn for_coverage(coverage: f64) -> Dense {
        let mean = (1.0 + FILL) / 2.0;
        let cell = std::f64::consts::PI * mean * mean * A_MAX * B_MAX;
        // (A + g)(B + g) = cell / (2√3 · coverage)
        let k = cell / (2.0 * 3f64.sqrt() * coverage.max(1e-3));
        let s = A_MAX + B_MAX;
        let g = (-s + (s * s - 4.0 * (A_MAX * B_MAX - k)).max(0.0).sqrt()) / 2.0;
        let gap = g.max(MIN_GAP);
        Dense {
            gap,
            amp: (0.3 * gap).clamp(0.15, 1.5),
            tilt: (0.03 + gap / 20.0).min(0.5),
        }
    }

    /// Slot spacing in a row and between rows.
    fn pitch(&self) -> (f64, f64) {
        (2.0 * (A_MAX + self.gap), 3f64.sqrt() * (B_MAX + self.gap))
    }

    /// The lattice's slots in a `size × size` field (cells wholly inside).
    pub fn slots(&self, size: usize) -> Vec<Slot> {
        let (dx, dy) = self.pitch();
        let size = size as f64;
        let half = (A_MAX + self.gap / 2.0, B_MAX + self.gap / 2.0);
        let mut rows: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut cy = half.1;
        while cy + half.1 <= size {
            let r = rows.len();
            let mut row = Vec::new();
            let mut cx = half.0 + if r % 2 == 1 { dx / 2.0 } else { 0.0 };
            while cx + half.0 <= size {
                row.push((cy, cx));
                cx += dx;
            }
            rows.push(row);
            cy += dy;
        }
        let last_row = rows.len().saturating_sub(1);
        let mut out = Vec::new();
        for (r, row) in rows.iter().enumerate() {
            for (c, &(cy, cx)) in row.iter().enumerate() {
                let mut edges = Vec::new();
                if r == 0 {
                    edges.push((-1.0, 0.0));
                }
                if r == last_row {
                    edges.push((1.0, 0.0));
                }
                if c == 0 {
                    edges.push((0.0, -1.0));
                }
                if c + 1 == row.len() {
                    edges.push((0.0, 1.0));
                }
                out.push(Slot {
                    cy,
                    cx,
                    row: r,
                    col: c,
                    edges,
                });
            }
        }
        out
    }
}

/// The sparse layout: a `g × g` grid of `pitch`-pixel slots centred in the field.
pub(crate) fn grid(size: usize, g: usize, pitch: f64) -> Vec<Slot> {
    let margin = (size as f64 - g as f64 * pitch).max(0.0) / 2.0;
    let centre = |i: usize| margin + (i as f64 + 0.5) * pitch.min(size as f64);
    let mut out = Vec::with_capacity(g * g);
    for i in 0..g {
        for j in 0..g {
            let mut edges = Vec::new();
            if i == 0 {
                edges.push((-1.0, 0.0));
            }
            if i + 1 == g {
                edges.push((1.0, 0.0));
            }
            if j == 0 {
                edges.push((0.0, -1.0));
            }
            if j + 1 == g {
                edges.push((0.0, 1.0));
            }
            out.push(Slot {
                cy: centre(i),
                cx: centre(j),
                row: i,
                col: j,
                edges,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_shrinks_with_coverage_and_lattice_fills_the_field() {
        let lo = Dense::for_coverage(0.1);
        let hi = Dense::for_coverage(0.6);
        assert!(lo.gap > hi.gap && hi.gap >= MIN_GAP, "{lo:?} {hi:?}");
        let slots = hi.slots(256);
        assert!(slots.len() > 100, "{}", slots.len());
        assert!(slots.iter().all(|s| s.cy >= B_MAX && s.cx >= A_MAX));
        assert!(slots.iter().any(|s| s.edges.is_empty()));
    }
}
