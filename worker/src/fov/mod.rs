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
pub mod background_qc;
pub mod cells;
pub mod error;
pub mod estimate;
pub mod extract;
pub mod filter;
pub mod fixed;
pub mod layout;
pub mod lineage;
pub mod morph;
pub mod params;
pub mod qc;
pub mod result;
pub mod ring;
pub mod runs;
pub mod segment;
pub mod split;
pub mod stages;
pub mod surface;
pub mod time;
pub mod traces;
pub mod track;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use isobatch_shared::TaskSpec;

use crate::TaskResult;
use crate::error::TaskError;
use crate::image::Shape;
use crate::image::source::{self, PlaneFile, Series};
use crate::image::tiff_in::Limits;
use crate::stage::{Reporter, Stage, run_stages};
use crate::task_log::open_log;
use error::{FovError, ParamError};
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
    pub fn from_params(params: &BTreeMap<String, String>) -> Result<FovConfig, ParamError> {
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
                return Err(ParamError::Unknown {
                    key: k.clone(),
                    known: known.join(", "),
                });
            }
        }
        Ok(c)
    }
}

/// Opens a FOV file and resolves the layout of `position` (`None`: a single-position file).
pub fn open(
    path: &Path,
    position: Option<usize>,
    config: &FovConfig,
) -> Result<(Box<dyn PlaneFile>, Series, Layout), FovError> {
    let file = source::open(path, &Limits::default()).map_err(FovError::Input)?;
    let p = position.unwrap_or(0);
    let series = file
        .positions()
        .get(p)
        .cloned()
        .ok_or_else(|| FovError::NoPosition {
            path: path.to_path_buf(),
            position: p,
            count: file.positions().len(),
        })?;
    let layout = Layout::resolve(path, &series, &config.layout)
        .map_err(|source| FovError::Layout { source, position })?;
    Ok((file, series, layout))
}

/// Reads a FOV's headers and resolves the layout of `position`.
pub fn inspect(
    path: &Path,
    position: Option<usize>,
    config: &FovConfig,
) -> Result<(Series, Layout), FovError> {
    open(path, position, config).map(|(_, s, l)| (s, l))
}

/// Runs one fov task attempt.
pub fn run(spec: &TaskSpec, progress: &mut dyn FnMut(&str, f32, &str)) -> TaskResult {
    let (config, input, info, layout) = match prepare(spec) {
        Ok(x) => x,
        Err(e) => return TaskResult::failed(&e),
    };
    let mut log = match open_log(&spec.log_path) {
        Ok(f) => f,
        Err(e) => return TaskResult::failed(&TaskError::AttemptLog(e)),
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
        Box::new(stages::Segment::new(&fov)),
        Box::new(stages::Background::new(&fov)),
        Box::new(stages::Track::new(&fov)),
        Box::new(stages::Extract(&fov)),
    ];
    let mut out = Reporter {
        progress,
        log: &mut log,
    };
    match run_stages(&spec.task_dir, &mut list, &spec.stages, &mut out) {
        Ok((stages, mut outputs)) => match result::write(&spec.task_dir, fov.shape.frames, &stages)
        {
            Ok(written) => {
                outputs.push(written);
                TaskResult::done(outputs, stages)
            }
            Err(e) => TaskResult {
                stages,
                ..TaskResult::failed(&TaskError::Stage(e))
            },
        },
        Err(failed) => TaskResult {
            stages: failed.reports,
            ..TaskResult::failed(&TaskError::Stage(failed.error))
        },
    }
}

/// Everything a task checks before its first stage: parameters, one input, its
/// header and layout, and the task folder.
fn prepare(spec: &TaskSpec) -> Result<(FovConfig, PathBuf, Series, Layout), TaskError> {
    let config = FovConfig::from_params(&spec.params).map_err(FovError::Param)?;
    let input = match spec.inputs.as_slice() {
        [one] => one.clone(),
        many => return Err(FovError::InputCount(many.to_vec()).into()),
    };
    let (info, layout) = inspect(&input, spec.position, &config)?;
    fs::create_dir_all(&spec.task_dir).map_err(|e| TaskError::io("create", &spec.task_dir, e))?;
    Ok((config, input, info, layout))
}
