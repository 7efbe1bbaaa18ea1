//! The end of `isobatch run`, once the batch ran: the journal's last line, the
//! report files, the summary and the exit code.
//!
//! Nothing here can turn a batch that ran into "nothing ran" (exit 2): a
//! report that cannot be written or a journal that could not keep every
//! result is said in the summary and on stderr, and the run exits 1. Exit 2
//! only when tasks were left undone without a single attempt (no worker could
//! start): then, as the contract says, nothing ran.

use isobatch_shared::units::format_bytes;

use crate::config::RunConfig;
use crate::error::{EXIT_INTERRUPTED, EXIT_OK, EXIT_TASKS_FAILED, EXIT_USAGE};
use crate::journal::{self, Journal, Record};
use crate::layout;
use crate::report::progress::Progress;
use crate::report::{columns, files, memory, summary};
use crate::runner::batch::BatchResult;

/// Records the end of the batch, writes the reports, prints the summary and
/// returns the exit code (DESIGN.md, "Exit codes").
pub fn conclude(
    cfg: &RunConfig,
    mut result: BatchResult,
    journal: &Journal,
    progress: &Progress,
) -> i32 {
    journal.append(&Record::RunEnd {
        time: journal::now(),
        interrupted: result.interrupted,
        counts: summary::counts(&result),
    });
    journal.flush();
    let mut problems = Vec::new();
    if let Some(e) = journal.error() {
        problems.push(match journal.unwritten_bytes() {
            0 => format!(
                "the journal could not be written for a while ({e}); every record reached it in the end"
            ),
            lost => format!(
                "cannot write the journal ({e}); {} of records never reached it, so the tasks \
                 they record will run again next time",
                format_bytes(lost)
            ),
        });
    }
    let doc = files::results_doc(&result, cfg, &cfg.output);
    let mut writes = vec![
        (
            layout::summary_csv(&cfg.output),
            files::write_summary_csv(&result, &cfg.output),
        ),
        (
            layout::results_json(&cfg.output),
            files::write_results_json(&doc, &cfg.output),
        ),
    ];
    if cfg.memory_debug {
        let mode = format!("{:?}", cfg.mode).to_lowercase();
        writes.push((
            layout::memory_csv(&cfg.output),
            memory::write_csv(&result, &mode, &cfg.output),
        ));
    }
    if cfg.report {
        match super::report::write(&cfg.output) {
            Ok((path, notes)) => {
                notes.iter().for_each(|n| progress.note(n));
                progress.note(&format!("report: {}", path.display()));
            }
            Err(e) => problems.push(format!("cannot write the report: {e}")),
        }
    }
    for (path, written) in writes {
        if let Err(e) = written {
            problems.push(format!("cannot write {}: {e}", path.display()));
        }
    }
    // Last: it describes the CSVs written above.
    if let Err(e) = columns::write(&result, &cfg.output) {
        problems.push(format!("cannot write columns.md and columns.json: {e}"));
    }
    for p in &problems {
        progress.note(p);
    }
    result.notes.extend(problems.iter().cloned());

    let mut text = Vec::new();
    if cfg.json {
        let _ = serde_json::to_writer_pretty(&mut text, &doc);
        text.push(b'\n');
    } else {
        let _ = summary::write(&mut text, &result, &cfg.output);
        if cfg.memory_debug {
            let _ = memory::write_section(&mut text, &result);
        }
    }
    progress.stdout_text(String::from_utf8_lossy(&text).into_owned(), !cfg.json);
    progress.flush();
    // Tasks left undone without a single attempt: the batch could not start
    // anything (no worker could be started, the journal could not be written).
    let nothing_ran = !result.all_ok() && result.tasks.iter().all(|t| t.attempts.is_empty());
    if result.interrupted {
        EXIT_INTERRUPTED
    } else if result.all_ok() && problems.is_empty() {
        EXIT_OK
    } else if nothing_ran {
        EXIT_USAGE
    } else {
        EXIT_TASKS_FAILED
    }
}
