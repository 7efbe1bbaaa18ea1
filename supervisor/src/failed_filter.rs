//! `--only-failed` / `--skip-failed` (GNU parallel's `--resume-failed`): which
//! discovered tasks a rerun takes, by the verdict of each task's last ended
//! attempt in the journal. Applied after `--select`, so the two compose.

use std::collections::HashMap;

use crate::discovery::Task;
use crate::resume::Earlier;

/// `--only-failed` or `--skip-failed`: which tasks a rerun takes, by the
/// verdict of their last attempt in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedFilter {
    /// Only tasks whose last attempt failed.
    Only,
    /// Every task except those whose last attempt failed.
    Skip,
}

impl FailedFilter {
    /// The flag that chose this filter.
    pub fn flag(self) -> &'static str {
        match self {
            FailedFilter::Only => "--only-failed",
            FailedFilter::Skip => "--skip-failed",
        }
    }

    /// Whether a task whose last attempt failed (`last_failed`) takes part.
    pub fn keeps(self, last_failed: bool) -> bool {
        match self {
            FailedFilter::Only => last_failed,
            FailedFilter::Skip => !last_failed,
        }
    }
}

/// Keeps the tasks `filter` takes from `tasks`; returns the line the plan and
/// summary show (how many were taken and left out).
pub fn apply(
    filter: FailedFilter,
    tasks: &mut Vec<Task>,
    history: &HashMap<String, Earlier>,
) -> String {
    let before = tasks.len();
    tasks.retain(|t| {
        let failed = history
            .get(&t.id)
            .and_then(|e| e.last.as_ref())
            .is_some_and(|l| l.verdict.is_failure());
        filter.keeps(failed)
    });
    let left_out = before - tasks.len();
    match filter {
        FailedFilter::Only => format!(
            "{}: {} task(s) whose last attempt failed; {left_out} other task(s) left out",
            filter.flag(),
            tasks.len()
        ),
        FailedFilter::Skip => format!(
            "{}: {left_out} task(s) whose last attempt failed left out; {} other task(s) considered",
            filter.flag(),
            tasks.len()
        ),
    }
}
