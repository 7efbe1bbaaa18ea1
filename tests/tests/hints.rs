//! Hints where a message alone leaves a person stuck, pinned word for word
//! (they are text people read): input files of another kind, a Windows path,
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
    let want = format!(
        "isobatch: no file in the input folder {raw} matches `{{fov}}.ome.tif` or \
         `{{fov}}.ome.tiff` or `{{fov}}.tif` or `{{fov}}.tiff` or `{{fov}}.nd2`. Expected layout:\n  \
         {raw}/\n    <fov>.ome.tif\n    <fov>.ome.tiff\n    <fov>.tif\n    <fov>.tiff\n    \
         <fov>.nd2\nFiles found there, for example:\n  pos1.czi\n  pos2.lif\n\
         The files found end in .czi, .lif, but the pattern(s) in effect only take .ome.tif, \
         .ome.tiff, .tif, .tiff, .nd2: convert the files to one of those (e.g. Fiji's Bio-Formats \
         export, or bfconvert), or run your own program on them with --pipeline exec --pattern \
         '{{name}}.czi' --exec 'PROGRAM {{input}} {{task_dir}}'.\n",
        raw = raw.display()
    );
    assert_eq!(text(&out.stderr), want);

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
    assert_eq!(
        text(&out.stderr),
        "isobatch: --input C:\\Users\\ana\\raw: this looks like a Windows path, which Linux reads \
         as a relative name. Under WSL the same place is --input /mnt/c/Users/ana/raw\n"
    );
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
    assert_eq!(
        text(&out.stderr),
        "isobatch: --pipeline exec is missing --exec: add the command to run per task, e.g. \
         --exec 'python3 analyse.py {input} {task_dir}'\n"
    );
    let out = run(
        &b,
        &["--exec", "cat {input}", "--input", "raw", "--output", "out"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "isobatch: --exec runs a command per task, which only --pipeline exec does (this run's \
         pipeline is fov): add --pipeline exec, or drop --exec to run the fov pipeline\n"
    );
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
    // The notes and per-attempt lines a bar would have hidden are there.
    assert!(err.contains("isobatch: t1: retrying in"), "{err}");
    assert!(err.contains("[1/1] t1 attempt 1: failed:error"), "{err}");
}
