//! Per-cell accumulators of [`super::extract::measure`], found by label as the
//! frame is scanned row by row.

use std::collections::HashMap;

use crate::fov::extract::CellRow;

/// What one cell gathers over a frame.
#[derive(Debug, Clone)]
struct Acc {
    cell: u32,
    area: u64,
    /// `Σ y` and `Σ x` over the mask's pixels.
    sy: f64,
    sx: f64,
    bbox: [usize; 4],
    measured: u64,
}

/// The cells of one frame, in the order first seen, with their sums per channel.
#[derive(Debug, Clone, Default)]
pub struct Cells {
    /// Channels per cell in `sums`.
    nch: usize,
    /// Label → slot + 1 (0: not seen), for labels up to the frame's pixel
    /// count, so a corrupt label never sizes an allocation.
    index: Vec<u32>,
    /// Label → slot for larger labels.
    large: HashMap<u32, u32>,
    /// The frame's pixel count.
    n: usize,
    acc: Vec<Acc>,
    /// `sums[slot * nch + c]`: channel `c`'s sum of the cell's measured pixels.
    sums: Vec<f64>,
}

impl Cells {
    /// Starts a frame of `n` pixels with `nch` channels.
    pub fn start(&mut self, n: usize, nch: usize) {
        self.n = n;
        self.nch = nch;
        self.acc.clear();
        self.sums.clear();
        self.large.clear();
    }

    /// The slot of `cell`, a new one when first seen.
    fn slot(&mut self, cell: u32) -> usize {
        let l = cell as usize;
        let found = if l <= self.n {
            if l >= self.index.len() {
                self.index.resize(l + 1, 0);
            }
            self.index[l].checked_sub(1)
        } else {
            self.large.get(&cell).copied()
        };
        if let Some(k) = found {
            return k as usize;
        }
        let k = self.acc.len();
        if l <= self.n {
            self.index[l] = k as u32 + 1;
        } else {
            self.large.insert(cell, k as u32);
        }
        self.acc.push(Acc {
            cell,
            area: 0,
            sy: 0.0,
            sx: 0.0,
            bbox: [usize::MAX, usize::MAX, 0, 0],
            measured: 0,
        });
        self.sums.resize(self.sums.len() + self.nch, 0.0);
        k
    }

    /// Adds the mask run `x0..x1` of row `y` to `cell`'s area, centroid and box.
    pub fn mask_run(&mut self, cell: u32, y: usize, x0: usize, x1: usize) {
        let k = self.slot(cell);
        let a = &mut self.acc[k];
        let len = (x1 - x0) as u64;
        a.area += len;
        a.sy += (y as f64) * len as f64;
        a.sx += (x0 + x1 - 1) as f64 * 0.5 * len as f64;
        a.bbox = [
            a.bbox[0].min(y),
            a.bbox[1].min(x0),
            a.bbox[2].max(y + 1),
            a.bbox[3].max(x1),
        ];
    }

    /// Counts `len` more measured pixels for `cell` and returns its per-channel
    /// sums to add their light to.
    pub fn measured_run(&mut self, cell: u32, len: usize) -> &mut [f64] {
        let k = self.slot(cell);
        self.acc[k].measured += len as u64;
        &mut self.sums[k * self.nch..(k + 1) * self.nch]
    }

    /// The frame's rows, sorted by cell id; forgets the frame's labels.
    pub fn rows(&mut self, frame: usize) -> Vec<CellRow> {
        let mut order: Vec<usize> = (0..self.acc.len()).collect();
        order.sort_unstable_by_key(|&k| self.acc[k].cell);
        let rows = order
            .into_iter()
            .map(|k| {
                let a = &self.acc[k];
                let total = self.sums[k * self.nch..(k + 1) * self.nch].to_vec();
                CellRow {
                    cell: a.cell,
                    frame,
                    area: a.area,
                    centroid_y: a.sy / a.area as f64,
                    centroid_x: a.sx / a.area as f64,
                    bbox: a.bbox,
                    measured: a.measured,
                    mean: total.iter().map(|t| t / a.measured as f64).collect(),
                    total,
                }
            })
            .collect();
        for a in &self.acc {
            if let Some(i) = self.index.get_mut(a.cell as usize) {
                *i = 0;
            }
        }
        rows
    }
}
