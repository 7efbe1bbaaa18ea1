//! Errors that end a run before or instead of a batch, and the exit codes they map to.

use std::path::PathBuf;

use crate::discovery::DiscoveryError;
use crate::exec_template::ExecTemplateError;

/// Exit code: every task done or skipped.
pub const EXIT_OK: i32 = 0;
/// Exit code: the batch ran and some tasks failed.
pub const EXIT_TASKS_FAILED: i32 = 1;
/// Exit code: usage, config, discovery or pre-flight refusal; nothing ran.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: another run holds the output folder.
pub const EXIT_LOCKED: i32 = 3;
/// Exit code: interrupted (Ctrl-C / SIGTERM).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Why isobatch refused or aborted a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or config value is wrong.
    #[error("{0}")]
    Usage(String),
    /// The config file cannot be read or parsed.
    #[error("config file {path}: {message}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A feature that belongs to a later release.
    #[error("{0} is not available yet in this version of isobatch")]
    NotAvailable(String),
    /// Input discovery failed (layout, pattern, grid).
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// The `--exec` template is unusable.
    #[error(transparent)]
    ExecTemplate(#[from] ExecTemplateError),
    /// Pre-flight checks refused the batch.
    #[error("pre-flight: {0}")]
    Preflight(String),
    /// Another isobatch run holds the output folder's lock.
    #[error("{0}")]
    Locked(String),
    /// A file or folder isobatch itself needs could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Slurm refused or could not take the batch (`--executor slurm`).
    #[error(transparent)]
    Slurm(#[from] crate::slurm::SlurmError),
    /// Anything else that stops the supervisor before a task runs (an internal
    /// failure, not the user's). Nothing ran, so it exits 2 like a refusal.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// The documented exit code for this error (DESIGN.md, "Exit codes"). Every
    /// error ends a command before a task ran (once tasks run, problems are
    /// reported in the summary and the batch exits 0, 1 or 130), so all but
    /// [`Error::Locked`] mean "nothing ran".
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Locked(_) => EXIT_LOCKED,
            _ => EXIT_USAGE,
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
