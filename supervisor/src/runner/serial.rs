//! `--mode serial`: built-in pipelines inside the supervisor, one at a time.
//!
//! For debugging only: no isolation (a panic or abort takes the supervisor
//! down), and timeouts and memory caps cannot be enforced — the summary says so.

use std::time::Instant;

use isobatch_shared::procfs;

use super::Context;
use super::batch::{Attempt, TaskRecord};
use super::classify::classify_outcome;
use super::schedule::should_retry;
use crate::journal::{self, Record};

/// Runs every task in order; `stop` is polled between tasks (Ctrl-C).
pub fn run(ctx: &Context<'_>, tasks: &mut [TaskRecord], stop: &dyn Fn() -> bool) -> bool {
    let cfg = ctx.cfg;
    for rec in tasks.iter_mut().filter(|t| t.verdict.is_none()) {
        if stop() {
            rec.verdict = Some(isobatch_shared::Verdict::Cancelled);
            rec.cancel_reason = Some("not started: the batch was interrupted".into());
            continue;
        }
        loop {
            let spec = super::assign::task_spec(ctx, rec);
            let attempt = spec.attempt;
            super::assign::clean_leftovers(&spec.task_dir);
            ctx.journal.append(&Record::AttemptStart {
                time: journal::now(),
                task: spec.task.clone(),
                attempt,
                worker_pid: None,
            });
            let started = Instant::now();
            let rss_before = procfs::self_rss();
            let result = isobatch_worker::pipeline::run(&spec, &mut |_, _, _| {});
            let rss_after = procfs::self_rss();
            let (verdict, message) = classify_outcome(&result.outcome);
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
                break;
            }
        }
    }
    stop()
}
