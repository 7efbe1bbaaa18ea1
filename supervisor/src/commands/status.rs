//! `isobatch status OUTPUT_DIR`: what a running or finished batch has done,
//! from the journal alone (no lock needed, safe while a run is going).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use isobatch_shared::units::format_duration;
use isobatch_shared::{Verdict, qc_warnings};
use serde_json::json;

use crate::cli::StatusArgs;
use crate::error::{EXIT_OK, Error};
use crate::journal::{self, Record};
use crate::layout;
use crate::report::problems::{self, ProblemGroup, cause_line};

#[derive(Default)]
struct TaskState {
    verdict: Option<Verdict>,
    message: String,
    running_since: Option<f64>,
    attempt: u32,
    /// Why the latest run computes an earlier `done` result again.
    rerun: Option<String>,
    /// QC warnings of the latest complete attempt.
    warnings: Vec<String>,
}

/// The journal of the batch in `output` and its damaged-line notes; a usage
/// error when `output` has no journal (not an isobatch output folder).
pub fn read_journal(output: &Path) -> Result<(Vec<Record>, Vec<String>), Error> {
    let path = layout::journal(output);
    if !path.exists() {
        return Err(Error::Usage(format!(
            "{}: no isobatch journal here — is this an isobatch output folder?",
            output.display()
        )));
    }
    journal::read(&path).map_err(|e| Error::io(&path, e))
}

/// Prints the status of the batch in `args.output_dir`.
pub fn run(args: StatusArgs) -> Result<i32, Error> {
    let (records, damaged) = read_journal(&args.output_dir)?;
    let report = summarize(&records, journal::now(), &damaged, &args.output_dir);
    let mut out = std::io::stdout().lock();
    let text = if args.json {
        serde_json::to_string_pretty(&report).unwrap_or_default()
    } else {
        render(&report)
    };
    let _ = writeln!(out, "{text}");
    Ok(EXIT_OK)
}

/// The status as JSON (also the source of the text form).
pub fn summarize(
    records: &[Record],
    now: f64,
    damaged: &[String],
    output: &Path,
) -> serde_json::Value {
    let mut tasks: BTreeMap<String, TaskState> = BTreeMap::new();
    let (mut run_tasks, mut running_run, mut run_start) = (0usize, false, 0.0);
    let mut durations = Vec::new();
    for r in records {
        match r {
            Record::RunStart { tasks: n, time, .. } => {
                run_tasks = *n;
                running_run = true;
                run_start = *time;
                for t in tasks.values_mut() {
                    t.running_since = None;
                    t.rerun = None;
                }
            }
            Record::RunEnd { .. } => running_run = false,
            Record::AttemptStart {
                task,
                attempt,
                time,
                ..
            } => {
                let t = tasks.entry(task.clone()).or_default();
                t.running_since = Some(*time);
                t.attempt = *attempt;
            }
            Record::AttemptEnd {
                task,
                verdict,
                message,
                duration_s,
                time,
                stages,
                ..
            } => {
                let t = tasks.entry(task.clone()).or_default();
                t.running_since = None;
                t.verdict = Some(*verdict);
                t.message = message.clone();
                t.warnings = qc_warnings(stages);
                if *time >= run_start && verdict.is_complete() {
                    durations.push(*duration_s);
                }
            }
            Record::Cancelled { task, reason, .. } => {
                let t = tasks.entry(task.clone()).or_default();
                t.verdict = Some(Verdict::Cancelled);
                t.message = reason.clone();
            }
            Record::Skipped { task, .. } => {
                tasks.entry(task.clone()).or_default().verdict = Some(Verdict::Skipped)
            }
            Record::RunScope { .. } | Record::Worker { .. } => {}
            Record::Rerun { task, reason, .. } => {
                tasks.entry(task.clone()).or_default().rerun = Some(reason.clone())
            }
        }
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for t in tasks.values() {
        if let Some(v) = t.verdict {
            *counts.entry(v.to_string()).or_insert(0) += 1;
        }
    }
    let running: Vec<_> = tasks
        .iter()
        .filter(|(_, t)| running_run && t.running_since.is_some())
        .map(|(id, t)| json!({"task": id, "attempt": t.attempt, "elapsed_s": now - t.running_since.unwrap_or(now)}))
        .collect();
    let failed: Vec<(&str, Verdict, &str)> = tasks
        .iter()
        .filter_map(|(id, t)| {
            let v = t.verdict.filter(|v| v.is_failure())?;
            Some((id.as_str(), v, t.message.as_str()))
        })
        .collect();
    let failures: Vec<_> = failed
        .iter()
        .map(|(id, v, m)| json!({"task": id, "verdict": v, "cause": cause_line(m), "message": m}))
        .collect();
    let problems = problems::group(failed.iter().copied());
    let reruns: Vec<_> = tasks
        .iter()
        .filter_map(|(id, t)| t.rerun.as_ref().map(|r| json!({"task": id, "reason": r})))
        .collect();
    let warnings: Vec<_> = tasks
        .iter()
        .filter(|(_, t)| t.verdict.is_some_and(|v| v.is_complete()) && !t.warnings.is_empty())
        .map(|(id, t)| json!({"task": id, "warnings": t.warnings}))
        .collect();
    let finished_this_run = durations.len();
    let eta = (running_run && finished_this_run > 0).then(|| {
        let left = run_tasks.saturating_sub(finished_this_run) as f64;
        let rate = finished_this_run as f64 / (now - run_start).max(1e-3);
        left / rate
    });
    json!({
        "output": output,
        "state": if running_run { "running or killed" } else { "finished" },
        "counts": counts,
        "running": running,
        "failures": failures,
        "problems": problems,
        "computed_again": reruns,
        "warnings": warnings,
        "eta_s": eta,
        "journal_problems": damaged,
    })
}

fn render(v: &serde_json::Value) -> String {
    let mut s = format!(
        "{}: {}\n",
        v["output"].as_str().unwrap_or(""),
        v["state"].as_str().unwrap_or("")
    );
    if let Some(counts) = v["counts"].as_object() {
        let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        s += &format!("tasks: {}\n", parts.join(", "));
    }
    for r in v["running"].as_array().into_iter().flatten() {
        let secs = r["elapsed_s"].as_f64().unwrap_or(0.0).max(0.0);
        s += &format!(
            "running: {} (attempt {}, {})\n",
            r["task"].as_str().unwrap_or(""),
            r["attempt"],
            format_duration(std::time::Duration::from_secs_f64(secs))
        );
    }
    if let Ok(groups) = serde_json::from_value::<Vec<ProblemGroup>>(v["problems"].clone()) {
        for g in groups {
            s += &format!("failed: {g}\n");
        }
    }
    for r in v["computed_again"].as_array().into_iter().flatten() {
        s += &format!(
            "computed again: {}: {}\n",
            r["task"].as_str().unwrap_or(""),
            r["reason"].as_str().unwrap_or("")
        );
    }
    for t in v["warnings"].as_array().into_iter().flatten() {
        for w in t["warnings"].as_array().into_iter().flatten() {
            s += &format!(
                "qc warning: {}: {}\n",
                t["task"].as_str().unwrap_or(""),
                w.as_str().unwrap_or("")
            );
        }
    }
    if let Some(eta) = v["eta_s"].as_f64() {
        s += &format!(
            "eta: {}\n",
            format_duration(std::time::Duration::from_secs_f64(eta.max(0.0)))
        );
    }
    for p in v["journal_problems"].as_array().into_iter().flatten() {
        s += &format!("warning: {}\n", p.as_str().unwrap_or(""));
    }
    s.trim_end().to_string()
}
