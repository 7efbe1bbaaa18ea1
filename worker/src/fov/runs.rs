//! Run-length encoding of binary masks and connected components on runs.
//!
//! Labelling runs instead of pixels makes connected components, hole filling and
//! small-object removal cost one byte scan of the frame plus work proportional to
//! the number of runs (a few per cell and row).

/// A horizontal run of pixels `x0..x1` (exclusive end) in row `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Run {
    /// Row.
    pub y: u32,
    /// First column.
    pub x0: u32,
    /// One past the last column.
    pub x1: u32,
}

impl Run {
    /// Number of pixels in the run.
    pub fn len(&self) -> usize {
        (self.x1 - self.x0) as usize
    }

    /// True if the run has no pixels.
    pub fn is_empty(&self) -> bool {
        self.x1 <= self.x0
    }
}

/// Pixel adjacency used by connected components.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connectivity {
    /// Edge neighbours only (up, down, left, right).
    Four,
    /// Edge and corner neighbours.
    Eight,
}

/// Runs of one pixel value of a mask, in raster order, with a per-row index.
#[derive(Debug, Clone, Default)]
pub struct RunImage {
    /// All runs, sorted by row then column.
    pub runs: Vec<Run>,
    /// `row_start[y]..row_start[y + 1]` are the runs of row `y` (length `h + 1`).
    pub row_start: Vec<usize>,
}

/// First index `≥ x` whose truth (`!= 0`) equals `value`, or `row.len()`; scans
/// 8 bytes per step.
fn find_from(row: &[u8], mut x: usize, value: bool) -> usize {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while x + 8 <= row.len() {
        let b = &row[x..x + 8];
        let c = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        // High bit of each byte set iff the byte is nonzero.
        let nz = (((c & LOW7) + LOW7) | c) & HIGH;
        let hits = if value { nz } else { !nz & HIGH };
        if hits != 0 {
            return x + (hits.trailing_zeros() / 8) as usize;
        }
        x += 8;
    }
    while x < row.len() && (row[x] != 0) != value {
        x += 1;
    }
    x
}

impl RunImage {
    /// Encodes the pixels of `mask` (row-major `h × w`) whose truth (`!= 0`) equals `value`.
    pub fn encode(&mut self, mask: &[u8], h: usize, w: usize, value: bool) {
        self.runs.clear();
        self.row_start.clear();
        for y in 0..h {
            self.row_start.push(self.runs.len());
            let row = &mask[y * w..(y + 1) * w];
            let mut x = find_from(row, 0, value);
            while x < w {
                let x1 = find_from(row, x, !value);
                self.runs.push(Run {
                    y: y as u32,
                    x0: x as u32,
                    x1: x1 as u32,
                });
                x = find_from(row, x1, value);
            }
        }
        self.row_start.push(self.runs.len());
    }
}

/// Connected components of a [`RunImage`]: a component index per run.
#[derive(Debug, Clone, Default)]
pub struct Components {
    /// Component of each run, `0..count`, numbered in raster order of first appearance.
    pub run_label: Vec<u32>,
    /// Number of components.
    pub count: usize,
    parent: Vec<u32>,
}

/// The root of `i` in a union-find forest (`parent[root] == root`), halving the path.
pub(crate) fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        let p = parent[i as usize];
        parent[i as usize] = parent[p as usize];
        i = p;
    }
    i
}

impl Components {
    /// Labels the runs of `ri` with the given pixel connectivity.
    pub fn label(&mut self, ri: &RunImage, conn: Connectivity) {
        let n = ri.runs.len();
        self.parent.clear();
        self.parent.extend(0..n as u32);
        // Runs overlap (4-conn) if they share a column; 8-conn also allows corners.
        let slack = u32::from(conn == Connectivity::Eight);
        for y in 1..ri.row_start.len().saturating_sub(1) {
            let (mut i, i_end) = (ri.row_start[y - 1], ri.row_start[y]);
            let (mut j, j_end) = (ri.row_start[y], ri.row_start[y + 1]);
            while i < i_end && j < j_end {
                let (a, b) = (ri.runs[i], ri.runs[j]);
                if a.x0 < b.x1 + slack && b.x0 < a.x1 + slack {
                    let (ra, rb) = (
                        find(&mut self.parent, i as u32),
                        find(&mut self.parent, j as u32),
                    );
                    if ra != rb {
                        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
                        self.parent[hi as usize] = lo;
                    }
                }
                // Advance whichever run ends first.
                if a.x1 < b.x1 { i += 1 } else { j += 1 }
            }
        }
        self.run_label.clear();
        self.run_label.resize(n, u32::MAX);
        let mut count = 0u32;
        for k in 0..n {
            let r = find(&mut self.parent, k as u32) as usize;
            // Roots are the smallest index of their set, so they are seen first.
            if self.run_label[r] == u32::MAX {
                self.run_label[r] = count;
                count += 1;
            }
            self.run_label[k] = self.run_label[r];
        }
        self.count = count as usize;
    }
}

/// Reusable buffers for run-based mask operations.
#[derive(Debug, Clone, Default)]
pub struct RunScratch {
    /// The encoded runs.
    pub image: RunImage,
    /// Their components.
    pub comps: Components,
    counts: Vec<u64>,
    flags: Vec<bool>,
}

/// Fills holes: background regions (under `bg_conn`) that do not touch the frame edge
/// become foreground.
pub fn fill_holes(mask: &mut [u8], h: usize, w: usize, bg_conn: Connectivity, s: &mut RunScratch) {
    s.image.encode(mask, h, w, false);
    s.comps.label(&s.image, bg_conn);
    s.flags.clear();
    s.flags.resize(s.comps.count, false);
    for (r, &l) in s.image.runs.iter().zip(&s.comps.run_label) {
        if r.y == 0 || r.y as usize + 1 == h || r.x0 == 0 || r.x1 as usize == w {
            s.flags[l as usize] = true;
        }
    }
    for (r, &l) in s.image.runs.iter().zip(&s.comps.run_label) {
        if !s.flags[l as usize] {
            let o = r.y as usize * w;
            mask[o + r.x0 as usize..o + r.x1 as usize].fill(1);
        }
    }
}

/// Removes foreground objects (under `conn`) with fewer than `min_area` pixels.
pub fn remove_small(
    mask: &mut [u8],
    h: usize,
    w: usize,
    min_area: usize,
    conn: Connectivity,
    s: &mut RunScratch,
) {
    if min_area <= 1 {
        return;
    }
    s.image.encode(mask, h, w, true);
    s.comps.label(&s.image, conn);
    s.counts.clear();
    s.counts.resize(s.comps.count, 0);
    for (r, &l) in s.image.runs.iter().zip(&s.comps.run_label) {
        s.counts[l as usize] += r.len() as u64;
    }
    for (r, &l) in s.image.runs.iter().zip(&s.comps.run_label) {
        if s.counts[l as usize] < min_area as u64 {
            let o = r.y as usize * w;
            mask[o + r.x0 as usize..o + r.x1 as usize].fill(0);
        }
    }
}

/// Labels the connected foreground components of `mask` into `labels` (`1..=n` in
/// raster order of first pixel, 0 = background) and returns `n`.
pub fn label_components(
    mask: &[u8],
    h: usize,
    w: usize,
    conn: Connectivity,
    labels: &mut [u32],
    s: &mut RunScratch,
) -> usize {
    s.image.encode(mask, h, w, true);
    s.comps.label(&s.image, conn);
    labels[..h * w].fill(0);
    for (r, &l) in s.image.runs.iter().zip(&s.comps.run_label) {
        let o = r.y as usize * w;
        labels[o + r.x0 as usize..o + r.x1 as usize].fill(l + 1);
    }
    s.comps.count
}

/// Calls `each(value, x0, x1)` for every maximal run `x0..x1` of one nonzero
/// value in `row`, left to right.
pub(crate) fn runs_of(row: &[u32], mut each: impl FnMut(u32, usize, usize)) {
    let w = row.len();
    let mut x = 0;
    while x < w {
        // Skip zeros sixteen, then four at a time.
        while x + 16 <= w && row[x..x + 16].iter().fold(0, |a, &v| a | v) == 0 {
            x += 16;
        }
        while x + 4 <= w && (row[x] | row[x + 1] | row[x + 2] | row[x + 3]) == 0 {
            x += 4;
        }
        if x >= w {
            break;
        }
        let v = row[x];
        let x0 = x;
        while x + 4 <= w
            && ((row[x] ^ v) | (row[x + 1] ^ v) | (row[x + 2] ^ v) | (row[x + 3] ^ v)) == 0
        {
            x += 4;
        }
        while x < w && row[x] == v {
            x += 1;
        }
        if v != 0 {
            each(v, x0, x);
        }
    }
}

/// A mask drawn as text rows (`#` = 1), for the morphology and labelling tests.
#[cfg(test)]
pub(crate) fn parse_mask(rows: &[&str]) -> (Vec<u8>, usize, usize) {
    let h = rows.len();
    let w = rows.first().map_or(0, |r| r.len());
    let m = rows
        .iter()
        .flat_map(|r| r.bytes().map(|b| u8::from(b == b'#')))
        .collect();
    (m, h, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::parse_mask as parse;

    #[test]
    fn components_four_vs_eight() {
        let (m, h, w) = parse(&["#..#", ".#.#", "....", "##.#"]);
        let mut s = RunScratch::default();
        let mut lab = vec![0u32; h * w];
        assert_eq!(
            label_components(&m, h, w, Connectivity::Four, &mut lab, &mut s),
            5
        );
        assert_eq!(lab, vec![1, 0, 0, 2, 0, 3, 0, 2, 0, 0, 0, 0, 4, 4, 0, 5]);
        assert_eq!(
            label_components(&m, h, w, Connectivity::Eight, &mut lab, &mut s),
            4
        );
        assert_eq!(lab[0], lab[5]);
    }

    #[test]
    fn u_shape_merges_late() {
        let (m, h, w) = parse(&["#.#", "#.#", "###"]);
        let mut s = RunScratch::default();
        let mut lab = vec![0u32; h * w];
        assert_eq!(
            label_components(&m, h, w, Connectivity::Four, &mut lab, &mut s),
            1
        );
        assert!(lab.iter().zip(&m).all(|(&l, &v)| (l == 1) == (v == 1)));
    }

    #[test]
    fn fill_holes_keeps_open_regions() {
        let (mut m, h, w) = parse(&["#####.", "#..#..", "#####.", "#.#...", "###..."]);
        let mut s = RunScratch::default();
        fill_holes(&mut m, h, w, Connectivity::Four, &mut s);
        let (want, _, _) = parse(&["#####.", "####..", "#####.", "###...", "###..."]);
        assert_eq!(m, want);
        // A hole open to the edge stays open.
        let (mut m, h, w) = parse(&["###", "#..", "###"]);
        let before = m.clone();
        fill_holes(&mut m, h, w, Connectivity::Four, &mut s);
        assert_eq!(m, before);
    }

    #[test]
    fn remove_small_objects() {
        let (mut m, h, w) = parse(&["##..#", "##...", ".....", "..###"]);
        let mut s = RunScratch::default();
        remove_small(&mut m, h, w, 3, Connectivity::Four, &mut s);
        let (want, _, _) = parse(&["##...", "##...", ".....", "..###"]);
        assert_eq!(m, want);
    }

    #[test]
    fn encode_any_values_and_widths() {
        let mut ri = RunImage::default();
        let row: Vec<u8> = (0..37).map(|i| [0, 1, 255, 7][(i * i / 5) % 4]).collect();
        for value in [true, false] {
            ri.encode(&row, 1, row.len(), value);
            let mut want = Vec::new();
            let mut x = 0;
            while x < row.len() {
                if (row[x] != 0) == value {
                    let x0 = x;
                    while x < row.len() && (row[x] != 0) == value {
                        x += 1;
                    }
                    want.push(Run {
                        y: 0,
                        x0: x0 as u32,
                        x1: x as u32,
                    });
                } else {
                    x += 1;
                }
            }
            assert_eq!(ri.runs, want);
            assert_eq!(ri.row_start, vec![0, want.len()]);
        }
    }

    #[test]
    fn empty_and_tiny_frames() {
        let mut s = RunScratch::default();
        let mut lab = vec![7u32; 1];
        assert_eq!(
            label_components(&[0], 1, 1, Connectivity::Four, &mut lab, &mut s),
            0
        );
        assert_eq!(lab, vec![0]);
        let mut m = vec![1u8];
        fill_holes(&mut m, 1, 1, Connectivity::Eight, &mut s);
        remove_small(&mut m, 1, 1, 2, Connectivity::Four, &mut s);
        assert_eq!(m, vec![0]);
    }
}
