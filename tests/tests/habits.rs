//! The moves people bring from GNU parallel, pueue and nextest, end to end with
//! the real binaries: `--max-fail` stops a batch early and a rerun completes it,
//! `--only-failed` / `--skip-failed` pick exactly the right tasks, and
//! `isobatch logs` prints (and follows) an attempt's log.
mod common;
use common::*;

use std::process::Output;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Task ids that had an attempt started, in journal order.
fn started(b: &Batch) -> Vec<String> {
    b.journal()
        .iter()
        .filter(|r| r["event"] == "attempt_start")
        .map(|r| r["task"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn run(b: &Batch, extra: &[&str]) -> Output {
    run_within(b.run_cmd(extra), LIMIT)
}

#[test]
fn max_fail_stops_starting_tasks_and_a_rerun_completes_the_batch() {
    for (mode, limit) in [("subprocess", "3"), ("pool", "3"), ("serial", "30%")] {
        let b = Batch::new();
        for n in ["a1", "a2", "a3"] {
            b.task(n, "fail=wrong threshold\n");
        }
        for i in 1..=7 {
            b.task(&format!("b{i}"), "sleep=0\n");
        }
        let out = run(&b, &["--workers", "1", "--mode", mode, "--max-fail", limit]);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{mode}: {stdout}{}",
            text(&out.stderr)
        );
        assert!(stdout.contains("(stopped early)"), "{mode}: {stdout}");
        assert!(
            stdout.contains("Stopped early: 3 task(s) failed (--max-fail")
                && stdout.contains("7 task(s) not started are cancelled"),
            "{mode}: {stdout}"
        );
        assert!(
            stdout.contains("7 × cancelled \"not started: 3 task(s) failed (--max-fail"),
            "{mode}: {stdout}"
        );
        assert_eq!(started(&b), ["a1", "a2", "a3"], "{mode}");
        let cancelled: Vec<String> = b
            .journal()
            .iter()
            .filter(|r| r["event"] == "cancelled")
            .map(|r| r["task"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(cancelled.len(), 7, "{mode}: {cancelled:?}");
        assert!(cancelled.iter().all(|t| t.starts_with('b')));
        for i in 1..=7 {
            assert_eq!(b.verdict(&format!("b{i}")), "cancelled", "{mode}");
        }
        let results: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(b.out().join("results.json")).unwrap())
                .unwrap();
        assert_eq!(results["interrupted"], false);
        assert!(
            results["stopped_early"]
                .as_str()
                .unwrap()
                .contains("--max-fail")
        );

        // The lab fixes the parameter; the same command runs everything left.
        for n in ["a1", "a2", "a3"] {
            b.task(n, "sleep=0\n");
        }
        let again = run(&b, &["--workers", "1", "--mode", mode, "--max-fail", limit]);
        assert_eq!(
            again.status.code(),
            Some(0),
            "{mode}: {}",
            text(&again.stdout)
        );
        assert!(
            b.verdicts().iter().all(|(_, v)| v == "done"),
            "{:?}",
            b.verdicts()
        );
    }
}

#[test]
fn max_fail_counts_tasks_only_once_their_retries_are_used_up() {
    let b = Batch::new();
    b.task("a1", "fail=boom\n")
        .task("b1", "sleep=0\n")
        .task("b2", "sleep=0\n");
    let out = run(&b, &["--workers", "1", "--max-fail", "2", "--retries", "1"]);
    // One task failing twice is one failed task: --max-fail 2 is not reached.
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !text(&out.stdout).contains("Stopped early"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(b.verdict("b2"), "done");
}

#[test]
fn bad_max_fail_values_are_refused() {
    let b = Batch::new();
    b.task("a", "sleep=0\n");
    for bad in ["0", "0%", "150%", "many"] {
        let out = run(&b, &["--max-fail", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            text(&out.stderr).contains("--max-fail"),
            "{bad}: {}",
            text(&out.stderr)
        );
    }
}

/// ok1 and ok2 done, bad1 and bad2 failed; then every input is made to succeed.
fn mixed_batch() -> Batch {
    let b = Batch::new();
    b.task("ok1", "sleep=0\n").task("ok2", "sleep=0\n");
    b.task("bad1", "fail=no cells\n").task("bad2", "exit=3\n");
    assert_eq!(run(&b, &[]).status.code(), Some(1));
    b.task("bad1", "sleep=0\n").task("bad2", "sleep=0\n");
    b
}

fn started_this_run(b: &Batch, before: usize) -> Vec<String> {
    let mut s: Vec<String> = started(b).split_off(before);
    s.sort();
    s
}

#[test]
fn only_failed_runs_just_the_tasks_whose_last_attempt_failed() {
    let b = mixed_batch();
    b.task("new1", "sleep=0\n");
    let before = started(&b).len();
    let out = run(&b, &["--only-failed"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(started_this_run(&b, before), ["bad1", "bad2"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "--only-failed: 2 task(s) whose last attempt failed; 3 other task(s) left out"
        ),
        "{stdout}"
    );
    // Nothing failed any more: a second --only-failed has nothing to do.
    let out = run(&b, &["--only-failed"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("nothing to run"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn only_failed_composes_with_select_and_limit() {
    let b = mixed_batch();
    let before = started(&b).len();
    let out = run(&b, &["--only-failed", "--select", "*2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(started_this_run(&b, before), ["bad2"]);

    let b = mixed_batch();
    let before = started(&b).len();
    // --limit counts the failed tasks, not the first tasks found.
    let out = run(&b, &["--only-failed", "--limit", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(started_this_run(&b, before), ["bad1"]);
}

#[test]
fn skip_failed_runs_everything_not_done_except_the_failed_tasks() {
    let b = mixed_batch();
    b.task("new1", "sleep=0\n").task("new2", "sleep=0\n");
    let before = started(&b).len();
    let out = run(&b, &["--skip-failed"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(started_this_run(&b, before), ["new1", "new2"]);
    let v = b.verdicts();
    assert!(v.contains(&("ok1".into(), "skipped".into())), "{v:?}");
    assert!(!v.iter().any(|(t, _)| t.starts_with("bad")), "{v:?}");

    let b = mixed_batch();
    b.task("new1", "sleep=0\n").task("new2", "sleep=0\n");
    let before = started(&b).len();
    let out = run(&b, &["--skip-failed", "--select", "new2"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(started_this_run(&b, before), ["new2"]);
}

#[test]
fn only_failed_and_skip_failed_together_are_refused() {
    let b = Batch::new();
    b.task("a", "sleep=0\n");
    let out = run(&b, &["--only-failed", "--skip-failed"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("--only-failed") && err.contains("--skip-failed"),
        "{err}"
    );
    let cfg = b.dir.path().join("c.toml");
    std::fs::write(&cfg, "[run]\nonly-failed = true\nskip-failed = true\n").unwrap();
    let out = run(&b, &["--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("exclude each other"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn max_fail_comes_from_the_config_and_shows_in_the_plan() {
    let b = Batch::new();
    for n in ["a1", "a2", "b1", "b2"] {
        b.task(
            n,
            if n.starts_with('a') {
                "fail=x\n"
            } else {
                "sleep=0\n"
            },
        );
    }
    let cfg = b.dir.path().join("c.toml");
    std::fs::write(&cfg, "[run]\nmax-fail = 2\nworkers = \"1\"\n").unwrap();
    let out = run(&b, &["--config", cfg.to_str().unwrap(), "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("  max fail:  2: stop starting tasks after 2 failed task(s)"),
        "{}",
        text(&out.stdout)
    );
    let out = run(&b, &["--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(started(&b), ["a1", "a2"]);
    assert_eq!(b.verdict("b1"), "cancelled");
}
