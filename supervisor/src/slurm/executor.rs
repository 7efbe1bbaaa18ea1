//! The supervisor's side of `--executor slurm`: attach to arrays a killed run
//! left, submit the rest, follow every element until its tasks have verdicts,
//! and merge what the elements journaled into the one journal.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use isobatch_shared::Verdict;

use super::states::{self, Outcome};
use super::submit::{self, Resources};
use super::tasklist::{self, Listed, TaskList};
use super::tools::ClusterConfig;
use super::{SlurmError, follow, preflight, record};
use crate::config::{Executor, RunConfig, Workers};
use crate::journal::{self, Record, journal_cancelled};
use crate::runner::Context;
use crate::runner::batch::{Attempt, TaskRecord};
use crate::runner::finish::report_attempt;
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

/// What pre-flight learnt about the cluster, for submission.
#[derive(Debug, Clone)]
pub struct Plan {
    cluster: ClusterConfig,
    resources: Resources,
    args: Vec<String>,
    chunk: usize,
}

impl Plan {
    /// Checks `--slurm-arg`, reads the cluster's settings and the partition's
    /// limits, and refuses what the partition cannot give (exit 2, nothing submitted).
    pub fn prepare(cfg: &RunConfig, max_estimate: Option<u64>) -> Result<Plan, SlurmError> {
        let Executor::Slurm { args } = &cfg.executor else {
            return Err(SlurmError::Element("not a Slurm run".into()));
        };
        submit::check_args(args)?;
        let chunk = cfg.batch_size.unwrap_or(1);
        let resources = submit::resources(cfg, chunk, max_estimate);
        let limits = preflight::limits(preflight::partition(args).as_deref())?;
        preflight::check(resources, &limits)?;
        Ok(Plan {
            cluster: ClusterConfig::read()?,
            resources,
            args: args.clone(),
            chunk,
        })
    }
}

/// One array element this run follows.
struct Element {
    job: String,
    array_index: usize,
    dir: PathBuf,
    index: usize,
    /// Tasks of this run it runs (indices into the run's tasks).
    tasks: Vec<TaskIdx>,
    /// When Slurm first said it ended, and how.
    ended: Option<(Instant, String)>,
    missing: u32,
}

/// The Slurm run's state.
pub struct SlurmRun<'a> {
    ctx: Context<'a>,
    tasks: Vec<TaskRecord>,
    plan: Plan,
    field_names: Vec<String>,
    elements: Vec<Element>,
    jobs: Vec<String>,
    outstanding: usize,
    fails: FailCounter,
    halt: Option<String>,
    notes: Vec<String>,
    interrupted: bool,
    draining: bool,
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

    /// Follows the arrays of a killed run with the same parameters; returns the tasks they own.
    fn attach(&mut self, earlier: &[Record]) -> Vec<TaskIdx> {
        let since = earlier
            .iter()
            .rposition(|r| matches!(r, Record::RunEnd { .. }))
            .map_or(0, |i| i + 1);
        let by_id: HashMap<String, TaskIdx> = self
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.task.id.clone(), i))
            .collect();
        let mut owned = Vec::new();
        for r in &earlier[since..] {
            let Record::SlurmArray {
                job_id,
                list,
                offset,
                count,
                ..
            } = r
            else {
                continue;
            };
            let dir = self.ctx.cfg.output.join(list);
            let list = match TaskList::read(&dir) {
                Ok(l) => l,
                Err(e) => {
                    self.note(&format!("cannot attach to Slurm job {job_id}: {e}"));
                    continue;
                }
            };
            if list.param_hash != self.ctx.param_hash {
                let _ = follow::scancel(std::slice::from_ref(job_id), false);
                self.note(&format!(
                    "cancelled Slurm job {job_id} of an earlier run: it ran other parameters"
                ));
                continue;
            }
            for index in *offset..offset + count {
                let tasks: Vec<TaskIdx> = list.elements.get(index).map_or_else(Vec::new, |l| {
                    l.iter()
                        .filter_map(|l| {
                            let &t = by_id.get(&l.task.id)?;
                            let rec = &self.tasks[t];
                            (rec.verdict.is_none() && rec.next_attempt() == l.attempt).then_some(t)
                        })
                        .collect()
                });
                if tasks.is_empty() {
                    continue;
                }
                owned.extend(&tasks);
                self.elements.push(Element {
                    job: job_id.clone(),
                    array_index: index - offset,
                    dir: dir.clone(),
                    index,
                    tasks,
                    ended: None,
                    missing: 0,
                });
            }
            if !self.jobs.contains(job_id) {
                self.jobs.push(job_id.clone());
            }
        }
        if !owned.is_empty() {
            self.note(&format!(
                "attached to the Slurm job(s) of the killed run for {} task(s)",
                owned.len()
            ));
        }
        owned
    }

    /// Writes a task list for `tasks` and submits its arrays.
    fn submit(&mut self, tasks: Vec<TaskIdx>) {
        if tasks.is_empty() {
            return;
        }
        let chunks: Vec<Vec<TaskIdx>> = tasks.chunks(self.plan.chunk).map(<[_]>::to_vec).collect();
        let name = format!("s{}", (journal::now() * 1000.0) as u64);
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
        let throttle = match self.ctx.cfg.workers {
            Workers::Fixed(n) => Some(n),
            Workers::Auto => None,
        };
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
                    self.elements.push(Element {
                        job: job.clone(),
                        array_index: i,
                        dir: dir.clone(),
                        index: offset + i,
                        tasks: chunks[offset + i].clone(),
                        ended: None,
                        missing: 0,
                    });
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
            let done = tasklist::record_file(&e.dir, e.index);
            if done.exists() {
                self.merge(&e, &record::read(&done), None, &mut resubmit);
                continue;
            }
            match states.get(&(e.job.clone(), e.array_index)) {
                Some(s) if states::is_terminal(s) => {
                    e.ended.get_or_insert((now, s.clone()));
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
            match &e.ended {
                Some((at, state)) if now.duration_since(*at) >= RECORD_GRACE => {
                    let partial = record::read(&tasklist::record_tmp(&e.dir, e.index));
                    let state = state.clone();
                    self.merge(&e, &partial, Some(&state), &mut resubmit);
                }
                _ => keep.push(e),
            }
        }
        self.elements = keep;
        resubmit
    }

    /// Merges element `e`'s record into the journal and the tasks; `state` is
    /// Slurm's for an element that left no complete record.
    fn merge(
        &mut self,
        e: &Element,
        recs: &[Record],
        state: Option<&str>,
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
    fn cancel(&mut self, t: TaskIdx, why: &str) {
        if self.tasks[t].verdict.is_none() {
            self.tasks[t].verdict = Some(Verdict::Cancelled);
            self.tasks[t].cancel_reason = Some(why.to_string());
            self.outstanding -= 1;
            journal_cancelled(self.ctx.journal, &self.tasks[t].task.id, why);
        }
    }

    /// Starts nothing new: pending elements are cancelled, running ones finish.
    fn drain(&mut self) {
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

    fn note(&mut self, msg: &str) {
        self.ctx.progress.note(msg);
    }
}
