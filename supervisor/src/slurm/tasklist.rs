//! The task list of one submission, `OUTPUT/.isobatch/slurm/SUB/tasks.json`:
//! what every array element runs, written before `sbatch` and read by each
//! element, with the folders its result records and Slurm logs go into.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SlurmError;
use crate::discovery::Task;

/// One task as an element runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listed {
    /// The task.
    pub task: Task,
    /// The number of its first attempt in the element (attempts continue across runs).
    pub attempt: u32,
}

/// What the elements of one submission run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskList {
    /// The supervisor's working folder (relative paths in `run_args` are relative to it).
    pub cwd: PathBuf,
    /// The supervisor's command line after the program name (`run ...`).
    pub run_args: Vec<String>,
    /// The run's parameter hash, journaled with every attempt.
    pub param_hash: String,
    /// Files every task depends on (exec program, `--rerun-on`).
    pub tracked: Vec<PathBuf>,
    /// Field names of the patterns (for the `--exec` template).
    pub field_names: Vec<String>,
    /// Per array element (index = position), the tasks it runs in order.
    pub elements: Vec<Vec<Listed>>,
}

/// `OUTPUT/.isobatch/slurm`: every submission's folder.
pub fn root(output: &Path) -> PathBuf {
    crate::layout::state_dir(output).join("slurm")
}

/// The name of a new submission folder: `s` and the time in milliseconds.
pub fn new_name() -> String {
    format!("s{}", (crate::journal::now() * 1000.0) as u64)
}

/// When submission folder `name` was made, seconds since the epoch (None: not one).
pub fn made_at(name: &str) -> Option<f64> {
    name.strip_prefix('s')?
        .parse::<u64>()
        .ok()
        .map(|ms| ms as f64 / 1000.0)
}

/// The task list file in a submission folder.
pub fn list_file(dir: &Path) -> PathBuf {
    dir.join("tasks.json")
}

/// Where element `index` writes its result record once it is complete.
pub fn record_file(dir: &Path, index: usize) -> PathBuf {
    dir.join("results").join(format!("{index}.jsonl"))
}

/// Where element `index` writes its record while it runs (renamed to [`record_file`] at the end).
pub fn record_tmp(dir: &Path, index: usize) -> PathBuf {
    dir.join("results").join(format!("{index}.jsonl.tmp"))
}

/// The Slurm output file of element `array_index` of array job `job` (`sbatch --output`).
pub fn slurm_log(dir: &Path, job: &str, array_index: usize) -> PathBuf {
    dir.join("logs").join(format!("{job}_{array_index}.out"))
}

/// The `sbatch --output` pattern giving [`slurm_log`].
pub fn slurm_log_pattern(dir: &Path) -> PathBuf {
    dir.join("logs").join("%A_%a.out")
}

impl TaskList {
    /// Writes the list into a new submission folder `dir` (atomically), with its
    /// `results/` and `logs/` folders.
    pub fn write(&self, dir: &Path) -> Result<(), SlurmError> {
        let path = list_file(dir);
        let fail = |why: String| SlurmError::TaskList {
            path: path.clone(),
            why,
        };
        for sub in ["results", "logs"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| fail(e.to_string()))?;
        }
        let bytes = serde_json::to_vec(self).map_err(|e| fail(e.to_string()))?;
        isobatch_shared::atomic::write(&path, &bytes).map_err(|e| fail(e.to_string()))
    }

    /// Reads the list of submission folder `dir`.
    pub fn read(dir: &Path) -> Result<TaskList, SlurmError> {
        let path = list_file(dir);
        let fail = |why: String| SlurmError::TaskList {
            path: path.clone(),
            why,
        };
        let bytes = std::fs::read(&path).map_err(|e| fail(e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))
    }
}
