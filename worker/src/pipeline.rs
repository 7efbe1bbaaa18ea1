//! Dispatch of one task attempt to its pipeline.

use isobatch_shared::{Pipeline, TaskSpec};

use crate::error::TaskError;
use crate::{TaskResult, exec, fov, selftest};

/// Runs one task attempt with the pipeline its spec names.
///
/// `progress(stage, fraction, message)` is called as the task advances. Safe to
/// call in-process (the supervisor's `--mode serial`): it never touches the
/// process's stdio descriptors and only exits the process when a selftest
/// directive (`exit=N`, `abort=1`) demands it.
pub fn run(spec: &TaskSpec, progress: &mut dyn FnMut(&str, f32, &str)) -> TaskResult {
    match spec.pipeline {
        Pipeline::Selftest => selftest::run(spec, progress),
        Pipeline::Exec => exec::run(spec, progress),
        Pipeline::Fov => fov::run(spec, progress),
        Pipeline::Pair => TaskResult::failed(&TaskError::NotAvailable(spec.pipeline)),
    }
}
