//! Recording the end of an attempt: the verdict, the journal line, the
//! clean-up of what the task left running, and the retry decision.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Instant;

use isobatch_shared::{FileIdentity, Outcome, StageReport, Verdict};
use nix::sys::signal::Signal;

use super::Context;
use super::attempt_dir;
use super::batch::Attempt;
use super::classify::{classify_exit, classify_outcome, strict_qc};
use super::dispatcher::{Dispatcher, Phase};
use super::events::WorkerId;
use super::oom::OomCounters;
use super::schedule::{TaskIdx, backoff, should_retry};
use super::task_result;
use super::worker::{Worker, WorkerState};
use crate::journal::{self, OutputRecord, Record};
use crate::unix::tree;

/// Outputs as the journal records them: relative to the output folder, with
/// size and modification time.
pub fn output_records(output: &Path, outputs: &[PathBuf]) -> Vec<OutputRecord> {
    outputs
        .iter()
        .map(|p| OutputRecord::of(output, p))
        .collect()
}

/// Publishes or keeps the attempt's folder ([`attempt_dir::settle`]), reads a
/// done attempt's own results from it ([`task_result::read`]), then journals
/// the attempt's end and shows it; every mode reports attempts this way.
pub fn report_attempt(ctx: &Context<'_>, task: &str, attempt: &mut Attempt) {
    attempt_dir::settle(ctx.cfg, task, attempt);
    if attempt.verdict == Verdict::Done {
        let (fields, problem) = task_result::read(&ctx.cfg.output.join(task));
        attempt.result = fields;
        if let Some(problem) = problem {
            ctx.progress.note(&format!("{task}: {problem}"));
            attempt.result_problem = Some(problem.to_string());
        }
    }
    ctx.journal.append(&Record::AttemptEnd {
        time: journal::now(),
        task: task.to_string(),
        attempt: attempt.attempt,
        verdict: attempt.verdict,
        duration_s: attempt.duration.as_secs_f64(),
        peak_rss_bytes: attempt.peak_rss,
        message: attempt.message.clone(),
        outputs: output_records(&ctx.cfg.output, &attempt.outputs),
        param_hash: ctx.param_hash.clone(),
        stages: attempt.stages.clone(),
        inputs: attempt.inputs.clone(),
        result: attempt.result.clone(),
    });
    ctx.progress.finished(task, attempt);
}

impl Dispatcher<'_> {
    /// The worker sent `Finished` for the task it was running; its own RSS
    /// figures come as `[before, after, high-water mark]`.
    pub(super) fn on_finished(
        &mut self,
        worker: WorkerId,
        outcome: &Outcome,
        (outputs, stages, inputs): (Vec<PathBuf>, Vec<StageReport>, Vec<FileIdentity>),
        [rss_before, rss_after, rss_peak]: [u64; 3],
        now: Instant,
    ) {
        let sampled = self.sampler.untrack(worker);
        let Some(w) = self.workers.get_mut(&worker) else {
            return;
        };
        let WorkerState::Busy(run) = w.state.clone() else {
            return;
        };
        if w.stop.is_some() {
            // isobatch already decided to stop this attempt; its exit decides the verdict.
            return;
        }
        // Whatever the task started and left running does not outlive it.
        tree::signal_descendants(w.pid, Signal::SIGKILL);
        w.tasks_done += 1;
        w.rss_history.push(rss_after);
        w.state = WorkerState::Idle;
        let pid = w.pid;
        let (verdict, message) =
            strict_qc(classify_outcome(outcome), &stages, self.ctx.cfg.strict_qc);
        self.record(
            run.task,
            Attempt {
                peak_rss: sampled.max(rss_peak).max(rss_after),
                worker_pid: Some(pid),
                rss_before,
                rss_after,
                outputs,
                stages,
                inputs,
                ..Attempt::ended(run.attempt, verdict, message, now - run.started)
            },
            now,
        );
    }

    /// A busy worker exited without `Finished`: classify how, from what isobatch did and the exit status.
    pub(super) fn on_crash(
        &mut self,
        w: &Worker,
        status: &Result<ExitStatus, String>,
        now: Instant,
    ) {
        let WorkerState::Busy(run) = &w.state else {
            return;
        };
        let peak = self.sampler.untrack(w.id);
        let available = self.admission.memory(now).map(|m| m.available);
        let log = crate::layout::attempt_log(
            &self.ctx.cfg.output,
            &self.tasks[run.task].task.id,
            run.attempt,
        );
        let oom_kills = OomCounters::read().since(&run.oom_at_start);
        let (verdict, message) =
            classify_exit(status, w.stop.as_ref(), peak, (available, oom_kills), &log);
        self.record(
            run.task,
            Attempt {
                peak_rss: peak,
                worker_pid: Some(w.pid),
                ..Attempt::ended(run.attempt, verdict, message, now - run.started)
            },
            now,
        );
    }

    /// Journals an attempt and decides between a retry and a final verdict.
    pub(super) fn record(&mut self, t: TaskIdx, mut attempt: Attempt, now: Instant) {
        let rec = &mut self.tasks[t];
        report_attempt(&self.ctx, &rec.task.id, &mut attempt);
        let verdict = attempt.verdict;
        if verdict == Verdict::Done {
            self.admission.observe(attempt.peak_rss);
        }
        rec.attempts.push(attempt);
        let tries = rec.attempts.len() as u32;
        if should_retry(verdict, tries, self.ctx.cfg.retries) && self.phase == Phase::Running {
            let wait = backoff(tries);
            self.ctx.progress.note(&format!(
                "{}: retrying in {}s (attempt {} of {})",
                rec.task.id,
                wait.as_secs(),
                tries + 1,
                self.ctx.cfg.retries + 1
            ));
            self.schedule.retry(t, now + wait);
        } else {
            rec.verdict = Some(verdict);
            self.outstanding -= 1;
            self.ctx
                .progress
                .task_ended(&rec.task.id, verdict, &rec.attempts);
            if verdict.is_failure()
                && let Some(why) = self.fails.failed()
            {
                self.ctx.progress.note(&format!(
                    "stopping early: {why}; starting no new tasks, letting running ones finish"
                ));
                self.halt.get_or_insert(why);
            }
        }
    }
}
