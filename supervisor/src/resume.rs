//! Resume: what earlier runs in this output folder already did, from the journal.
//!
//! A task is skipped when its latest attempt was `done` with the same
//! parameter hash and every output it recorded is still there with the size
//! and modification time it had. Attempt numbers continue where earlier runs stopped, so attempt
//! logs are never overwritten.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use isobatch_shared::Verdict;

use crate::config::RunConfig;
use crate::journal::{OutputRecord, Record};

/// What the journal says about one task.
#[derive(Debug, Default, Clone)]
pub struct Earlier {
    /// Highest attempt number seen.
    pub attempts: u32,
    /// Attempt number of the latest `attempt_end`.
    pub last_ended: u32,
    /// The latest attempt's verdict, hash and outputs.
    pub last: Option<(Verdict, String, Vec<OutputRecord>)>,
}

/// Folds journal records into per-task history.
pub fn history(records: &[Record]) -> HashMap<String, Earlier> {
    let mut map: HashMap<String, Earlier> = HashMap::new();
    for r in records {
        match r {
            Record::AttemptStart { task, attempt, .. } => {
                let e = map.entry(task.clone()).or_default();
                e.attempts = e.attempts.max(*attempt);
            }
            Record::AttemptEnd {
                task,
                attempt,
                verdict,
                param_hash,
                outputs,
                ..
            } => {
                let e = map.entry(task.clone()).or_default();
                e.attempts = e.attempts.max(*attempt);
                e.last = Some((*verdict, param_hash.clone(), outputs.clone()));
                e.last_ended = *attempt;
            }
            _ => {}
        }
    }
    map
}

/// The outputs of a task that is still complete and current, if it is.
pub fn up_to_date(earlier: &Earlier, param_hash: &str, output: &Path) -> Option<Vec<PathBuf>> {
    let (verdict, hash, outputs) = earlier.last.as_ref()?;
    // A later attempt that started but never ended (its run was killed) may
    // have rewritten the outputs: they are no longer the done attempt's.
    let unfinished_later = earlier.attempts > earlier.last_ended;
    if *verdict != Verdict::Done || hash != param_hash || unfinished_later {
        return None;
    }
    // Size and mtime: a later attempt whose start the journal lost (killed
    // inside the group-commit window) may have rewritten an output in place.
    if !outputs.iter().all(|o| o.unchanged(output)) {
        return None;
    }
    Some(outputs.iter().map(|o| output.join(&o.path)).collect())
}

/// A stable hash (FNV-1a, 64 bit) of everything that decides a task's outputs.
pub fn param_hash(cfg: &RunConfig) -> String {
    let canonical = format!(
        "{}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        cfg.pipeline, cfg.params, cfg.exec, cfg.checkpoint_format, cfg.from_stage, cfg.to_stage
    );
    isobatch_shared::digest::hex_digest(canonical.as_bytes())
}
