//! Live progress of a Slurm run: what a running element has recorded so far
//! (its record grows a line per attempt start and end, whole lines only) is
//! journaled as it comes, so the progress display counts the task running and
//! `isobatch status` says which tasks run, in which array element, on which node.

use std::fs;

use super::executor::{Element, SlurmRun};
use super::{record, tasklist};
use crate::journal::Record;
use crate::runner::schedule::should_retry;

impl SlurmRun<'_> {
    /// Takes in what running element `e` recorded since the last poll: attempt
    /// starts, and attempt ends the element decided itself (a task that has no
    /// retry left gets its verdict). An end Slurm may yet overrule (the task
    /// was stopped from outside: scancel, or Slurm's limits) waits for the
    /// element's end, and so does everything after it.
    pub(super) fn absorb(&mut self, e: &mut Element) {
        let tmp = tasklist::record_tmp(&e.dir, e.index);
        let Ok(len) = fs::metadata(&tmp).map(|m| m.len()) else {
            return;
        };
        if len == e.seen_len {
            return;
        }
        e.seen_len = len;
        let recs = record::read(&tmp);
        while let Some(r) = recs.get(e.merged) {
            let t = self.task_of(e, record::task(r));
            match (r, t) {
                (Record::AttemptStart { .. }, Some(t)) => self.start_attempt(e, t, r),
                (Record::AttemptEnd { task, verdict, .. }, Some(t))
                    if !record::stopped_from_outside(*verdict) =>
                {
                    self.end_attempt(e, t, r, &recs);
                    let tries = recs[..=e.merged]
                        .iter()
                        .filter(|x| matches!(x, Record::AttemptEnd { task: y, .. } if y == task))
                        .count();
                    let tries = u32::try_from(tries).unwrap_or(u32::MAX);
                    if !should_retry(*verdict, tries, self.ctx.cfg.retries) {
                        self.conclude(t, *verdict);
                    }
                }
                (Record::AttemptStart { .. } | Record::AttemptEnd { .. }, None) => {}
                _ => break,
            }
            e.merged += 1;
        }
    }
}
