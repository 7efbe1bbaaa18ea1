//! The supervisor's side of `--executor slurm`: attach to arrays a killed run
//! left, submit the rest, follow every element until its tasks have verdicts,
//! and merge what the elements journaled into the one journal.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::plan::Plan;
use super::states;
use super::submit;
use super::tasklist::{self, Listed, TaskList};
use super::{follow, record};
use crate::journal::{self, Record};
use crate::runner::Context;
use crate::runner::batch::TaskRecord;
use crate::runner::max_fail::FailCounter;
use crate::runner::schedule::TaskIdx;
use crate::unix::signals::StopSignal;

/// How often squeue is asked.
const POLL: Duration = Duration::from_secs(1);
/// How long an element Slurm says has ended may take to show its result record
/// (a shared file system's attribute cache).
const RECORD_GRACE: Duration = Duration::from_secs(5);
/// Polls after which an element squeue and sacct do not list is taken as gone.
const MISSING_POLLS: u32 = 10;

/// One array element this run follows.
pub(super) struct Element {
    pub(super) job: String,
    pub(super) array_index: usize,
    pub(super) dir: PathBuf,
    pub(super) index: usize,
    /// Tasks of this run it runs (indices into the run's tasks).
    pub(super) tasks: Vec<TaskIdx>,
    /// When Slurm first said it ended, and how.
    pub(super) ended: Option<(Instant, String)>,
    pub(super) missing: u32,
    /// The node it runs on, once squeue says.
    pub(super) node: Option<String>,
    /// Lines of its record already merged into the journal (taken in while it ran).
    pub(super) merged: usize,
    /// The size of its record when last read.
    pub(super) seen_len: u64,
    /// `(task, attempt)` the journal already has an end for: an element of a
    /// killed run whose attempts that run merged. Not journaled again.
    pub(super) known: HashSet<(String, u32)>,
}

impl Element {
    /// Element `index` of submission `dir`, array index `array_index` of `job`, running `tasks`.
    pub(super) fn new(
        (job, array_index): (String, usize),
        dir: PathBuf,
        index: usize,
        tasks: Vec<TaskIdx>,
    ) -> Element {
        Element {
            job,
            array_index,
            dir,
            index,
            tasks,
            ended: None,
            missing: 0,
            node: None,
            merged: 0,
            seen_len: 0,
            known: HashSet::new(),
        }
    }
}

/// The Slurm run's state.
pub struct SlurmRun<'a> {
    pub(super) ctx: Context<'a>,
    pub(super) tasks: Vec<TaskRecord>,
    pub(super) plan: Plan,
    pub(super) field_names: Vec<String>,
    pub(super) elements: Vec<Element>,
    pub(super) jobs: Vec<String>,
    pub(super) outstanding: usize,
    pub(super) fails: FailCounter,
    pub(super) halt: Option<String>,
    pub(super) notes: Vec<String>,
    pub(super) interrupted: bool,
    pub(super) draining: bool,
}

impl<'a> SlurmRun<'a> {
    /// Prepares to run `tasks` (those without a verdict) on Slurm.
    pub fn new(
        ctx: Context<'a>,
        tasks: Vec<TaskRecord>,
        plan: Plan,
        field_names: Vec<String>,
    ) -> Self {
        let outstanding = tasks.iter().filter(|t| t.verdict.is_none()).count();
        let fails = FailCounter::new(ctx.cfg.max_fail, outstanding);
        SlurmRun {
            ctx,
            tasks,
            plan,
            field_names,
            elements: Vec::new(),
            jobs: Vec::new(),
            outstanding,
            fails,
            halt: None,
            notes: Vec::new(),
            interrupted: false,
            draining: false,
        }
    }

    /// Runs the batch to the end: attaches to what `earlier` (the journal as
    /// this run found it) left running, submits the rest, follows every element.
    /// Returns like the local dispatcher: tasks, notes, why `--max-fail` stopped
    /// it, whether a signal interrupted it.
    pub fn run(
        mut self,
        earlier: &[Record],
        signals: &Receiver<StopSignal>,
    ) -> (Vec<TaskRecord>, Vec<String>, Option<String>, bool) {
        let attached = self.attach(earlier);
        let fresh: Vec<TaskIdx> = (0..self.tasks.len())
            .filter(|&t| self.tasks[t].verdict.is_none() && !attached.contains(&t))
            .collect();
        self.submit(fresh);
        let mut resubmit = Vec::new();
        while !self.elements.is_empty() || !resubmit.is_empty() {
            if !resubmit.is_empty() {
                let list = std::mem::take(&mut resubmit);
                if self.draining {
                    for t in list {
                        self.cancel(
                            t,
                            "not started: the batch stopped before it was resubmitted",
                        );
                    }
                } else {
                    self.submit(list);
                }
            }
            match signals.recv_timeout(POLL) {
                Ok(sig) => self.on_signal(sig),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(POLL),
            }
            resubmit.extend(self.poll());
            if self.ctx.journal.error().is_some() || self.halt.is_some() {
                self.drain();
            }
        }
        if !self.jobs.is_empty() {
            self.notes.push(format!(
                "ran as Slurm job array(s) {}",
                self.jobs.join(", ")
            ));
        }
        (self.tasks, self.notes, self.halt, self.interrupted)
    }

    /// Writes a task list for `tasks` and submits its arrays.
    fn submit(&mut self, tasks: Vec<TaskIdx>) {
        if tasks.is_empty() {
            return;
        }
        let chunks: Vec<Vec<TaskIdx>> = tasks.chunks(self.plan.chunk).map(<[_]>::to_vec).collect();
        let name = tasklist::new_name();
        let dir = tasklist::root(&self.ctx.cfg.output).join(&name);
        let list = TaskList {
            cwd: std::env::current_dir().unwrap_or_default(),
            run_args: std::env::args().skip(1).collect(),
            param_hash: self.ctx.param_hash.clone(),
            tracked: self.ctx.tracked.clone(),
            field_names: self.field_names.clone(),
            elements: chunks
                .iter()
                .map(|c| {
                    c.iter()
                        .map(|&t| Listed {
                            task: self.tasks[t].task.clone(),
                            attempt: self.tasks[t].next_attempt(),
                        })
                        .collect()
                })
                .collect(),
        };
        let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("isobatch"));
        let throttle = self.plan.throttle.elements();
        let submitted = list.write(&dir).and_then(|()| {
            for (offset, len) in submit::arrays(chunks.len(), self.plan.cluster.max_array_size) {
                let args = submit::sbatch_args(
                    &dir,
                    (offset, len),
                    throttle,
                    self.plan.resources,
                    &self.plan.args,
                    &program,
                );
                let job = submit::sbatch(&args)?;
                self.ctx.journal.append(&Record::SlurmArray {
                    time: journal::now(),
                    job_id: job.clone(),
                    list: PathBuf::from(".isobatch/slurm").join(&name),
                    offset,
                    count: len,
                });
                self.ctx.journal.flush();
                self.ctx.progress.log(&format!(
                    "submitted Slurm array job {job}: elements {offset}..{} of {}",
                    offset + len,
                    dir.display()
                ));
                for i in 0..len {
                    self.elements.push(Element::new(
                        (job.clone(), i),
                        dir.clone(),
                        offset + i,
                        chunks[offset + i].clone(),
                    ));
                }
                self.jobs.push(job);
            }
            Ok(())
        });
        if let Err(e) = submitted {
            let why = format!("cannot submit to Slurm: {e}");
            self.note(&why);
            self.halt.get_or_insert(why.clone());
            let owned: Vec<TaskIdx> = self.elements.iter().flat_map(|e| e.tasks.clone()).collect();
            for t in tasks.into_iter().filter(|t| !owned.contains(t)) {
                self.cancel(t, &format!("not started: {why}"));
            }
        }
    }

    /// Asks Slurm about every element still followed and settles those that
    /// ended; returns tasks to submit again.
    fn poll(&mut self) -> Vec<TaskIdx> {
        let jobs: Vec<String> = {
            let mut j: Vec<String> = self.elements.iter().map(|e| e.job.clone()).collect();
            j.sort();
            j.dedup();
            j
        };
        let states = match follow::states(&jobs, self.plan.cluster.accounting) {
            Ok(s) => s,
            Err(e) => {
                self.ctx.progress.log(&format!("cannot ask Slurm: {e}"));
                return Vec::new();
            }
        };
        let now = Instant::now();
        let mut resubmit = Vec::new();
        let mut keep = Vec::new();
        for mut e in std::mem::take(&mut self.elements) {
            let listed = states.get(&(e.job.clone(), e.array_index));
            if let Some(node) = listed.and_then(|s| s.node.clone()) {
                e.node = Some(node);
            }
            match listed {
                Some(s) if states::is_terminal(&s.state) => {
                    e.ended.get_or_insert((now, s.state.clone()));
                }
                Some(_) => e.missing = 0,
                None => {
                    e.missing += 1;
                    if e.missing >= MISSING_POLLS {
                        e.ended
                            .get_or_insert((now, "UNKNOWN (Slurm no longer lists it)".into()));
                    }
                }
            }
            let ended = e.ended.as_ref().map(|(_, s)| s.clone());
            let done = tasklist::record_file(&e.dir, e.index);
            if done.exists() {
                let recs = record::read(&done);
                // A task the element cancelled on SIGTERM may have been stopped by
                // Slurm's time or memory limit: its verdict waits for Slurm's state.
                if ended.is_some() || !record::has_cancellation(&recs) {
                    self.merge(&e, &recs, ended.as_deref(), true, &mut resubmit);
                    continue;
                }
            } else {
                self.absorb(&mut e);
            }
            match &e.ended {
                Some((at, state)) if now.duration_since(*at) >= RECORD_GRACE => {
                    let partial = record::read(&tasklist::record_tmp(&e.dir, e.index));
                    let state = state.clone();
                    self.merge(&e, &partial, Some(&state), false, &mut resubmit);
                }
                _ => keep.push(e),
            }
        }
        self.elements = keep;
        resubmit
    }

    /// Starts nothing new: pending elements are cancelled, running ones finish.
    pub(super) fn drain(&mut self) {
        if std::mem::replace(&mut self.draining, true) {
            return;
        }
        if let Err(e) = follow::scancel(&self.jobs, true) {
            self.note(&format!("cannot cancel the pending array elements: {e}"));
        }
    }

    /// Ctrl-C or SIGTERM: the first drains, the second cancels running elements.
    fn on_signal(&mut self, sig: StopSignal) {
        if !std::mem::replace(&mut self.interrupted, true) {
            self.drain();
            self.note(&format!(
                "interrupted ({}): cancelled pending array elements; waiting for running ones — \
                 press Ctrl-C again (or send SIGTERM again) to cancel them",
                sig.name()
            ));
            return;
        }
        self.note(&format!(
            "{} again: cancelling the running array elements",
            sig.name()
        ));
        if let Err(e) = follow::scancel(&self.jobs, false) {
            self.note(&format!("cannot cancel the array elements: {e}"));
        }
    }

    pub(super) fn note(&mut self, msg: &str) {
        self.ctx.progress.note(msg);
    }
}
