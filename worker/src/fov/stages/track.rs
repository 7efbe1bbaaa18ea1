//! Stage 4, track: the masks to `track_labels` (u16 when the ids fit, else u32) and
//! `lineage.csv`.

use std::path::PathBuf;

use isobatch_shared::StageQc;

use super::{Fov, commit_all, params, tick};
use crate::fov::lineage;
use crate::fov::track::{Lineage, Tracker};
use crate::image::Pixel;
use crate::image::checkpoint::StackSink;
use crate::stage::{Stage, StageError};

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
