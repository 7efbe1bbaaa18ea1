//! Ctrl-C and SIGTERM: the first drains the batch, the second cancels what runs.

use std::time::Instant;

use super::dispatcher::{Dispatcher, Phase};
use super::terminate::{StopReason, Termination};
use crate::unix::signals::StopSignal;

impl Dispatcher<'_> {
    /// SIGINT or SIGTERM: the first drains, the second cancels running tasks.
    pub(super) fn on_signal(&mut self, sig: StopSignal) {
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
}
