//! Task counts for live progress: every task this run has to do is counted
//! once, by its final verdict — never once per attempt — so `--retries 2` on
//! a failing task still reads as one failed task.

use std::time::Duration;

use isobatch_shared::Verdict;
use isobatch_shared::units::format_duration;

/// Where the run's tasks stand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Tasks this run has to do (skipped ones not included).
    pub total: usize,
    /// Tasks skipped because an earlier run had them done.
    pub skipped: usize,
    /// Tasks whose first attempt of this run has started.
    pub started: usize,
    /// Attempts running now.
    pub in_flight: usize,
    /// Tasks that ended `done`.
    pub done: usize,
    /// Tasks that ended with a `failed:*` verdict, retries used up.
    pub failed: usize,
    /// Tasks that ended `cancelled` (started or not).
    pub cancelled: usize,
}

impl Tally {
    /// Tasks with a final verdict.
    pub fn finished(&self) -> usize {
        self.done + self.failed + self.cancelled
    }

    /// Tasks with an attempt running now.
    pub fn running(&self) -> usize {
        self.in_flight
    }

    /// Tasks started, not ended and not running: waiting to be retried.
    pub fn retrying(&self) -> usize {
        self.started
            .saturating_sub(self.finished() + self.in_flight)
    }

    /// Tasks not started yet.
    pub fn left(&self) -> usize {
        self.total.saturating_sub(self.started.max(self.finished()))
    }

    /// An attempt started; `first` when it is the task's first in this run.
    pub fn start(&mut self, first: bool) {
        self.started += usize::from(first);
        self.in_flight += 1;
    }

    /// An attempt ended (its task's verdict may follow, see [`Tally::end`]).
    pub fn attempt_ended(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// A task got its final verdict; `ran` says whether it had an attempt.
    pub fn end(&mut self, verdict: Verdict, ran: bool) {
        if !ran {
            // Never started, yet no longer left: count it as started and ended.
            self.started += 1;
        }
        match verdict {
            Verdict::Done => self.done += 1,
            Verdict::Cancelled => self.cancelled += 1,
            v if v.is_failure() => self.failed += 1,
            _ => {}
        }
    }

    /// The time the rest will take at the pace of this run's finished tasks
    /// (`None` before any task of this run has finished, or when none is left).
    pub fn eta(&self, elapsed: Duration) -> Option<Duration> {
        let ran = self.done + self.failed;
        let rest = self.total.saturating_sub(self.finished());
        (ran > 0 && rest > 0).then(|| elapsed.mul_f64(rest as f64 / ran as f64))
    }

    /// `done D · failed F · running R · left L` (skipped, cancelled and
    /// retrying only when there are some).
    pub fn counts(&self) -> String {
        let mut parts = vec![
            format!("done {}", self.done),
            format!("failed {}", self.failed),
        ];
        if self.cancelled > 0 {
            parts.push(format!("cancelled {}", self.cancelled));
        }
        if self.skipped > 0 {
            parts.push(format!("skipped {}", self.skipped));
        }
        parts.push(format!("running {}", self.running()));
        if self.retrying() > 0 {
            parts.push(format!("retrying {}", self.retrying()));
        }
        parts.push(format!("left {}", self.left()));
        parts.join(" · ")
    }

    /// `F/T done D · … · eta E` (the estimate once there is one): the text
    /// beside the bar.
    pub fn bar_text(&self, elapsed: Duration) -> String {
        let eta = self
            .eta(elapsed)
            .map(|e| format!(" · eta {}", format_duration(round_secs(e))))
            .unwrap_or_default();
        format!("{}/{} {}{eta}", self.finished(), self.total, self.counts())
    }

    /// `[F/T done D · … · eta E]`, the head of a plain progress line.
    pub fn line_head(&self, elapsed: Duration) -> String {
        format!("[{}]", self.bar_text(elapsed))
    }
}

/// Whole seconds: an estimate has no use for milliseconds.
fn round_secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs_f64().round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retried_task_counts_once() {
        let mut t = Tally {
            total: 3,
            ..Tally::default()
        };
        t.start(true);
        assert_eq!((t.running(), t.left()), (1, 2));
        // A failed attempt waits for its retry: still one task, not finished.
        t.attempt_ended();
        assert_eq!((t.running(), t.retrying(), t.finished()), (0, 1, 0));
        assert!(t.counts().contains("retrying 1"), "{}", t.counts());
        t.start(false);
        t.attempt_ended();
        t.end(Verdict::FailedError, true);
        assert_eq!(
            (t.finished(), t.failed, t.running(), t.left()),
            (1, 1, 0, 2)
        );
        t.end(Verdict::Cancelled, false);
        t.end(Verdict::Cancelled, false);
        assert_eq!((t.finished(), t.left(), t.running()), (3, 0, 0));
        assert_eq!(
            t.counts(),
            "done 0 · failed 1 · cancelled 2 · running 0 · left 0"
        );
    }

    #[test]
    fn eta_uses_this_runs_pace() {
        let mut t = Tally {
            total: 4,
            ..Tally::default()
        };
        assert_eq!(t.eta(Duration::from_secs(10)), None);
        t.start(true);
        t.attempt_ended();
        t.end(Verdict::Done, true);
        assert_eq!(
            t.eta(Duration::from_secs(10)),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            t.line_head(Duration::from_secs(10)),
            "[1/4 done 1 · failed 0 · running 0 · left 3 · eta 30.0s]"
        );
    }
}
