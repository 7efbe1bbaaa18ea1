//! `isobatch logs` end to end: the right attempt's log, `--follow` that ends
//! with its attempt, and `--failed` grouping every failed task's log tail.
mod common;
use common::*;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

const SCRIPT: &str = "#!/bin/sh\n\
    echo \"attempt $ISOBATCH_ATTEMPT of $ISOBATCH_TASK\"\n\
    case \"$(cat \"$1\")\" in\n\
    fail) echo 'line two'; echo 'error: bad threshold' >&2; exit 1;;\n\
    wait) while [ ! -e \"$(dirname \"$0\")/release\" ]; do sleep 0.05; done; echo finished;;\n\
    esac\n";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A batch of exec tasks `raw/NAME.txt` whose content (`ok`, `fail`, `wait`) says what the script does.
fn batch(tasks: &[(&str, &str)]) -> (Batch, PathBuf) {
    let b = Batch::new();
    for (name, what) in tasks {
        b.task(name, what);
    }
    let script = b.dir.path().join("task.sh");
    fs::write(&script, SCRIPT).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    (b, script)
}

fn run_cmd(b: &Batch, script: &Path, extra: &[&str]) -> Command {
    let mut cmd = b.pipeline_cmd("exec", extra);
    cmd.args(["--pattern", "{name}.txt", "--exec"])
        .arg(format!("{} {{input}}", script.display()));
    cmd
}

fn logs(b: &Batch, args: &[&str]) -> Output {
    let mut cmd = isobatch();
    cmd.arg("logs").arg(b.out()).args(args);
    run_within(cmd, LIMIT)
}

#[test]
fn logs_prints_the_latest_attempt_or_the_one_asked_for() {
    let (b, script) = batch(&[("t1", "fail"), ("t2", "ok")]);
    let out = run_within(run_cmd(&b, &script, &["--retries", "1"]), LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

    let latest = logs(&b, &["t1"]);
    assert_eq!(latest.status.code(), Some(0), "{}", text(&latest.stderr));
    let s = text(&latest.stdout);
    assert!(
        s.contains("attempt 2 of t1") && s.contains("error: bad threshold"),
        "{s}"
    );
    assert!(!s.contains("attempt 1 of"), "{s}");

    let first = logs(&b, &["t1", "--attempt", "1"]);
    assert!(text(&first.stdout).contains("attempt 1 of t1"));

    let none = logs(&b, &["t1", "--attempt", "3"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        text(&none.stderr).contains("t1 has 2 attempt(s)"),
        "{}",
        text(&none.stderr)
    );

    let typo = logs(&b, &["t3"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(
        text(&typo.stderr).contains("tasks with attempts: t1, t2"),
        "{}",
        text(&typo.stderr)
    );

    // Following an attempt that already ended prints it and ends at once.
    let followed = logs(&b, &["t2", "--follow"]);
    assert_eq!(followed.status.code(), Some(0));
    assert!(text(&followed.stdout).contains("attempt 1 of t2"));
}

#[test]
fn follow_streams_a_running_attempt_and_ends_when_it_ends() {
    let (b, script) = batch(&[("slow", "wait")]);
    let run = Captured::spawn(run_cmd(&b, &script, &[]));
    let log = b.out().join(".isobatch/logs/slow/attempt-1.log");
    wait_until(LIMIT, "the task to print its first line", || {
        fs::read_to_string(&log).is_ok_and(|s| s.contains("attempt 1 of slow"))
    });

    let mut cmd = isobatch();
    cmd.arg("logs").arg(b.out()).args(["slow", "--follow"]);
    let mut follow = Captured::spawn(cmd);
    wait_until(LIMIT, "follow to print what is in the log", || {
        follow.stdout_text().contains("attempt 1 of slow")
    });
    // The attempt is still running (it waits for `release`), so the follow must be too.
    assert!(
        follow.child.try_wait().unwrap().is_none(),
        "follow ended early"
    );
    assert!(!follow.stdout_text().contains("finished"));

    fs::write(b.dir.path().join("release"), "").unwrap();
    let out = follow.finish(LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("finished"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("slow attempt 1 ended: done"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(run.finish(LIMIT).status.code(), Some(0));
}

#[test]
fn follow_waits_for_a_task_that_has_not_started() {
    let (b, script) = batch(&[("a_first", "wait"), ("b_second", "ok")]);
    let run = Captured::spawn(run_cmd(&b, &script, &["--workers", "1"]));
    wait_until(LIMIT, "the first task to start", || {
        b.journal().iter().any(|r| r["event"] == "attempt_start")
    });
    let mut cmd = isobatch();
    cmd.arg("logs").arg(b.out()).args(["b_second", "--follow"]);
    let follow = Captured::spawn(cmd);
    fs::write(b.dir.path().join("release"), "").unwrap();
    let out = follow.finish(LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("attempt 1 of b_second"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(run.finish(LIMIT).status.code(), Some(0));
}

#[test]
fn failed_shows_the_tail_of_every_failed_task_grouped() {
    let (b, script) = batch(&[("bad1", "fail"), ("good", "ok"), ("bad2", "fail")]);
    let out = run_within(run_cmd(&b, &script, &[]), LIMIT);
    assert_eq!(out.status.code(), Some(1));
    let out = logs(&b, &["--failed", "--lines", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    let one = s.find("== bad1: attempt 1 [failed:error] ==").expect(&s);
    let two = s.find("== bad2: attempt 1 [failed:error] ==").expect(&s);
    assert!(one < two, "{s}");
    assert!(!s.contains("good"), "{s}");
    // Each task's cause, then two lines of its log: the first line of the log is left out.
    assert!(!s.contains("attempt 1 of bad1"), "{s}");
    assert_eq!(
        s.matches("\ncause: error: bad threshold\n").count(),
        2,
        "{s}"
    );
    assert_eq!(
        s.matches("\nline two\nerror: bad threshold\n").count(),
        2,
        "{s}"
    );

    let usage = logs(&b, &["bad1", "--failed"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn follow_ends_when_the_run_that_owns_the_attempt_dies() {
    let (b, script) = batch(&[("slow", "wait")]);
    let mut run = Captured::spawn(run_cmd(&b, &script, &[]));
    wait_until(LIMIT, "the attempt to start", || {
        b.journal().iter().any(|r| r["event"] == "attempt_start")
    });
    let mut cmd = isobatch();
    cmd.arg("logs").arg(b.out()).args(["slow", "--follow"]);
    let mut follow = Captured::spawn(cmd);
    wait_until(LIMIT, "follow to print the log", || {
        follow.stdout_text().contains("attempt 1 of slow")
    });
    assert!(follow.child.try_wait().unwrap().is_none());
    run.child.kill().unwrap();
    run.child.wait().unwrap();
    let out = follow.finish(LIMIT);
    // Whatever the killed run left behind stops with it.
    fs::write(b.dir.path().join("release"), "").unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no run is going on"),
        "{}",
        text(&out.stderr)
    );
}
