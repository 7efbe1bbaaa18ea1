//! Merging: what an element reported (or, without a complete record, what its
//! Slurm state says) becomes attempts and verdicts in the one journal. What a
//! running element recorded is taken in as it comes (`live`); this settles the
//! rest once the element has ended.

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

/// Where one task stands in an element's record.
#[derive(Default)]
struct Seen {
    /// The attempt started and not ended.
    open: Option<u32>,
    /// The verdict of its last ended attempt (Slurm's state applied).
    last: Option<Verdict>,
    /// That attempt was lost to a node failure or preemption: the task runs again.
    lost: bool,
    /// Why the element cancelled it before it started.
    cancelled: Option<String>,
}

impl SlurmRun<'_> {
    /// Merges element `e`'s record into the journal and the tasks: `complete`
    /// when the element renamed it into place, else what it wrote before it
    /// died; `state` is Slurm's, once known, for tasks the record leaves open.
    /// Records taken in while it ran are not merged again.
    pub(super) fn merge(
        &mut self,
        e: &Element,
        recs: &[Record],
        state: Option<&str>,
        complete: bool,
        resubmit: &mut Vec<TaskIdx>,
    ) {
        let log = tasklist::slurm_log(&e.dir, &e.job, e.array_index);
        let state = state.map(|s| states::with_log_evidence(s, &log));
        let state = state.as_deref();
        for r in recs.iter().skip(e.merged) {
            let Some(t) = self.task_of(e, record::task(r)) else {
                continue;
            };
            match r {
                Record::AttemptStart { .. } => self.start_attempt(e, t, r),
                Record::AttemptEnd { .. } => {
                    let last = record::is_last_end(recs, r);
                    self.end_attempt(e, t, &record::with_slurm_verdict(r, state, last), recs);
                }
                _ => {}
            }
        }
        for &t in &e.tasks {
            let seen = seen(&self.tasks[t].task.id, recs, state);
            if seen.lost && seen.open.is_none() {
                let why = state.and_then(states::lost).unwrap_or_default();
                let id = &self.tasks[t].task.id;
                self.note(&format!("{id}: {why}; submitting it again"));
                resubmit.push(t);
                continue;
            }
            if let Some(v) = seen.last.filter(|_| seen.open.is_none()) {
                self.conclude(t, v);
                continue;
            }
            if let Some(reason) = seen.cancelled {
                self.cancel(t, &reason);
                continue;
            }
            if complete && seen.open.is_none() {
                let why = format!(
                    "the result record of its array element ({}) says nothing about this task",
                    tasklist::record_file(&e.dir, e.index).display()
                );
                let attempt = self.tasks[t].next_attempt();
                self.end_open(t, attempt, Verdict::FailedCrashed, why);
                self.conclude(t, Verdict::FailedCrashed);
                continue;
            }
            let state = state.unwrap_or("COMPLETED");
            match (
                states::outcome(state, seen.open.is_some(), &log.display().to_string()),
                seen.open,
            ) {
                (Outcome::Resubmit(why), open) => {
                    let id = self.tasks[t].task.id.clone();
                    if let Some(attempt) = open {
                        self.end_open(
                            t,
                            attempt,
                            Verdict::FailedKilled,
                            states::lost_message(&why),
                        );
                    }
                    self.note(&format!("{id}: {why}; submitting it again"));
                    resubmit.push(t);
                }
                (Outcome::Verdict(v, why), Some(attempt)) => {
                    self.end_open(t, attempt, v, why);
                    self.conclude(t, v);
                }
                (Outcome::Verdict(Verdict::Cancelled, why), None) => self.cancel(t, &why),
                (Outcome::Verdict(_, why), None) => {
                    self.cancel(t, &format!("not started: {why}"));
                }
            }
        }
    }

    /// The task of `e` with id `id`.
    pub(super) fn task_of(&self, e: &Element, id: Option<&str>) -> Option<TaskIdx> {
        let id = id?;
        e.tasks
            .iter()
            .copied()
            .find(|&t| self.tasks[t].task.id == id)
    }

    /// Journals attempt start `r` of task `t` as the element recorded it,
    /// with the array element and node it runs on, and shows the task running.
    pub(super) fn start_attempt(&mut self, e: &Element, t: TaskIdx, r: &Record) {
        let Record::AttemptStart {
            time,
            task,
            attempt,
            worker_pid,
            ..
        } = r
        else {
            return;
        };
        if e.known.contains(&(task.clone(), *attempt)) {
            return;
        }
        self.ctx.journal.append(&Record::AttemptStart {
            time: *time,
            task: task.clone(),
            attempt: *attempt,
            worker_pid: *worker_pid,
            slurm_job: Some(format!("{}_{}", e.job, e.array_index)),
            node: e.node.clone(),
        });
        self.ctx
            .progress
            .attempt_started(self.tasks[t].attempts.is_empty());
    }

    /// Journals attempt end `r` of task `t` and adds the attempt to the task
    /// (unless the journal had it already: an element of a killed run).
    pub(super) fn end_attempt(&mut self, e: &Element, t: TaskIdx, r: &Record, recs: &[Record]) {
        let Record::AttemptEnd { task, attempt, .. } = r else {
            return;
        };
        if e.known.contains(&(task.clone(), *attempt)) {
            return;
        }
        self.ctx.journal.append(r);
        if let Some(a) = record::attempt(&self.ctx.cfg.output, r, recs) {
            self.ctx.progress.finished(task, &a);
            self.tasks[t].attempts.push(a);
        }
    }

    /// Records attempt `attempt` of task `t`, which the element began but
    /// never reported, as ended by Slurm with `verdict`.
    fn end_open(&mut self, t: TaskIdx, attempt: u32, verdict: Verdict, why: String) {
        let mut a = Attempt::ended(attempt, verdict, why, Duration::ZERO);
        let id = self.tasks[t].task.id.clone();
        report_attempt(&self.ctx, &id, &mut a);
        self.tasks[t].attempts.push(a);
    }

    /// A task's final verdict.
    pub(super) fn conclude(&mut self, t: TaskIdx, verdict: Verdict) {
        if self.tasks[t].verdict.is_some() {
            return;
        }
        self.tasks[t].verdict = Some(verdict);
        self.outstanding -= 1;
        let rec = &self.tasks[t];
        self.ctx
            .progress
            .task_ended(&rec.task.id, verdict, &rec.attempts);
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
            self.ctx
                .progress
                .task_ended(&self.tasks[t].task.id, Verdict::Cancelled, &[]);
        }
    }
}

/// Where task `id` stands in `recs`, with Slurm's `state` applied to the
/// element's last attempt end.
fn seen(id: &str, recs: &[Record], state: Option<&str>) -> Seen {
    let mut seen = Seen::default();
    for r in recs {
        match r {
            Record::AttemptStart { task, attempt, .. } if task == id => {
                seen.open = Some(*attempt);
                seen.last = None;
                seen.lost = false;
            }
            Record::AttemptEnd { task, verdict, .. } if task == id => {
                let last = record::is_last_end(recs, r);
                if let Record::AttemptEnd { verdict, .. } =
                    record::with_slurm_verdict(r, state, last)
                {
                    seen.last = Some(verdict);
                }
                seen.lost = last
                    && record::stopped_from_outside(*verdict)
                    && state.and_then(states::lost).is_some();
                seen.open = None;
            }
            Record::Cancelled { task, reason, .. } if task == id => {
                seen.cancelled = Some(reason.clone());
            }
            _ => {}
        }
    }
    seen
}
