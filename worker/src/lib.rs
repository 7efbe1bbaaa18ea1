//! The isobatch worker: the IPC loop and the pipelines it runs.
//!
//! A worker process connects to the supervisor's one-shot server ([`ipc::serve`]),
//! then runs one [`isobatch_shared::TaskSpec`] after another through
//! [`pipeline::run`], with its stdout and stderr sent to the attempt log
//! ([`task_log`]). The supervisor's `--mode serial` calls [`pipeline::run`]
//! in-process, so pipelines never touch the process's stdio descriptors.

use std::path::PathBuf;

use isobatch_shared::{FileIdentity, Outcome, StageReport};

pub mod cli;
pub mod error;
pub mod exec;
pub mod fov;
pub mod image;
pub mod ipc;
pub mod page_cache;
pub mod parent_death;
pub mod pipeline;
pub mod selftest;
pub mod stage;
pub mod staging;
pub mod synth;
pub mod task_log;
pub mod tree_kill;

pub use cli::main_with_args;

/// A digest of the sources this worker library was built from (see `build.rs`): the
/// supervisor uses the sibling `isobatch-worker` binary only when its id equals its own.
pub const BUILD_ID: &str = env!("ISOBATCH_BUILD_ID");

/// What one task attempt produced, as far as the pipeline can tell.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskResult {
    /// How the attempt ended.
    pub outcome: Outcome,
    /// Absolute paths of the task's final outputs.
    pub outputs: Vec<PathBuf>,
    /// One report per stage for multi-stage pipelines (empty otherwise).
    pub stages: Vec<StageReport>,
    /// The identity of each input and tracked file when the attempt started.
    pub inputs: Vec<FileIdentity>,
}

impl TaskResult {
    /// A result with the given outcome and no outputs.
    pub fn from_outcome(outcome: Outcome) -> Self {
        TaskResult {
            outcome,
            outputs: Vec::new(),
            stages: Vec::new(),
            inputs: Vec::new(),
        }
    }

    /// A finished attempt with its outputs and stage reports.
    pub fn done(outputs: Vec<PathBuf>, stages: Vec<StageReport>) -> Self {
        TaskResult {
            outcome: Outcome::Done,
            outputs,
            stages,
            inputs: Vec::new(),
        }
    }

    /// A failed attempt: the outcome [`error::TaskError::outcome`] gives `error`.
    pub fn failed(error: &error::TaskError) -> Self {
        TaskResult::from_outcome(error.outcome())
    }
}
