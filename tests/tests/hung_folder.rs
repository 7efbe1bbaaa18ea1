//! A file system that hangs under the output folder freezes nothing (issue 17,
//! deliverable 7): the supervisor's own file operations (clearing an attempt's
//! folder, reading an attempt log for a failure message, publishing a result)
//! run off the dispatcher's thread, so timeouts and Ctrl-C of the other tasks
//! keep working, their ends are journaled and shown, and the batch ends
//! cleanly once the file system answers again.
//!
//! The hang is real: a FUSE file system served by this test (`common/fuse.rs`,
//! [`Hold::Supervisor`]) leaves every request of the supervisor's threads
//! unanswered until the test releases it, as a hung NFS mount does. The
//! journal stays on a working disk, so what the tests wait for while the
//! mount hangs can only come from a dispatcher that is not waiting on it.
//!
//! The journal itself may hang too ([`Hold::SupervisorWrites`]): its writer
//! thread waits, the dispatcher does not, and no attempt is shown as ended
//! before its journal line is on disk.
//! Needs root and `/dev/fuse`; elsewhere the tests say so and pass.
mod common;
use common::*;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::fuse::{Fuse, Hold, ReleaseOnDrop};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const LIMIT: Duration = Duration::from_secs(60);

/// A FUSE mount at `dir` that holds every request of the supervisor.
fn hanging_mount(dir: &Path) -> Option<Fuse> {
    mount_holding(dir, Hold::Supervisor)
}

fn mount_holding(dir: &Path, hold: Hold) -> Option<Fuse> {
    let fuse = Fuse::mount_holding(dir, hold);
    if fuse.is_none() {
        eprintln!("skipped: cannot mount a FUSE file system (needs root and /dev/fuse)");
    }
    fuse
}

/// Makes `path` a symbolic link to the mount's file, so that the file lives there.
fn on_mount(fuse: &Fuse, path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(fuse.file(), path).unwrap();
}

/// The environment variable marking every process of this test's run.
fn tag(name: &str) -> (String, String) {
    (
        "ISOBATCH_TEST_TAG".into(),
        format!("hung-{name}-{}", std::process::id()),
    )
}

/// A selftest run over `b` with plain progress lines on stderr, tagged.
fn run_cmd(b: &Batch, tag: &(String, String), extra: &[&str]) -> Command {
    let mut cmd = isobatch();
    cmd.env(&tag.0, &tag.1)
        .args(["run", "--pipeline", "selftest", "--progress", "plain"])
        .arg("--input")
        .arg(b.raw())
        .arg("--output")
        .arg(b.out())
        .args(["--workers", "2", "--kill-grace", "1", "--retries", "0"])
        .args(extra);
    cmd
}

fn events(b: &Batch, event: &str, task: &str) -> Vec<serde_json::Value> {
    b.journal()
        .into_iter()
        .filter(|e| e["event"] == event && e["task"] == task)
        .collect()
}

fn ended(b: &Batch, task: &str) -> Option<String> {
    events(b, "attempt_end", task)
        .first()
        .map(|e| e["verdict"].as_str().unwrap_or("").to_string())
}

/// Once the mount answered again: the run ends with `code`, every task has
/// exactly one attempt end, the run's end is journaled, nothing is left running.
fn finish_after_release(
    b: &Batch,
    fuse: &Fuse,
    run: Captured,
    tag: &(String, String),
    code: i32,
) -> String {
    fuse.release();
    let out = run.finish(LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    for task in ["a", "b"] {
        assert_eq!(events(b, "attempt_end", task).len(), 1, "{task}: {stderr}");
    }
    assert_eq!(journal_count(b, "run_end"), 1);
    let needle = format!("{}={}", tag.0, tag.1);
    wait_until(LIMIT, "every process of the batch to end", || {
        processes_with_env(&needle).is_empty()
    });
    stderr
}

#[test]
fn timeouts_keep_working_while_an_attempt_folder_hangs() {
    let b = Batch::new();
    b.task("a", "sleep=0\n").task("b", "sleep=60\n");
    // With --reuse-task-dir, `out/a` is task a's attempt folder: clearing it
    // before a starts is the supervisor's first request there, and it hangs.
    let Some(fuse) = hanging_mount(&b.out().join("a")) else {
        return;
    };
    let tag = tag("prepare");
    let run = Captured::spawn(run_cmd(&b, &tag, &["--reuse-task-dir", "--timeout", "4"]));
    let _release = ReleaseOnDrop(&fuse);
    wait_until(LIMIT, "the supervisor's request in a's folder", || {
        !fuse.hung().is_empty()
    });
    wait_until(LIMIT, "b's timeout in the journal", || {
        ended(&b, "b").is_some()
    });
    wait_until(LIMIT, "b's end on the terminal", || {
        run.stderr_text().contains("] b: failed:timeout")
    });
    // a's attempt could not start within its timeout either: it was never
    // handed to its worker (no attempt_start), since its folder never got ready.
    wait_until(LIMIT, "a's timeout in the journal", || {
        ended(&b, "a").is_some()
    });
    wait_until(LIMIT, "the run's end in the journal", || {
        journal_count(&b, "run_end") == 1
    });
    assert!(
        !fuse.hung().is_empty(),
        "the mount was answered: nothing was proven"
    );
    assert_eq!(ended(&b, "b").as_deref(), Some("failed:timeout"));
    assert_eq!(ended(&b, "a").as_deref(), Some("failed:timeout"));
    assert!(events(&b, "attempt_start", "a").is_empty());
    assert_eq!(events(&b, "attempt_start", "b").len(), 1);
    finish_after_release(&b, &fuse, run, &tag, 1);
    assert_eq!(b.verdict("a"), "failed:timeout");
    assert_eq!(b.verdict("b"), "failed:timeout");
}

#[test]
fn ctrl_c_keeps_working_while_an_attempt_log_hangs() {
    let b = Batch::new();
    b.task("a", "exit=3\n").task("b", "sleep=60\n");
    let Some(fuse) = hanging_mount(&b.dir.path().join("fuse")) else {
        return;
    };
    // a's attempt log lives on the mount: its worker writes to it (answered),
    // and the supervisor reads its end for a's failure message (held).
    on_mount(&fuse, &b.out().join(".isobatch/logs/a/attempt-1.log"));
    let tag = tag("ctrlc");
    let run = Captured::spawn(run_cmd(&b, &tag, &[]));
    let _release = ReleaseOnDrop(&fuse);
    wait_until(LIMIT, "b to start", || {
        !events(&b, "attempt_start", "b").is_empty()
    });
    wait_until(LIMIT, "the supervisor's read of a's log", || {
        !fuse.hung().is_empty()
    });
    let sigint = || kill(Pid::from_raw(run.pid() as i32), Signal::SIGINT).unwrap();
    sigint();
    wait_until(LIMIT, "the first Ctrl-C to be acknowledged", || {
        run.stderr_text().contains("interrupted (SIGINT)")
    });
    sigint();
    wait_until(LIMIT, "b's cancellation in the journal", || {
        ended(&b, "b").is_some()
    });
    wait_until(LIMIT, "b's end on the terminal", || {
        run.stderr_text().contains("] b: cancelled")
    });
    assert!(
        !fuse.hung().is_empty(),
        "the mount was answered: nothing was proven"
    );
    assert_eq!(ended(&b, "b").as_deref(), Some("cancelled"));
    // a ended before the Ctrl-C, but is journaled only once its message is complete.
    assert_eq!(ended(&b, "a"), None);
    let stderr = finish_after_release(&b, &fuse, run, &tag, 130);
    assert_eq!(b.verdict("a"), "failed:crashed", "{stderr}");
    assert_eq!(b.verdict("b"), "cancelled");
    let a = &events(&b, "attempt_end", "a")[0];
    assert!(
        a["message"]
            .as_str()
            .is_some_and(|m| m.contains("exited with status 3")),
        "{a}"
    );
}

#[test]
fn ctrl_c_keeps_working_while_the_journal_hangs_and_nothing_is_shown_ended_before_it_is_written() {
    let b = Batch::new();
    b.task("a", "sleep=60\n").task("b", "sleep=60\n");
    let Some(fuse) = mount_holding(&b.dir.path().join("fuse"), Hold::SupervisorWrites) else {
        return;
    };
    // The journal lives on the mount: it opens and reads, but takes no write
    // of the supervisor's until the test thaws it.
    on_mount(&fuse, &b.out().join(".isobatch/journal.jsonl"));
    let tag = tag("journal");
    let run = Captured::spawn(run_cmd(&b, &tag, &[]));
    let _release = ReleaseOnDrop(&fuse);
    wait_until(LIMIT, "the journal's first write to be held", || {
        !fuse.hung().is_empty()
    });
    for task in ["a", "b"] {
        let log = b.out().join(format!(".isobatch/logs/{task}/attempt-1.log"));
        wait_until(LIMIT, "both tasks to run", || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("sleeping"))
        });
    }
    let sigint = || kill(Pid::from_raw(run.pid() as i32), Signal::SIGINT).unwrap();
    sigint();
    wait_until(LIMIT, "the first Ctrl-C to be acknowledged", || {
        run.stderr_text().contains("interrupted (SIGINT)")
    });
    sigint();
    let needle = format!("{}={}", tag.0, tag.1);
    wait_until(LIMIT, "both tasks to be stopped", || {
        processes_with_env(&needle) == [run.pid()]
    });
    assert!(
        !fuse.hung().is_empty(),
        "the journal was written: nothing was proven"
    );
    assert!(
        b.journal().is_empty(),
        "the journal took a write while held"
    );
    wait_until(LIMIT, "the second Ctrl-C to be acknowledged", || {
        run.stderr_text()
            .contains("SIGINT again: stopping running tasks")
    });
    let shown = run.stderr_text();
    assert!(
        ![" a: ", " b: "].iter().any(|t| shown.contains(t)),
        "an attempt was shown ended before its journal line was written:\n{shown}"
    );
    fuse.thaw();
    let out = run.finish(LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    for task in ["a", "b"] {
        assert_eq!(ended(&b, task).as_deref(), Some("cancelled"), "{stderr}");
        assert!(stderr.contains(&format!("] {task}: cancelled")), "{stderr}");
        assert_eq!(b.verdict(task), "cancelled");
    }
    assert_eq!(journal_count(&b, "run_start"), 1);
    assert_eq!(journal_count(&b, "run_end"), 1);
}
