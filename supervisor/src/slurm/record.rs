//! An element's result record: the journal lines its local dispatcher wrote
//! (`attempt_start`, `attempt_end`, `cancelled`), renamed into place when the
//! element ends. The supervisor merges them into the one journal.

use std::path::Path;
use std::time::Duration;

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
    })
}
