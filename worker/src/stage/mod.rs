//! The Stage machinery: runs a multi-stage pipeline's stages in order, reusing
//! each checkpoint that is still valid and recomputing the rest.
//!
//! Rules (DESIGN.md, "Output folder"):
//! - A stage is reused when its [`record::StageRecord`] matches what it would
//!   record now: same version, same parameters, same inputs, same upstream
//!   record, outputs intact.
//! - Once a stage is recomputed, every later stage is recomputed too (its
//!   upstream digest changed), so a parameter change recomputes exactly that
//!   stage and the ones after it.
//! - `--force` recomputes all; `--from-stage S` recomputes S and later ones
//!   (earlier ones are still reused when valid, computed when not);
//!   `--to-stage S` stops after S.
//! - A stage writes its outputs atomically and its record last, so a kill at
//!   any point leaves either a valid checkpoint or one that is recomputed.
//! - `--keep-checkpoints final` deletes every checkpoint but the last stage's
//!   outputs once the attempt succeeded, keeping the records: the next run
//!   with other parameters finds them missing and recomputes from the input.

pub mod record;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use isobatch_shared::{StageAction, StageControl, StageQc, StageReport, procfs};

use crate::image::ImageError;
use record::{FileId, StageRecord};

/// Why a stage could not produce its outputs. Which verdict each variant gets is
/// decided in one place, [`crate::error::TaskError::outcome`].
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The input cannot be read as what the pipeline needs.
    #[error("{0}")]
    InvalidInput(String),
    /// Reading the input or writing a checkpoint failed (an unreadable input is
    /// the input's fault, anything else the task's).
    #[error(transparent)]
    Image(#[from] ImageError),
    /// A checkpoint this task wrote cannot be read back: the task's failure,
    /// never the user's input.
    #[error("cannot read a checkpoint: {0}")]
    Checkpoint(#[source] ImageError),
    /// A file operation in the task folder failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done, e.g. "cannot write the segment checkpoint record".
        action: String,
        /// The OS error.
        source: io::Error,
    },
    /// An input changed while the stage ran, so its result cannot be vouched for.
    #[error("an input of stage {stage} changed while it ran; its result was not recorded")]
    InputChanged {
        /// The stage.
        stage: &'static str,
    },
    /// Anything else.
    #[error("{0}")]
    Failed(String),
}

impl StageError {
    /// Builds [`StageError::Io`].
    pub fn io(action: impl Into<String>, source: io::Error) -> Self {
        StageError::Io {
            action: action.into(),
            source,
        }
    }
}

/// One step of a multi-stage pipeline.
pub trait Stage {
    /// Its name (`copy`, `segment`, …), as `--from-stage`/`--to-stage` use it.
    fn name(&self) -> &'static str;
    /// Bumped whenever the stage computes something different from the same
    /// inputs, so checkpoints of the old algorithm are recomputed.
    fn version(&self) -> u32;
    /// The parameters its result depends on, as canonical `key=value` pairs.
    fn params(&self) -> Vec<(String, String)>;
    /// The files it reads (their size and modification time are recorded).
    fn inputs(&self) -> Vec<PathBuf>;
    /// The files it writes, by final name, known before it runs.
    fn outputs(&self) -> Vec<PathBuf>;
    /// Computes the outputs, each written atomically. `progress(fraction, message)`
    /// reports how far it is (0.0–1.0 within the stage).
    fn run(&mut self, progress: &mut dyn FnMut(f32, &str)) -> Result<(), StageError>;
    /// Quality-control findings of the last [`run`](Stage::run), kept in the
    /// stage's record so a reused checkpoint reports them again. None by default.
    fn qc(&self) -> Option<StageQc> {
        None
    }
}

/// What [`run_stages`] returns when a stage fails: the reports so far and the error.
#[derive(Debug)]
pub struct StagesFailed {
    /// Reports of the stages before the failing one, and of the failing one.
    pub reports: Vec<StageReport>,
    /// The failure.
    pub error: StageError,
}

/// Where [`run_stages`] reports to: `progress(stage, fraction, message)` for
/// the supervisor, and the attempt log for one line per stage decision.
pub struct Reporter<'a> {
    /// Progress callback (fraction within the whole task).
    pub progress: &'a mut dyn FnMut(&str, f32, &str),
    /// The attempt log.
    pub log: &'a mut dyn Write,
}

/// Runs `stages` in order under `control`. Returns one report per stage and
/// the final outputs of every stage that ran or was reused. Each checkpoint
/// leaves the page cache once no later stage reads it; when a stage fails,
/// all of them do ([`crate::page_cache`]).
pub fn run_stages(
    task_dir: &Path,
    stages: &mut [Box<dyn Stage + '_>],
    control: &StageControl,
    out: &mut Reporter<'_>,
) -> Result<(Vec<StageReport>, Vec<PathBuf>), StagesFailed> {
    let result = run_in_order(task_dir, stages, control, out);
    if result.is_err() {
        let written: Vec<PathBuf> = stages.iter().flat_map(|s| s.outputs()).collect();
        crate::page_cache::release(written.iter().map(PathBuf::as_path));
    }
    result
}

/// [`run_stages`] without the release after a failure.
fn run_in_order(
    task_dir: &Path,
    stages: &mut [Box<dyn Stage + '_>],
    control: &StageControl,
    out: &mut Reporter<'_>,
) -> Result<(Vec<StageReport>, Vec<PathBuf>), StagesFailed> {
    let names: Vec<&'static str> = stages.iter().map(|s| s.name()).collect();
    let index = |n: &Option<String>| {
        n.as_deref()
            .and_then(|n| names.iter().position(|s| *s == n))
    };
    let from = index(&control.from);
    let to = index(&control.to).unwrap_or(names.len().saturating_sub(1));
    let count = stages.len().max(1) as f32;
    let mut reports = Vec::new();
    let mut outputs = Vec::new();
    let mut upstream = String::new();
    let mut recomputing = false;
    for i in 0..stages.len() {
        let stage = &mut stages[i];
        let name = stage.name();
        if i > to {
            if recomputing {
                // Its checkpoint was made from what was just replaced: remove it
                // rather than leave a stale result that looks current.
                discard(task_dir, stage.as_ref()).map_err(|error| StagesFailed {
                    reports: reports.clone(),
                    error,
                })?;
            }
            reports.push(report(name, StageAction::NotRun, 0.0, String::new()));
            continue;
        }
        let started = Instant::now();
        procfs::reset_self_peak();
        let forced = if control.force {
            Some("--force".to_string())
        } else if let Some(f) = from.filter(|f| i >= *f) {
            Some(format!("--from-stage {}", names[f]))
        } else if recomputing {
            Some("an earlier stage was recomputed".to_string())
        } else {
            None
        };
        let base = i as f32 / count;
        let mut progress =
            |f: f32, msg: &str| (out.progress)(name, base + f.clamp(0.0, 1.0) / count, msg);
        let result = step(task_dir, stage.as_mut(), &upstream, forced, &mut progress);
        let secs = started.elapsed().as_secs_f64();
        match result {
            Ok((record, None)) => {
                let _ = writeln!(out.log, "stage {name}: reused (checkpoint up to date)");
                reports.push(with_qc(
                    report(name, StageAction::Reused, secs, String::new()),
                    &record,
                ));
                upstream = record.digest();
            }
            Ok((record, Some(why))) => {
                let _ = writeln!(out.log, "stage {name}: computed in {secs:.2} s ({why})");
                reports.push(with_qc(
                    report(name, StageAction::Computed, secs, why),
                    &record,
                ));
                upstream = record.digest();
                recomputing = true;
            }
            Err(error) => {
                let _ = writeln!(out.log, "stage {name}: failed after {secs:.2} s: {error}");
                reports.push(report(name, StageAction::Failed, secs, error.to_string()));
                return Err(StagesFailed { reports, error });
            }
        }
        outputs.extend(stage.outputs());
        release_unread(&stages[..=i], &stages[i + 1..=to]);
    }
    if control.final_only && to < stages.len() {
        outputs = drop_checkpoints(&stages[..to]).map_err(|error| StagesFailed {
            reports: reports.clone(),
            error,
        })?;
        outputs.extend(stages[to].outputs());
    }
    Ok((reports, outputs))
}

/// `--keep-checkpoints final`: removes the outputs of `earlier` (every stage
/// before the last one run), keeping their records. Returns what remains of
/// them: nothing.
fn drop_checkpoints(earlier: &[Box<dyn Stage + '_>]) -> Result<Vec<PathBuf>, StageError> {
    for p in earlier.iter().flat_map(|s| s.outputs()) {
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(StageError::Failed(format!(
                    "cannot remove the checkpoint {} (--keep-checkpoints final): {e}",
                    p.display()
                )));
            }
            _ => {}
        }
    }
    Ok(Vec::new())
}

/// After the last stage of `done` has run: releases from the page cache each
/// checkpoint it read or wrote that none of `later` reads. A checkpoint is thus
/// released once, after its last reader (or its writer, when nothing reads it);
/// files no stage wrote, such as the task's input, are left alone.
fn release_unread(done: &[Box<dyn Stage + '_>], later: &[Box<dyn Stage + '_>]) {
    let Some(last) = done.last() else {
        return;
    };
    let written: Vec<PathBuf> = done.iter().flat_map(|s| s.outputs()).collect();
    let read_later: Vec<PathBuf> = later.iter().flat_map(|s| s.inputs()).collect();
    let unread: Vec<PathBuf> = last
        .inputs()
        .into_iter()
        .chain(last.outputs())
        .filter(|p| written.contains(p) && !read_later.contains(p))
        .collect();
    crate::page_cache::release(unread.iter().map(PathBuf::as_path));
}

/// Reuses or computes one stage. Returns the record now on disk and, when it
/// was computed, why.
fn step(
    task_dir: &Path,
    stage: &mut dyn Stage,
    upstream: &str,
    forced: Option<String>,
    progress: &mut dyn FnMut(f32, &str),
) -> Result<(StageRecord, Option<String>), StageError> {
    let name = stage.name();
    let mut wanted = planned_record(task_dir, stage, upstream)?;
    let stale = match forced {
        Some(why) => Err(why),
        None => match StageRecord::load(task_dir, name) {
            Ok(None) => Err("no checkpoint".to_string()),
            Ok(Some(old)) => old.stale_reason(&wanted, task_dir).map_or(Ok(old), Err),
            Err(why) => Err(why.to_string()),
        },
    };
    let why = match stale {
        Ok(old) => {
            progress(1.0, "checkpoint up to date");
            return Ok((old, None));
        }
        Err(why) => why,
    };
    StageRecord::remove(task_dir, name)
        .map_err(|e| StageError::io(format!("cannot remove the old {name} record"), e))?;
    progress(0.0, "started");
    let started = Instant::now();
    stage.run(progress)?;
    if identify(task_dir, &stage.inputs(), "input")? != wanted.inputs {
        return Err(StageError::InputChanged { stage: name });
    }
    wanted.seconds = started.elapsed().as_secs_f64();
    wanted.outputs = identify(task_dir, &stage.outputs(), "output")?;
    wanted.qc = stage.qc();
    wanted
        .save(task_dir)
        .map_err(|e| StageError::io(format!("cannot write the {name} checkpoint record"), e))?;
    Ok((wanted, Some(why)))
}

/// Removes a stage's record and outputs.
fn discard(task_dir: &Path, stage: &dyn Stage) -> Result<(), StageError> {
    let failed = |p: &Path, e: io::Error| {
        StageError::io(format!("cannot remove the stale {}", p.display()), e)
    };
    StageRecord::remove(task_dir, stage.name())
        .map_err(|e| failed(&StageRecord::path(task_dir, stage.name()), e))?;
    for p in stage.outputs() {
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(failed(&p, e)),
            _ => {}
        }
    }
    Ok(())
}

/// What the stage would record if it ran now (outputs named, not yet measured).
fn planned_record(
    task_dir: &Path,
    stage: &dyn Stage,
    upstream: &str,
) -> Result<StageRecord, StageError> {
    let outputs = stage
        .outputs()
        .iter()
        .map(|p| FileId {
            path: p.strip_prefix(task_dir).unwrap_or(p).to_path_buf(),
            bytes: 0,
            mtime_ns: 0,
            inode: None,
            ctime_ns: None,
        })
        .collect();
    Ok(StageRecord {
        stage: stage.name().to_string(),
        version: stage.version(),
        params: stage.params().into_iter().collect(),
        upstream: upstream.to_string(),
        inputs: identify(task_dir, &stage.inputs(), "input")?,
        outputs,
        seconds: 0.0,
        qc: None,
    })
}

/// The identities of `paths`; a missing input is the stage's input problem.
fn identify(task_dir: &Path, paths: &[PathBuf], role: &str) -> Result<Vec<FileId>, StageError> {
    paths
        .iter()
        .map(|p| {
            FileId::of(task_dir, p)
                .map_err(|e| StageError::io(format!("cannot read {role} {}", p.display()), e))
        })
        .collect()
}

/// A report for one stage; the peak is the worker's high-water mark since the
/// stage started (reset per stage), 0 for a stage that did not run.
fn report(name: &str, action: StageAction, seconds: f64, reason: String) -> StageReport {
    let peak_rss_bytes = match action {
        StageAction::NotRun => 0,
        _ => procfs::self_peak_rss(),
    };
    StageReport {
        name: name.to_string(),
        action,
        seconds,
        peak_rss_bytes,
        reason,
        qc: None,
    }
}

/// `report` with the QC findings its stage record holds.
fn with_qc(mut report: StageReport, record: &StageRecord) -> StageReport {
    report.qc = record.qc.clone();
    report
}

#[cfg(test)]
mod tests;
