//! Which program the supervisor starts as a worker: the sibling `isobatch-worker` only when its
//! build id matches, otherwise the supervisor binary itself.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{Batch, supervisor_alone};

/// A sibling `isobatch-worker` script: prints `id` for `--build-id`; run as a worker it notes
/// that in `marker` and becomes the supervisor binary's own worker.
fn sibling_script(exe: &Path, id: &str, marker: &Path) {
    let path = exe.with_file_name("isobatch-worker");
    let body = format!(
        "#!/bin/sh\nif [ \"$1\" = --build-id ]; then echo {id}; exit 0; fi\n\
         echo worker >> '{}'\nexec '{}' __worker \"$@\"\n",
        marker.display(),
        exe.display()
    );
    fs::write(&path, body).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs two no-op tasks with `exe` in subprocess mode; returns the run log.
fn run_with(exe: &Path, b: &Batch) -> String {
    b.task("a", "# no-op").task("b", "# no-op");
    let out = Command::new(exe)
        .env_remove("ISOBATCH_WORKER")
        .args(["run", "--pipeline", "selftest", "--progress", "none"])
        .args(["--mode", "subprocess", "--workers", "2", "--input"])
        .arg(b.raw())
        .arg("--output")
        .arg(b.out())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        b.verdicts(),
        [("a".into(), "done".into()), ("b".into(), "done".into())]
    );
    fs::read_to_string(b.out().join(".isobatch/run.log")).unwrap()
}

#[test]
fn a_sibling_with_this_build_id_is_the_worker() {
    let b = Batch::new();
    let exe = supervisor_alone(b.dir.path());
    let marker = b.dir.path().join("marker");
    sibling_script(&exe, isobatch_worker::BUILD_ID, &marker);
    let log = run_with(&exe, &b);
    assert!(log.contains("isobatch-worker (the same build"), "{log}");
    // One fresh worker per task (a third may start when a slot frees up first and then find no work).
    let starts = fs::read_to_string(&marker).unwrap().lines().count();
    assert!(starts >= 2, "{starts} worker starts through the sibling");
}

#[test]
fn a_stale_sibling_is_passed_over() {
    let b = Batch::new();
    let exe = supervisor_alone(b.dir.path());
    let marker = b.dir.path().join("marker");
    sibling_script(&exe, "0000000000000000", &marker);
    let log = run_with(&exe, &b);
    assert!(log.contains("built from other sources"), "{log}");
    assert!(!marker.exists(), "the stale sibling ran a task");
}

#[test]
fn without_a_sibling_the_supervisor_binary_is_the_worker() {
    let b = Batch::new();
    let exe = supervisor_alone(b.dir.path());
    let log = run_with(&exe, &b);
    assert!(log.contains("isobatch-worker not used: not found"), "{log}");
}
