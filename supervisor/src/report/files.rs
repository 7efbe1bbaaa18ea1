//! `summary.csv` and `results.json`, each written atomically, and the removal
//! of report temp files a killed run left behind.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use isobatch_shared::{Verdict, atomic};
use serde_json::json;

use super::problems::cause_line;
use crate::config::RunConfig;
use crate::layout;
use crate::runner::batch::{BatchResult, TaskRecord};
use crate::runner::task_result;

fn verdict_of(t: &TaskRecord) -> Verdict {
    t.verdict.unwrap_or(Verdict::Cancelled)
}

/// The columns every `summary.csv` has, in order; the tasks' own result
/// fields follow them.
pub const SUMMARY_COLUMNS: [&str; 8] = [
    "task",
    "status",
    "verdict",
    "attempts",
    "duration_s",
    "peak_rss_bytes",
    "cause",
    "message",
];

/// The result columns of `summary.csv`: every result field of any task, sorted
/// (the same columns for every row, whatever order tasks end in), as
/// (field, column name). A field named like a fixed column gets `result_` in front.
fn result_columns(result: &BatchResult) -> Vec<(String, String)> {
    let keys: BTreeSet<&String> = result
        .tasks
        .iter()
        .flat_map(|t| t.result().keys())
        .collect();
    keys.into_iter()
        .map(|k| {
            let column = if SUMMARY_COLUMNS.contains(&k.as_str()) {
                format!("result_{k}")
            } else {
                k.clone()
            };
            (k.clone(), column)
        })
        .collect()
}

/// `summary.csv`: [`SUMMARY_COLUMNS`], then one column per task result field
/// (empty where a task has none).
pub fn write_summary_csv(result: &BatchResult, output: &Path) -> std::io::Result<()> {
    let extra = result_columns(result);
    atomic::write_with(&layout::summary_csv(output), |w| {
        let mut csv = csv::Writer::from_writer(w);
        let header = SUMMARY_COLUMNS
            .iter()
            .map(|c| c.to_string())
            .chain(extra.iter().map(|(_, c)| c.clone()));
        csv.write_record(header)?;
        for t in &result.tasks {
            let v = verdict_of(t);
            let fixed = [
                t.task.id.clone(),
                v.status().to_string(),
                v.as_str().to_string(),
                t.attempts.len().to_string(),
                format!("{:.3}", t.duration().as_secs_f64()),
                t.peak_rss().to_string(),
                cause_line(t.message()),
                t.message().to_string(),
            ];
            let fields = t.result();
            let own = extra
                .iter()
                .map(|(k, _)| fields.get(k).map(task_result::cell).unwrap_or_default());
            csv.write_record(fixed.into_iter().chain(own))?;
        }
        csv.flush()
    })
}

fn relative(output: &Path, p: &Path) -> String {
    p.strip_prefix(output)
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// The content of `results.json`: run parameters and, per task, status and
/// outputs as paths relative to the output folder (so a moved folder stays valid).
pub fn results_doc(result: &BatchResult, cfg: &RunConfig, output: &Path) -> serde_json::Value {
    let tasks: Vec<serde_json::Value> = result
        .tasks
        .iter()
        .map(|t| {
            let v = verdict_of(t);
            json!({
                "task": t.task.id,
                "fields": t.task.fields.iter()
                    .map(|(k, v)| (k.clone(), json!(v)))
                    .collect::<serde_json::Map<_, _>>(),
                "status": v.status(),
                "verdict": v.as_str(),
                "attempts": t.attempts.len(),
                "duration_s": t.duration().as_secs_f64(),
                "peak_rss_bytes": t.peak_rss(),
                "estimated_rss_bytes": t.estimated_rss,
                "cause": cause_line(t.message()),
                "message": t.message(),
                "result": t.result(),
                "inputs": t.task.inputs,
                "outputs": t.outputs().iter().map(|p| relative(output, p)).collect::<Vec<_>>(),
                "warnings": super::summary::task_warnings(t),
                "stages": t.attempts.last().map_or(&[][..], |a| &a.stages[..]),
                "logs": t.attempts.iter()
                    .map(|a| relative(output, &layout::attempt_log(output, &t.task.id, a.attempt)))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "isobatch_version": env!("CARGO_PKG_VERSION"),
        "pipeline": cfg.pipeline.as_str(),
        "input": cfg.input,
        "patterns": cfg.patterns,
        "mode": format!("{:?}", cfg.mode).to_lowercase(),
        "strategy": format!("{:?}", cfg.strategy).to_lowercase(),
        "strict_qc": cfg.strict_qc,
        "params": cfg.params,
        "exec": cfg.exec,
        "timeout_s": cfg.timeout.map(|d| d.as_secs_f64()),
        "retries": cfg.retries,
        "started_unix_s": result.started.duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
        "elapsed_s": result.elapsed.as_secs_f64(),
        "interrupted": result.interrupted,
        "stopped_early": result.stopped_early,
        "counts": super::summary::counts(result),
        "tasks": tasks,
    })
}

/// Writes `doc` (from [`results_doc`]) as `results.json`.
pub fn write_results_json(doc: &serde_json::Value, output: &Path) -> std::io::Result<()> {
    atomic::write_with(&layout::results_json(output), |w| {
        serde_json::to_writer_pretty(&mut *w, doc)?;
        std::io::Write::write_all(w, b"\n")
    })
}

/// Removes the temp files of reports (`.summary.csv.tmp-PID` and the like)
/// that a run killed while writing them left behind; returns what it removed.
/// Call it holding the run lock: then no other run is writing these files.
pub fn remove_leftovers(output: &Path) -> Vec<PathBuf> {
    let reports = [
        layout::summary_csv(output),
        layout::results_json(output),
        layout::combined_traces(output),
        layout::memory_csv(output),
        layout::columns_md(output),
        layout::columns_json(output),
        layout::report_html(output),
    ];
    let mut removed = Vec::new();
    for report in reports {
        let (Some(dir), Some(name)) = (report.parent(), report.file_name()) else {
            continue;
        };
        let prefix = format!(".{}{}", name.to_string_lossy(), atomic::TEMP_MARKER);
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix)
                && std::fs::remove_file(entry.path()).is_ok()
            {
                removed.push(entry.path());
            }
        }
    }
    removed
}
