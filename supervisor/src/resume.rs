//! Resume: what earlier runs in this output folder already did, from the journal.
//!
//! A task is skipped only when its latest attempt was `done` with the same
//! parameter hash, every output it recorded is still there with the size and
//! modification time it had, and every input and tracked file (the exec
//! program, `--rerun-on` files) is the one that attempt read: same size, mtime,
//! inode and ctime, or with `--checksum` the same content. Otherwise it is
//! computed again and [`Decision::Run`] says what changed. Attempt numbers
//! continue where earlier runs stopped, so attempt logs are never overwritten.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use isobatch_shared::{FileIdentity, Verdict};

use crate::config::RunConfig;
use crate::journal::{OutputRecord, Record};

/// The latest ended attempt of a task, as the journal recorded it.
#[derive(Debug, Clone)]
pub struct LastAttempt {
    /// Its verdict.
    pub verdict: Verdict,
    /// The parameter hash it ran with.
    pub param_hash: String,
    /// Its outputs.
    pub outputs: Vec<OutputRecord>,
    /// Its inputs and tracked files.
    pub inputs: Vec<FileIdentity>,
    /// Why it failed (empty when it did not).
    pub message: String,
    /// The QC warnings its stages raised (a `done` attempt may carry some).
    pub qc_warnings: Vec<String>,
    /// The task's own results it recorded.
    pub result: serde_json::Map<String, serde_json::Value>,
}

/// What the journal says about one task.
#[derive(Debug, Default, Clone)]
pub struct Earlier {
    /// Highest attempt number seen.
    pub attempts: u32,
    /// Attempt number of the latest `attempt_end`.
    pub last_ended: u32,
    /// The latest ended attempt.
    pub last: Option<LastAttempt>,
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
                inputs,
                message,
                stages,
                result,
                ..
            } => {
                let e = map.entry(task.clone()).or_default();
                e.attempts = e.attempts.max(*attempt);
                e.last = Some(LastAttempt {
                    verdict: *verdict,
                    param_hash: param_hash.clone(),
                    outputs: outputs.clone(),
                    inputs: inputs.clone(),
                    message: message.clone(),
                    qc_warnings: isobatch_shared::qc_warnings(stages),
                    result: result.clone(),
                });
                e.last_ended = *attempt;
            }
            _ => {}
        }
    }
    map
}

/// Whether a task runs in this batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Up to date: its outputs (absolute) are what it would compute now.
    Skip(Vec<PathBuf>),
    /// Runs. With a reason when an earlier `done` result is recomputed (what
    /// changed); without one when it never ended `done`.
    Run(Option<String>),
}

/// What the current run would read for a task, to compare with what the done
/// attempt read.
#[derive(Debug, Clone, Copy)]
pub struct Now<'a> {
    /// [`param_hash`] of this run.
    pub param_hash: &'a str,
    /// The output folder.
    pub output: &'a Path,
    /// The task's inputs followed by the tracked files.
    pub files: &'a [PathBuf],
    /// `--checksum`: compare content hashes instead of file metadata.
    pub checksum: bool,
    /// `--strict-qc`: a `done` result with QC warnings is not what this run would accept.
    pub strict_qc: bool,
}

/// Decides whether the task `earlier` describes is up to date.
pub fn decide(earlier: &Earlier, now: Now<'_>) -> Decision {
    let Some(last) = &earlier.last else {
        return Decision::Run(None);
    };
    if last.verdict != Verdict::Done {
        return Decision::Run(None);
    }
    match stale_reason(earlier, last, now) {
        Some(why) => Decision::Run(Some(why)),
        None => Decision::Skip(
            last.outputs
                .iter()
                .map(|o| now.output.join(&o.path))
                .collect(),
        ),
    }
}

fn stale_reason(earlier: &Earlier, last: &LastAttempt, now: Now<'_>) -> Option<String> {
    // A later attempt that started but never ended (its run was killed) may
    // have replaced the outputs: they are no longer the done attempt's.
    if earlier.attempts > earlier.last_ended {
        return Some(format!(
            "attempt {} started after the done attempt {} and never ended",
            earlier.attempts, earlier.last_ended
        ));
    }
    if now.strict_qc && !last.qc_warnings.is_empty() {
        return Some(format!(
            "it ended done with {} QC warning(s) and --strict-qc is set",
            last.qc_warnings.len()
        ));
    }
    if last.param_hash != now.param_hash {
        return Some("the parameters, pipeline or --exec template changed".into());
    }
    // Size and mtime: a later attempt whose start the journal lost (killed
    // inside the group-commit window) may have rewritten an output in place.
    if let Some(o) = last.outputs.iter().find(|o| !o.unchanged(now.output)) {
        return Some(format!(
            "output {} is missing or was modified",
            o.path.display()
        ));
    }
    if last.inputs.is_empty() {
        return Some("the earlier run recorded no input identity (an older isobatch)".into());
    }
    for path in now.files {
        let Some(then) = last.inputs.iter().find(|i| &i.path == path) else {
            return Some(format!(
                "{} was not an input of the done attempt",
                path.display()
            ));
        };
        match FileIdentity::of(path, now.checksum) {
            Err(e) => return Some(format!("{} cannot be read ({e})", path.display())),
            Ok(current) => {
                if let Some(change) = then.change(&current, now.checksum) {
                    return Some(format!("{} {change}", path.display()));
                }
            }
        }
    }
    last.inputs
        .iter()
        .find(|i| !now.files.contains(&i.path))
        .map(|i| format!("{} is no longer an input", i.path.display()))
}

/// A stable hash (FNV-1a, 64 bit) of everything that decides a task's outputs.
pub fn param_hash(cfg: &RunConfig) -> String {
    let canonical = format!(
        "{}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        cfg.pipeline, cfg.params, cfg.exec, cfg.checkpoint_format, cfg.from_stage, cfg.to_stage
    );
    isobatch_shared::digest::hex_digest(canonical.as_bytes())
}
