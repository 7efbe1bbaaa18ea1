//! A task stuck in uninterruptible sleep (D state) freezes nothing (issue 17,
//! deliverable 7): timeouts of other tasks and Ctrl-C keep working, the stuck
//! worker gets its verdict once SIGKILL has had its chance, and the batch ends
//! with the exit code the contract gives.
//!
//! The D state is real, not simulated: the task's input is a file on a FUSE
//! file system served by this test (`common/fuse.rs`), which never answers a
//! worker's read. A
//! read already handed to the server cannot be interrupted once a fatal signal
//! arrives: the worker then sits in D state, SIGKILL pending and unable to
//! act, exactly as on a hung NFS mount, until the test answers at the end.
//! What this proves: nothing on the dispatcher's path waits for such a
//! process (no blocking `waitpid`, no blocking `/proc` read). Needs root and
//! `/dev/fuse`; elsewhere the tests say so and pass.
mod common;
use common::*;

use std::time::Duration;

use common::fuse::{Fuse, parent_of};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const LIMIT: Duration = Duration::from_secs(60);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A batch whose task `stuck` reads the FUSE file, with `others` beside it.
fn batch_with_stuck_task(others: &[(&str, &str)]) -> Option<(Batch, Fuse)> {
    let b = Batch::new();
    let Some(fuse) = Fuse::mount(&b.dir.path().join("fuse")) else {
        eprintln!("skipped: cannot mount a FUSE file system (needs root and /dev/fuse)");
        return None;
    };
    for (name, body) in others {
        b.task(name, body);
    }
    std::os::unix::fs::symlink(fuse.file(), b.raw().join("stuck.txt")).unwrap();
    Some((b, fuse))
}

fn tag(name: &str) -> (String, String) {
    (
        "ISOBATCH_TEST_TAG".into(),
        format!("dstate-{name}-{}", std::process::id()),
    )
}

fn attempt_end(b: &Batch, task: &str) -> Option<serde_json::Value> {
    b.journal()
        .into_iter()
        .find(|e| e["event"] == "attempt_end" && e["task"] == task)
}

/// The worker running `task`'s first attempt.
fn worker_of(b: &Batch, task: &str) -> u32 {
    let mut pid = None;
    wait_until(LIMIT, "the task's attempt_start", || {
        pid = b
            .journal()
            .iter()
            .find(|e| e["event"] == "attempt_start" && e["task"] == task)
            .and_then(|e| e["worker_pid"].as_u64());
        pid.is_some()
    });
    pid.unwrap() as u32
}

/// Starts the selftest batch, tagged `name`, and waits until the worker running
/// `stuck` has its read held; returns the run, its tag and that worker.
fn start_stuck(
    b: &Batch,
    fuse: &Fuse,
    name: &str,
    args: &[&str],
) -> (Captured, (String, String), u32) {
    let tag = tag(name);
    let mut cmd = b.run_cmd(args);
    cmd.env(&tag.0, &tag.1);
    let run = Captured::spawn(cmd);
    let stuck = worker_of(b, "stuck");
    wait_until(LIMIT, "the worker's read to be held", || {
        fuse.hung() == [stuck]
    });
    (run, tag, stuck)
}

/// Waits for the run to end with `code` while `stuck` is still in D state
/// (else nothing was proven); returns its stdout.
fn finish_stuck(run: Captured, stuck: u32, code: i32) -> String {
    let out = run.finish(LIMIT);
    assert_eq!(out.status.code(), Some(code), "{}", text(&out.stderr));
    let state = proc_state(stuck);
    assert_eq!(
        state,
        Some('D'),
        "the worker is no longer stuck: nothing was proven"
    );
    text(&out.stdout)
}

/// After the test answered the held reads: nothing of the batch is left.
fn assert_nothing_left(tag: &(String, String)) {
    let needle = format!("{}={}", tag.0, tag.1);
    wait_until(
        LIMIT,
        "the stuck worker to die once its read is answered",
        || processes_with_env(&needle).is_empty(),
    );
}

#[test]
fn timeouts_keep_working_while_a_worker_is_stuck_in_d_state() {
    let Some((b, fuse)) = batch_with_stuck_task(&[("slow", "sleep=30\n"), ("quick", "sleep=0\n")])
    else {
        return;
    };
    let (run, tag, stuck) = start_stuck(
        &b,
        &fuse,
        "timeout",
        &["--workers", "3", "--timeout", "3", "--kill-grace", "1"],
    );
    // The timeout's SIGTERM puts it in uninterruptible sleep: from now on it cannot die.
    wait_until(LIMIT, "the stuck worker to enter D state", || {
        proc_state(stuck) == Some('D')
    });
    wait_until(LIMIT, "slow's timeout", || {
        attempt_end(&b, "slow").is_some()
    });
    assert_eq!(
        proc_state(stuck),
        Some('D'),
        "the stand-in is not stuck any more"
    );
    let stdout = finish_stuck(run, stuck, 1);
    assert_eq!(b.verdict("slow"), "failed:timeout");
    assert_eq!(b.verdict("quick"), "done");
    assert_eq!(b.verdict("stuck"), "failed:timeout");
    assert!(
        stdout.contains(&format!(
            "worker {stuck} (task stuck) did not exit after SIGKILL"
        )) && stdout.contains("uninterruptible sleep"),
        "{stdout}"
    );
    fuse.release();
    assert_nothing_left(&tag);
}

#[test]
fn ctrl_c_keeps_working_while_a_worker_is_stuck_in_d_state() {
    let Some((b, fuse)) = batch_with_stuck_task(&[("long", "sleep=60\n")]) else {
        return;
    };
    let (run, tag, stuck) =
        start_stuck(&b, &fuse, "ctrlc", &["--workers", "2", "--kill-grace", "1"]);
    worker_of(&b, "long");
    let sigint = || kill(Pid::from_raw(run.pid() as i32), Signal::SIGINT).unwrap();
    sigint();
    wait_until(LIMIT, "the first Ctrl-C to be acknowledged", || {
        run.stderr_text().contains("interrupted (SIGINT)")
    });
    sigint();
    wait_until(LIMIT, "the stuck worker to enter D state", || {
        proc_state(stuck) == Some('D')
    });
    finish_stuck(run, stuck, 130);
    assert_eq!(b.verdict("long"), "cancelled");
    assert_eq!(b.verdict("stuck"), "cancelled");
    fuse.release();
    assert_nothing_left(&tag);
}

#[test]
fn an_orphan_stuck_in_d_state_does_not_freeze_the_dispatcher() {
    let Some((b, fuse)) = batch_with_stuck_task(&[("z_slow", "")]) else {
        return;
    };
    let tag = tag("orphan");
    // One worker: z_slow starts only after stuck's attempt ended and its
    // process (`cat`, stuck reading) was left behind, re-parented to the supervisor.
    let mut cmd = isobatch();
    cmd.env(&tag.0, &tag.1)
        .args(["run", "--pipeline", "exec", "--progress", "none", "--input"])
        .arg(b.raw())
        .arg("--output")
        .arg(b.out())
        .args([
            "--pattern",
            "{name}.txt",
            "--exec",
            "sh -c 'cat \"$0\"; sleep 60' {input}",
        ])
        .args(["--workers", "1", "--timeout", "3", "--kill-grace", "1"]);
    let run = Captured::spawn(cmd);
    let mut cat = Vec::new();
    wait_until(LIMIT, "cat's read to be held", || {
        cat = fuse.hung();
        !cat.is_empty()
    });
    let cat = cat[0];
    wait_until(LIMIT, "stuck's timeout", || {
        attempt_end(&b, "stuck").is_some()
    });
    wait_until(
        LIMIT,
        "cat to be left to the supervisor, in D state",
        || proc_state(cat) == Some('D') && parent_of(cat) == Some(run.pid()),
    );
    // The dispatcher still starts z_slow and enforces its timeout.
    wait_until(LIMIT, "z_slow's timeout", || {
        attempt_end(&b, "z_slow").is_some()
    });
    let out = run.finish(LIMIT);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(b.verdict("stuck"), "failed:timeout");
    assert_eq!(b.verdict("z_slow"), "failed:timeout");
    assert!(
        stdout.contains("could not be killed") && stdout.contains(&format!("{cat} (state D")),
        "{stdout}"
    );
    fuse.release();
    assert_nothing_left(&tag);
}
