//! The fov algorithms (segment → background → track → extract) run over a
//! synthetic scene in memory, frame by frame, and matched against its ground
//! truth: the one loop behind `synth::score` (`scripts/score-fov`, the
//! crowded-field tests), the sparse accuracy tests and the per-stage timing of
//! `examples/speed.rs` ([`Analysis`]).

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

/// The fov algorithms and their per-frame buffers for frames of one size, one
/// method per stage in pipeline order, so that [`run_scene`] runs them and
/// `examples/speed.rs` times each in the same loop.
#[derive(Debug)]
pub struct Analysis {
    size: usize,
    seg: Segmenter,
    bge: BackgroundEstimator,
    tracker: Tracker,
    scratch: MeasureScratch,
    phase: Vec<f32>,
    mask: Vec<u8>,
    labels: Vec<u32>,
    fl: Vec<Vec<f32>>,
    bg: Vec<Vec<f32>>,
}

impl Analysis {
    /// For `size`² frames with `channels` fluorescence channels, segmented with
    /// `seg_params` (the other stages at their defaults).
    pub fn new(size: usize, channels: usize, seg_params: &SegmentParams) -> Analysis {
        let n = size * size;
        Analysis {
            size,
            seg: Segmenter::new(size, size, seg_params),
            bge: BackgroundEstimator::new(size, size, &BackgroundParams::default()),
            tracker: Tracker::new(size, size, &TrackParams::default()),
            scratch: MeasureScratch::default(),
            phase: vec![0f32; n],
            mask: vec![0u8; n],
            labels: vec![0u32; n],
            fl: vec![vec![0f32; n]; channels],
            bg: vec![vec![0f32; n]; channels],
        }
    }

    /// Takes a rendered frame's phase and fluorescence channels as f32.
    pub fn load(&mut self, f: &SynthFrame) {
        for (d, s) in self.phase.iter_mut().zip(&f.phase) {
            *d = f32::from(*s);
        }
        for (dst, src) in self.fl.iter_mut().zip(&f.fl) {
            for (d, s) in dst.iter_mut().zip(src) {
                *d = f32::from(*s);
            }
        }
    }

    /// Segments the phase channel into the mask.
    pub fn segment(&mut self) {
        self.seg.segment(&self.phase, &mut self.mask);
    }

    /// Estimates each fluorescence channel's background under the mask.
    pub fn background(&mut self) {
        for (fch, b) in self.fl.iter().zip(self.bg.iter_mut()) {
            self.bge.estimate(fch, &self.mask, b);
        }
    }

    /// Rounds the backgrounds to u16, as the background stage stores them for
    /// uint16 input.
    pub fn round_background(&mut self) {
        for b in &mut self.bg {
            for v in b.iter_mut() {
                *v = f32::from(u16::from_f32(*v));
            }
        }
    }

    /// Tracks the mask into labels.
    pub fn track(&mut self) {
        self.tracker.push(&self.mask, &mut self.labels);
    }

    /// Measures frame `t`'s labelled cells: the extract stage's rows, sorted by cell.
    pub fn extract(&mut self, t: usize) -> Vec<CellRow> {
        let fls: Vec<&[f32]> = self.fl.iter().map(Vec::as_slice).collect();
        let bgs: Vec<&[f32]> = self.bg.iter().map(Vec::as_slice).collect();
        let (size, params) = (self.size, ExtractParams::default());
        measure(
            t,
            &self.labels,
            size,
            size,
            &fls,
            &bgs,
            &params,
            &mut self.scratch,
        )
    }

    /// What the run leaves behind: the tracker's divisions, the segmenter's decisions.
    pub fn end(self) -> RunEnd {
        RunEnd {
            parents: self.tracker.parents().to_vec(),
            decisions: self.seg.decisions(),
        }
    }
}

/// Runs the algorithms with `seg_params` (other stages at their defaults) over
/// every frame of `scene`, calling `each` once per frame.
pub fn run_scene(
    scene: &Scene,
    seg_params: &SegmentParams,
    mut each: impl FnMut(&FrameRun<'_>),
) -> RunEnd {
    let cfg = scene.config();
    let mut a = Analysis::new(cfg.size, cfg.fl_channels, seg_params);
    for t in 0..cfg.frames {
        let f = scene.render(t);
        a.load(&f);
        a.segment();
        a.background();
        a.round_background();
        a.track();
        let rows = a.extract(t);
        each(&FrameRun {
            t,
            truth: &f,
            mask: &a.mask,
            labels: &a.labels,
            bg: &a.bg,
            rows: &rows,
        });
    }
    a.end()
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
