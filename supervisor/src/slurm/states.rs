//! Slurm job states, and the verdict of an element that left no result record.

use isobatch_shared::Verdict;

/// What to do with the tasks of an element that ended without a result record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A final verdict for each task the element did not report, and why.
    Verdict(Verdict, String),
    /// Run them again (a node failure or preemption): not the task's fault, so
    /// it does not use up `--retries`.
    Resubmit(String),
}

/// Whether `state` (as squeue or sacct print it) means the element has ended.
pub fn is_terminal(state: &str) -> bool {
    !matches!(
        base(state),
        "PENDING"
            | "RUNNING"
            | "CONFIGURING"
            | "COMPLETING"
            | "SUSPENDED"
            | "REQUEUED"
            | "REQUEUE_FED"
            | "REQUEUE_HOLD"
            | "RESIZING"
            | "SIGNALING"
            | "STAGE_OUT"
            | "STOPPED"
            | "RESV_DEL_HOLD"
    )
}

/// Whether `state` says the element was cancelled (scancel).
pub fn is_cancelled(state: &str) -> bool {
    base(state) == "CANCELLED"
}

/// `CANCELLED by 0` → `CANCELLED`.
fn base(state: &str) -> &str {
    state
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_end_matches('+')
}

/// The verdict of a task Slurm stopped at the element's time or memory limit
/// (`TIMEOUT`, `DEADLINE`, `OUT_OF_MEMORY`), with why; None for other states.
pub fn limit(state: &str) -> Option<(Verdict, String)> {
    let s = base(state);
    match s {
        "TIMEOUT" | "DEADLINE" => Some((
            Verdict::FailedTimeout,
            format!("Slurm stopped the array element at its time limit ({s})"),
        )),
        "OUT_OF_MEMORY" => Some((
            Verdict::FailedMemoryLimit,
            "Slurm killed the array element over its memory limit (OUT_OF_MEMORY)".into(),
        )),
        _ => None,
    }
}

/// The outcome for the tasks an element ended in `state` without reporting;
/// `started` says whether the task had begun (a task never started is cancelled
/// rather than failed when its element was cancelled); `log` is its Slurm output file.
pub fn outcome(state: &str, started: bool, log: &str) -> Outcome {
    let s = base(state);
    match s {
        "TIMEOUT" | "DEADLINE" | "OUT_OF_MEMORY" => {
            let (v, why) = limit(s).unwrap_or((Verdict::FailedCrashed, s.to_string()));
            Outcome::Verdict(v, format!("{why}; see {log}"))
        }
        "CANCELLED" => Outcome::Verdict(
            Verdict::Cancelled,
            if started {
                "the array element was cancelled in Slurm (scancel) while the task ran".into()
            } else {
                "not started: the array element was cancelled in Slurm (scancel)".into()
            },
        ),
        "NODE_FAIL" | "PREEMPTED" => Outcome::Resubmit(format!("the array element ended {s}")),
        _ => Outcome::Verdict(
            Verdict::FailedCrashed,
            format!("the array element ended {s} without a result record; see {log}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(state: &str, started: bool) -> Option<Verdict> {
        match outcome(state, started, "x.out") {
            Outcome::Verdict(v, _) => Some(v),
            Outcome::Resubmit(_) => None,
        }
    }

    #[test]
    fn states_map_to_the_documented_verdicts() {
        assert_eq!(verdict("TIMEOUT", true), Some(Verdict::FailedTimeout));
        assert_eq!(
            verdict("OUT_OF_MEMORY", true),
            Some(Verdict::FailedMemoryLimit)
        );
        assert_eq!(verdict("CANCELLED by 0", true), Some(Verdict::Cancelled));
        assert_eq!(verdict("CANCELLED", false), Some(Verdict::Cancelled));
        assert_eq!(verdict("NODE_FAIL", true), None);
        assert_eq!(verdict("PREEMPTED", true), None);
        assert_eq!(verdict("BOOT_FAIL", false), Some(Verdict::FailedCrashed));
        assert_eq!(verdict("FAILED", true), Some(Verdict::FailedCrashed));
        assert_eq!(verdict("COMPLETED", true), Some(Verdict::FailedCrashed));
    }

    #[test]
    fn terminal_states() {
        for s in ["PENDING", "RUNNING", "COMPLETING", "CONFIGURING"] {
            assert!(!is_terminal(s), "{s}");
        }
        for s in [
            "COMPLETED",
            "FAILED",
            "TIMEOUT",
            "CANCELLED by 0",
            "OUT_OF_MEMORY",
            "NODE_FAIL",
        ] {
            assert!(is_terminal(s), "{s}");
        }
    }
}
