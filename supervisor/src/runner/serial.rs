//! `--mode serial`: built-in pipelines inside the supervisor, one at a time.
//!
//! For debugging only: no isolation (a panic or abort takes the supervisor
//! down), and timeouts and memory caps cannot be enforced — the summary says so.

use std::time::Instant;

use isobatch_shared::procfs;

use super::Context;
use super::batch::{Attempt, TaskRecord};
use super::classify::{classify_outcome, strict_qc};
use super::max_fail::FailCounter;
use super::schedule::should_retry;
use crate::journal::{self, Record};

/// Runs every task in order; `stop` is polled between tasks (Ctrl-C).
/// Returns whether it was interrupted, and why `--max-fail` stopped it early.
pub fn run(
    ctx: &Context<'_>,
    tasks: &mut [TaskRecord],
    stop: &dyn Fn() -> bool,
) -> (bool, Option<String>) {
    let cfg = ctx.cfg;
    let outstanding = tasks.iter().filter(|t| t.verdict.is_none()).count();
    let mut fails = FailCounter::new(cfg.max_fail, outstanding);
    let mut halt: Option<String> = None;
    for rec in tasks.iter_mut().filter(|t| t.verdict.is_none()) {
        let why = if stop() {
            Some("not started: the batch was interrupted".to_string())
        } else {
            halt.as_ref().map(|h| format!("not started: {h}"))
        };
        if let Some(why) = why {
            rec.verdict = Some(isobatch_shared::Verdict::Cancelled);
            journal::journal_cancelled(ctx.journal, &rec.task.id, &why);
            ctx.progress
                .task_ended(&rec.task.id, isobatch_shared::Verdict::Cancelled, &[]);
            rec.cancel_reason = Some(why);
            continue;
        }
        loop {
            ctx.progress.attempt_started(rec.attempts.is_empty());
            let mut spec = super::assign::task_spec(ctx, rec);
            let attempt = spec.attempt;
            super::assign::prepare(&mut spec);
            ctx.journal.append(&Record::AttemptStart {
                time: journal::now(),
                task: spec.task.clone(),
                attempt,
                worker_pid: None,
                slurm_job: None,
                node: None,
            });
            let started = Instant::now();
            let rss_before = procfs::self_rss();
            let result = isobatch_worker::pipeline::run(&spec, &mut |_, _, _| {});
            let rss_after = procfs::self_rss();
            let (verdict, message) = strict_qc(
                classify_outcome(&result.outcome),
                &result.stages,
                cfg.strict_qc,
            );
            let mut a = Attempt {
                peak_rss: result
                    .stages
                    .iter()
                    .map(|s| s.peak_rss_bytes)
                    .fold(rss_before.max(rss_after), u64::max),
                rss_before,
                rss_after,
                outputs: result.outputs,
                stages: result.stages,
                inputs: result.inputs,
                ..Attempt::ended(attempt, verdict, message, started.elapsed())
            };
            super::finish::report_attempt(ctx, &rec.task.id, &mut a);
            rec.attempts.push(a);
            let retry = should_retry(verdict, rec.attempts.len() as u32, cfg.retries) && !stop();
            if !retry {
                rec.verdict = Some(verdict);
                ctx.progress
                    .task_ended(&rec.task.id, verdict, &rec.attempts);
                if verdict.is_failure()
                    && let Some(why) = fails.failed()
                {
                    ctx.progress
                        .note(&format!("stopping early: {why}; starting no new tasks"));
                    halt = Some(why);
                }
                break;
            }
        }
    }
    (stop(), halt)
}
