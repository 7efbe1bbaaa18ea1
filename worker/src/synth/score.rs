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

use crate::fov::background::BackgroundEstimator;
use crate::fov::extract::{MeasureScratch, measure};
use crate::fov::params::{BackgroundParams, ExtractParams, SegmentParams, TrackParams};
use crate::fov::segment::Segmenter;
use crate::fov::track::Tracker;
use crate::image::Pixel;
use crate::synth::{Event, Scene, SceneConfig};

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
    let (size, frames, channels) = (cfg.size, cfg.frames, cfg.fl_channels);
    let n = size * size;
    let mut seg = Segmenter::new(size, size, seg_params);
    let mut bge = BackgroundEstimator::new(size, size, &BackgroundParams::default());
    let mut tracker = Tracker::new(size, size, &TrackParams::default());
    let mut scratch = MeasureScratch::default();
    let (mut phase, mut mask, mut labels) = (vec![0f32; n], vec![0u8; n], vec![0u32; n]);
    let mut fl = vec![vec![0f32; n]; channels];
    let mut bg = vec![vec![0f32; n]; channels];
    let divisions: Vec<(u32, [u32; 2], usize)> = scene
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Divide {
                parent,
                daughters,
                frame,
            } => Some((parent, daughters, frame)),
            _ => None,
        })
        .collect();
    let mut div_ids: Vec<(Option<u32>, [Option<u32>; 2])> =
        vec![(None, [None; 2]); divisions.len()];
    let (mut inter, mut seg_px, mut truth_px) = (0u64, 0u64, 0u64);
    let (mut observed, mut total, mut merged, mut touch_n) = (0usize, 0usize, 0usize, 0usize);
    let (mut ratios, mut errs) = (Vec::new(), Vec::new());
    let mut traced: HashSet<u32> = HashSet::new();
    let mut all_cells: HashSet<u32> = HashSet::new();
    let mut cells_per_frame = Vec::with_capacity(frames);
    for t in 0..frames {
        let f = scene.render(t);
        for (d, s) in phase.iter_mut().zip(&f.phase) {
            *d = f32::from(*s);
        }
        for (dst, src) in fl.iter_mut().zip(&f.fl) {
            for (d, s) in dst.iter_mut().zip(src) {
                *d = f32::from(*s);
            }
        }
        seg.segment(&phase, &mut mask);
        for (fch, b) in fl.iter().zip(bg.iter_mut()) {
            bge.estimate(fch, &mask, b);
            for v in b.iter_mut() {
                *v = f32::from(u16::from_f32(*v));
            }
        }
        tracker.push(&mask, &mut labels);
        let fls: Vec<&[f32]> = fl.iter().map(Vec::as_slice).collect();
        let bgs: Vec<&[f32]> = bg.iter().map(Vec::as_slice).collect();
        let rows = measure(
            t,
            &labels,
            size,
            size,
            &fls,
            &bgs,
            &ExtractParams::default(),
            &mut scratch,
        );
        cells_per_frame.push(rows.len());
        let row_of: HashMap<u32, usize> =
            rows.iter().enumerate().map(|(i, r)| (r.cell, i)).collect();
        let mut pair: HashMap<(u32, u32), u64> = HashMap::new();
        for (&tl, &kl) in f.labels.iter().zip(&labels) {
            seg_px += u64::from(kl != 0);
            truth_px += u64::from(tl != 0);
            inter += u64::from(kl != 0 && tl != 0);
            if tl != 0 && kl != 0 {
                *pair.entry((tl, kl)).or_default() += 1;
            }
        }
        let mut best: HashMap<u32, (u32, u64)> = HashMap::new();
        for (&(tl, kl), &c) in &pair {
            let e = best.entry(tl).or_insert((kl, c));
            if c > e.1 || (c == e.1 && kl < e.0) {
                *e = (kl, c);
            }
        }
        let mut best_count: HashMap<u32, usize> = HashMap::new();
        for &(kl, _) in best.values() {
            *best_count.entry(kl).or_default() += 1;
        }
        let near = touching(&f.labels, size);
        let mut id_of: HashMap<u32, u32> = HashMap::new();
        for tr in &f.truth {
            total += 1;
            all_cells.insert(tr.cell);
            let b = best.get(&tr.cell).copied();
            if near.contains(&tr.cell) {
                touch_n += 1;
                if b.is_some_and(|(kl, _)| best_count[&kl] > 1) {
                    merged += 1;
                }
            }
            let Some((kl, common)) = b else { continue };
            let Some(row) = row_of.get(&kl).map(|&i| &rows[i]) else {
                continue;
            };
            if common as f64 / (tr.area + row.area - common) as f64 >= 0.5 {
                observed += 1;
                traced.insert(tr.cell);
                id_of.insert(tr.cell, kl);
                ratios.push(row.area as f64 / tr.area as f64);
                for (m, s) in row.total.iter().zip(&tr.signal) {
                    errs.push((m - s).abs() / s);
                }
            }
        }
        for (k, &(parent, daughters, frame)) in divisions.iter().enumerate() {
            if t + 1 == frame {
                div_ids[k].0 = id_of.get(&parent).copied();
            }
            if t == frame {
                div_ids[k].1 = daughters.map(|d| id_of.get(&d).copied());
            }
        }
    }
    let parents: HashSet<(u32, u32)> = tracker.parents().iter().copied().collect();
    let found = div_ids
        .iter()
        .filter(|(p, ds)| match (p, ds) {
            (Some(p), [Some(a), Some(b)]) => {
                a != b && parents.contains(&(*a, *p)) && parents.contains(&(*b, *p))
            }
            _ => false,
        })
        .count();
    Score {
        coverage: truth_px as f64 / (n * frames).max(1) as f64,
        dice: 2.0 * inter as f64 / (seg_px + truth_px).max(1) as f64,
        area_ratio: median(ratios),
        cells_traced: traced.len() as f64 / all_cells.len().max(1) as f64,
        observed: observed as f64 / total.max(1) as f64,
        truth_rows: total,
        merged: merged as f64 / touch_n.max(1) as f64,
        touching: touch_n,
        divisions_found: found as f64 / divisions.len().max(1) as f64,
        divisions: divisions.len(),
        intensity_err: median(errs),
        cells_per_frame,
        decisions: seg.decisions(),
    }
}
