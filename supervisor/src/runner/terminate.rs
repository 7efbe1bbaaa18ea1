//! Stopping a worker's whole process tree: SIGTERM to its group (and to any
//! descendant that escaped it), then SIGKILL to all of them after the grace.
//!
//! Timeouts, memory caps, Ctrl-C and unresponsive workers all end here, so the
//! same path is exercised by every one of them.

use std::time::{Duration, Instant};

use isobatch_shared::units::{format_bytes, format_duration};
use nix::sys::signal::Signal;

use crate::unix::tree;

/// Why isobatch is stopping a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// The attempt ran past `--timeout`.
    Timeout(Duration),
    /// The process tree went over `--max-task-memory`.
    MemoryLimit {
        /// The cap.
        limit: u64,
        /// The tree RSS that crossed it.
        rss: u64,
    },
    /// Ctrl-C (second one) or SIGTERM to the supervisor.
    Cancelled,
    /// The worker broke protocol or hung up but did not exit.
    Unresponsive(String),
    /// An idle or retiring worker that must go (end of batch, recycling).
    Retire,
}

impl StopReason {
    /// A sentence for the summary.
    pub fn describe(&self) -> String {
        match self {
            StopReason::Timeout(d) => format!("exceeded --timeout {}", format_duration(*d)),
            StopReason::MemoryLimit { limit, rss } => format!(
                "process tree reached {} (over --max-task-memory {})",
                format_bytes(*rss),
                format_bytes(*limit)
            ),
            StopReason::Cancelled => "interrupted".into(),
            StopReason::Unresponsive(why) => why.clone(),
            StopReason::Retire => "worker retired".into(),
        }
    }
}

/// An in-progress stop of one worker's tree.
#[derive(Debug)]
pub struct Termination {
    /// Why.
    pub reason: StopReason,
    /// When SIGTERM went out.
    pub term_at: Instant,
    /// Whether SIGKILL was needed.
    pub killed: bool,
    /// Processes outside the worker's group that were found and signalled.
    pub escapees: usize,
}

impl Termination {
    /// Sends SIGTERM to the tree of worker `pid` (which leads its own group).
    pub fn start(pid: u32, reason: StopReason, now: Instant) -> Self {
        let escapees = tree::signal_tree(pid, pid, Signal::SIGTERM);
        Termination {
            reason,
            term_at: now,
            killed: false,
            escapees,
        }
    }

    /// When SIGKILL is due.
    pub fn kill_due(&self, grace: Duration) -> Instant {
        self.term_at + grace
    }

    /// Sends SIGKILL to the tree if the grace has passed; true when it did.
    pub fn escalate_if_due(&mut self, pid: u32, grace: Duration, now: Instant) -> bool {
        if self.killed || now < self.kill_due(grace) {
            return false;
        }
        self.escalate(pid);
        true
    }

    fn escalate(&mut self, pid: u32) {
        self.escapees += tree::signal_tree(pid, pid, Signal::SIGKILL);
        self.killed = true;
    }

    /// How the stop went, for the verdict message.
    pub fn describe(&self) -> String {
        let mut s = self.reason.describe();
        s.push_str(if self.killed {
            "; SIGTERM ignored, process group killed with SIGKILL"
        } else {
            "; process group stopped with SIGTERM"
        });
        if self.escapees > 0 {
            s.push_str(&format!(
                "; {} process(es) that had left the group were killed too",
                self.escapees
            ));
        }
        s
    }
}
