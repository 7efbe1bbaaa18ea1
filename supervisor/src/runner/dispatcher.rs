//! The dispatcher: owns every piece of batch state and reacts to events.
//!
//! Threads watching workers, signals and memory only send [`Event`]s; this
//! loop alone decides what runs where, so there are no locks around state and
//! every decision is made in one place. Starting work is in `assign.rs`,
//! recording an attempt's end in `finish.rs`, timeouts in `timeout.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use isobatch_shared::protocol::PROTOCOL_VERSION;
use isobatch_shared::{FromWorker, Verdict};

use super::Context;
use super::admission::Admission;
use super::batch::TaskRecord;
use super::events::{Event, WorkerId};
use super::max_fail::FailCounter;
use super::sampler::Sampler;
use super::schedule::Schedule;
use super::spawn::{Spawner, WorkerLauncher, abandon_accept};
use super::terminate::{StopReason, Termination};
use super::timeout;
use super::worker::{Worker, WorkerState};
use crate::journal::{self, Record, journal_cancelled};
use crate::unix::signals::StopSignal;
use crate::unix::tree;

/// How often tree RSS is sampled.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(50);
/// The longest the loop sleeps without an event.
const MAX_WAIT: Duration = Duration::from_millis(200);
/// Consecutive workers dying before `Hello` after which the batch gives up.
const MAX_SPAWN_FAILURES: u32 = 3;

/// Whether new tasks may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Normal operation.
    Running,
    /// Ctrl-C or SIGTERM once, or a fatal problem: let running tasks finish, start nothing new.
    Draining,
    /// Ctrl-C or SIGTERM twice: stop running tasks too.
    Terminating,
}

/// The batch's state machine.
pub struct Dispatcher<'a> {
    pub(super) ctx: Context<'a>,
    pub(super) tasks: Vec<TaskRecord>,
    pub(super) schedule: Schedule,
    pub(super) slots: Vec<Option<WorkerId>>,
    /// Per slot: a fresh worker started to take over when the slot's worker retires.
    pub(super) successors: Vec<Option<WorkerId>>,
    pub(super) workers: HashMap<WorkerId, Worker>,
    pub(super) spawner: Spawner,
    /// Workers asked of the spawner and not yet reported, with their slots.
    pub(super) starting: HashMap<WorkerId, usize>,
    rx: Receiver<Event>,
    pub(super) sampler: Sampler,
    pub(super) admission: Admission,
    /// Set once a task was held back for memory (the note is shown once).
    pub(super) held_for_memory: bool,
    pub(super) next_id: WorkerId,
    pub(super) phase: Phase,
    pub(super) spawn_failures: u32,
    /// Tasks without a final verdict.
    pub(super) outstanding: usize,
    /// Why the batch stopped early, if it did (shown in the summary).
    pub(super) fatal: Option<String>,
    /// Other things the summary should say (processes that would not die).
    pub(super) notes: Vec<String>,
    /// Final failures counted against `--max-fail`.
    pub(super) fails: FailCounter,
    /// Set when `--max-fail` was reached: why the batch drains (not an interruption).
    pub(super) halt: Option<String>,
    /// A worker exited, so orphans of its tree may need reaping.
    orphans_due: bool,
    /// SIGINT or SIGTERM arrived (a fatal problem drains too, but is not an interruption).
    interrupted: bool,
}

impl<'a> Dispatcher<'a> {
    /// Prepares a dispatcher for `tasks` with `schedule`; `estimates[t]` is
    /// pre-flight's RAM estimate for task `t`, used for admission.
    pub fn new(
        ctx: Context<'a>,
        tasks: Vec<TaskRecord>,
        schedule: Schedule,
        launcher: WorkerLauncher,
        estimates: Vec<Option<u64>>,
    ) -> std::io::Result<(Self, Sender<Event>)> {
        let (events, rx) = mpsc::channel();
        let sampler = Sampler::start(SAMPLE_INTERVAL, events.clone())?;
        let spawner = Spawner::start(launcher, events.clone())?;
        let outstanding = tasks.iter().filter(|t| t.verdict.is_none()).count();
        let slots = vec![None; schedule.slot_count()];
        let successors = slots.clone();
        let fails = FailCounter::new(ctx.cfg.max_fail, outstanding);
        let d = Dispatcher {
            ctx,
            tasks,
            schedule,
            slots,
            successors,
            workers: HashMap::new(),
            spawner,
            starting: HashMap::new(),
            rx,
            sampler,
            admission: Admission::new(estimates),
            held_for_memory: false,
            next_id: 1,
            phase: Phase::Running,
            spawn_failures: 0,
            outstanding,
            fatal: None,
            notes: Vec::new(),
            fails,
            halt: None,
            orphans_due: false,
            interrupted: false,
        };
        Ok((d, events))
    }

    /// Runs the batch to the end; returns the task records, notes for the
    /// summary (a fatal problem, processes that would not die), why `--max-fail`
    /// stopped it early, and whether SIGINT or SIGTERM interrupted it.
    pub fn run(mut self) -> (Vec<TaskRecord>, Vec<String>, Option<String>, bool) {
        loop {
            let now = Instant::now();
            self.reap_orphans();
            self.fill(now);
            if self.outstanding == 0 && self.workers.is_empty() && self.starting.is_empty() {
                break;
            }
            let due = timeout::enforce(
                &mut self.workers,
                self.ctx.cfg.timeout,
                self.ctx.cfg.kill_grace,
                now,
            );
            for id in due.unkillable {
                self.abandon(id, now);
            }
            let mut wait = due
                .next
                .map_or(MAX_WAIT, |at| at.saturating_duration_since(now));
            if let Some(at) = self.schedule.next_retry() {
                wait = wait.min(at.saturating_duration_since(now));
            }
            match self.rx.recv_timeout(wait.min(MAX_WAIT)) {
                Ok(event) => self.handle(event),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            }
            while let Ok(event) = self.rx.try_recv() {
                self.handle(event);
            }
        }
        self.cleanup();
        self.notes.splice(0..0, self.fatal.take());
        (self.tasks, self.notes, self.halt, self.interrupted)
    }

    fn handle(&mut self, event: Event) {
        let now = Instant::now();
        match event {
            Event::Spawned {
                worker,
                pid,
                start_ticks,
                server_name,
            } => {
                if let Some(start_ticks) = start_ticks {
                    self.ctx.journal.append(&Record::Worker {
                        time: journal::now(),
                        pid,
                        start_ticks,
                    });
                }
                self.on_spawned(worker, pid, server_name, now)
            }
            Event::SpawnFailed { worker, error } => self.on_spawn_failed(worker, &error),
            Event::Connected { worker, tx } => {
                if let Some(w) = self.workers.get_mut(&worker) {
                    w.tx = Some(tx);
                }
            }
            Event::ConnectFailed { worker, error } => self.stop_worker(
                worker,
                StopReason::Unresponsive(format!("worker could not connect: {error}")),
            ),
            Event::Message { worker, msg } => self.on_message(worker, msg, now),
            Event::Disconnected { worker, error } => {
                if let Some(w) = self.workers.get_mut(&worker) {
                    w.hung_up_at.get_or_insert(now);
                    if let Some(e) = error {
                        self.ctx
                            .progress
                            .note(&format!("worker {} sent garbage: {e}", w.pid));
                    }
                }
            }
            Event::Exited { worker, status } => self.on_exit(worker, status, now),
            Event::OverMemory { worker, rss } => {
                if let (Some(w), Some(limit)) =
                    (self.workers.get_mut(&worker), self.ctx.cfg.max_task_memory)
                    && w.running().is_some()
                    && w.stop.is_none()
                {
                    w.stop = Some(Termination::start(
                        w.pid,
                        StopReason::MemoryLimit { limit, rss },
                        now,
                    ));
                }
            }
            Event::Signal(sig) => self.on_signal(sig),
        }
    }

    fn on_message(&mut self, worker: WorkerId, msg: FromWorker, now: Instant) {
        match msg {
            FromWorker::Hello {
                protocol, version, ..
            } => {
                if protocol != PROTOCOL_VERSION {
                    self.fatal.get_or_insert(format!(
                        "worker speaks protocol {protocol} (isobatch-worker {version}), this supervisor {PROTOCOL_VERSION}: \
                         point ISOBATCH_WORKER at a matching build"
                    ));
                    self.stop_worker(worker, StopReason::Unresponsive("protocol mismatch".into()));
                    return;
                }
                self.spawn_failures = 0;
                if let Some(w) = self.workers.get_mut(&worker)
                    && matches!(w.state, WorkerState::Connecting { .. })
                {
                    w.state = WorkerState::Idle;
                }
            }
            FromWorker::Progress {
                task,
                stage,
                fraction,
                message,
            } => {
                self.ctx.progress.stage(&task, &stage, fraction, &message);
            }
            FromWorker::Finished {
                task,
                outcome,
                outputs,
                rss_before,
                rss_after,
                rss_peak,
                stages,
                inputs,
            } => {
                let expected = self
                    .workers
                    .get(&worker)
                    .and_then(|w| w.running())
                    .map(|r| r.task);
                match expected {
                    Some(t) if self.tasks[t].task.id == task => {
                        self.on_finished(
                            worker,
                            &outcome,
                            (outputs, stages, inputs),
                            [rss_before, rss_after, rss_peak],
                            now,
                        );
                    }
                    _ => self.stop_worker(
                        worker,
                        StopReason::Unresponsive(format!(
                            "worker reported a result for task {task:?} it was not running"
                        )),
                    ),
                }
            }
        }
    }

    /// SIGINT or SIGTERM: the first drains, the second cancels running tasks.
    fn on_signal(&mut self, sig: StopSignal) {
        if !std::mem::replace(&mut self.interrupted, true) {
            if self.phase == Phase::Running {
                self.phase = Phase::Draining;
            }
            for t in self.schedule.drain() {
                self.cancel_unstarted(t, "not started: the batch was interrupted");
            }
            let busy = self
                .workers
                .values()
                .filter(|w| w.running().is_some())
                .count();
            self.ctx.progress.note(&format!(
                "interrupted ({}): starting no new tasks; waiting for {busy} running task(s) — \
                 press Ctrl-C again (or send SIGTERM again) to stop them",
                sig.name()
            ));
            return;
        }
        if self.phase != Phase::Terminating {
            self.phase = Phase::Terminating;
            self.ctx
                .progress
                .note(&format!("{} again: stopping running tasks", sig.name()));
            let now = Instant::now();
            for w in self.workers.values_mut() {
                if w.stop.is_none() && w.running().is_some() {
                    w.stop = Some(Termination::start(w.pid, StopReason::Cancelled, now));
                }
            }
        }
    }

    /// Starts stopping one worker's tree (no-op if already stopping).
    pub(super) fn stop_worker(&mut self, worker: WorkerId, reason: StopReason) {
        if let Some(w) = self.workers.get_mut(&worker)
            && w.stop.is_none()
        {
            w.stop = Some(Termination::start(w.pid, reason, Instant::now()));
        }
    }

    /// Forgets `worker` as `slot`'s worker or successor.
    pub(super) fn vacate(&mut self, slot: usize, worker: WorkerId) {
        for holder in [&mut self.slots[slot], &mut self.successors[slot]] {
            if *holder == Some(worker) {
                *holder = None;
            }
        }
    }

    /// Records a final `cancelled` verdict for a task that never started.
    pub(super) fn cancel_unstarted(&mut self, t: usize, why: &str) {
        if self.tasks[t].verdict.is_none() {
            self.tasks[t].verdict = Some(Verdict::Cancelled);
            self.tasks[t].cancel_reason = Some(why.to_string());
            self.outstanding -= 1;
            journal_cancelled(self.ctx.journal, &self.tasks[t].task.id, why);
            self.ctx
                .progress
                .task_ended(&self.tasks[t].task.id, Verdict::Cancelled, &[]);
        }
    }

    pub(super) fn on_exit(
        &mut self,
        worker: WorkerId,
        status: Result<std::process::ExitStatus, String>,
        now: Instant,
    ) {
        let Some(w) = self.workers.remove(&worker) else {
            return;
        };
        self.vacate(w.slot, worker);
        if w.tx.is_none() {
            abandon_accept(&w.server_name);
        }
        match &w.state {
            WorkerState::Busy(_) => self.on_crash(&w, &status, now),
            WorkerState::Connecting { .. } if w.stop.is_none() => {
                self.spawn_failures += 1;
                if self.spawn_failures >= MAX_SPAWN_FAILURES {
                    self.fatal.get_or_insert(format!(
                        "{MAX_SPAWN_FAILURES} workers in a row exited before connecting (last: {}); \
                         see .isobatch/logs/workers.log",
                        status.as_ref().map_or_else(|e| e.clone(), |s| s.to_string())
                    ));
                }
            }
            _ => {}
        }
        self.orphans_due = true;
    }

    /// Kills and reaps processes re-parented to the supervisor, once no worker
    /// start is in flight: until its `Spawned` is handled, a new worker would
    /// look like an orphan. Starts are only requested from this thread.
    fn reap_orphans(&mut self) {
        if self.orphans_due && self.starting.is_empty() {
            self.orphans_due = false;
            let live: HashSet<u32> = self.workers.values().map(|w| w.pid).collect();
            tree::reap_orphans(&live);
        }
    }
}
