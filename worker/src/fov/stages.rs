//! The fov pipeline's five stages as [`Stage`]s: each opens its inputs
//! (the previous stages' checkpoints), streams them frame by frame through
//! the algorithm of its own module, and writes its checkpoint atomically.
//!
//! Checkpoints in `TASK/` (`.npy`, `.tif` or both, per `--checkpoint-format`):
//! `copy_cN` (each channel, input dtype), `segment_mask` (u8 0/1),
//! `background_cN` (each fluorescence channel; the input's type for u8/u16
//! input, else f32), `track_labels` (u16 when the ids fit, else u32;
//! 0 = background) and `traces.csv`.
//!
//! This file holds what every stage knows ([`Fov`]) and their shared helpers; each
//! stage is in its own file under `stages/`, named for it.

mod background;
mod copy;
mod extract;
mod segment;
mod track;

use std::path::PathBuf;

use isobatch_shared::CheckpointFormat;

use super::FovConfig;
use super::layout::Layout;
use crate::image::checkpoint::{Frames, StackSink, StackSource, checkpoint_paths};
use crate::image::{Dtype, Pixel, Shape};
use crate::stage::StageError;

pub use background::Background;
pub use copy::Copy;
pub use extract::Extract;
pub use segment::Segment;
pub use track::{CELLS_TRACED, Track};

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
