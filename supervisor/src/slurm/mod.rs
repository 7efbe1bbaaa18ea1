//! `--executor slurm`: the batch runs as Slurm job arrays.
//!
//! The supervisor writes the task list into the output folder (`tasklist`),
//! submits one `sbatch --array` per array (`submit`), and follows the arrays
//! (`follow`) until each element's result record is in (`record`), mapping the
//! Slurm state of an element that left none to a verdict (`states`), and
//! journaling attempts as running elements record them (`live`). Each
//! element runs `isobatch slurm-element`, which runs its tasks through the same
//! local dispatcher as a local batch (`element`). `preflight` checks the
//! partition's limits before anything is submitted, `throttle` sizes the array
//! throttle, `plan` holds (and describes) what will be asked of the cluster;
//! `executor` ties it together.

pub mod attach;
pub mod element;
pub mod executor;
pub mod follow;
pub mod live;
pub mod merge;
pub mod plan;
pub mod preflight;
pub mod record;
pub mod states;
pub mod submit;
pub mod tasklist;
pub mod throttle;
pub mod tools;

use std::path::PathBuf;

/// What can go wrong talking to Slurm or reading what its elements left.
/// Before submission these end the run with exit 2 (nothing ran).
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    /// A Slurm command could not be started or failed.
    #[error("{command}: {why}")]
    Command {
        /// The command line, shortened to the program and its first arguments.
        command: String,
        /// Its error output or why it could not start.
        why: String,
    },
    /// A Slurm command printed something isobatch cannot read.
    #[error("{command} printed {output:?}, which isobatch cannot read")]
    Output {
        /// The command.
        command: String,
        /// What it printed.
        output: String,
    },
    /// The cluster cannot take the batch as asked (pre-flight).
    #[error("pre-flight (Slurm): {0}")]
    Refused(String),
    /// A `--slurm-arg` that isobatch sets itself, or cannot pass on.
    #[error("--slurm-arg {arg}: {why}")]
    SlurmArg {
        /// The argument.
        arg: String,
        /// Why it is refused.
        why: String,
    },
    /// The task list of a submission cannot be written or read.
    #[error("task list {path}: {why}")]
    TaskList {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// `slurm-element` was started outside an array, or for an index the list does not have.
    #[error("slurm-element: {0}")]
    Element(String),
}
