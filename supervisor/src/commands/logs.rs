//! `isobatch logs OUTPUT TASK [--attempt N] [--follow]` and `isobatch logs
//! OUTPUT --failed`: a task's attempt log without knowing the
//! `.isobatch/logs/TASK/attempt-N.log` layout (pueue's `log`/`follow`).
//! Following is in [`super::logs_follow`].

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::cli::LogsArgs;
use crate::error::{EXIT_OK, Error};
use crate::layout;
use crate::report::problems::cause_line;
use crate::resume::{self, Earlier};

/// Bytes read from the end of a log for `--failed` (enough for the lines shown).
const TAIL_BYTES: u64 = 256 << 10;
/// Task ids listed when the asked task is not in the journal.
const SHOWN_TASKS: usize = 10;

/// Runs the command; returns the exit code.
pub fn run(args: LogsArgs) -> Result<i32, Error> {
    let out = &args.output_dir;
    let (records, _) = super::status::read_journal(out)?;
    let history = resume::history(&records);
    if args.failed {
        return failed(out, &history, args.lines);
    }
    let Some(task) = args.task.as_deref() else {
        return Err(Error::Usage(
            "give a TASK, or --failed for every failed task".into(),
        ));
    };
    let latest = history.get(task).map_or(0, |e| e.attempts);
    // A follow without --attempt may wait for a task of a running batch to start.
    if latest == 0 && !(args.follow && args.attempt.is_none()) {
        return Err(unknown_task(task, &history));
    }
    let attempt = match args.attempt {
        None => latest,
        Some(n) if n >= 1 && n <= latest => n,
        Some(n) => {
            return Err(Error::Usage(format!(
                "--attempt {n}: {task} has {latest} attempt(s) so far (1 to {latest})"
            )));
        }
    };
    if args.follow {
        return super::logs_follow::follow(out, task, (attempt > 0).then_some(attempt));
    }
    let log = layout::attempt_log(out, task, attempt);
    let mut file = File::open(&log).map_err(|e| Error::io(&log, e))?;
    let mut stdout = io::stdout().lock();
    match io::copy(&mut file, &mut stdout) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Error::io(&log, e)),
        _ => Ok(EXIT_OK),
    }
}

/// The error for a task without attempts, listing some that have them.
pub fn unknown_task(task: &str, history: &HashMap<String, Earlier>) -> Error {
    let mut ids: Vec<&str> = history.keys().map(String::as_str).collect();
    ids.sort_unstable();
    let more = ids.len().saturating_sub(SHOWN_TASKS);
    ids.truncate(SHOWN_TASKS);
    Error::Usage(format!(
        "no attempt of task {task:?} in this batch's journal (tasks with attempts: {}{})",
        if ids.is_empty() {
            "none".to_string()
        } else {
            ids.join(", ")
        },
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    ))
}

/// The last `lines` lines of every task whose last attempt failed, grouped by task.
fn failed(out: &Path, history: &HashMap<String, Earlier>, lines: usize) -> Result<i32, Error> {
    let mut failed: Vec<(&String, &Earlier)> = history
        .iter()
        .filter(|(_, e)| e.last.as_ref().is_some_and(|l| l.verdict.is_failure()))
        .collect();
    failed.sort_by(|a, b| a.0.cmp(b.0));
    let mut stdout = io::stdout().lock();
    let mut text = String::new();
    if failed.is_empty() {
        text.push_str("no task's last attempt failed\n");
    }
    for (i, (task, e)) in failed.iter().enumerate() {
        let Some(last) = &e.last else { continue };
        if i > 0 {
            text.push('\n');
        }
        let log = layout::attempt_log(out, task, e.last_ended);
        text += &format!(
            "== {task}: attempt {} [{}] ==\n",
            e.last_ended, last.verdict
        );
        let cause = cause_line(&last.message);
        if !cause.is_empty() {
            text += &format!("cause: {cause}\n");
        }
        match tail(&log, lines) {
            Ok(t) if t.is_empty() => text += &format!("(log {} is empty)\n", log.display()),
            Ok(t) => {
                text += &format!("-- last {lines} line(s) of {}\n", log.display());
                text += &t;
                if !t.ends_with('\n') {
                    text.push('\n');
                }
            }
            Err(err) => text += &format!("(no log: {}: {err})\n", log.display()),
        }
    }
    let _ = stdout.write_all(text.as_bytes());
    Ok(EXIT_OK)
}

/// The last `n` lines of `path`, reading at most [`TAIL_BYTES`] from its end.
pub fn tail(path: &Path, n: usize) -> io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(TAIL_BYTES).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let body = text.strip_suffix('\n').unwrap_or(&text);
    let keep: Vec<&str> = body.rsplit('\n').take(n).collect();
    let mut lines: Vec<&str> = keep.into_iter().rev().collect();
    if start > 0 && lines.len() == body.split('\n').count() {
        // The first line read may be cut in the middle: drop it.
        lines.remove(0);
    }
    let mut s = lines.join("\n");
    if !s.is_empty() {
        s.push('\n');
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        std::fs::write(&p, "1\n2\n3\n4\n").unwrap();
        assert_eq!(tail(&p, 2).unwrap(), "3\n4\n");
        assert_eq!(tail(&p, 10).unwrap(), "1\n2\n3\n4\n");
        std::fs::write(&p, "").unwrap();
        assert_eq!(tail(&p, 3).unwrap(), "");
        std::fs::write(&p, "no newline").unwrap();
        assert_eq!(tail(&p, 3).unwrap(), "no newline\n");
    }
}
