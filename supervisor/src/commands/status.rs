//! `isobatch status OUTPUT_DIR`: what a running or finished batch has done,
//! from the journal, and whether its last run is running, finished, was
//! interrupted or died — the run lock's holder (read from the kernel's lock
//! table, never taken) tells running from died when the journal has no
//! `run_end`. Safe while a run is going.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use isobatch_shared::units::format_duration;
use isobatch_shared::{Verdict, qc_warnings};
use serde_json::json;

use super::run_state::{LastRun, RunState, run_state, state_line};
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
    /// With `--executor slurm`: the array element and node of the running attempt.
    slurm: Option<(String, Option<String>)>,
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
    let mut last: Option<LastRun> = None;
    for r in records {
        match r {
            Record::RunStart {
                tasks: n,
                time,
                pid,
                host,
                ..
            } => {
                last = Some(LastRun {
                    start: *time,
                    pid: *pid,
                    host: host.clone(),
                    tasks: *n,
                    ..LastRun::default()
                });
                for t in tasks.values_mut() {
                    t.running_since = None;
                    t.rerun = None;
                }
            }
            Record::RunEnd { interrupted, .. } => {
                if let Some(run) = last.as_mut() {
                    run.ended = Some(*interrupted);
                }
            }
            Record::AttemptStart {
                task,
                attempt,
                time,
                slurm_job,
                node,
                ..
            } => {
                let t = tasks.entry(task.clone()).or_default();
                t.running_since = Some(*time);
                t.attempt = *attempt;
                t.slurm = slurm_job.clone().map(|j| (j, node.clone()));
                if let Some(run) = last.as_mut() {
                    run.started.insert(task.clone());
                    run.finished.remove(task);
                }
            }
            Record::AttemptEnd {
                task,
                verdict,
                message,
                stages,
                ..
            } => {
                let t = tasks.entry(task.clone()).or_default();
                t.running_since = None;
                t.verdict = Some(*verdict);
                t.message = message.clone();
                t.warnings = qc_warnings(stages);
                if let Some(run) = last.as_mut() {
                    if *verdict == Verdict::Cancelled {
                        run.stopped += 1;
                    } else if *verdict == Verdict::Done || verdict.is_failure() {
                        run.finished.insert(task.clone());
                    }
                }
            }
            Record::Cancelled { task, reason, .. } => {
                let t = tasks.entry(task.clone()).or_default();
                t.verdict = Some(Verdict::Cancelled);
                t.message = reason.clone();
                if let Some(run) = last.as_mut() {
                    run.never_started += 1;
                }
            }
            Record::Skipped { task, .. } => {
                tasks.entry(task.clone()).or_default().verdict = Some(Verdict::Skipped)
            }
            Record::RunScope { .. } | Record::Worker { .. } | Record::SlurmArray { .. } => {}
            Record::Rerun { task, reason, .. } => {
                tasks.entry(task.clone()).or_default().rerun = Some(reason.clone())
            }
        }
    }
    let (state, holder) = run_state(last.as_ref(), output);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for t in tasks.values() {
        if let Some(v) = t.verdict {
            *counts.entry(v.to_string()).or_insert(0) += 1;
        }
    }
    let in_flight: Vec<_> = tasks
        .iter()
        .filter(|(_, t)| last.as_ref().is_some_and(|r| r.ended.is_none()) && t.running_since.is_some())
        .map(|(id, t)| {
            let mut r = json!({"task": id, "attempt": t.attempt, "elapsed_s": now - t.running_since.unwrap_or(now)});
            if let Some((job, node)) = &t.slurm {
                r["slurm_job"] = json!(job);
                r["node"] = json!(node);
            }
            r
        })
        .collect();
    let (running, was_running) = if state == RunState::Running {
        (in_flight, Vec::new())
    } else {
        (Vec::new(), in_flight)
    };
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
    let run = last.as_ref().map(|r| {
        let not_started = r.tasks.saturating_sub(r.started.len() + r.never_started);
        json!({
            "pid": r.pid,
            "host": r.host,
            "tasks": r.tasks,
            "started": r.started.len(),
            "finished": r.finished.len(),
            "cancelled_running": r.stopped,
            "never_started": r.never_started,
            "not_started": not_started,
            "was_running": was_running,
        })
    });
    // The pace of this run alone: tasks it finished over the time it has run.
    let eta = last
        .as_ref()
        .filter(|_| state == RunState::Running)
        .and_then(|r| {
            let ran = r.finished.len();
            let rest = r.tasks.saturating_sub(ran + r.never_started);
            (ran > 0).then(|| rest as f64 * (now - r.start).max(0.0) / ran as f64)
        });
    json!({
        "output": output,
        "state": state.as_str(),
        "pid": holder,
        "run": run,
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
    let mut s = format!("{}\n", state_line(v));
    if let Some(counts) = v["counts"].as_object().filter(|c| !c.is_empty()) {
        let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        s += &format!("tasks: {}\n", parts.join(", "));
    }
    for r in v["running"].as_array().into_iter().flatten() {
        let secs = r["elapsed_s"].as_f64().unwrap_or(0.0).max(0.0);
        let place = match (r["slurm_job"].as_str(), r["node"].as_str()) {
            (Some(job), Some(node)) => format!(", Slurm job {job} on {node}"),
            (Some(job), None) => format!(", Slurm job {job}"),
            _ => String::new(),
        };
        s += &format!(
            "running: {} (attempt {}, {}{place})\n",
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
    for r in v["run"]["was_running"].as_array().into_iter().flatten() {
        s += &format!(
            "was running when the run died: {} (attempt {})\n",
            r["task"].as_str().unwrap_or(""),
            r["attempt"]
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn start(time: f64, tasks: usize) -> Record {
        Record::RunStart {
            time,
            pid: std::process::id(),
            host: String::new(),
            pipeline: "selftest".into(),
            tasks,
            param_hash: String::new(),
            mode: "pool".into(),
            workers: 1,
            version: None,
            command_line: Vec::new(),
        }
    }

    fn attempt(time: f64, task: &str, verdict: Verdict) -> [Record; 2] {
        [
            Record::AttemptStart {
                time: time - 1.0,
                task: task.into(),
                attempt: 1,
                worker_pid: None,
                slurm_job: None,
                node: None,
            },
            Record::AttemptEnd {
                time,
                task: task.into(),
                attempt: 1,
                verdict,
                duration_s: 1.0,
                peak_rss_bytes: 0,
                message: String::new(),
                outputs: Vec::new(),
                param_hash: String::new(),
                stages: Vec::new(),
                inputs: Vec::new(),
                result: serde_json::Map::new(),
            },
        ]
    }

    #[test]
    fn eta_is_paced_by_this_run_alone() {
        let dir = tempfile::tempdir().unwrap();
        let _held = crate::lock::acquire(&dir.path().join("lock"), dir.path()).unwrap();
        let mut records = vec![start(0.0, 2)];
        records.extend(attempt(5.0, "a1", Verdict::Done));
        records.extend(attempt(6.0, "a2", Verdict::Done));
        records.push(Record::RunEnd {
            time: 7.0,
            interrupted: false,
            counts: BTreeMap::new(),
        });
        // The second run: one of four tasks done in 20 s; three to go at that pace.
        records.push(start(100.0, 4));
        records.extend(attempt(120.0, "b1", Verdict::Done));
        let v = summarize(&records, 120.0, &[], dir.path());
        assert_eq!(v["state"], "running");
        assert_eq!(v["eta_s"], 60.0);
        // A failed attempt that is retried counts once, when it ends.
        records.extend(attempt(130.0, "b2", Verdict::FailedError));
        records.extend(attempt(140.0, "b2", Verdict::FailedError));
        let v = summarize(&records, 140.0, &[], dir.path());
        assert_eq!(v["run"]["finished"], 2);
        assert_eq!(v["eta_s"], 40.0);
    }
}
