//! What the report knows about a batch, read from its output folder alone: the
//! journal (runs, attempts, verdicts), `results.json` (run parameters),
//! `.isobatch/memory.csv` (per-attempt worker memory) and the run lock (is a
//! run still going?). Nothing here needs the run that wrote them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use isobatch_shared::{StageReport, Verdict};

use crate::commands::run_state::{RunState, state_of};
use crate::journal::{self, Record};
use crate::layout;
use crate::report::memory::WorkerTrend;

/// Why there is nothing to report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The folder has no isobatch journal.
    #[error(
        "{0}: no isobatch journal here (.isobatch/journal.jsonl) — is this an isobatch output folder?"
    )]
    NotAnOutput(PathBuf),
    /// The journal exists but holds no readable record.
    #[error("{path}: the journal holds no readable record{}; nothing to report", damaged_note(*.damaged))]
    Empty {
        /// The journal.
        path: PathBuf,
        /// How many damaged lines it has.
        damaged: usize,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

fn damaged_note(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} damaged line(s))")
    }
}

/// One run (`run_start` … `run_end`).
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// Start, seconds since the Unix epoch.
    pub start: f64,
    /// Supervisor pid.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// Pipeline name.
    pub pipeline: String,
    /// Tasks it set out to run.
    pub tasks: usize,
    /// Isolation mode.
    pub mode: String,
    /// Concurrency.
    pub workers: usize,
    /// isobatch version (absent in journals written before it was recorded).
    pub version: Option<String>,
    /// The command line (likewise).
    pub command_line: Vec<String>,
    /// `(end time, interrupted)` once `run_end` is journaled.
    pub end: Option<(f64, bool)>,
}

/// One attempt of the latest run.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Task id.
    pub task: String,
    /// Attempt number.
    pub attempt: u32,
    /// Worker pid (none in serial mode).
    pub worker: Option<u32>,
    /// Start, seconds since the Unix epoch.
    pub start: f64,
    /// End, if it ended.
    pub end: Option<f64>,
    /// Verdict, if it ended.
    pub verdict: Option<Verdict>,
}

/// A task's latest state.
#[derive(Debug, Clone, Default)]
pub struct Task {
    /// Latest verdict (none while its first attempt runs).
    pub verdict: Option<Verdict>,
    /// Why it failed or was cancelled.
    pub message: String,
    /// Attempts journaled, across runs.
    pub attempts: u32,
    /// Wall time of the latest attempt, seconds.
    pub duration_s: f64,
    /// Peak memory of the latest attempt, bytes.
    pub peak_rss_bytes: u64,
    /// Stage reports of the latest complete attempt.
    pub stages: Vec<StageReport>,
    /// An attempt is running now.
    pub running: bool,
}

/// Everything the report shows, read from an output folder.
#[derive(Debug)]
pub struct Batch {
    /// The output folder.
    pub output: PathBuf,
    /// Every run, oldest first.
    pub runs: Vec<Run>,
    /// The latest run's attempts, in start order.
    pub attempts: Vec<Attempt>,
    /// Every task by id.
    pub tasks: BTreeMap<String, Task>,
    /// The journal's damaged-line notes.
    pub damaged: Vec<String>,
    /// How the latest run stands (running, finished, interrupted, died…).
    pub state: RunState,
    /// The pid holding the run lock, when a run is going.
    pub live: Option<u32>,
    /// `results.json`'s run parameters (without the per-task part), if present.
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
    /// Worker RSS after each task of the latest `--memory-debug` run, per worker pid.
    pub memory: BTreeMap<u32, WorkerTrend>,
    /// Problems reading the side files (results.json, memory.csv).
    pub notes: Vec<String>,
    /// When the report was made, seconds since the Unix epoch.
    pub now: f64,
}

impl Batch {
    /// The latest run, if any.
    pub fn last_run(&self) -> Option<&Run> {
        self.runs.last()
    }

    /// What a task with an attempt under way is called: running, or, in a run
    /// that died, not.
    pub fn running_label(&self) -> &'static str {
        if self.state == RunState::Died {
            "unfinished (the run died)"
        } else {
            "running"
        }
    }
}

/// Reads the batch in `output`.
pub fn load(output: &Path) -> Result<Batch, ReportError> {
    let path = layout::journal(output);
    if !path.is_file() {
        return Err(ReportError::NotAnOutput(output.to_path_buf()));
    }
    let (records, damaged) = journal::read(&path).map_err(|source| ReportError::Io {
        path: path.clone(),
        source,
    })?;
    if records.is_empty() {
        return Err(ReportError::Empty {
            path,
            damaged: damaged.len(),
        });
    }
    let mut batch = Batch {
        output: output.to_path_buf(),
        damaged,
        now: journal::now(),
        state: RunState::NoRun,
        live: None,
        runs: Vec::new(),
        attempts: Vec::new(),
        tasks: BTreeMap::new(),
        parameters: None,
        memory: BTreeMap::new(),
        notes: Vec::new(),
    };
    for r in &records {
        apply(&mut batch, r);
    }
    if let Some(run) = batch.runs.last() {
        (batch.state, batch.live) = state_of(run.end.map(|e| e.1), &run.host, output);
    }
    read_parameters(&mut batch);
    read_memory(&mut batch);
    Ok(batch)
}

fn apply(b: &mut Batch, r: &Record) {
    match r {
        Record::RunStart {
            time,
            pid,
            host,
            pipeline,
            tasks,
            mode,
            workers,
            version,
            command_line,
            ..
        } => {
            b.runs.push(Run {
                start: *time,
                pid: *pid,
                host: host.clone(),
                pipeline: pipeline.clone(),
                tasks: *tasks,
                mode: mode.clone(),
                workers: *workers,
                version: version.clone(),
                command_line: command_line.clone(),
                end: None,
            });
            b.attempts.clear();
            for t in b.tasks.values_mut() {
                t.running = false;
            }
        }
        Record::RunEnd {
            time, interrupted, ..
        } => {
            if let Some(run) = b.runs.last_mut() {
                run.end = Some((*time, *interrupted));
            }
        }
        Record::AttemptStart {
            time,
            task,
            attempt,
            worker_pid,
            ..
        } => {
            b.attempts.push(Attempt {
                task: task.clone(),
                attempt: *attempt,
                worker: *worker_pid,
                start: *time,
                end: None,
                verdict: None,
            });
            let t = b.tasks.entry(task.clone()).or_default();
            t.running = true;
            t.attempts = t.attempts.max(*attempt);
        }
        Record::AttemptEnd {
            time,
            task,
            attempt,
            verdict,
            duration_s,
            peak_rss_bytes,
            message,
            stages,
            ..
        } => {
            if let Some(a) = b
                .attempts
                .iter_mut()
                .rev()
                .find(|a| a.task == *task && a.attempt == *attempt)
            {
                a.end = Some(*time);
                a.verdict = Some(*verdict);
            }
            let t = b.tasks.entry(task.clone()).or_default();
            t.running = false;
            t.verdict = Some(*verdict);
            t.message = message.clone();
            t.attempts = t.attempts.max(*attempt);
            t.duration_s = *duration_s;
            t.peak_rss_bytes = *peak_rss_bytes;
            if verdict.is_complete() {
                t.stages = stages.clone();
            }
        }
        Record::Cancelled { task, reason, .. } => {
            let t = b.tasks.entry(task.clone()).or_default();
            t.verdict = Some(Verdict::Cancelled);
            t.message = reason.clone();
            t.running = false;
        }
        Record::Skipped { task, .. } => {
            b.tasks.entry(task.clone()).or_default().verdict = Some(Verdict::Skipped);
        }
        Record::Rerun { .. }
        | Record::RunScope { .. }
        | Record::Worker { .. }
        | Record::SlurmArray { .. } => {}
    }
}

/// `results.json` minus its per-task list: the parameters of the run that wrote it.
fn read_parameters(b: &mut Batch) {
    let path = layout::results_json(&b.output);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => return b.notes.push(format!("{}: {e}", path.display())),
    };
    match serde_json::from_slice::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.remove("tasks");
            b.parameters = Some(map);
        }
        Ok(_) => b
            .notes
            .push(format!("{}: not a JSON object; ignored", path.display())),
        Err(e) => b.notes.push(format!(
            "{}: cannot be read as JSON ({e}); ignored",
            path.display()
        )),
    }
}

#[derive(serde::Deserialize)]
struct MemoryRow {
    task: String,
    attempt: u32,
    worker_pid: Option<u32>,
    rss_after_bytes: u64,
}

/// `.isobatch/memory.csv`: each worker's RSS after each of its tasks, in the
/// order the latest run's journal started them (rows of another run are left out).
fn read_memory(b: &mut Batch) {
    let path = layout::memory_csv(&b.output);
    let mut reader = match csv::Reader::from_path(&path) {
        Ok(r) => r,
        Err(e) if matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound) =>
        {
            return;
        }
        Err(e) => return b.notes.push(format!("{}: {e}", path.display())),
    };
    let starts: BTreeMap<(&str, u32), f64> = b
        .attempts
        .iter()
        .map(|a| ((a.task.as_str(), a.attempt), a.start))
        .collect();
    let (mut rows, mut other_run) = (Vec::new(), 0usize);
    for row in reader.deserialize::<MemoryRow>() {
        match row {
            Ok(r) => {
                let (Some(pid), true) = (r.worker_pid, r.rss_after_bytes > 0) else {
                    continue;
                };
                match starts.get(&(r.task.as_str(), r.attempt)) {
                    Some(&start) => rows.push((pid, start, r.rss_after_bytes)),
                    None => other_run += 1,
                }
            }
            Err(e) => {
                return b.notes.push(format!(
                    "{}: {e}; the memory section is left out",
                    path.display()
                ));
            }
        }
    }
    if rows.is_empty() && other_run > 0 {
        return b.notes.push(format!(
            "{} is from an earlier run (the latest ran without --memory-debug); its figures are left out",
            path.display()
        ));
    }
    b.memory = crate::report::memory::trends_of(rows);
}
