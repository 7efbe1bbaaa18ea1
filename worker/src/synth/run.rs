//! The fov algorithms (segment → background → track → extract) run over a
//! synthetic scene in memory, frame by frame, and matched against its ground
//! truth: the one loop behind `synth::score` (`scripts/score-fov`, the
//! crowded-field tests) and the sparse accuracy tests.

use std::collections::HashMap;

use crate::fov::background::BackgroundEstimator;
use crate::fov::extract::{CellRow, MeasureScratch, measure};
use crate::fov::params::{BackgroundParams, ExtractParams, SegmentParams, TrackParams};
use crate::fov::segment::Segmenter;
use crate::fov::track::Tracker;
use crate::image::Pixel;
use crate::synth::{Event, Scene, SynthFrame};

/// One frame of a run: the scene's truth and what the algorithms made of it.
#[derive(Debug)]
pub struct FrameRun<'a> {
    /// Frame index.
    pub t: usize,
    /// The rendered frame with its ground truth.
    pub truth: &'a SynthFrame,
    /// The segmentation mask (non-zero = cell).
    pub mask: &'a [u8],
    /// The tracked labels.
    pub labels: &'a [u32],
    /// The estimated background per fluorescence channel, rounded to u16 as
    /// the background stage stores it for uint16 input.
    pub bg: &'a [Vec<f32>],
    /// The extract stage's rows, sorted by cell.
    pub rows: &'a [CellRow],
}

/// What a whole run leaves behind besides its frames.
#[derive(Debug, Clone, Default)]
pub struct RunEnd {
    /// The tracker's `(daughter, parent)` records.
    pub parents: Vec<(u32, u32)>,
    /// The segmenter's decisions (e.g. the polarity it detected).
    pub decisions: Vec<(String, String)>,
}

/// Runs the algorithms with `seg_params` (other stages at their defaults) over
/// every frame of `scene`, calling `each` once per frame.
pub fn run_scene(
    scene: &Scene,
    seg_params: &SegmentParams,
    mut each: impl FnMut(&FrameRun<'_>),
) -> RunEnd {
    let cfg = scene.config();
    let (size, channels) = (cfg.size, cfg.fl_channels);
    let n = size * size;
    let mut seg = Segmenter::new(size, size, seg_params);
    let mut bge = BackgroundEstimator::new(size, size, &BackgroundParams::default());
    let mut tracker = Tracker::new(size, size, &TrackParams::default());
    let mut scratch = MeasureScratch::default();
    let (mut phase, mut mask, mut labels) = (vec![0f32; n], vec![0u8; n], vec![0u32; n]);
    let mut fl = vec![vec![0f32; n]; channels];
    let mut bg = vec![vec![0f32; n]; channels];
    for t in 0..cfg.frames {
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
        let params = ExtractParams::default();
        let rows = measure(t, &labels, size, size, &fls, &bgs, &params, &mut scratch);
        each(&FrameRun {
            t,
            truth: &f,
            mask: &mask,
            labels: &labels,
            bg: &bg,
            rows: &rows,
        });
    }
    RunEnd {
        parents: tracker.parents().to_vec(),
        decisions: seg.decisions(),
    }
}

/// How a frame's true cells map to tracked cells.
#[derive(Debug, Clone, Default)]
pub struct Matches {
    /// Per true cell: the label overlapping it most (ties: the lower label) and
    /// the pixels they share.
    pub best: HashMap<u32, (u32, u64)>,
    /// Per *observed* true cell (its best label overlaps it with IoU ≥ 0.5, so
    /// the match is one-to-one): that label's index in the frame's rows.
    pub observed: HashMap<u32, usize>,
}

impl Matches {
    /// Matches the true cells of `frame.truth` with the rows of `frame.rows`.
    pub fn of(frame: &FrameRun<'_>) -> Matches {
        let mut pair: HashMap<(u32, u32), u64> = HashMap::new();
        for (&tl, &kl) in frame.truth.labels.iter().zip(frame.labels) {
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
        let mut observed = HashMap::new();
        for tr in &frame.truth.truth {
            let Some(&(kl, common)) = best.get(&tr.cell) else {
                continue;
            };
            let Ok(k) = frame.rows.binary_search_by_key(&kl, |r| r.cell) else {
                continue;
            };
            if common as f64 / (tr.area + frame.rows[k].area - common) as f64 >= 0.5 {
                observed.insert(tr.cell, k);
            }
        }
        Matches { best, observed }
    }

    /// The tracked label of an observed true cell.
    pub fn id(&self, frame: &FrameRun<'_>, cell: u32) -> Option<u32> {
        self.observed.get(&cell).map(|&k| frame.rows[k].cell)
    }
}

/// The tracked ids around each planned division: the parent's in the frame
/// before, the daughters' in the first frame after.
#[derive(Debug, Clone)]
pub struct DivisionIds {
    planned: Vec<(u32, [u32; 2], usize)>,
    /// Per planned division, in the order of the scene's events: the parent's
    /// id and the daughters' ids (`None` where not observed).
    pub ids: Vec<(Option<u32>, [Option<u32>; 2])>,
}

impl DivisionIds {
    /// Watches the divisions among `events`.
    pub fn new(events: &[Event]) -> DivisionIds {
        let planned: Vec<_> = events
            .iter()
            .filter_map(|e| match *e {
                Event::Divide {
                    parent,
                    daughters,
                    frame,
                } => Some((parent, daughters, frame)),
                _ => None,
            })
            .collect();
        let ids = vec![(None, [None; 2]); planned.len()];
        DivisionIds { planned, ids }
    }

    /// Records the ids `frame` shows.
    pub fn see(&mut self, frame: &FrameRun<'_>, m: &Matches) {
        for (k, &(parent, daughters, first)) in self.planned.iter().enumerate() {
            if frame.t + 1 == first {
                self.ids[k].0 = m.id(frame, parent);
            }
            if frame.t == first {
                self.ids[k].1 = daughters.map(|d| m.id(frame, d));
            }
        }
    }

    /// Divisions found: both daughters observed under distinct ids that the
    /// tracker records as children of the parent's id.
    pub fn found(&self, parents: &[(u32, u32)]) -> usize {
        self.ids
            .iter()
            .filter(|(p, ds)| match (p, ds) {
                (Some(p), [Some(a), Some(b)]) => {
                    a != b && parents.contains(&(*a, *p)) && parents.contains(&(*b, *p))
                }
                _ => false,
            })
            .count()
    }
}
