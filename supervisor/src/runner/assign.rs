//! Starting work: fill every worker slot — spawn a worker where one is
//! needed, hand an idle worker its next task, retire workers that are done or
//! due for recycling.
//!
//! A worker that will be replaced after its current task (subprocess mode, or
//! pool mode's `--max-tasks-per-worker`) gets a successor started while that
//! task runs: a fresh process that connects and waits, so the slot's next task
//! starts without waiting for a program to load. It never runs two tasks at
//! once with its slot's worker, and is retired like any idle worker when the
//! batch stops dispatching.
//!
//! A task starts in two steps: the worker is reserved and the attempt's folder
//! cleared off the dispatcher's thread (`file_ops.rs`), then `Run` is sent.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use isobatch_shared::atomic::is_temp_name;
use isobatch_shared::{Pipeline, StageControl, TaskSpec, ToWorker};

use super::Context;
use super::batch::TaskRecord;
use super::dispatcher::{Dispatcher, Phase};
use super::events::WorkerId;
use super::file_ops::Job;
use super::schedule::TaskIdx;
use super::worker::{Running, Worker, WorkerState};
use crate::journal::{self, Record};

/// How long a new worker may take to say `Hello`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a worker may take to exit after `Shutdown` (at least).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Readies the attempt's folders before `Run` goes out (file system work,
/// so the dispatcher has it done by `file_ops.rs`): removes what a killed
/// attempt left in the task folder, and keeps `reuse_from` only if that
/// published result exists.
pub fn prepare(spec: &mut TaskSpec) {
    clean_leftovers(&spec.task_dir);
    spec.reuse_from = spec.reuse_from.take().filter(|p| p.is_dir());
}

/// Whether [`prepare`] has anything to do: a task folder reused across
/// attempts, or a published result to check. A fresh staging folder never
/// holds leftovers (staging is cleared when the run starts, under its lock,
/// and attempt numbers never repeat), so the common case skips the round trip
/// through the file operations.
fn needs_preparing(cfg: &crate::config::RunConfig, spec: &TaskSpec) -> bool {
    cfg.reuse_task_dir || spec.reuse_from.is_some()
}

/// Removes temporary files a killed attempt left in the task folder, so
/// nothing partial survives into the retry, and an earlier attempt's
/// `result.json` (with `--reuse-task-dir`), which is not this attempt's result.
fn clean_leftovers(task_dir: &Path) {
    let _ = fs::remove_file(task_dir.join(super::task_result::RESULT_FILE));
    let Ok(entries) = fs::read_dir(task_dir) else {
        return;
    };
    for e in entries.flatten() {
        if is_temp_name(&e.file_name().to_string_lossy()) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// The spec for the next attempt of `rec` (used by every mode), before [`prepare`].
pub fn task_spec(ctx: &Context<'_>, rec: &TaskRecord) -> TaskSpec {
    let attempt = rec.next_attempt();
    let cfg = ctx.cfg;
    let task_dir = super::attempt_dir::work_dir(cfg, &rec.task.id, attempt);
    let argv = ctx
        .exec
        .map(|tpl| tpl.render(&rec.task, &task_dir, attempt, &cfg.params))
        .unwrap_or_default();
    // Built-in pipelines reuse the valid checkpoints of the last published
    // result, if there is one ([`prepare`] checks).
    let reuse_from = (cfg.pipeline == Pipeline::Fov && !cfg.reuse_task_dir)
        .then(|| cfg.output.join(&rec.task.id));
    TaskSpec {
        task: rec.task.id.clone(),
        attempt,
        pipeline: cfg.pipeline,
        inputs: rec.task.inputs.clone(),
        fields: rec.task.fields.clone(),
        position: rec.task.position,
        log_path: crate::layout::attempt_log(&cfg.output, &rec.task.id, attempt),
        task_dir,
        params: cfg.params.clone(),
        argv,
        stages: StageControl {
            from: cfg.from_stage.clone(),
            to: cfg.to_stage.clone(),
            force: cfg.force,
            format: cfg.checkpoint_format,
            final_only: cfg.final_only,
        },
        tracked: ctx.tracked.clone(),
        checksum: cfg.checksum,
        reuse_from,
    }
}

impl Dispatcher<'_> {
    fn dispatching(&self) -> bool {
        self.phase == Phase::Running && self.fatal.is_none()
    }

    /// Brings every slot up to date; called before each wait for events.
    pub(super) fn fill(&mut self, now: Instant) {
        if let Some(e) = self.ctx.journal.error() {
            self.fatal.get_or_insert(format!(
                "cannot write the journal ({e}); stopped starting tasks"
            ));
        }
        if let Some(stop) = self.fatal.clone().or_else(|| self.halt.clone())
            && self.phase == Phase::Running
        {
            self.phase = Phase::Draining;
            let why = format!("not started: {stop}");
            for t in self.schedule.drain() {
                self.cancel_unstarted(t, &why);
            }
        }
        for slot in 0..self.slots.len() {
            if let Some(id) = self.slots[slot] {
                self.serve_idle(slot, id, now);
            }
            if self.slots[slot].is_none() {
                if let Some(next) = self.successors[slot].take() {
                    self.slots[slot] = Some(next);
                    self.serve_idle(slot, next, now);
                } else if self.dispatching() && self.schedule.has_work_now(slot, now) {
                    self.slots[slot] = self.spawn(slot);
                }
            }
            self.spawn_ahead(slot, now);
        }
        if !self.dispatching() {
            let idle: Vec<WorkerId> = self
                .workers
                .values()
                .filter(|w| matches!(w.state, WorkerState::Idle | WorkerState::Connecting { .. }))
                .map(|w| w.id)
                .collect();
            for id in idle {
                self.retire(id, now);
            }
        }
    }

    fn serve_idle(&mut self, slot: usize, id: WorkerId, now: Instant) {
        let Some(w) = self.workers.get(&id) else {
            return;
        };
        if !matches!(w.state, WorkerState::Idle) || w.stop.is_some() {
            return;
        }
        let worn_out = self
            .schedule
            .tasks_per_worker
            .is_some_and(|n| w.tasks_done >= n);
        let too_big = self
            .ctx
            .cfg
            .max_worker_memory
            .zip(w.rss_history.last())
            .is_some_and(|(limit, &rss)| rss > limit);
        if worn_out || too_big {
            if too_big {
                self.ctx.progress.note(&format!(
                    "recycling worker {} (RSS over --max-worker-memory after {} task(s))",
                    w.pid, w.tasks_done
                ));
            }
            self.retire(id, now);
            return;
        }
        // With --max-fail, an attempt still being settled may be the failure
        // that stops the batch: nothing starts before its verdict is counted.
        if self.dispatching() && self.settling > 0 && self.ctx.cfg.max_fail.is_some() {
            return;
        }
        if self.dispatching()
            && let Some(t) = self.schedule.next(slot, now)
        {
            if self.admitted(t, now) {
                self.start(id, t, now);
            } else {
                self.schedule.unget(slot, t);
            }
            return;
        }
        if !self.dispatching() || self.schedule.slot_finished(slot) {
            self.retire(id, now);
        }
    }

    /// Memory-aware admission for task `t` (see `admission.rs`).
    fn admitted(&mut self, t: TaskIdx, now: Instant) -> bool {
        let running: Vec<(usize, u64)> = self
            .workers
            .values()
            .filter_map(|w| w.running().map(|r| (r.task, self.sampler.peak(w.id))))
            .collect();
        if self.admission.admits(t, &running, now) {
            return true;
        }
        if !self.held_for_memory {
            self.held_for_memory = true;
            let est = self.admission.estimate(t).unwrap_or(0);
            self.ctx.progress.note(&format!(
                "holding tasks back until memory frees up (next task needs about {})",
                isobatch_shared::units::format_bytes(est)
            ));
        }
        false
    }

    /// Starts the successor of `slot`'s worker if that worker is running the
    /// last task it may run and the slot has more work.
    fn spawn_ahead(&mut self, slot: usize, now: Instant) {
        let Some(per_worker) = self.schedule.tasks_per_worker else {
            return;
        };
        if self.successors[slot].is_some()
            || !self.dispatching()
            || !self.schedule.has_work_now(slot, now)
        {
            return;
        }
        let on_last_task = self.slots[slot]
            .and_then(|id| self.workers.get(&id))
            .is_some_and(|w| {
                w.running().is_some() && w.stop.is_none() && w.tasks_done + 1 >= per_worker
            });
        if on_last_task {
            self.successors[slot] = self.spawn(slot);
        }
    }

    /// Asks the spawner for a worker for `slot`; None (and the batch stops)
    /// if the spawner is gone.
    fn spawn(&mut self, slot: usize) -> Option<WorkerId> {
        let id = self.next_id;
        self.next_id += 1;
        if self.spawner.request(id) {
            self.starting.insert(id, slot);
            Some(id)
        } else {
            self.fatal
                .get_or_insert("cannot start a worker: the spawner thread stopped".into());
            None
        }
    }

    /// The spawner started worker `id`: it now has a pid and must connect in time.
    pub(super) fn on_spawned(&mut self, id: WorkerId, pid: u32, server_name: String, now: Instant) {
        let Some(slot) = self.starting.remove(&id) else {
            return;
        };
        self.workers.insert(
            id,
            Worker {
                id,
                slot,
                pid,
                server_name,
                tx: None,
                state: WorkerState::Connecting {
                    deadline: now + CONNECT_TIMEOUT,
                },
                tasks_done: 0,
                stop: None,
                hung_up_at: None,
                rss_history: Vec::new(),
            },
        );
    }

    /// The spawner could not start worker `id` (or watch it; then it was
    /// killed and reaped): nothing can run, so the batch stops dispatching.
    pub(super) fn on_spawn_failed(&mut self, id: WorkerId, error: &str) {
        if let Some(slot) = self.starting.remove(&id) {
            self.vacate(slot, id);
        }
        if let Some(w) = self.workers.remove(&id) {
            self.vacate(w.slot, id);
        }
        self.fatal
            .get_or_insert(format!("cannot start a worker: {error}"));
    }

    /// Asks a worker to exit (it is killed if it has not by the deadline).
    pub(super) fn retire(&mut self, id: WorkerId, now: Instant) {
        let Some(slot) = self.workers.get(&id).map(|w| w.slot) else {
            return;
        };
        self.vacate(slot, id);
        let grace = SHUTDOWN_GRACE.max(self.ctx.cfg.kill_grace);
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        if !w.send(&ToWorker::Shutdown) {
            w.hung_up_at.get_or_insert(now);
        }
        w.state = WorkerState::Retiring {
            deadline: now + grace,
        };
    }

    /// Reserves worker `id` for task `t` and has the attempt's folder
    /// prepared off this thread; `Run` goes out in [`Dispatcher::on_prepared`].
    /// The attempt's clock (and its timeout) starts now.
    fn start(&mut self, id: WorkerId, t: TaskIdx, now: Instant) {
        let spec = task_spec(&self.ctx, &self.tasks[t]);
        if !self.workers.contains_key(&id) {
            return;
        }
        self.ctx
            .progress
            .attempt_started(self.tasks[t].attempts.is_empty());
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        w.state = WorkerState::Busy(Running {
            task: t,
            attempt: spec.attempt,
            started: now,
            sent: false,
            deadline: self.ctx.cfg.timeout.map(|d| now + d),
            oom_at_start: super::oom::OomCounters::read(),
        });
        self.sampler.track(id, w.pid, self.ctx.cfg.max_task_memory);
        let spec = Box::new(spec);
        if needs_preparing(self.ctx.cfg, &spec) {
            self.file_op(Job::Prepare {
                worker: id,
                task: t,
                spec,
            });
        } else {
            self.on_prepared(id, t, spec, now);
        }
    }

    /// The folder of the attempt worker `id` is reserved for is ready: sends
    /// it the task, unless the attempt was stopped meanwhile (its exit decides).
    pub(super) fn on_prepared(
        &mut self,
        id: WorkerId,
        t: TaskIdx,
        spec: Box<TaskSpec>,
        now: Instant,
    ) {
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        let attempt = spec.attempt;
        let waiting = matches!(&w.state, WorkerState::Busy(r) if r.task == t && r.attempt == attempt && !r.sent);
        if !waiting || w.stop.is_some() {
            return;
        }
        let task = spec.task.clone();
        if !w.send(&ToWorker::Run(spec)) {
            // The worker is going away; its exit is handled elsewhere and the
            // task goes back to the queue without counting an attempt.
            w.hung_up_at.get_or_insert(now);
            w.state = WorkerState::Idle;
            self.sampler.untrack(id);
            self.requeue(t, now);
            return;
        }
        if let WorkerState::Busy(r) = &mut w.state {
            r.sent = true;
        }
        self.ctx.journal.append(&Record::AttemptStart {
            time: journal::now(),
            task,
            attempt,
            worker_pid: Some(w.pid),
            slurm_job: None,
            node: None,
        });
    }

    /// Task `t` was never handed to a worker after all: back to the queue, or
    /// cancelled if the batch no longer starts tasks.
    pub(super) fn requeue(&mut self, t: TaskIdx, now: Instant) {
        self.ctx
            .progress
            .attempt_withdrawn(self.tasks[t].attempts.is_empty());
        if self.dispatching() {
            self.schedule.retry(t, now);
            return;
        }
        let why = match self.fatal.clone().or_else(|| self.halt.clone()) {
            Some(stop) => format!("not started: {stop}"),
            None => "not started: the batch was interrupted".to_string(),
        };
        self.cancel_unstarted(t, &why);
    }
}
