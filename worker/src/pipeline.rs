//! Dispatch of one task attempt to its pipeline.

use std::io::Write;

use isobatch_shared::{FileIdentity, Outcome, Pipeline, TaskSpec};

use crate::error::TaskError;
use crate::task_log::open_log;
use crate::{TaskResult, exec, fov, selftest, staging};

/// Runs one task attempt with the pipeline its spec names.
///
/// First records the identity of every input and tracked file (what a rerun
/// compares against), then, for a built-in pipeline with a published result,
/// hard-links that result's checkpoints into the attempt's folder.
///
/// `progress(stage, fraction, message)` is called as the task advances. Safe to
/// call in-process (the supervisor's `--mode serial`): it never touches the
/// process's stdio descriptors and only exits the process when a selftest
/// directive (`exit=N`, `abort=1`) demands it.
pub fn run(spec: &TaskSpec, progress: &mut dyn FnMut(&str, f32, &str)) -> TaskResult {
    let inputs = match identify(spec) {
        Ok(ids) => ids,
        Err(e) => return TaskResult::from_outcome(Outcome::InvalidInput(e)),
    };
    if let Some(published) = &spec.reuse_from {
        let linked = staging::link_published(published, &spec.task_dir);
        if let Ok(mut log) = open_log(&spec.log_path) {
            // Best effort: the line only helps a reader of the log.
            let _ = match linked {
                Ok(n) => writeln!(
                    log,
                    "isobatch: {n} file(s) of the published {} linked for reuse",
                    published.display()
                ),
                Err(e) => writeln!(
                    log,
                    "isobatch: could not link the published {} ({e}); every stage is recomputed",
                    published.display()
                ),
            };
        }
    }
    let mut result = match spec.pipeline {
        Pipeline::Selftest => selftest::run(spec, progress),
        Pipeline::Exec => exec::run(spec, progress),
        Pipeline::Fov => fov::run(spec, progress),
        Pipeline::Pair => TaskResult::failed(&TaskError::NotAvailable(spec.pipeline)),
    };
    result.inputs = inputs;
    result
}

/// The identity of every input and tracked file, before the attempt reads them.
fn identify(spec: &TaskSpec) -> Result<Vec<FileIdentity>, String> {
    spec.inputs
        .iter()
        .chain(&spec.tracked)
        .map(|p| {
            FileIdentity::of(p, spec.checksum)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))
        })
        .collect()
}
