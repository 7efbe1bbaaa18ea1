//! Hints where a message alone leaves a person stuck, pinned by insta snapshots
//! (`snapshots/hints__*.snap`: they are text people read): input files of another kind, a Windows path,
//! `--pipeline exec` without `--exec` and the reverse, and `--progress bar`
//! on a stderr that is not a terminal.
mod common;
use common::*;

use std::fs;
use std::process::Output;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(b: &Batch, args: &[&str]) -> Output {
    let mut cmd = isobatch();
    cmd.current_dir(b.dir.path()).arg("run").args(args);
    run_within(cmd, LIMIT)
}

#[test]
fn files_of_another_kind_name_the_patterns_and_what_to_do() {
    let b = Batch::new();
    fs::create_dir_all(b.raw()).unwrap();
    // .czi is not read yet and .lif never was: neither is in the fov patterns.
    for f in ["pos1.czi", "pos2.lif"] {
        fs::write(b.raw().join(f), "x").unwrap();
    }
    let out = run(&b, &["--input", "raw", "--output", "out"]);
    assert_eq!(out.status.code(), Some(2));
    let raw = b.raw().canonicalize().unwrap();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(&raw.display().to_string()), "[RAW]");
    settings.bind(|| insta::assert_snapshot!("input_kinds", text(&out.stderr)));

    // Files of the right kind under other names: no hint about kinds.
    fs::write(b.raw().join("pos3.tif.bak"), "x").unwrap();
    fs::write(b.raw().join("sub.tif"), "x").unwrap();
    let out = run(
        &b,
        &[
            "--input",
            "raw",
            "--output",
            "out",
            "--pattern",
            "{fov}_x.tif",
        ],
    );
    assert!(
        !text(&out.stderr).contains("The files found end in"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_windows_path_is_named_and_the_wsl_form_suggested() {
    let b = Batch::new();
    let out = run(&b, &["--input", r"C:\Users\ana\raw", "--output", "out"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("windows_path", text(&out.stderr));
    let out = run(&b, &["--input", "raw", "--output", "D:/results"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).ends_with("Under WSL the same place is --output /mnt/d/results\n"),
        "{}",
        text(&out.stderr)
    );
    assert!(!b.dir.path().join("D:").exists());
}

#[test]
fn exec_pipeline_and_exec_flag_name_the_missing_or_extra_flag() {
    let b = Batch::new();
    let out = run(
        &b,
        &["--pipeline", "exec", "--input", "raw", "--output", "out"],
    );
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("exec_missing", text(&out.stderr));
    let out = run(
        &b,
        &["--exec", "cat {input}", "--input", "raw", "--output", "out"],
    );
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("exec_extra", text(&out.stderr));
}

#[test]
fn progress_bar_on_a_non_terminal_falls_back_to_plain_lines_with_a_note() {
    let b = Batch::new();
    b.task("t1", "fail=boom\n");
    let out = run(
        &b,
        &[
            "--pipeline",
            "selftest",
            "--input",
            "raw",
            "--output",
            "out",
            "--progress",
            "bar",
            "--retries",
            "1",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(
            "isobatch: --progress bar: stderr is not a terminal, so progress is shown as plain lines\n"
        ),
        "{err}"
    );
    // The notes and per-task lines a bar would have hidden are there, a task counted once.
    assert!(err.contains("isobatch: t1: retrying in"), "{err}");
    assert!(
        err.contains("[1/1 done 0 · failed 1 · running 0 · left 0] t1: failed:error (2 attempts, "),
        "{err}"
    );
}
