//! Why a task attempt did not end `done`, and the one place that turns each reason
//! into the [`Outcome`] the supervisor records as a verdict (DESIGN.md, "Verdicts").
//!
//! Pipelines return [`TaskError`]; [`TaskError::outcome`] decides the verdict:
//! - `failed:invalid-input` when the input cannot be read as what the pipeline needs:
//!   a fov input that cannot be opened, parsed or split into channels and frames,
//!   an invalid image read in a stage, a selftest file that is missing or malformed;
//! - `failed:crashed` when a program an exec task ran died of a signal;
//! - `failed:error` for everything else: a task that reports failure, a parameter the
//!   supervisor should have refused, and I/O on the task's own files (the message
//!   names the path and the OS error).

use std::io;
use std::path::{Path, PathBuf};

use isobatch_shared::{Outcome, Pipeline};

use crate::exec::ExecError;
use crate::fov::error::FovError;
use crate::image::ImageError;
use crate::selftest::SelftestError;
use crate::stage::StageError;

/// Why a task attempt failed inside the worker.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The fov pipeline refused the task before its first stage.
    #[error(transparent)]
    Fov(#[from] FovError),
    /// A stage of a multi-stage pipeline failed.
    #[error(transparent)]
    Stage(#[from] StageError),
    /// The selftest pipeline's input or one of its actions failed.
    #[error(transparent)]
    Selftest(#[from] SelftestError),
    /// The exec pipeline's program could not run or did not succeed.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The attempt log cannot be opened (its message names the path).
    #[error(transparent)]
    AttemptLog(io::Error),
    /// The OS refused an operation on a file or folder of the task.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. `create`, `write`.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A pipeline that belongs to a later release.
    #[error("the {0} pipeline is not available yet")]
    NotAvailable(Pipeline),
}

impl TaskError {
    /// Builds [`TaskError::Io`].
    pub fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        TaskError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The outcome the worker reports, carrying this error's message. The only
    /// place where an error's kind decides its verdict.
    pub fn outcome(&self) -> Outcome {
        let message = self.to_string();
        match self {
            TaskError::Fov(FovError::Param(_)) => Outcome::Error(message),
            TaskError::Fov(
                FovError::Input(_)
                | FovError::NoPosition { .. }
                | FovError::Layout { .. }
                | FovError::InputCount(_),
            ) => Outcome::InvalidInput(message),
            TaskError::Stage(
                StageError::InvalidInput(_) | StageError::Image(ImageError::Invalid { .. }),
            ) => Outcome::InvalidInput(message),
            TaskError::Stage(
                StageError::Image(ImageError::Io { .. } | ImageError::Usage { .. })
                | StageError::Checkpoint(_)
                | StageError::Io { .. }
                | StageError::InputChanged { .. }
                | StageError::Failed(_),
            ) => Outcome::Error(message),
            TaskError::Selftest(
                SelftestError::NoInput
                | SelftestError::Read { .. }
                | SelftestError::Directive { .. },
            ) => Outcome::InvalidInput(message),
            TaskError::Selftest(
                SelftestError::IgnoreTerm(_)
                | SelftestError::Sleep(_)
                | SelftestError::TooLarge { .. }
                | SelftestError::Alloc { .. }
                | SelftestError::Asked(_),
            ) => Outcome::Error(message),
            TaskError::Exec(ExecError::Killed { .. }) => Outcome::Crashed(message),
            TaskError::Exec(
                ExecError::NoCommand
                | ExecError::ShareLog { .. }
                | ExecError::Run { .. }
                | ExecError::Exited { .. }
                | ExecError::Ended { .. },
            ) => Outcome::Error(message),
            TaskError::AttemptLog(_) | TaskError::Io { .. } | TaskError::NotAvailable(_) => {
                Outcome::Error(message)
            }
        }
    }
}

#[cfg(test)]
mod tests;
