//! Processes that will not die: a worker SIGKILL has not ended long after it
//! was sent, and whatever is still running below the supervisor at the end.
//!
//! A process in uninterruptible sleep (D state: a hung network file system,
//! a stuck device) cannot act on SIGKILL until the kernel call it waits in
//! returns, which may be never. The dispatcher must not wait for it: the
//! attempt gets its verdict, the slot a new worker, and the summary names
//! what was left behind.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use isobatch_shared::procfs;

use super::dispatcher::Dispatcher;
use super::events::WorkerId;
use crate::unix::tree;

/// How long the end of the batch waits for killed processes to finish dying.
const CLEANUP_WAIT: Duration = Duration::from_secs(2);

impl Dispatcher<'_> {
    /// A stopped worker did not exit long after SIGKILL: it cannot die yet
    /// (uninterruptible sleep). Its attempt gets its verdict now, its slot a
    /// new worker, and the summary says what was left behind; its waiter
    /// thread reports its end, should it come, to nobody.
    pub(super) fn abandon(&mut self, id: WorkerId, now: Instant) {
        let Some(w) = self.workers.get(&id) else {
            return;
        };
        let pid = w.pid;
        let task = w
            .running()
            .map(|r| format!(" (task {})", self.tasks[r.task].task.id))
            .unwrap_or_default();
        let note = format!(
            "worker {pid}{task} did not exit after SIGKILL ({}); isobatch no longer waits for it",
            describe_stuck(pid)
        );
        self.ctx.progress.note(&note);
        self.notes.push(note);
        self.on_exit(id, Err("did not exit after SIGKILL".into()), now);
    }

    /// At the end: SIGKILLs and reaps whatever still runs below the supervisor,
    /// waiting up to [`CLEANUP_WAIT`] for it to finish dying; what does not
    /// (uninterruptible sleep) is named in the summary.
    pub(super) fn cleanup(&mut self) {
        let me = std::process::id();
        let end = Instant::now() + CLEANUP_WAIT;
        loop {
            tree::signal_descendants(me, nix::sys::signal::Signal::SIGKILL);
            tree::reap_orphans(&HashSet::new());
            let left = procfs::descendants(me);
            if left.is_empty() {
                return;
            }
            if Instant::now() >= end {
                let who: Vec<String> = left
                    .iter()
                    .map(|&p| format!("{p} ({})", describe_stuck(p)))
                    .collect();
                self.notes.push(format!(
                    "{} process(es) could not be killed and are left behind: {}",
                    left.len(),
                    who.join(", ")
                ));
                return;
            }
            // Killed processes vanish once the kernel has torn them down: moments.
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Why process `pid` may not die: its state, spelled out for D.
fn describe_stuck(pid: u32) -> String {
    match procfs::stat_of(pid).map(|s| s.state) {
        Some('D') => "state D: uninterruptible sleep, e.g. a hung network file system".into(),
        Some(s) => format!("state {s}"),
        None => "gone by now".into(),
    }
}
