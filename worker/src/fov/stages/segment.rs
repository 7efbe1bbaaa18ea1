//! Stage 2, segment: the phase-contrast checkpoint to `segment_mask`, with per-frame QC.

use std::path::PathBuf;

use isobatch_shared::StageQc;

use super::{Fov, commit_all, params, tick};
use crate::fov::qc;
use crate::fov::runs::RunScratch;
use crate::fov::segment::Segmenter;
use crate::stage::{Stage, StageError};

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
