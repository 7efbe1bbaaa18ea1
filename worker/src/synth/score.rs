//! Scores the fov algorithms (segment → background → track → extract, in
//! memory, frame by frame) against a synthetic scene's ground truth: the
//! figures of `scripts/score-fov` and of the crowded-field accuracy tests.
//!
//! A true cell in a frame is *observed* when one tracked label overlaps it with
//! IoU ≥ 0.5; it is *merged* when its best-overlapping label is also the best
//! label of another true cell (counted over cells that touch another, i.e. come
//! within 2 px); a division is *found* when both daughters are observed in
//! their first frame under ids the tracker records as children of the parent's
//! last id.

use std::collections::{HashMap, HashSet};

use crate::fov::params::SegmentParams;
use crate::synth::run::{DivisionIds, Matches, run_scene};
use crate::synth::{Scene, SceneConfig};

/// What one run over a scene scored.
#[derive(Debug, Clone, Default)]
pub struct Score {
    /// Mean fraction of the frame covered by true cells.
    pub coverage: f64,
    /// Segmentation Dice over all frames.
    pub dice: f64,
    /// Median of (tracked area / true area) over observed cell-frames.
    pub area_ratio: f64,
    /// Fraction of true cells observed in at least one frame.
    pub cells_traced: f64,
    /// Fraction of true cell-frames observed.
    pub observed: f64,
    /// True cell-frames.
    pub truth_rows: usize,
    /// Fraction of touching true cell-frames merged with a neighbour.
    pub merged: f64,
    /// Touching true cell-frames.
    pub touching: usize,
    /// Divisions found / divisions planned.
    pub divisions_found: f64,
    /// Divisions planned.
    pub divisions: usize,
    /// Median relative error of intensity_total over observed cell-frames.
    pub intensity_err: f64,
    /// Cells found per frame.
    pub cells_per_frame: Vec<usize>,
    /// The segmenter's decisions (e.g. the polarity it detected).
    pub decisions: Vec<(String, String)>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// True labels within 2 px (Chebyshev) of another true label.
fn touching(labels: &[u32], size: usize) -> HashSet<u32> {
    let mut out = HashSet::new();
    for y in 0..size {
        for x in 0..size {
            let l = labels[y * size + x];
            if l == 0 {
                continue;
            }
            for yy in y.saturating_sub(2)..(y + 3).min(size) {
                for xx in x.saturating_sub(2)..(x + 3).min(size) {
                    let o = labels[yy * size + xx];
                    if o != 0 && o != l {
                        out.insert(l);
                    }
                }
            }
        }
    }
    out
}

/// Runs the pipeline with `seg_params` over `cfg`'s scene and scores it.
pub fn score(cfg: &SceneConfig, seg_params: &SegmentParams) -> Score {
    let scene = Scene::new(cfg);
    let n = cfg.size * cfg.size;
    let mut divisions = DivisionIds::new(&scene.events());
    let (mut inter, mut seg_px, mut truth_px) = (0u64, 0u64, 0u64);
    let (mut observed, mut total, mut merged, mut touch_n) = (0usize, 0usize, 0usize, 0usize);
    let (mut ratios, mut errs) = (Vec::new(), Vec::new());
    let mut traced: HashSet<u32> = HashSet::new();
    let mut all_cells: HashSet<u32> = HashSet::new();
    let mut cells_per_frame = Vec::with_capacity(cfg.frames);
    let end = run_scene(&scene, seg_params, |f| {
        cells_per_frame.push(f.rows.len());
        for (&tl, &kl) in f.truth.labels.iter().zip(f.labels) {
            seg_px += u64::from(kl != 0);
            truth_px += u64::from(tl != 0);
            inter += u64::from(kl != 0 && tl != 0);
        }
        let m = Matches::of(f);
        let mut best_count: HashMap<u32, usize> = HashMap::new();
        for &(kl, _) in m.best.values() {
            *best_count.entry(kl).or_default() += 1;
        }
        let near = touching(&f.truth.labels, cfg.size);
        for tr in &f.truth.truth {
            total += 1;
            all_cells.insert(tr.cell);
            if near.contains(&tr.cell) {
                touch_n += 1;
                if m.best
                    .get(&tr.cell)
                    .is_some_and(|(kl, _)| best_count[kl] > 1)
                {
                    merged += 1;
                }
            }
            if let Some(&k) = m.observed.get(&tr.cell) {
                let row = &f.rows[k];
                observed += 1;
                traced.insert(tr.cell);
                ratios.push(row.area as f64 / tr.area as f64);
                for (v, s) in row.total.iter().zip(&tr.signal) {
                    errs.push((v - s).abs() / s);
                }
            }
        }
        divisions.see(f, &m);
    });
    let planned = divisions.ids.len();
    Score {
        coverage: truth_px as f64 / (n * cfg.frames).max(1) as f64,
        dice: 2.0 * inter as f64 / (seg_px + truth_px).max(1) as f64,
        area_ratio: median(ratios),
        cells_traced: traced.len() as f64 / all_cells.len().max(1) as f64,
        observed: observed as f64 / total.max(1) as f64,
        truth_rows: total,
        merged: merged as f64 / touch_n.max(1) as f64,
        touching: touch_n,
        divisions_found: divisions.found(&end.parents) as f64 / planned.max(1) as f64,
        divisions: planned,
        intensity_err: median(errs),
        cells_per_frame,
        decisions: end.decisions,
    }
}
