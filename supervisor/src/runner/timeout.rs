//! Where the per-attempt timeout is enforced.
//!
//! On every dispatcher tick: a busy worker past its deadline gets SIGTERM to
//! its tree, and any tree still alive `--kill-grace` after SIGTERM gets
//! SIGKILL. Workers that do not connect, hang up without exiting, or do not
//! exit after `Shutdown` are stopped the same way. A worker still there
//! [`UNKILLABLE_AFTER`] after SIGKILL cannot die yet (uninterruptible sleep,
//! e.g. a hung network file system): it is reported so the dispatcher stops
//! waiting for it instead of freezing the batch.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::events::WorkerId;
use super::terminate::{StopReason, Termination};
use super::worker::{Worker, WorkerState};

/// How long a hung-up worker may linger before it is killed.
pub const HANGUP_GRACE: Duration = Duration::from_secs(2);

/// Least time after SIGKILL before a worker counts as unkillable (the grace
/// counts too): tearing down a large process can take a moment.
pub const UNKILLABLE_AFTER: Duration = Duration::from_secs(3);

/// What [`enforce`] found.
#[derive(Debug, Default)]
pub struct Due {
    /// The earliest future instant at which `enforce` needs to run again.
    pub next: Option<Instant>,
    /// Workers that were sent SIGKILL long ago and have not exited.
    pub unkillable: Vec<WorkerId>,
}

/// Starts or escalates terminations that are due, and finds workers SIGKILL
/// does not end.
pub fn enforce(
    workers: &mut HashMap<WorkerId, Worker>,
    timeout: Option<Duration>,
    grace: Duration,
    now: Instant,
) -> Due {
    let mut next: Option<Instant> = None;
    let mut unkillable = Vec::new();
    let mut wake = |at: Instant| next = Some(next.map_or(at, |n| n.min(at)));
    let give_up = grace.max(UNKILLABLE_AFTER);
    for w in workers.values_mut() {
        if let Some(stop) = &mut w.stop {
            stop.escalate_if_due(w.pid, grace, now);
            if !stop.killed {
                wake(stop.kill_due(grace));
            } else if now >= stop.kill_due(grace) + give_up {
                unkillable.push(w.id);
            } else {
                wake(stop.kill_due(grace) + give_up);
            }
            continue;
        }
        let due = match &w.state {
            WorkerState::Busy(r) => r
                .deadline
                .map(|d| (d, StopReason::Timeout(timeout.unwrap_or_default()))),
            WorkerState::Connecting { deadline } => Some((
                *deadline,
                StopReason::Unresponsive("worker did not connect in time".into()),
            )),
            WorkerState::Retiring { deadline } => Some((*deadline, StopReason::Retire)),
            WorkerState::Idle => None,
        };
        let hung_up = w.hung_up_at.map(|at| {
            (
                at + HANGUP_GRACE,
                StopReason::Unresponsive("worker closed its channel but did not exit".into()),
            )
        });
        for (at, reason) in [due, hung_up].into_iter().flatten() {
            if at <= now {
                w.stop = Some(Termination::start(w.pid, reason, now));
                wake(now + grace);
                break;
            }
            wake(at);
        }
    }
    Due { next, unkillable }
}
