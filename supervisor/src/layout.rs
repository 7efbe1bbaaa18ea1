//! Where everything lives in the output folder (DESIGN.md, "Output folder").

use std::path::{Path, PathBuf};

/// `OUTPUT/.isobatch`: isobatch's own state.
pub fn state_dir(output: &Path) -> PathBuf {
    output.join(".isobatch")
}

/// The run lock.
pub fn lock(output: &Path) -> PathBuf {
    state_dir(output).join("lock")
}

/// The journal, the source of truth.
pub fn journal(output: &Path) -> PathBuf {
    state_dir(output).join("journal.jsonl")
}

/// The supervisor's log.
pub fn run_log(output: &Path) -> PathBuf {
    state_dir(output).join("run.log")
}

/// Worker output outside of tasks (start-up problems).
pub fn workers_log(output: &Path) -> PathBuf {
    state_dir(output).join("logs").join("workers.log")
}

/// `OUTPUT/.isobatch/logs/TASK/attempt-N.log`.
pub fn attempt_log(output: &Path, task: &str, attempt: u32) -> PathBuf {
    state_dir(output)
        .join("logs")
        .join(task)
        .join(format!("attempt-{attempt}.log"))
}

/// `--memory-debug` rows.
pub fn memory_csv(output: &Path) -> PathBuf {
    state_dir(output).join("memory.csv")
}

/// `OUTPUT/report.html`, written by `isobatch report` and `run --report`.
pub fn report_html(output: &Path) -> PathBuf {
    output.join("report.html")
}

/// The per-task summary table.
pub fn summary_csv(output: &Path) -> PathBuf {
    output.join("summary.csv")
}

/// Run parameters and per-task outputs.
pub fn results_json(output: &Path) -> PathBuf {
    output.join("results.json")
}

/// `OUTPUT/columns.md`: what each column of the output CSVs is, and its unit.
pub fn columns_md(output: &Path) -> PathBuf {
    output.join("columns.md")
}

/// `OUTPUT/columns.json`: `columns.md` for programs.
pub fn columns_json(output: &Path) -> PathBuf {
    output.join("columns.json")
}

/// `OUTPUT/traces.csv`: every FOV's per-cell traces, combined at the end of a fov batch.
pub fn combined_traces(output: &Path) -> PathBuf {
    output.join("traces.csv")
}

/// `OUTPUT/TASK/traces.csv`: one FOV's per-cell traces, named by the fov pipeline's extract stage.
pub fn task_traces(output: &Path, task: &str) -> PathBuf {
    isobatch_worker::fov::traces::path(&output.join(task))
}

/// `OUTPUT/.isobatch/staging`: the folders attempts run in before they are published.
pub fn staging_root(output: &Path) -> PathBuf {
    state_dir(output).join("staging")
}

/// `OUTPUT/.isobatch/staging/TASK/attempt-N.pPID`: where one attempt writes. The
/// supervisor's pid makes it unique per run even when a killed run's attempt
/// number is reused, so a straggler of that run can never write into it.
pub fn staging(output: &Path, task: &str, attempt: u32) -> PathBuf {
    staging_root(output)
        .join(task)
        .join(format!("attempt-{attempt}.p{}", std::process::id()))
}

/// `OUTPUT/.isobatch/failed/TASK`: holds the task's last failed attempt folder.
pub fn failed(output: &Path, task: &str) -> PathBuf {
    state_dir(output).join("failed").join(task)
}
