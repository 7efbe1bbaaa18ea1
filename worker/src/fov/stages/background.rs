//! Stage 3, background: each fluorescence checkpoint and the mask to `background_cN`.

use std::path::PathBuf;

use isobatch_shared::StageQc;

use super::{Fov, commit_all, frames_of, params, tick};
use crate::fov::background::BackgroundEstimator;
use crate::fov::background_qc;
use crate::image::{Dtype, Pixel};
use crate::stage::{Stage, StageError};

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
