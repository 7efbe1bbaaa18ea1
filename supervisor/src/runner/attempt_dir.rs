//! Clean attempts: each attempt writes into a fresh staging folder
//! (`.isobatch/staging/TASK/attempt-N`) that replaces `TASK/` in one atomic
//! rename when the attempt is `done`; a failed attempt's folder moves to
//! `.isobatch/failed/TASK/attempt-N/` (only the last one per task is kept).
//! `TASK/` thus always holds one whole attempt, never a mix of two, whatever
//! moment the run is killed at. `--reuse-task-dir` runs attempts in `TASK/`
//! itself, for scripts that keep their own checkpoints across attempts.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use isobatch_shared::Verdict;
use isobatch_shared::atomic::sync_dir;
use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};

use super::batch::Attempt;
use crate::config::RunConfig;
use crate::layout;

/// The folder attempt `attempt` of `task` writes into.
pub fn work_dir(cfg: &RunConfig, task: &str, attempt: u32) -> PathBuf {
    if cfg.reuse_task_dir {
        cfg.output.join(task)
    } else {
        layout::staging(&cfg.output, task, attempt)
    }
}

/// Removes the staging folders a killed run left behind (under the run lock,
/// before any attempt starts): they belong to attempts that never ended.
pub fn clear_staging(output: &Path) -> io::Result<()> {
    match fs::remove_dir_all(layout::staging_root(output)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Publishes a `done` attempt's folder as `TASK/` or keeps a failed one in
/// `.isobatch/failed/`, before the attempt is journaled. Output paths are
/// rewritten to where they now are. A folder that cannot be published makes
/// the attempt `failed:error`: its result is not where the journal would say.
pub fn settle(cfg: &RunConfig, task: &str, attempt: &mut Attempt) {
    if cfg.reuse_task_dir {
        return;
    }
    let staging = layout::staging(&cfg.output, task, attempt.attempt);
    if !staging.exists() {
        return;
    }
    let published = cfg.output.join(task);
    if attempt.verdict == Verdict::Done {
        match publish(&staging, &published) {
            Ok(()) => {
                for o in &mut attempt.outputs {
                    if let Ok(rest) = o.strip_prefix(&staging) {
                        *o = published.join(rest);
                    }
                }
                return;
            }
            Err(e) => {
                attempt.verdict = Verdict::FailedError;
                attempt.message = format!(
                    "the attempt succeeded but its folder {} could not replace {}: {e}",
                    staging.display(),
                    published.display()
                );
                attempt.outputs.clear();
            }
        }
    }
    attempt.outputs.clear();
    if let Err(e) = keep_failed(cfg, task, attempt.attempt, &staging) {
        attempt.message.push_str(&format!(
            "\n(its folder could not be kept for inspection: {e})"
        ));
    }
}

/// Replaces `published` by `staging` atomically: an exchange of the two names
/// (renameat2 RENAME_EXCHANGE), then removal of the old result. Where the file
/// system cannot exchange, the old result is first moved aside, so a crash
/// leaves `TASK/` either whole or absent, never mixed.
fn publish(staging: &Path, published: &Path) -> io::Result<()> {
    let exchanged = renameat2(
        AT_FDCWD,
        staging,
        AT_FDCWD,
        published,
        RenameFlags::RENAME_EXCHANGE,
    );
    match exchanged {
        Ok(()) => remove_tree(staging)?,
        Err(Errno::ENOENT) => fs::rename(staging, published)?,
        Err(Errno::EINVAL) => {
            let aside = staging.with_extension("replaced");
            fs::rename(published, &aside)?;
            fs::rename(staging, published)?;
            remove_tree(&aside)?;
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(parent) = published.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Moves a failed attempt's folder to `.isobatch/failed/TASK/attempt-N`,
/// replacing the task's previously kept one.
fn keep_failed(cfg: &RunConfig, task: &str, attempt: u32, staging: &Path) -> io::Result<()> {
    let dir = layout::failed(&cfg.output, task);
    remove_tree(&dir)?;
    fs::create_dir_all(&dir)?;
    fs::rename(staging, dir.join(format!("attempt-{attempt}")))
}

fn remove_tree(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_replaces_whole_folders() {
        let dir = tempfile::tempdir().unwrap();
        let (staging, task) = (dir.path().join("s/attempt-1"), dir.path().join("T"));
        fs::create_dir_all(&staging).unwrap();
        fs::write(staging.join("a"), b"1").unwrap();
        publish(&staging, &task).unwrap();
        assert_eq!(fs::read(task.join("a")).unwrap(), b"1");
        fs::create_dir_all(&staging).unwrap();
        fs::write(staging.join("b"), b"2").unwrap();
        publish(&staging, &task).unwrap();
        assert!(!task.join("a").exists(), "no mix of two attempts");
        assert_eq!(fs::read(task.join("b")).unwrap(), b"2");
        assert!(!staging.exists());
    }
}
