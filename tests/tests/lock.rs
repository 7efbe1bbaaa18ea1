//! The run lock cannot be bypassed by deleting files (issue 17, deliverable 4):
//! with the first run alive, a second run on the same folder exits 3 naming
//! the holder after `.isobatch/lock` is deleted, and after all of `.isobatch/`
//! is; once the holder ends, the folder is free at once.
mod common;
use common::*;

use std::fs;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn deleting_the_lock_file_or_all_of_isobatch_does_not_let_a_second_run_in() {
    let b = Batch::new();
    b.task("t1", "").task("t2", "");
    let gate = b.dir.path().join("gate");
    let first = Captured::spawn(gated_cmd(&b, &gate, &["--progress", "none"]));
    wait_until(LIMIT, "the first run's tasks to start", || {
        journal_count(&b, "attempt_start") == 2
    });
    let holder = format!("pid={} ", first.pid());
    // The intruder's selftest tasks would be done at once: if it got in, it exits 0.
    let intrude = || {
        let out = run_within(b.run_cmd(&[]), LIMIT);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(
            stderr.contains(&holder),
            "the holder is not named:\n{stderr}"
        );
    };
    fs::remove_file(b.out().join(".isobatch/lock")).expect("delete the lock file");
    intrude();
    fs::remove_dir_all(b.out().join(".isobatch")).expect("delete .isobatch");
    intrude();

    fs::write(&gate, "").unwrap();
    let out = first.finish(LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The holder is gone: the next run gets in at once.
    let out = run_within(b.run_cmd(&[]), LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
