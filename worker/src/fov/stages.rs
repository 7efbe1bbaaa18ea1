//! The fov pipeline's five stages as [`Stage`]s: each opens its inputs
//! (the previous stages' checkpoints), streams them frame by frame through
//! the algorithm of its own module, and writes its checkpoint atomically.
//!
//! Checkpoints in `TASK/` (`.npy`, `.tif` or both, per `--checkpoint-format`):
//! `copy_cN` (each channel, input dtype), `segment_mask` (u8 0/1),
//! `background_cN` (each fluorescence channel; the input's type for u8/u16
//! input, else f32), `track_labels` (u16 when the ids fit, else u32;
//! 0 = background) and `traces.csv`.

use std::path::PathBuf;

use isobatch_shared::{CheckpointFormat, StageQc};

use super::background::BackgroundEstimator;
use super::layout::Layout;
use super::runs::RunScratch;
use super::segment::Segmenter;
use super::track::{Lineage, Tracker};
use super::{FovConfig, background_qc, lineage, qc, traces};
use crate::image::checkpoint::{Frames, StackSink, StackSource, checkpoint_paths};
use crate::image::source::PlaneFile;
use crate::image::{Dtype, Pixel, Shape};
use crate::stage::{Stage, StageError};

/// What every fov stage knows about its task.
pub struct Fov<'a> {
    /// The input file.
    pub input: PathBuf,
    /// The position inside it (`None`: its only one).
    pub position: Option<usize>,
    /// `OUTPUT/TASK`.
    pub dir: PathBuf,
    /// The task id (the `fov` column of traces.csv).
    pub task: String,
    /// Channels and frames.
    pub layout: Layout,
    /// Frame size and count.
    pub shape: Shape,
    /// The pixel type of the copied channels (the input's, float32 for a mean projection).
    pub dtype: Dtype,
    /// The input's pixel type.
    pub input_dtype: Dtype,
    /// `--checkpoint-format`.
    pub format: CheckpointFormat,
    /// Every stage's parameters.
    pub config: &'a FovConfig,
}

impl Fov<'_> {
    /// The checkpoint files of `stem` in the task folder.
    pub fn files(&self, stem: &str) -> Vec<PathBuf> {
        checkpoint_paths(&self.dir, stem, self.format)
    }
    /// Opens the checkpoint `stem`, checking its shape.
    pub fn source(&self, stem: &str) -> Result<StackSource, StageError> {
        let s = StackSource::open(&self.dir, stem, self.format).map_err(StageError::Checkpoint)?;
        if s.shape() != self.shape {
            return Err(StageError::Failed(format!(
                "checkpoint {stem} has shape {:?}, expected {:?}",
                s.shape(),
                self.shape
            )));
        }
        Ok(s)
    }
    fn sink<T: Pixel>(&self, stem: &str) -> Result<StackSink<T>, StageError> {
        StackSink::create(&self.dir, stem, self.shape, self.format).map_err(StageError::Image)
    }
    /// The files of checkpoint `STEM_cN` for every fluorescence channel N.
    pub fn fl_files(&self, stem: &str) -> Vec<PathBuf> {
        self.layout
            .fl
            .iter()
            .flat_map(|c| self.files(&format!("{stem}_c{c}")))
            .collect()
    }
    /// Opens checkpoint `STEM_cN` for every fluorescence channel N.
    pub fn fl_sources(&self, stem: &str) -> Result<Vec<StackSource>, StageError> {
        self.layout
            .fl
            .iter()
            .map(|c| self.source(&format!("{stem}_c{c}")))
            .collect()
    }
    /// Pixels per frame.
    pub fn frame_len(&self) -> usize {
        self.shape.height * self.shape.width
    }
}

/// Starts a pass over the frames of each of `sources`.
pub fn frames_of(sources: &mut [StackSource]) -> Result<Vec<Frames<'_>>, StageError> {
    sources
        .iter_mut()
        .map(|s| s.frames().map_err(StageError::Checkpoint))
        .collect()
}

fn params(list: Vec<(&'static str, String)>) -> Vec<(String, String)> {
    list.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Commits every sink (each file atomically).
fn commit_all<T: Pixel>(sinks: Vec<StackSink<T>>) -> Result<(), StageError> {
    for s in sinks {
        s.commit().map_err(StageError::Image)?;
    }
    Ok(())
}

/// Reports progress every few frames (and on the last one).
pub(super) fn tick(progress: &mut dyn FnMut(f32, &str), t: usize, frames: usize) {
    if t % 8 == 7 || t + 1 == frames {
        progress(
            (t + 1) as f32 / frames.max(1) as f32,
            &format!("frame {}/{frames}", t + 1),
        );
    }
}

/// Stage 1: every channel of the input position to its own (T,H,W) stack, plane by
/// plane (focal planes projected or picked per `--param z`).
pub struct Copy<'a>(pub &'a Fov<'a>);

impl Copy<'_> {
    /// Reads plane (t, c, z) of the position into `out` (raw samples of the input dtype).
    fn read(
        &self,
        file: &mut dyn PlaneFile,
        t: usize,
        c: usize,
        z: usize,
        out: &mut [u8],
    ) -> Result<(), StageError> {
        let f = self.0;
        file.read_plane(f.position.unwrap_or(0), f.layout.plane(t, c, z), out)
            .map_err(|e| StageError::Image(e.at_position(f.position)))
    }

    fn copy_as<T: Pixel>(&self, progress: &mut dyn FnMut(f32, &str)) -> Result<(), StageError> {
        let f = self.0;
        let (mut file, _, _) = super::open(&f.input, f.position, f.config)
            .map_err(|e| StageError::InvalidInput(e.to_string()))?;
        let mut sinks = (0..f.layout.channels)
            .map(|c| f.sink::<T>(&format!("copy_c{c}")))
            .collect::<Result<Vec<_>, _>>()?;
        let n = f.frame_len();
        let mut raw = vec![0u32; (n * f.input_dtype.bytes()).div_ceil(4)];
        let raw = &mut bytemuck::cast_slice_mut::<u32, u8>(&mut raw)[..n * f.input_dtype.bytes()];
        let mut page = vec![T::default(); n];
        let mut acc = vec![0f32; if T::DTYPE == f.input_dtype { 0 } else { n }];
        let zs = f.layout.z_range();
        for t in 0..f.layout.frames {
            for (c, sink) in sinks.iter_mut().enumerate() {
                if T::DTYPE == f.input_dtype {
                    // One plane, or a maximum projection: the input's own samples.
                    for (k, z) in zs.clone().enumerate() {
                        if k == 0 {
                            self.read(file.as_mut(), t, c, z, bytemuck::cast_slice_mut(&mut page))?;
                        } else {
                            self.read(file.as_mut(), t, c, z, raw)?;
                            let plane: &[T] = bytemuck::try_cast_slice(raw)
                                .map_err(|e| StageError::Failed(format!("{e:?}")))?;
                            for (o, &v) in page.iter_mut().zip(plane) {
                                if v.to_f32() > o.to_f32() {
                                    *o = v;
                                }
                            }
                        }
                    }
                } else {
                    // Mean projection, in float32.
                    acc.fill(0.0);
                    let mut plane = vec![0f32; n];
                    for z in zs.clone() {
                        self.read(file.as_mut(), t, c, z, raw)?;
                        crate::image::convert_to_f32(f.input_dtype, raw, &mut plane)
                            .map_err(|e| StageError::Failed(e.to_string()))?;
                        for (a, v) in acc.iter_mut().zip(&plane) {
                            *a += v;
                        }
                    }
                    let k = zs.len() as f32;
                    for (o, a) in page.iter_mut().zip(&acc) {
                        *o = T::from_f32(a / k);
                    }
                }
                sink.write_frame(t, &page).map_err(StageError::Image)?;
            }
            tick(progress, t, f.layout.frames);
        }
        commit_all(sinks)
    }
}

impl Stage for Copy<'_> {
    fn name(&self) -> &'static str {
        "copy"
    }
    fn version(&self) -> u32 {
        1
    }
    fn params(&self) -> Vec<(String, String)> {
        let l = &self.0.layout;
        vec![
            ("channels".into(), l.channels.to_string()),
            ("format".into(), self.0.format.to_string()),
            ("position".into(), format!("{:?}", self.0.position)),
            ("order".into(), l.order.to_string()),
            ("z".into(), format!("{} of {}", l.z, l.z_planes)),
        ]
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.0.input.clone()]
    }
    fn outputs(&self) -> Vec<PathBuf> {
        (0..self.0.layout.channels)
            .flat_map(|c| self.0.files(&format!("copy_c{c}")))
            .collect()
    }
    fn run(&mut self, progress: &mut dyn FnMut(f32, &str)) -> Result<(), StageError> {
        match self.0.dtype {
            Dtype::U8 => self.copy_as::<u8>(progress),
            Dtype::U16 => self.copy_as::<u16>(progress),
            Dtype::U32 => self.copy_as::<u32>(progress),
            Dtype::F32 => self.copy_as::<f32>(progress),
        }
    }
}

/// Stage 2: the phase-contrast channel to a cell mask, with per-frame QC.
pub struct Segment<'a> {
    fov: &'a Fov<'a>,
    qc: Option<StageQc>,
}

impl<'a> Segment<'a> {
    /// The segment stage of `fov`.
    pub fn new(fov: &'a Fov<'a>) -> Self {
        Segment { fov, qc: None }
    }
}

impl Stage for Segment<'_> {
    fn name(&self) -> &'static str {
        "segment"
    }
    fn version(&self) -> u32 {
        // 2: per-frame QC in the record.
        2
    }
    fn params(&self) -> Vec<(String, String)> {
        let mut p = params(self.fov.config.segment.describe());
        p.push(("pc".into(), self.fov.layout.pc.to_string()));
        p
    }
    fn inputs(&self) -> Vec<PathBuf> {
        self.fov.files(&format!("copy_c{}", self.fov.layout.pc))
    }
    fn outputs(&self) -> Vec<PathBuf> {
        self.fov.files("segment_mask")
    }
    fn run(&mut self, progress: &mut dyn FnMut(f32, &str)) -> Result<(), StageError> {
        let f = self.fov;
        let (h, w) = (f.shape.height, f.shape.width);
        let mut phase_src = f.source(&format!("copy_c{}", f.layout.pc))?;
        let mut phase_frames = phase_src.frames().map_err(StageError::Checkpoint)?;
        let mut sink = f.sink::<u8>("segment_mask")?;
        let mut seg = Segmenter::new(h, w, &f.config.segment);
        let (mut phase, mut mask) = (vec![0f32; h * w], vec![0u8; h * w]);
        let mut runs = RunScratch::default();
        let mut frames = Vec::with_capacity(f.shape.frames);
        for t in 0..f.shape.frames {
            phase_frames
                .read_f32(t, &mut phase)
                .map_err(StageError::Checkpoint)?;
            seg.segment(&phase, &mut mask);
            frames.push(qc::frame_qc(&mask, h, w, &mut runs));
            sink.write_frame(t, &mask).map_err(StageError::Image)?;
            tick(progress, t, f.shape.frames);
        }
        commit_all(vec![sink])?;
        self.qc = Some(StageQc {
            warnings: qc::collapse_warnings(&frames),
            decisions: seg.decisions(),
            frames,
        });
        Ok(())
    }
    fn qc(&self) -> Option<StageQc> {
        self.qc.clone()
    }
}

/// Stage 3: a smooth background per fluorescence channel, cells masked out; its
/// QC warns of frames whose background had no usable tile (`fov::background_qc`).
pub struct Background<'a>(pub &'a Fov<'a>, Option<StageQc>);

impl<'a> Background<'a> {
    /// The background stage of `fov`.
    pub fn new(fov: &'a Fov<'a>) -> Self {
        Background(fov, None)
    }
}

impl Stage for Background<'_> {
    fn name(&self) -> &'static str {
        "background"
    }
    fn version(&self) -> u32 {
        // 2: stored in the input's integer type. 3: tiles without usable pixels from a
        // fitted surface; QC warnings.
        3
    }
    fn params(&self) -> Vec<(String, String)> {
        let mut p = params(self.0.config.background.describe());
        p.push(("fl".into(), format!("{:?}", self.0.layout.fl)));
        p
    }
    fn inputs(&self) -> Vec<PathBuf> {
        let mut v = self.0.fl_files("copy");
        v.extend(self.0.files("segment_mask"));
        v
    }
    fn outputs(&self) -> Vec<PathBuf> {
        self.0.fl_files("background")
    }
    fn run(&mut self, progress: &mut dyn FnMut(f32, &str)) -> Result<(), StageError> {
        // Stored in the input's integer type (rounded: the camera counts in whole units, and
        // half the bytes of f32 to write and fsync), as f32 for float input.
        match self.0.dtype {
            Dtype::U8 => self.estimate_as::<u8>(progress),
            Dtype::U16 => self.estimate_as::<u16>(progress),
            Dtype::U32 | Dtype::F32 => self.estimate_as::<f32>(progress),
        }
    }
    fn qc(&self) -> Option<StageQc> {
        self.1.clone()
    }
}

impl Background<'_> {
    fn estimate_as<T: Pixel>(
        &mut self,
        progress: &mut dyn FnMut(f32, &str),
    ) -> Result<(), StageError> {
        let f = self.0;
        let (h, w) = (f.shape.height, f.shape.width);
        let mut mask_src = f.source("segment_mask")?;
        let mut masks = mask_src.frames().map_err(StageError::Checkpoint)?;
        let mut fl_src = f.fl_sources("copy")?;
        let mut fl_frames = frames_of(&mut fl_src)?;
        let mut sinks = f
            .layout
            .fl
            .iter()
            .map(|c| f.sink::<T>(&format!("background_c{c}")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut est = BackgroundEstimator::new(h, w, &f.config.background);
        let (mut mask, mut fl) = (vec![0u8; h * w], vec![0f32; h * w]);
        let mut out = vec![T::default(); h * w];
        let mut sources = vec![Vec::with_capacity(f.shape.frames); sinks.len()];
        for t in 0..f.shape.frames {
            masks.read(t, &mut mask).map_err(StageError::Checkpoint)?;
            for ((src, sink), used) in fl_frames.iter_mut().zip(&mut sinks).zip(&mut sources) {
                src.read_f32(t, &mut fl).map_err(StageError::Checkpoint)?;
                est.estimate_rows(&fl, &mask, |y, row| {
                    for (o, &b) in out[y * w..(y + 1) * w].iter_mut().zip(row) {
                        *o = T::from_f32(b);
                    }
                });
                used.push(est.source());
                sink.write_frame(t, &out).map_err(StageError::Image)?;
            }
            tick(progress, t, f.shape.frames);
        }
        commit_all(sinks)?;
        let warnings = f
            .layout
            .fl
            .iter()
            .zip(&sources)
            .flat_map(|(&c, used)| background_qc::warnings(c, used, &f.config.background))
            .collect();
        self.1 = Some(StageQc {
            warnings,
            ..StageQc::default()
        });
        Ok(())
    }
}

/// Stage 4: masks to labels with one id per cell for its whole life; its QC
/// records how many cells it traced (decision `cells_traced`).
pub struct Track<'a>(pub &'a Fov<'a>, Option<usize>);

impl<'a> Track<'a> {
    /// The track stage of `fov`.
    pub fn new(fov: &'a Fov<'a>) -> Self {
        Track(fov, None)
    }
}

impl Stage for Track<'_> {
    fn name(&self) -> &'static str {
        "track"
    }
    fn version(&self) -> u32 {
        // 2: u16 labels when the ids fit. 3: divisions end the parent; lineage.csv.
        3
    }
    fn params(&self) -> Vec<(String, String)> {
        params(self.0.config.track.describe())
    }
    fn inputs(&self) -> Vec<PathBuf> {
        self.0.files("segment_mask")
    }
    fn outputs(&self) -> Vec<PathBuf> {
        let mut v = self.0.files("track_labels");
        v.push(lineage::path(&self.0.dir));
        v
    }
    fn run(&mut self, progress: &mut dyn FnMut(f32, &str)) -> Result<(), StageError> {
        // u16 labels when the ids fit (half the bytes to write, and Fiji reads 16-bit images
        // natively), u32 otherwise. Ids are handed out in increasing order, so the first frame
        // with an id over u16::MAX shows they do not: that file is dropped uncommitted and the
        // stack is tracked again into u32. One pass in the common case instead of a counting
        // pass before every write.
        let rows = match self.track(self.0.sink::<u16>("track_labels")?, progress)? {
            Some(rows) => rows,
            None => {
                progress(
                    0.0,
                    "more than 65535 cell ids: tracking again with 32-bit labels",
                );
                self.track(self.0.sink::<u32>("track_labels")?, progress)?
                    .ok_or_else(|| {
                        StageError::Failed("more than 2^32 - 1 cell ids in one stack".into())
                    })?
            }
        };
        self.1 = Some(rows.len());
        lineage::write(&self.0.dir, &self.0.task, &rows)
    }
    fn qc(&self) -> Option<StageQc> {
        self.1.map(|cells| StageQc {
            decisions: vec![(CELLS_TRACED.into(), cells.to_string())],
            ..StageQc::default()
        })
    }
}

/// The track stage's QC decision: how many cell ids it issued (one lineage row each).
pub const CELLS_TRACED: &str = "cells_traced";

impl Track<'_> {
    /// Tracks every frame into `sink` and commits it; returns the lineage.
    /// `Ok(None)`, with nothing committed, as soon as an id does not fit `T`.
    fn track<T: Pixel + TryFrom<u32>>(
        &self,
        mut sink: StackSink<T>,
        progress: &mut dyn FnMut(f32, &str),
    ) -> Result<Option<Vec<Lineage>>, StageError> {
        let f = self.0;
        let (h, w) = (f.shape.height, f.shape.width);
        let mut mask_src = f.source("segment_mask")?;
        let mut masks = mask_src.frames().map_err(StageError::Checkpoint)?;
        let mut tracker = Tracker::new(h, w, &f.config.track);
        let (mut mask, mut labels) = (vec![0u8; h * w], vec![0u32; h * w]);
        let mut out = vec![T::default(); h * w];
        for t in 0..f.shape.frames {
            masks.read(t, &mut mask).map_err(StageError::Checkpoint)?;
            tracker.push(&mask, &mut labels);
            // Every label is at most the last id handed out.
            if T::try_from(tracker.ids_issued()).is_err() {
                return Ok(None);
            }
            for (o, &l) in out.iter_mut().zip(&labels) {
                *o = T::try_from(l).map_err(|_| {
                    StageError::Failed(format!("label {l} does not fit the label type"))
                })?;
            }
            sink.write_frame(t, &out).map_err(StageError::Image)?;
            tick(progress, t, f.shape.frames);
        }
        commit_all(vec![sink])?;
        Ok(Some(tracker.lineage().to_vec()))
    }
}

/// Stage 5: per cell per frame measurements to `traces.csv`.
pub struct Extract<'a>(pub &'a Fov<'a>);

impl Stage for Extract<'_> {
    fn name(&self) -> &'static str {
        "extract"
    }
    fn version(&self) -> u32 {
        // 2: the parent column. 3: contested ring pixels to the nearest cell,
        // measured_px, intensity_mean over the pixels summed, time_<unit>.
        // 4: totals summed in f64 pixel by pixel in one raster pass (was f32
        // per run): the same figures for integer images, last bits may differ
        // for float ones.
        4
    }
    fn params(&self) -> Vec<(String, String)> {
        let mut p = params(self.0.config.extract.describe());
        p.push(("time".into(), self.0.layout.time_description()));
        p
    }
    fn inputs(&self) -> Vec<PathBuf> {
        let f = self.0;
        let mut v = f.files("track_labels");
        v.push(lineage::path(&f.dir));
        v.extend(f.fl_files("copy"));
        v.extend(f.fl_files("background"));
        v
    }
    fn outputs(&self) -> Vec<PathBuf> {
        vec![traces::path(&self.0.dir)]
    }
    fn run(&mut self, progress: &mut dyn FnMut(f32, &str)) -> Result<(), StageError> {
        traces::extract(self.0, progress)
    }
}
