//! The chamfer 3-4 distance transform of a cell mask, computed over its runs
//! only: background pixels are 0 and stop every running minimum, so the
//! passes never need to visit them.

use super::{AXIAL, DIAGONAL};
use crate::fov::runs::RunImage;

/// Lowers `row[x0..x1]` to its chamfer distance through the three 8-neighbours
/// in the adjacent, finished row `near` (same width).
fn min_of_run(row: &mut [u32], near: &[u32], x0: usize, x1: usize) {
    let w = row.len();
    let edge = |x: usize, v: u32| {
        let mut m = v.min(near[x] + AXIAL);
        if x > 0 {
            m = m.min(near[x - 1] + DIAGONAL);
        }
        if x + 1 < w {
            m = m.min(near[x + 1] + DIAGONAL);
        }
        m
    };
    // Columns 0 and w − 1 lack a neighbour; the others go through a loop that
    // vectorises (as i32: distances are far below 2^31, and SSE2 compares
    // signed lanes).
    let (a, b) = (x0.max(1), x1.min(w - 1).max(x0.max(1)));
    for x in (x0..a).chain(b..x1) {
        row[x] = edge(x, row[x]);
    }
    let (axial, diagonal) = (AXIAL as i32, DIAGONAL as i32);
    for (v, n) in row[a..b].iter_mut().zip(near[a - 1..].windows(3)) {
        let n = [n[0] as i32, n[1] as i32, n[2] as i32];
        *v = (*v as i32)
            .min(n[1] + axial)
            .min(n[0] + diagonal)
            .min(n[2] + diagonal) as u32;
    }
}

/// Chamfer 3-4 distance of every pixel of the mask whose runs are `runs`
/// (`h × w`) to the background, into `d` (outside the frame counts as cell, so
/// cells cut by the edge keep their peak; a mask without background gets
/// 3·(h + w)); returns the largest value.
pub(super) fn distance(d: &mut Vec<u32>, runs: &RunImage, h: usize, w: usize) -> u32 {
    let cap = AXIAL * (h + w) as u32;
    d.clear();
    d.resize(h * w, 0);
    for r in &runs.runs {
        let o = r.y as usize * w;
        d[o + r.x0 as usize..o + r.x1 as usize].fill(cap);
    }
    let row_runs = |y: usize| &runs.runs[runs.row_start[y]..runs.row_start[y + 1]];
    // Row by row against the finished row before (after): first the three
    // neighbours in that row (no dependency along the row), then the one
    // beside (a running minimum, which starts at 0 after a background pixel).
    for y in 0..h {
        let (done, rest) = d.split_at_mut(y * w);
        let row = &mut rest[..w];
        for r in row_runs(y) {
            let (x0, x1) = (r.x0 as usize, r.x1 as usize);
            if y > 0 {
                min_of_run(row, &done[done.len() - w..], x0, x1);
            }
            let mut left = if x0 == 0 { row[0] } else { 0 };
            for v in &mut row[x0..x1] {
                left = (*v).min(left + AXIAL);
                *v = left;
            }
        }
    }
    let mut top = 0;
    for y in (0..h).rev() {
        let (head, below) = d.split_at_mut((y + 1) * w);
        let row = &mut head[y * w..];
        for r in row_runs(y) {
            let (x0, x1) = (r.x0 as usize, r.x1 as usize);
            if y + 1 < h {
                min_of_run(row, &below[..w], x0, x1);
            }
            let mut right = if x1 == w { row[w - 1] } else { 0 };
            for v in row[x0..x1].iter_mut().rev() {
                right = (*v).min(right + AXIAL);
                *v = right;
                top = top.max(right);
            }
        }
    }
    top
}
