//! Merging: what an element reported (or, without a complete record, what its
//! Slurm state says) becomes attempts and verdicts in the one journal.

use std::time::Duration;

use isobatch_shared::Verdict;

use super::executor::{Element, SlurmRun};
use super::record;
use super::states::{self, Outcome};
use super::tasklist;
use crate::journal::Record;
use crate::runner::batch::Attempt;
use crate::runner::finish::report_attempt;
use crate::runner::schedule::TaskIdx;

impl SlurmRun<'_> {
    /// Merges element `e`'s record into the journal and the tasks: `complete`
    /// when the element renamed it into place, else what it wrote before it
    /// died; `state` is Slurm's, once known, for tasks the record leaves open.
    pub(super) fn merge(
        &mut self,
        e: &Element,
        recs: &[Record],
        state: Option<&str>,
        complete: bool,
        resubmit: &mut Vec<TaskIdx>,
    ) {
        let log = tasklist::slurm_log(&e.dir, &e.job, e.array_index);
        for &t in &e.tasks {
            let id = self.tasks[t].task.id.clone();
            let mut started = false;
            let mut last: Option<Verdict> = None;
            let mut cancelled = None;
            for r in recs {
                match r {
                    Record::AttemptStart { task, .. } if *task == id => {
                        self.ctx.journal.append(r);
                        started = true;
                        last = None;
                    }
                    Record::AttemptEnd { task, .. } if *task == id => {
                        let final_end = record::is_last_end(recs, r);
                        let r = &record::with_slurm_verdict(r, state, final_end);
                        self.ctx.journal.append(r);
                        if let Some(a) = record::attempt(&self.ctx.cfg.output, r, recs) {
                            self.ctx.progress.finished(&id, &a);
                            last = Some(a.verdict);
                            self.tasks[t].attempts.push(a);
                        }
                        started = false;
                    }
                    Record::Cancelled { task, reason, .. } if *task == id => {
                        cancelled = Some(reason.clone());
                    }
                    _ => {}
                }
            }
            if let Some(v) = last.filter(|_| !started) {
                self.conclude(t, v);
                continue;
            }
            if let Some(reason) = cancelled {
                self.cancel(t, &reason);
                continue;
            }
            if complete && !started {
                let why = format!(
                    "the result record of its array element ({}) says nothing about this task",
                    tasklist::record_file(&e.dir, e.index).display()
                );
                self.fail_started(t, Verdict::FailedCrashed, why);
                continue;
            }
            let state = state.unwrap_or("COMPLETED");
            match states::outcome(state, started, &log.display().to_string()) {
                Outcome::Resubmit(why) => {
                    self.note(&format!("{id}: {why}; submitting it again"));
                    resubmit.push(t);
                }
                Outcome::Verdict(v, why) if started => self.fail_started(t, v, why),
                Outcome::Verdict(Verdict::Cancelled, why) => self.cancel(t, &why),
                Outcome::Verdict(_, why) => {
                    self.cancel(t, &format!("not started: {why}"));
                }
            }
        }
    }

    /// Records an attempt the element began but never reported, ended by Slurm.
    fn fail_started(&mut self, t: TaskIdx, verdict: Verdict, why: String) {
        let attempt_no = self.tasks[t].next_attempt();
        let mut a = Attempt::ended(attempt_no, verdict, why, Duration::ZERO);
        let id = self.tasks[t].task.id.clone();
        report_attempt(&self.ctx, &id, &mut a);
        self.tasks[t].attempts.push(a);
        self.conclude(t, verdict);
    }

    /// A task's final verdict.
    fn conclude(&mut self, t: TaskIdx, verdict: Verdict) {
        if self.tasks[t].verdict.is_some() {
            return;
        }
        self.tasks[t].verdict = Some(verdict);
        self.outstanding -= 1;
        if verdict.is_failure()
            && let Some(why) = self.fails.failed()
        {
            self.note(&format!(
                "stopping early: {why}; cancelling pending array elements, letting running ones finish"
            ));
            self.halt.get_or_insert(why);
        }
    }

    /// A task that never started in this run.
    pub(super) fn cancel(&mut self, t: TaskIdx, why: &str) {
        if self.tasks[t].cancel_unstarted(self.ctx.journal, why) {
            self.outstanding -= 1;
        }
    }
}
