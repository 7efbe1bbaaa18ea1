//! The fov pipeline: one multi-page TIFF per field of view, through
//! copy → segment → background → track → extract, to per-cell traces.
//!
//! Where things are: the algorithms in [`segment`], [`background`], [`track`]
//! and [`extract`] (with binary morphology in [`morph`]); their parameters in
//! [`params`]; the channel layout and time unit in [`layout`]; the stages that
//! stream checkpoints through the algorithms in [`stages`]; `traces.csv` in
//! [`traces`]. Checkpoint reuse is the Stage machinery's ([`crate::stage`]).

pub mod assign;
pub mod background;
pub mod estimate;
pub mod extract;
pub mod filter;
pub mod layout;
pub mod morph;
pub mod params;
pub mod runs;
pub mod segment;
pub mod stages;
pub mod traces;
pub mod track;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use isobatch_shared::{Outcome, TaskSpec};

use crate::TaskResult;
use crate::image::Shape;
use crate::image::source::{self, PlaneFile, Series};
use crate::image::tiff_in::Limits;
use crate::stage::{Reporter, Stage, StageError, run_stages};
use crate::task_log::open_log;
use layout::{Layout, LayoutParams};
use params::{BackgroundParams, ExtractParams, SegmentParams, TrackParams};

/// The stages, in order (the names `--from-stage` and `--to-stage` take).
pub const STAGES: &[&str] = &["copy", "segment", "background", "track", "extract"];

/// Every fov parameter, parsed once from `--param KEY=VALUE`.
#[derive(Debug, Clone, Default)]
pub struct FovConfig {
    /// Channels, roles and time.
    pub layout: LayoutParams,
    /// Segmentation.
    pub segment: SegmentParams,
    /// Background estimation.
    pub background: BackgroundParams,
    /// Tracking.
    pub track: TrackParams,
    /// Measurement.
    pub extract: ExtractParams,
}

impl FovConfig {
    /// Parses the parameters; an unknown key or a malformed value is an error
    /// that lists what is accepted.
    pub fn from_params(params: &BTreeMap<String, String>) -> Result<FovConfig, String> {
        let mut c = FovConfig::default();
        for (k, v) in params {
            let taken = c.layout.set(k, v)?
                || c.segment.set(k, v)?
                || c.background.set(k, v)?
                || c.track.set(k, v)?
                || c.extract.set(k, v)?;
            if !taken {
                let known: Vec<&str> = [
                    LayoutParams::KEYS,
                    SegmentParams::KEYS,
                    BackgroundParams::KEYS,
                    TrackParams::KEYS,
                    ExtractParams::KEYS,
                ]
                .concat();
                return Err(format!(
                    "--param {k}: the fov pipeline has no such parameter (known: {})",
                    known.join(", ")
                ));
            }
        }
        Ok(c)
    }
}

/// Why a position cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    /// The file cannot be read as what the pipeline needs (`failed:invalid-input`).
    #[error("{0}")]
    Input(String),
    /// The parameters contradict the metadata, or a choice the metadata leaves open
    /// was not made: pre-flight refuses the batch (exit 2).
    #[error("{0}")]
    Params(String),
}

/// Opens a FOV file and resolves the layout of `position` (`None`: a single-position file).
pub fn open(
    path: &Path,
    position: Option<usize>,
    config: &FovConfig,
) -> Result<(Box<dyn PlaneFile>, Series, Layout), InspectError> {
    let file =
        source::open(path, &Limits::default()).map_err(|e| InspectError::Input(e.to_string()))?;
    let p = position.unwrap_or(0);
    let series = file.positions().get(p).cloned().ok_or_else(|| {
        InspectError::Input(format!(
            "{}: position {p} does not exist ({} position(s) in the file)",
            path.display(),
            file.positions().len()
        ))
    })?;
    let layout = Layout::resolve(path, &series, &config.layout).map_err(|e| match position {
        Some(p) => InspectError::Params(format!("{e} (position {p})")),
        None => InspectError::Params(e),
    })?;
    Ok((file, series, layout))
}

/// Reads a FOV's headers and resolves the layout of `position`.
pub fn inspect(
    path: &Path,
    position: Option<usize>,
    config: &FovConfig,
) -> Result<(Series, Layout), InspectError> {
    open(path, position, config).map(|(_, s, l)| (s, l))
}

/// Runs one fov task attempt.
pub fn run(spec: &TaskSpec, progress: &mut dyn FnMut(&str, f32, &str)) -> TaskResult {
    let config = match FovConfig::from_params(&spec.params) {
        Ok(c) => c,
        Err(e) => return TaskResult::from_outcome(Outcome::Error(e)),
    };
    let input = match spec.inputs.as_slice() {
        [one] => one.clone(),
        many => {
            let names: Vec<String> = many.iter().map(|p| p.display().to_string()).collect();
            return TaskResult::from_outcome(Outcome::InvalidInput(format!(
                "the fov pipeline takes one TIFF per task, got {}: {}",
                many.len(),
                names.join(", ")
            )));
        }
    };
    let (info, layout) = match inspect(&input, spec.position, &config) {
        Ok(x) => x,
        Err(e) => return TaskResult::from_outcome(Outcome::InvalidInput(e.to_string())),
    };
    if let Err(e) = fs::create_dir_all(&spec.task_dir) {
        return TaskResult::from_outcome(Outcome::Error(format!(
            "cannot create {}: {e}",
            spec.task_dir.display()
        )));
    }
    let mut log = match open_log(&spec.log_path) {
        Ok(f) => f,
        Err(e) => return TaskResult::from_outcome(Outcome::Error(e.to_string())),
    };
    let fov = stages::Fov {
        input,
        position: spec.position,
        dir: spec.task_dir.clone(),
        task: spec.task.clone(),
        shape: Shape {
            frames: layout.frames,
            height: info.height,
            width: info.width,
        },
        dtype: layout.copy_dtype(info.dtype),
        input_dtype: info.dtype,
        layout,
        format: spec.stages.format,
        config: &config,
    };
    let mut list: Vec<Box<dyn Stage + '_>> = vec![
        Box::new(stages::Copy(&fov)),
        Box::new(stages::Segment(&fov)),
        Box::new(stages::Background(&fov)),
        Box::new(stages::Track(&fov)),
        Box::new(stages::Extract(&fov)),
    ];
    let mut out = Reporter {
        progress,
        log: &mut log,
    };
    match run_stages(&spec.task_dir, &mut list, &spec.stages, &mut out) {
        Ok((stages, outputs)) => TaskResult {
            outcome: Outcome::Done,
            outputs,
            stages,
        },
        Err(failed) => TaskResult {
            outcome: match failed.error {
                StageError::InvalidInput(m) => Outcome::InvalidInput(m),
                StageError::Failed(m) => Outcome::Error(m),
            },
            outputs: Vec::new(),
            stages: failed.reports,
        },
    }
}
