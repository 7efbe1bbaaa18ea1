//! Accuracy of segment → background → track → extract against synthetic ground
//! truth, in memory and frame by frame, through the public API only.
//!
//! Targets: segmentation Dice ≥ 0.90 over all frames; ≥ 95 % of true cell-frames
//! matched one-to-one (IoU ≥ 0.5) by a tracked cell; median relative error of
//! intensity_total ≤ 2 % over matched cells; a late cell tracked from its first frame
//! under one id; a one-frame drop-out bridged (same id before and after); frames of
//! 64, 100, 512 and 1024 px all work.

use std::collections::HashSet;

use isobatch_worker::fov::params::SegmentParams;
use isobatch_worker::synth::run::{DivisionIds, Matches, run_scene};
use isobatch_worker::synth::{Event, Scene, SceneConfig};

/// What one run of the pipeline over a scene scored.
#[derive(Debug, Default)]
struct Score {
    /// Dice of the segmentation over all frames.
    dice: f64,
    /// Fraction of true cell-frames matched one-to-one (IoU ≥ 0.5) by a tracked cell.
    matched: f64,
    /// Truth cell-frames.
    truth_rows: usize,
    /// Median relative error of intensity_total over matched cells (all channels).
    median_rel_err: f64,
    /// Mean error of the estimated background under the cells, relative to its level.
    bg_bias: f64,
    /// Late cells: tracked id per frame of its life, and whether that id was new then.
    late: Vec<(Vec<Option<u32>>, bool)>,
    /// Drop-outs: tracked id in the frame before and after the gap.
    dropout: Vec<(Option<u32>, Option<u32>)>,
    /// Divisions: the parent's tracked id before, the daughters' ids after.
    divisions: Vec<(Option<u32>, [Option<u32>; 2])>,
    /// The tracker's (daughter, parent) records.
    parents: Vec<(u32, u32)>,
}

fn run(size: usize, frames: usize, seed: u64, channels: usize) -> Score {
    let scene = Scene::new(&SceneConfig {
        size,
        frames,
        seed,
        fl_channels: channels,
        ..SceneConfig::default()
    });
    let events = scene.events();
    let true_bg: Vec<Vec<f32>> = (0..channels).map(|c| scene.fl_background(c)).collect();
    let (mut inter, mut seg_px, mut truth_px) = (0u64, 0u64, 0u64);
    let (mut matched, mut total) = (0usize, 0usize);
    let (mut bg_err, mut bg_level) = (0f64, 0f64);
    let mut errs = Vec::new();
    let mut seen_ids: HashSet<u32> = HashSet::new();
    let mut score = Score::default();
    let mut late = Vec::new();
    let mut drop = Vec::new();
    for e in &events {
        match *e {
            Event::Appear { cell, frame } => late.push((cell, frame)),
            Event::Dropout { cell, frame } => drop.push((cell, frame)),
            _ => {}
        }
    }
    score.late = vec![(Vec::new(), false); late.len()];
    score.dropout = vec![(None, None); drop.len()];
    let mut divisions = DivisionIds::new(&events);
    let end = run_scene(&scene, &SegmentParams::default(), |f| {
        let (t, rows, bg) = (f.t, f.rows, f.bg);
        assert!(rows.windows(2).all(|p| p[0].cell < p[1].cell));
        assert!(
            rows.iter()
                .all(|r| r.total.iter().chain(&r.mean).all(|v| v.is_finite()))
        );
        assert!(bg.iter().flatten().all(|v| v.is_finite()));
        for i in 0..size * size {
            let (m, tl) = (f.mask[i] != 0, f.truth.labels[i] != 0);
            seg_px += u64::from(m);
            truth_px += u64::from(tl);
            inter += u64::from(m && tl);
            if tl {
                for (b, tb) in bg.iter().zip(&true_bg) {
                    bg_err += f64::from(b[i] - tb[i]);
                    bg_level += f64::from(tb[i]);
                }
            }
        }
        let m = Matches::of(f);
        total += f.truth.truth.len();
        for tr in &f.truth.truth {
            if let Some(&k) = m.observed.get(&tr.cell) {
                matched += 1;
                for (v, s) in rows[k].total.iter().zip(&tr.signal) {
                    errs.push((v - s).abs() / s);
                }
            }
        }
        for (k, &(cell, first)) in late.iter().enumerate() {
            if t >= first {
                let id = m.id(f, cell);
                if t == first {
                    score.late[k].1 = id.is_some_and(|id| !seen_ids.contains(&id));
                }
                score.late[k].0.push(id);
            }
        }
        for (k, &(cell, gap)) in drop.iter().enumerate() {
            if t + 1 == gap {
                score.dropout[k].0 = m.id(f, cell);
            }
            if t == gap + 1 {
                score.dropout[k].1 = m.id(f, cell);
            }
        }
        divisions.see(f, &m);
        seen_ids.extend(rows.iter().map(|r| r.cell));
    });
    score.divisions = divisions.ids;
    score.parents = end.parents;
    score.dice = 2.0 * inter as f64 / (seg_px + truth_px).max(1) as f64;
    score.matched = matched as f64 / total.max(1) as f64;
    score.truth_rows = total;
    score.bg_bias = bg_err / bg_level.max(1.0);
    errs.sort_by(f64::total_cmp);
    score.median_rel_err = errs.get(errs.len() / 2).copied().unwrap_or(f64::NAN);
    eprintln!(
        "{size} px × {frames} frames, seed {seed}: Dice {:.4}, matched {:.4} of {} cell-frames, \
         median |rel err| of totals {:.4}, background bias under cells {:+.5}",
        score.dice, score.matched, score.truth_rows, score.median_rel_err, score.bg_bias
    );
    score
}

/// Asserts the accuracy targets, and the event targets when the scene has them.
fn check(s: &Score) {
    assert!(s.dice >= 0.90, "Dice {}", s.dice);
    assert!(s.matched >= 0.95, "matched {}", s.matched);
    assert!(
        s.median_rel_err <= 0.02,
        "median relative error {}",
        s.median_rel_err
    );
    assert!(s.bg_bias.abs() <= 0.01, "background bias {}", s.bg_bias);
    for (ids, fresh) in &s.late {
        assert!(
            *fresh,
            "late cell not tracked from its first frame under a new id: {ids:?}"
        );
        assert!(
            ids.iter().all(|id| id.is_some() && *id == ids[0]),
            "late cell ids {ids:?}"
        );
    }
    for (before, after) in &s.dropout {
        assert!(
            before.is_some() && before == after,
            "drop-out not bridged: {before:?} -> {after:?}"
        );
    }
}

/// Every division: the parent's id ends, both daughters get new ids recorded as its children.
fn check_divisions(s: &Score) {
    for &(parent, daughters) in &s.divisions {
        let parent = parent.expect("parent tracked before division");
        let [a, b] = daughters.map(|d| d.expect("daughter tracked at division"));
        assert!(
            a != parent && b != parent && a != b,
            "daughters {a}, {b} of {parent} need ids of their own"
        );
        for d in [a, b] {
            assert!(
                s.parents.contains(&(d, parent)),
                "({d}, {parent}) not in {:?}",
                s.parents
            );
        }
    }
}

#[test]
fn accuracy_512_px() {
    let s = run(512, 30, 11, 2);
    assert!(!s.late.is_empty() && !s.dropout.is_empty() && !s.divisions.is_empty());
    check(&s);
    check_divisions(&s);
}

#[test]
fn accuracy_64_px() {
    let s = run(64, 30, 3, 1);
    assert!(!s.late.is_empty() && !s.dropout.is_empty());
    check(&s);
    check_divisions(&s);
}

#[test]
fn accuracy_100_px() {
    let s = run(100, 30, 4, 1);
    assert!(!s.late.is_empty() && !s.dropout.is_empty());
    check(&s);
    check_divisions(&s);
}

#[test]
fn accuracy_1024_px() {
    let s = run(1024, 2, 5, 1);
    assert!(s.truth_rows > 800);
    check(&s);
}

#[test]
fn other_seeds_hold_up() {
    for seed in [21, 22, 23] {
        let s = run(256, 20, seed, 1);
        check(&s);
        check_divisions(&s);
    }
}

#[test]
fn odd_and_tiny_frames_do_not_crash() {
    for size in [1, 2, 7, 24, 33, 63, 65, 127] {
        let s = run(size, 4, 9, 2);
        assert!(s.dice.is_finite());
    }
}
