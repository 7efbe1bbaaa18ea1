//! End-to-end tests of live progress: tasks are counted by final verdict, never
//! by attempt, and a failure is on stderr (with its cause) the moment its task
//! fails for good, not at the end of the night.
mod common;
use common::*;

use std::fs;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_task_retried_twice_counts_once() {
    let b = Batch::new();
    b.task("t1", "fail=boom\n");
    let cmd = b.progress_cmd("selftest", "plain", &["--retries", "2"]);
    let out = run_within(cmd, LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with('[')).collect();
    let head = "[1/1 done 0 · failed 1 · running 0 · left 0] t1: failed:error (3 attempts, ";
    assert!(
        lines.len() == 1 && lines[0].starts_with(head) && lines[0].ends_with(" — boom"),
        "one line for the one task, after its three attempts:\n{err}"
    );
    assert!(!err.contains("[2/") && !err.contains("[3/"), "{err}");
    // The run log keeps every attempt.
    let log = run_log(&b);
    assert_eq!(log.matches("t1 attempt ").count(), 3, "{log}");
}

#[test]
fn a_failure_is_shown_while_the_batch_still_runs() {
    let b = Batch::new();
    fs::create_dir_all(b.raw()).expect("mkdir raw");
    for t in ["a", "b"] {
        fs::write(b.raw().join(format!("{t}.txt")), "x").expect("input");
    }
    let gate = b.dir.path().join("gate");
    let script = b.dir.path().join("task.sh");
    fs::write(
        &script,
        format!(
            "if [ \"$ISOBATCH_TASK\" = a ]; then echo 'RuntimeError: a is broken' >&2; exit 2; fi\n\
             while [ ! -e '{}' ]; do sleep 0.01; done\n",
            gate.display()
        ),
    )
    .expect("script");
    let mut cmd = b.progress_cmd(
        "exec",
        "plain",
        &["--workers", "2", "--pattern", "{name}.txt", "--exec"],
    );
    cmd.arg(format!("sh '{}'", script.display()));
    let mut run = Captured::spawn(cmd);
    wait_until(LIMIT, "a's failure on stderr", || {
        run.stderr_text().lines().any(|l| {
            l.contains("] a: failed:error (") && l.ends_with(" — RuntimeError: a is broken")
        })
    });
    // b waits for the gate, so the batch cannot have ended.
    assert!(
        matches!(run.child.try_wait(), Ok(None)),
        "the run ended early"
    );
    let head = run
        .stderr_text()
        .lines()
        .find(|l| l.contains("] a: failed:error"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        head.starts_with("[1/2 done 0 · failed 1 · running 1 · left 0"),
        "{head}"
    );
    fs::write(&gate, "").expect("gate");
    let out = run.finish(LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.lines().any(
            |l| l.starts_with("[2/2 done 1 · failed 1 · running 0 · left 0")
                && l.contains("] b: done (")
        ),
        "{err}"
    );
}
