//! Slurm job states, and the verdict of an element that left no result record.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use isobatch_shared::Verdict;

/// How much of an element's log end is searched for Slurm's memory kill.
const LOG_TAIL: u64 = 64 << 10;

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
            format!("Slurm killed the array element over its memory limit ({state})"),
        )),
        _ => None,
    }
}

/// Slurm's `state` for an element, read with its `log`: a cluster that
/// enforces `--mem` by sampling (`JobAcctGatherParams=OverMemoryKill`, no
/// cgroup) SIGKILLs the element and says `FAILED`; only the line slurmstepd
/// wrote into the log ("exceeded memory limit") says why. With that line the
/// state reads `OUT_OF_MEMORY (...)`, quoting it; otherwise it is unchanged.
pub fn with_log_evidence(state: &str, log: &Path) -> String {
    if limit(state).is_some() || lost(state).is_some() {
        return state.to_string();
    }
    match memory_kill_line(log) {
        Some(line) => format!(
            "OUT_OF_MEMORY (Slurm says {state}; its log {}: {line:?})",
            log.display()
        ),
        None => state.to_string(),
    }
}

/// slurmstepd's "exceeded memory limit" line in the last part of `log`.
fn memory_kill_line(log: &Path) -> Option<String> {
    let mut f = std::fs::File::open(log).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL))).ok()?;
    let mut tail = Vec::new();
    f.take(LOG_TAIL).read_to_end(&mut tail).ok()?;
    String::from_utf8_lossy(&tail)
        .lines()
        .find(|l| {
            l.contains("slurmstepd")
                && l.to_ascii_lowercase().contains("exceeded")
                && l.contains("memory limit")
        })
        .map(|l| l.trim().to_string())
}

/// Why a task Slurm stopped in `state` runs again (a node failure or
/// preemption: not the task's fault); None for other states.
pub fn lost(state: &str) -> Option<String> {
    let s = base(state);
    matches!(s, "NODE_FAIL" | "PREEMPTED").then(|| format!("the array element ended {s}"))
}

/// The message of an attempt lost that way (`why` from [`lost`]).
pub fn lost_message(why: &str) -> String {
    format!("{why} while it ran: not the task's fault, so it runs again without using up --retries")
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
        "NODE_FAIL" | "PREEMPTED" => Outcome::Resubmit(lost(s).unwrap_or_default()),
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
        assert!(lost("NODE_FAIL").is_some_and(|w| w.contains("NODE_FAIL")));
        assert_eq!(lost("TIMEOUT"), None);
        assert_eq!(verdict("BOOT_FAIL", false), Some(Verdict::FailedCrashed));
        assert_eq!(verdict("FAILED", true), Some(Verdict::FailedCrashed));
        assert_eq!(verdict("COMPLETED", true), Some(Verdict::FailedCrashed));
    }

    #[test]
    fn a_memory_kill_is_read_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("7_0.out");
        std::fs::write(
            &log,
            "slurmstepd-n1: error: StepId=7.batch exceeded memory limit (330010624 > 104857600), being killed\n\
             slurmstepd-n1: error: *** JOB 7 ON n1 CANCELLED AT 2026-12-07T20:14:29 ***\n",
        )
        .unwrap();
        let state = with_log_evidence("FAILED", &log);
        assert!(
            state.starts_with("OUT_OF_MEMORY (Slurm says FAILED"),
            "{state}"
        );
        assert_eq!(verdict(&state, true), Some(Verdict::FailedMemoryLimit));
        assert_eq!(with_log_evidence("TIMEOUT", &log), "TIMEOUT");
        let quiet = dir.path().join("8_0.out");
        std::fs::write(&quiet, "task printed: exceeded memory limit\n").unwrap();
        assert_eq!(with_log_evidence("FAILED", &quiet), "FAILED");
        assert_eq!(
            with_log_evidence("FAILED", &dir.path().join("none")),
            "FAILED"
        );
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
