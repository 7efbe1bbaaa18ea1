//! Stage 5, extract: labels, fluorescence and background to `traces.csv` (the
//! measurement itself is `fov::traces`).

use std::path::PathBuf;

use super::{Fov, params};
use crate::fov::{lineage, traces};
use crate::stage::{Stage, StageError};

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
