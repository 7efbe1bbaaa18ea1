//! `isobatch report OUTPUT_DIR` (and `run --report`): writes
//! `OUTPUT_DIR/report.html` from what the folder holds. A folder that is not an
//! isobatch output, or whose journal has nothing readable, is refused (exit 2);
//! a damaged journal line or a run still going is said on stderr and in the
//! report, which shows what is known.

use std::io::Write;
use std::path::{Path, PathBuf};

use isobatch_shared::atomic;

use crate::cli::ReportArgs;
use crate::commands::run_state::RunState;
use crate::error::{EXIT_OK, Error};
use crate::layout;
use crate::report::html::{self, ReportError};

/// Runs `isobatch report`.
pub fn run(args: ReportArgs) -> Result<i32, Error> {
    let (path, notes) = write(&args.output_dir)?;
    let mut err = std::io::stderr().lock();
    for note in notes {
        let _ = writeln!(err, "isobatch: {note}");
    }
    let _ = writeln!(std::io::stdout().lock(), "{}", path.display());
    Ok(EXIT_OK)
}

/// Writes `output`'s report.html; returns its path and what the report warns
/// about (damaged journal lines, unreadable side files, a run without an end).
/// `run --report` calls it after journaling `run_end`, so it never finds its own run live.
pub fn write(output: &Path) -> Result<(PathBuf, Vec<String>), Error> {
    let batch = html::load(output)?;
    let page = html::render(&batch);
    let path = layout::report_html(output);
    atomic::write(&path, page.as_bytes()).map_err(|e| Error::io(&path, e))?;
    let mut notes: Vec<String> = batch.damaged.iter().chain(&batch.notes).cloned().collect();
    if !matches!(batch.state, RunState::Finished | RunState::Interrupted) {
        notes.push(format!(
            "{}: {}",
            output.display(),
            html::provenance_state(&batch)
        ));
    }
    Ok((path, notes))
}

impl From<ReportError> for Error {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Io { path, source } => Error::io(path, source),
            other => Error::Usage(other.to_string()),
        }
    }
}
