//! The record of a batch: every task, every attempt, and how the run ended.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use isobatch_shared::{FileIdentity, StageReport, Verdict};

use super::task_result::ResultFields;
use crate::discovery::Task;

/// One attempt of one task.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Attempt number (1-based, continuing across runs).
    pub attempt: u32,
    /// How it ended.
    pub verdict: Verdict,
    /// When it was dispatched, seconds since the Unix epoch (orders attempts per worker).
    pub started_at: f64,
    /// Wall time from dispatch to end.
    pub duration: Duration,
    /// Peak RSS of the worker's process tree during the attempt, bytes.
    pub peak_rss: u64,
    /// Why it failed (empty when done).
    pub message: String,
    /// The worker that ran it (None in serial mode).
    pub worker_pid: Option<u32>,
    /// The worker's own RSS before and after, as it reported (0 if it crashed).
    pub rss_before: u64,
    /// See `rss_before`.
    pub rss_after: u64,
    /// Final output files (absolute).
    pub outputs: Vec<PathBuf>,
    /// Per-stage reports of multi-stage pipelines (empty otherwise).
    pub stages: Vec<StageReport>,
    /// Every input and tracked file as the attempt found it (empty when it never reported).
    pub inputs: Vec<FileIdentity>,
    /// The task's own results from its published `result.json` (done attempts only).
    pub result: ResultFields,
    /// What was wrong with that file, if anything (a warning, not a failure).
    pub result_problem: Option<String>,
}

impl Attempt {
    /// Attempt number `attempt`, ending now after `duration` with `verdict` and `message`, with
    /// nothing measured or produced yet: callers fill in the rest with struct update syntax.
    pub fn ended(attempt: u32, verdict: Verdict, message: String, duration: Duration) -> Self {
        Attempt {
            attempt,
            verdict,
            started_at: crate::journal::now() - duration.as_secs_f64(),
            duration,
            peak_rss: 0,
            message,
            worker_pid: None,
            rss_before: 0,
            rss_after: 0,
            outputs: Vec::new(),
            stages: Vec::new(),
            inputs: Vec::new(),
            result: ResultFields::new(),
            result_problem: None,
        }
    }
}

/// One task's state in the batch.
#[derive(Debug, Clone)]
pub struct TaskRecord {
    /// The discovered task.
    pub task: Task,
    /// Attempts made in this run.
    pub attempts: Vec<Attempt>,
    /// Attempts made by earlier runs (so attempt numbers and logs never collide).
    pub earlier_attempts: u32,
    /// The final verdict, once there is one.
    pub verdict: Option<Verdict>,
    /// Outputs recorded by an earlier run (for skipped tasks).
    pub earlier_outputs: Vec<PathBuf>,
    /// Results recorded by an earlier run (for skipped tasks).
    pub earlier_result: ResultFields,
    /// Why a task got a verdict without an attempt (cancelled before start, missing).
    pub cancel_reason: Option<String>,
    /// Pre-flight's RAM estimate, bytes (None: unknown or not run).
    pub estimated_rss: Option<u64>,
    /// Why an earlier `done` result is computed again (what changed).
    pub rerun_reason: Option<String>,
}

impl TaskRecord {
    /// A task not yet run.
    pub fn new(task: Task, earlier_attempts: u32) -> Self {
        TaskRecord {
            task,
            attempts: Vec::new(),
            earlier_attempts,
            verdict: None,
            earlier_outputs: Vec::new(),
            earlier_result: ResultFields::new(),
            cancel_reason: None,
            estimated_rss: None,
            rerun_reason: None,
        }
    }

    /// The number the next attempt gets.
    pub fn next_attempt(&self) -> u32 {
        self.earlier_attempts + self.attempts.len() as u32 + 1
    }

    /// The final message (last attempt's).
    pub fn message(&self) -> &str {
        match self.attempts.last() {
            Some(a) => &a.message,
            None => self.cancel_reason.as_deref().unwrap_or(""),
        }
    }

    /// Peak RSS over this run's attempts.
    pub fn peak_rss(&self) -> u64 {
        self.attempts.iter().map(|a| a.peak_rss).max().unwrap_or(0)
    }

    /// Total wall time over this run's attempts.
    pub fn duration(&self) -> Duration {
        self.attempts.iter().map(|a| a.duration).sum()
    }

    /// Results of the final attempt, or the earlier run's for a skipped task.
    pub fn result(&self) -> &ResultFields {
        match self.attempts.last() {
            Some(a) => &a.result,
            None => &self.earlier_result,
        }
    }

    /// Outputs of the final attempt, or the earlier run's for a skipped task.
    pub fn outputs(&self) -> &[PathBuf] {
        match self.attempts.last() {
            Some(a) => &a.outputs,
            None => &self.earlier_outputs,
        }
    }
}

/// The whole batch as it ended.
#[derive(Debug)]
pub struct BatchResult {
    /// Every task, in discovery order (missing ones included).
    pub tasks: Vec<TaskRecord>,
    /// Ctrl-C or SIGTERM stopped it.
    pub interrupted: bool,
    /// Why `--max-fail` stopped it early, if it did.
    pub stopped_early: Option<String>,
    /// When the run started.
    pub started: SystemTime,
    /// How long it took.
    pub elapsed: Duration,
    /// Things the summary should say (e.g. serial mode cannot enforce timeouts).
    pub notes: Vec<String>,
}

impl BatchResult {
    /// True when every task is done or skipped (missing ones do not count as failures).
    pub fn all_ok(&self) -> bool {
        self.tasks
            .iter()
            .all(|t| matches!(t.verdict, Some(v) if v.is_complete() || v == Verdict::Missing))
    }
}
