//! Which task goes to which worker next: the strategies (individual, batched,
//! chunked), worker recycling, and retries with backoff.
//!
//! Pure bookkeeping with no processes in it, so every strategy's order is
//! testable on its own. Subprocess mode is the same machinery with a worker
//! recycled after each chunk.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use isobatch_shared::Verdict;

use crate::cli::{Mode, Strategy};

/// Index of a task in the batch's task list.
pub type TaskIdx = usize;

/// The dispatch plan of a batch.
#[derive(Debug)]
pub struct Schedule {
    /// Chunks not yet handed to any slot (individual, chunked).
    pending: VecDeque<Vec<TaskIdx>>,
    /// Per worker slot: tasks assigned to it and not yet started.
    slots: Vec<VecDeque<TaskIdx>>,
    /// Failed tasks waiting for their backoff to pass.
    retries: Vec<(Instant, TaskIdx)>,
    /// Tasks a worker runs before it is replaced (None: never).
    pub tasks_per_worker: Option<usize>,
}

/// Chunk size: `--batch-size`, or the strategy's default for this many tasks and workers.
pub fn chunk_size(
    strategy: Strategy,
    batch_size: Option<usize>,
    tasks: usize,
    workers: usize,
) -> usize {
    let workers = workers.max(1);
    let default = match strategy {
        Strategy::Individual => 1,
        Strategy::Batched => tasks.div_ceil(workers),
        Strategy::Chunked => tasks.div_ceil(workers * 4),
    };
    batch_size.unwrap_or(default).max(1)
}

impl Schedule {
    /// Plans `tasks` over `workers` slots.
    pub fn new(
        mode: Mode,
        strategy: Strategy,
        batch_size: Option<usize>,
        max_tasks_per_worker: Option<usize>,
        tasks: Vec<TaskIdx>,
        workers: usize,
    ) -> Self {
        let workers = workers.max(1);
        let chunk = chunk_size(strategy, batch_size, tasks.len(), workers);
        let chunks: Vec<Vec<TaskIdx>> = tasks.chunks(chunk).map(<[TaskIdx]>::to_vec).collect();
        let mut slots = vec![VecDeque::new(); workers];
        let mut pending = VecDeque::new();
        if strategy == Strategy::Batched {
            for (i, c) in chunks.into_iter().enumerate() {
                slots[i % workers].extend(c);
            }
        } else {
            pending.extend(chunks);
        }
        let tasks_per_worker = match mode {
            Mode::Subprocess => Some(chunk),
            Mode::Pool | Mode::Serial => max_tasks_per_worker,
        };
        Schedule {
            pending,
            slots,
            retries: Vec::new(),
            tasks_per_worker,
        }
    }

    /// Number of worker slots.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The next task for `slot`: a retry whose backoff has passed, then the
    /// slot's own queue, then (unless batched) the next pending chunk.
    pub fn next(&mut self, slot: usize, now: Instant) -> Option<TaskIdx> {
        if let Some(pos) = self.retries.iter().position(|(at, _)| *at <= now) {
            return Some(self.retries.remove(pos).1);
        }
        if self.slots[slot].is_empty()
            && let Some(chunk) = self.pending.pop_front()
        {
            self.slots[slot].extend(chunk);
        }
        self.slots[slot].pop_front()
    }

    /// Puts a task taken with [`Schedule::next`] back at the front of `slot`'s queue.
    pub fn unget(&mut self, slot: usize, task: TaskIdx) {
        self.slots[slot].push_front(task);
    }

    /// True when `slot` could start a task now.
    pub fn has_work_now(&self, slot: usize, now: Instant) -> bool {
        !self.slots[slot].is_empty()
            || !self.pending.is_empty()
            || self.retries.iter().any(|(at, _)| *at <= now)
    }

    /// True when `slot` will have nothing more to do in this batch.
    pub fn slot_finished(&self, slot: usize) -> bool {
        self.slots[slot].is_empty() && self.pending.is_empty() && self.retries.is_empty()
    }

    /// Queues a failed task again after `backoff`.
    pub fn retry(&mut self, task: TaskIdx, at: Instant) {
        self.retries.push((at, task));
    }

    /// The earliest time a waiting retry becomes ready.
    pub fn next_retry(&self) -> Option<Instant> {
        self.retries.iter().map(|(at, _)| *at).min()
    }

    /// Removes and returns every task not yet started (Ctrl-C).
    pub fn drain(&mut self) -> Vec<TaskIdx> {
        let mut out: Vec<TaskIdx> = self.pending.drain(..).flatten().collect();
        for q in &mut self.slots {
            out.extend(q.drain(..));
        }
        out.extend(self.retries.drain(..).map(|(_, t)| t));
        out
    }
}

/// Whether a task whose `tries`-th attempt ended with `verdict` gets another
/// attempt under `--retries retries`. Invalid input fails the same way every
/// time, so it is never retried; neither is anything that did not fail.
pub fn should_retry(verdict: Verdict, tries: u32, retries: u32) -> bool {
    verdict.is_failure() && verdict != Verdict::FailedInvalidInput && tries <= retries
}

/// Exponential backoff before retry `attempt + 1`: 1 s, 2 s, 4 s … capped at 60 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain_slot(s: &mut Schedule, slot: usize) -> Vec<TaskIdx> {
        let now = Instant::now();
        std::iter::from_fn(|| s.next(slot, now)).collect()
    }

    #[test]
    fn batched_assigns_contiguous_chunks_up_front() {
        let mut s = Schedule::new(
            Mode::Pool,
            Strategy::Batched,
            None,
            None,
            (0..7).collect(),
            2,
        );
        assert_eq!(chunk_size(Strategy::Batched, None, 7, 2), 4);
        assert_eq!(drain_slot(&mut s, 1), vec![4, 5, 6]);
        assert_eq!(drain_slot(&mut s, 0), vec![0, 1, 2, 3]);
    }

    #[test]
    fn chunked_hands_next_chunk_to_whoever_asks() {
        let mut s = Schedule::new(
            Mode::Pool,
            Strategy::Chunked,
            Some(3),
            None,
            (0..7).collect(),
            2,
        );
        let now = Instant::now();
        assert_eq!(s.next(1, now), Some(0));
        assert_eq!(s.next(0, now), Some(3));
        assert_eq!(s.next(1, now), Some(1));
        assert_eq!(drain_slot(&mut s, 0), vec![4, 5, 6]);
        assert_eq!(drain_slot(&mut s, 1), vec![2]);
    }

    #[test]
    fn subprocess_recycles_after_each_chunk_and_retries_wait() {
        let mut s = Schedule::new(
            Mode::Subprocess,
            Strategy::Individual,
            Some(2),
            None,
            vec![0, 1],
            1,
        );
        assert_eq!(s.tasks_per_worker, Some(2));
        let now = Instant::now();
        s.retry(9, now + Duration::from_secs(5));
        assert_eq!(drain_slot(&mut s, 0), vec![0, 1]);
        assert!(!s.has_work_now(0, now));
        assert!(!s.slot_finished(0));
        assert_eq!(s.next(0, now + Duration::from_secs(6)), Some(9));
        assert!(s.slot_finished(0));
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(4));
        assert_eq!(backoff(30), Duration::from_secs(60));
    }
}
