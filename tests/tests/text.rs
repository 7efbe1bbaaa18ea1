//! The text people read — `--help` of every command, the end-of-run summary and `status` —
//! pinned by insta snapshots (`tests/tests/snapshots/`), so a change to it is a reviewed
//! change: run with `INSTA_UPDATE=always` (or `cargo insta review`) and read the diff.
//!
//! Run-dependent values (durations, sizes, RSS, temp paths, free memory) are filtered out.
mod common;
use common::*;

/// `isobatch ARGS` run with a fixed terminal width; stdout and stderr together.
fn help(args: &[&str]) -> String {
    let out = isobatch()
        .args(args)
        .env("COLUMNS", "100")
        .output()
        .expect("run isobatch");
    assert!(out.status.success(), "{args:?}: {}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn help_texts() {
    for (name, args) in [
        ("help", &["--help"][..]),
        ("run_help", &["run", "--help"]),
        ("status_help", &["status", "--help"]),
        ("logs_help", &["logs", "--help"]),
        ("demo_help", &["demo", "--help"]),
        ("report_help", &["report", "--help"]),
    ] {
        insta::assert_snapshot!(name, help(args));
    }
}

/// Replaces what changes from run to run with placeholders.
fn settings(b: &Batch) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(&regex_escape(&b.dir.path().display().to_string()), "[TMP]");
    s.add_filter(r"\d+(\.\d+)?(ns|µs|ms|s)\b", "[DUR]");
    s.add_filter(r"\d+(\.\d+)? (B|KiB|MiB|GiB|TiB)\b", "[SIZE]");
    s.add_filter(r"pid \d+", "pid [PID]");
    // Column padding follows the width of the value a placeholder replaced.
    s.add_filter(r" +\[(DUR|SIZE)\]", " [$1]");
    s
}

#[test]
fn summary_and_status_of_a_mixed_batch() {
    let b = Batch::new();
    b.task("a", "sleep=0.1\n")
        .task("b", "fail=boom\n")
        .task("c", "exit=3\n");
    let out = b.run(&["--workers", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = isobatch()
        .arg("status")
        .arg(b.out())
        .output()
        .expect("run isobatch status");
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    settings(&b).bind(|| {
        insta::assert_snapshot!("summary_mixed", summary);
        insta::assert_snapshot!("status_mixed", status);
    });
}

/// `isobatch status` of `b`'s output folder, stdout.
fn status_of(b: &Batch) -> String {
    let out = isobatch()
        .arg("status")
        .arg(b.out())
        .output()
        .expect("run isobatch status");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn status_of_an_interrupted_and_a_killed_run() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let limit = std::time::Duration::from_secs(60);
    let signal = |pid: u32, sig| kill(Pid::from_raw(pid as i32), sig).expect("signal");
    for (name, signals) in [
        ("status_interrupted", &[Signal::SIGINT, Signal::SIGINT][..]),
        ("status_died", &[Signal::SIGKILL]),
    ] {
        let b = Batch::new();
        b.task("t1", "").task("t2", "").task("t3", "");
        let gate = b.dir.path().join("gate");
        let mut run = Captured::spawn(gated_cmd(&b, &gate, &["--workers", "1"]));
        wait_until(limit, "the first task to start", || {
            journal_count(&b, "attempt_start") == 1
        });
        signal(run.pid(), signals[0]);
        if let Some(&again) = signals.get(1) {
            wait_until(limit, "the unstarted tasks to be cancelled", || {
                journal_count(&b, "cancelled") == 2
            });
            signal(run.pid(), again);
        }
        wait_exit(&mut run.child, limit);
        let status = status_of(&b);
        std::fs::write(&gate, "").expect("gate");
        settings(&b).bind(|| insta::assert_snapshot!(name, status));
    }
}
