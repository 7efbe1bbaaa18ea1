//! Running a batch: the dispatcher and its executors.
//!
//! `dispatcher` owns all state and reacts to events; `worker_program` picks
//! the binary a worker runs; `spawn` starts workers and the threads that watch them; `assign` hands out work; `finish` records
//! results; `attempt_dir` gives each attempt a clean folder and publishes it; `timeout` and
//! `terminate` stop trees, `stuck` gives up on processes that cannot die; `sampler` measures memory;
//! `serial` runs tasks in-process for debugging.

pub mod admission;
pub mod assign;
pub mod attempt_dir;
pub mod batch;
pub mod classify;
pub mod dispatcher;
pub mod events;
pub mod finish;
pub mod max_fail;
pub mod oom;
pub mod sampler;
pub mod schedule;
pub mod serial;
pub mod spawn;
pub mod stuck;
pub mod task_result;
pub mod terminate;
pub mod timeout;
pub mod worker;
pub mod worker_program;

use crate::config::RunConfig;
use crate::exec_template::ExecTemplate;
use crate::journal::Journal;
use crate::report::progress::Progress;

/// What every part of a running batch may read.
pub struct Context<'a> {
    /// The run's configuration.
    pub cfg: &'a RunConfig,
    /// The parsed `--exec` template (exec pipeline only).
    pub exec: Option<&'a ExecTemplate>,
    /// The journal.
    pub journal: &'a Journal,
    /// Progress display and run log.
    pub progress: &'a Progress,
    /// Hash of everything that decides a task's outputs.
    pub param_hash: String,
    /// Files every task depends on besides its inputs (the exec program,
    /// `--rerun-on` files), absolute: their identity is recorded per attempt.
    pub tracked: Vec<std::path::PathBuf>,
}
