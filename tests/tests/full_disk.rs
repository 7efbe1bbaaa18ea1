//! A full disk, for real: the output folder is a 4 MiB tmpfs and one fov task needs ~12 MB of
//! checkpoints. Pre-flight refuses the batch; with `--force-run` the task fails with a message
//! that names the file and the cause, and leaves no temp file or stage record behind.
//! Needs root (to mount); elsewhere the test says so and passes.

mod common;

use std::fs;
use std::path::Path;

use common::*;

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_full_output_disk_is_refused_up_front_and_fails_the_task_cleanly_when_forced() {
    let b = Batch::new();
    let demo = isobatch()
        .arg("demo")
        .arg(b.dir.path())
        .args(["--fovs", "1", "--frames", "20", "--size", "256"])
        .output()
        .expect("demo");
    assert!(demo.status.success());
    let Some(_disk) = Tmpfs::mount(&b.out(), "4m") else {
        eprintln!("skipped: cannot mount a tmpfs (needs root)");
        return;
    };

    let refused = b.pipeline_cmd("fov", &[]).output().expect("run");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("free"), "{stderr}");

    let forced = b
        .pipeline_cmd("fov", &["--force-run"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&forced.stderr);
    assert_eq!(forced.status.code(), Some(1), "{stderr}");
    assert_eq!(b.verdict("fov01"), "failed:error");
    let message = &b.row("fov01")["message"];
    assert!(
        message.contains("No space left") && message.contains("copy_c"),
        "{message}"
    );
    // The copy stage died part-way: nothing is published; the attempt's folder, kept for
    // inspection, has none of its temp files and no stage record; no traces.
    assert!(!b.out().join("fov01").exists());
    let left = files(&b.out().join(".isobatch/failed/fov01/attempt-1"));
    assert!(
        left.is_empty(),
        "left in the failed attempt's folder: {left:?}"
    );
    assert!(!b.out().join("traces.csv").exists());
}
