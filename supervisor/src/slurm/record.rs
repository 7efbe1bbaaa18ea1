//! An element's result record: the journal lines its local dispatcher wrote
//! (`attempt_start`, `attempt_end`, `cancelled`), renamed into place when the
//! element ends. The supervisor merges them into the one journal.

use std::path::Path;
use std::time::Duration;

use isobatch_shared::Verdict;

use crate::journal::{self, Record};
use crate::runner::batch::Attempt;

/// Reads the record lines that concern tasks, from the complete record or, for
/// an element that died, from what it wrote so far (whole lines only).
pub fn read(path: &Path) -> Vec<Record> {
    journal::read(path)
        .map(|(records, _)| records)
        .unwrap_or_default()
        .into_iter()
        .filter(|r| {
            matches!(
                r,
                Record::AttemptStart { .. } | Record::AttemptEnd { .. } | Record::Cancelled { .. }
            )
        })
        .collect()
}

/// The task a record line concerns.
pub fn task(r: &Record) -> Option<&str> {
    match r {
        Record::AttemptStart { task, .. }
        | Record::AttemptEnd { task, .. }
        | Record::Cancelled { task, .. } => Some(task),
        _ => None,
    }
}

/// The attempt an `attempt_end` line describes, with its outputs made absolute
/// under `output` and the pid from its `attempt_start` in `records`.
pub fn attempt(output: &Path, end: &Record, records: &[Record]) -> Option<Attempt> {
    let Record::AttemptEnd {
        time,
        task,
        attempt,
        verdict,
        duration_s,
        peak_rss_bytes,
        message,
        outputs,
        stages,
        inputs,
        result,
        ..
    } = end
    else {
        return None;
    };
    let worker_pid = records.iter().find_map(|r| match r {
        Record::AttemptStart {
            task: t,
            attempt: a,
            worker_pid,
            ..
        } if t == task && a == attempt => *worker_pid,
        _ => None,
    });
    let duration = Duration::from_secs_f64(duration_s.max(0.0));
    Some(Attempt {
        attempt: *attempt,
        verdict: *verdict,
        started_at: time - duration.as_secs_f64(),
        duration,
        peak_rss: *peak_rss_bytes,
        message: message.clone(),
        worker_pid,
        rss_before: 0,
        rss_after: 0,
        outputs: outputs.iter().map(|o| output.join(&o.path)).collect(),
        stages: stages.clone(),
        inputs: inputs.clone(),
        result: result.clone(),
        result_problem: None,
    })
}

/// Whether an attempt's verdict may come from Slurm stopping the element: the
/// element cancels its task on SIGTERM, but Slurm also signals the task's
/// processes itself, which then die `failed:killed` or `failed:crashed`.
pub fn stopped_from_outside(verdict: Verdict) -> bool {
    matches!(
        verdict,
        Verdict::Cancelled | Verdict::FailedKilled | Verdict::FailedCrashed
    )
}

/// True when the record holds a task that Slurm may have stopped (its verdict
/// then waits for Slurm's state).
pub fn has_cancellation(records: &[Record]) -> bool {
    records.iter().any(|r| match r {
        Record::Cancelled { .. } => true,
        Record::AttemptEnd { verdict, .. } => stopped_from_outside(*verdict),
        _ => false,
    })
}

/// `record` with the verdict Slurm's `state` implies for an attempt stopped
/// from outside: `failed:timeout` or `failed:memory-limit` at the element's
/// limits, `failed:killed` when its node failed or it was preempted (the task
/// then runs again), `cancelled` after scancel. Only the element's `last` attempt can
/// have been running when Slurm stopped it; earlier ones keep their verdicts.
pub fn with_slurm_verdict(record: &Record, state: Option<&str>, last: bool) -> Record {
    let mut r = record.clone();
    if let Record::AttemptEnd {
        verdict, message, ..
    } = &mut r
        && last
        && stopped_from_outside(*verdict)
        && let Some(state) = state
    {
        if let Some((v, why)) = super::states::limit(state) {
            *verdict = v;
            *message = why;
        } else if let Some(why) = super::states::lost(state) {
            *verdict = Verdict::FailedKilled;
            *message = super::states::lost_message(&why);
        } else if super::states::is_cancelled(state) {
            *verdict = Verdict::Cancelled;
            *message =
                "the array element was cancelled in Slurm (scancel) while the task ran".into();
        }
    }
    r
}

/// Whether `r` is the last `attempt_end` of `records`.
pub fn is_last_end(records: &[Record], r: &Record) -> bool {
    records
        .iter()
        .rev()
        .find(|x| matches!(x, Record::AttemptEnd { .. }))
        .is_some_and(|x| std::ptr::eq(x, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(verdict: Verdict) -> Record {
        Record::AttemptEnd {
            time: 10.0,
            task: "t".into(),
            attempt: 1,
            verdict,
            duration_s: 2.0,
            peak_rss_bytes: 0,
            message: "interrupted".into(),
            outputs: Vec::new(),
            param_hash: "h".into(),
            stages: Vec::new(),
            inputs: Vec::new(),
            result: Default::default(),
        }
    }

    #[test]
    fn a_task_cancelled_by_slurms_time_limit_timed_out() {
        let r = with_slurm_verdict(&end(Verdict::Cancelled), Some("TIMEOUT"), true);
        assert!(matches!(
            r,
            Record::AttemptEnd {
                verdict: Verdict::FailedTimeout,
                ..
            }
        ));
        let r = with_slurm_verdict(&end(Verdict::Cancelled), Some("OUT_OF_MEMORY"), true);
        assert!(matches!(
            r,
            Record::AttemptEnd {
                verdict: Verdict::FailedMemoryLimit,
                ..
            }
        ));
        let r = with_slurm_verdict(&end(Verdict::FailedCrashed), Some("CANCELLED by 0"), true);
        assert!(matches!(
            r,
            Record::AttemptEnd {
                verdict: Verdict::Cancelled,
                ..
            }
        ));
        let r = with_slurm_verdict(&end(Verdict::Cancelled), Some("NODE_FAIL"), true);
        assert!(matches!(
            r,
            Record::AttemptEnd {
                verdict: Verdict::FailedKilled,
                ref message,
                ..
            } if message.contains("NODE_FAIL")
        ));
        let r = with_slurm_verdict(&end(Verdict::FailedKilled), Some("COMPLETED"), true);
        assert_eq!(r, end(Verdict::FailedKilled));
        let r = with_slurm_verdict(&end(Verdict::FailedCrashed), Some("TIMEOUT"), false);
        assert_eq!(
            r,
            end(Verdict::FailedCrashed),
            "an earlier attempt keeps its verdict"
        );
        let r = with_slurm_verdict(&end(Verdict::Done), Some("TIMEOUT"), true);
        assert_eq!(r, end(Verdict::Done));
        assert!(has_cancellation(&[end(Verdict::Cancelled)]));
        assert!(!has_cancellation(&[end(Verdict::FailedError)]));
    }
}
