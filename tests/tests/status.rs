//! End-to-end tests of `isobatch status` in each state of a run — running
//! (its supervisor holds the lock), finished, interrupted (Ctrl-C: the tasks
//! never started are journaled cancelled and counted) and died (SIGKILL: no
//! `run_end`, no lock holder) — and of an ETA from the current run only.
mod common;
use common::*;

use std::fs;
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const LIMIT: Duration = Duration::from_secs(60);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn status(b: &Batch, json: bool) -> Output {
    let mut cmd = isobatch();
    cmd.arg("status").arg(b.out());
    if json {
        cmd.arg("--json");
    }
    run_within(cmd, LIMIT)
}

fn status_text(b: &Batch) -> String {
    text(&status(b, false).stdout)
}

fn status_json(b: &Batch) -> serde_json::Value {
    serde_json::from_slice(&status(b, true).stdout).expect("status --json")
}

/// Gated tasks `names`; the gate's path.
fn gated(b: &Batch, names: &[&str]) -> PathBuf {
    for t in names {
        b.task(t, "");
    }
    b.dir.path().join("gate")
}

/// A run of three gated tasks, one at a time, once its first task runs; and the gate.
fn first_task_running(b: &Batch) -> (Captured, PathBuf) {
    let gate = gated(b, &["t1", "t2", "t3"]);
    let run = Captured::spawn(gated_cmd(b, &gate, &["--workers", "1"]));
    wait_until(LIMIT, "the first task to start", || {
        journal_count(b, "attempt_start") == 1
    });
    (run, gate)
}

fn signal(pid: u32, sig: Signal) {
    kill(Pid::from_raw(pid as i32), sig).expect("signal the run");
}

#[test]
fn running_then_finished() {
    let b = Batch::new();
    let (run, gate) = first_task_running(&b);
    let s = status_text(&b);
    let first = s.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("{}: running (pid {})", b.out().display(), run.pid()),
        "{s}"
    );
    assert!(s.contains("running: t1 (attempt 1,"), "{s}");
    let v = status_json(&b);
    assert_eq!(v["state"], "running");
    assert_eq!(v["pid"], run.pid());
    // No task of this run has finished: no pace, so no ETA.
    assert!(v["eta_s"].is_null(), "{v}");
    assert!(!s.contains("eta:"), "{s}");
    fs::write(&gate, "").expect("gate");
    let out = run.finish(LIMIT);
    ok(&out);
    let s = status_text(&b);
    assert_eq!(
        s.lines().next(),
        Some(format!("{}: finished", b.out().display()).as_str()),
        "{s}"
    );
    assert_eq!(status_json(&b)["state"], "finished");
}

#[test]
fn interrupted_counts_stopped_and_never_started_tasks() {
    let b = Batch::new();
    let (run, _gate) = first_task_running(&b);
    signal(run.pid(), Signal::SIGINT);
    // The tasks never started are journaled cancelled at once.
    wait_until(LIMIT, "two cancelled records", || {
        journal_count(&b, "cancelled") == 2
    });
    let v = status_json(&b);
    assert_eq!(v["state"], "running", "still draining: {v}");
    signal(run.pid(), Signal::SIGINT);
    let out = run.finish(LIMIT);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    let s = status_text(&b);
    assert_eq!(
        s.lines().next().unwrap_or_default(),
        format!(
            "{}: interrupted — 1 task(s) stopped while running and 2 never started, all \
             journaled cancelled; run the same command again to do them",
            b.out().display()
        ),
        "{s}"
    );
    assert!(s.contains("tasks: 3 cancelled"), "{s}");
    let v = status_json(&b);
    assert_eq!(v["state"], "interrupted");
    assert_eq!(v["run"]["cancelled_running"], 1);
    assert_eq!(v["run"]["never_started"], 2);
}

#[test]
fn a_killed_supervisor_reads_as_died_not_running() {
    let b = Batch::new();
    let (mut run, gate) = first_task_running(&b);
    signal(run.pid(), Signal::SIGKILL);
    wait_exit(&mut run.child, LIMIT);
    let s = status_text(&b);
    assert_eq!(
        s.lines().next().unwrap_or_default(),
        format!(
            "{}: died — the run (pid {}) ended without a run_end record and holds no lock \
             (killed, or its machine went down); 1 task(s) were running, 2 never started; \
             run the same command again to do them",
            b.out().display(),
            run.pid()
        ),
        "{s}"
    );
    assert!(
        s.contains("was running when the run died: t1 (attempt 1)") && !s.contains("running: t1"),
        "{s}"
    );
    let v = status_json(&b);
    assert_eq!(v["state"], "died");
    assert!(v["running"].as_array().is_some_and(Vec::is_empty), "{v}");
    assert!(v["eta_s"].is_null(), "{v}");
    // Let anything the killed run left behind finish.
    fs::write(&gate, "").expect("gate");
}

#[test]
fn eta_counts_only_tasks_this_run_finished() {
    let b = Batch::new();
    let gate = gated(&b, &["a1", "a2"]);
    fs::write(&gate, "").expect("gate");
    ok(&run_within(gated_cmd(&b, &gate, &[]), LIMIT));
    // A second run with four new tasks: the two done before must not make its pace.
    fs::remove_file(&gate).expect("close the gate");
    for t in ["b1", "b2", "b3", "b4"] {
        b.task(t, "");
    }
    let run = Captured::spawn(gated_cmd(&b, &gate, &["--workers", "1"]));
    wait_until(LIMIT, "the second run's first task to start", || {
        journal_count(&b, "attempt_start") == 3
    });
    let v = status_json(&b);
    assert_eq!(v["state"], "running");
    assert_eq!(v["run"]["tasks"], 4, "{v}");
    assert!(
        v["eta_s"].is_null(),
        "no task of this run finished yet: {v}"
    );
    fs::write(&gate, "").expect("gate");
    ok(&run.finish(LIMIT));
}
