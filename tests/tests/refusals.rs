//! Exec parameters reach the command, and nonsense is refused before anything
//! runs: exit 2, a message naming the flag, no output folder made.
mod common;
use common::*;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn selftest_batch() -> Batch {
    let b = Batch::new();
    b.task("a", "output=1\n").task("b", "output=1\n");
    b
}

/// Runs the selftest batch with `extra`; asserts exit 2, `want` in stderr, and
/// that nothing was created in the output folder.
fn refused(b: &Batch, pipeline: &str, extra: &[&str], want: &str) {
    let out = run_within(b.pipeline_cmd(pipeline, extra), LIMIT);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
    assert!(
        err.contains(want),
        "{extra:?}: expected {want:?} in:\n{err}"
    );
    assert!(
        !b.out().join(".isobatch").exists(),
        "{extra:?}: nothing runs"
    );
}

#[test]
fn zero_durations_and_sizes_are_refused() {
    let b = selftest_batch();
    for (flag, value) in [
        ("--timeout", "0"),
        ("--timeout", "0s"),
        ("--kill-grace", "0"),
        ("--max-task-memory", "0"),
        ("--task-memory", "0"),
        ("--max-worker-memory", "0"),
    ] {
        refused(
            &b,
            "selftest",
            &[flag, value],
            &format!("{flag} must be more than zero"),
        );
    }
    refused(&b, "selftest", &["--timeout=-5s"], "--timeout");
    refused(
        &b,
        "selftest",
        &["--max-task-memory=-1G"],
        "--max-task-memory",
    );
}

#[test]
fn too_many_workers_or_retries_are_refused() {
    let b = selftest_batch();
    refused(
        &b,
        "selftest",
        &["--workers", "1000000"],
        "--workers 1000000",
    );
    refused(&b, "selftest", &["--workers", "1000000"], "--force-run");
    refused(
        &b,
        "selftest",
        &["--retries", "1000000"],
        "--retries 1000000",
    );
    refused(&b, "selftest", &["--retries", "101"], "more than 100");
    let ok = run_within(
        b.pipeline_cmd("selftest", &["--retries", "100", "--dry-run"]),
        LIMIT,
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
}

#[test]
fn selections_that_leave_nothing_to_run_are_refused() {
    let b = selftest_batch();
    refused(&b, "selftest", &["--limit", "0"], "--limit 0");
    refused(&b, "selftest", &["--select", "zz*"], "--select zz*");
    refused(&b, "selftest", &["--select", "zz*"], "found: a, b");
}

#[test]
fn output_equal_to_or_inside_input_is_refused() {
    let b = selftest_batch();
    let raw = b.raw().display().to_string();
    let inside = b.raw().join("processed").display().to_string();
    for out in [raw.as_str(), inside.as_str()] {
        let mut cmd = isobatch();
        cmd.args(["run", "--pipeline", "selftest", "--progress", "none"])
            .args(["--input", &raw, "--output", out]);
        let o = run_within(cmd, LIMIT);
        assert_eq!(o.status.code(), Some(2), "{out}");
        let err = text(&o.stderr);
        assert!(err.contains("--output") && err.contains("input"), "{err}");
    }
    assert!(!b.raw().join("processed").exists());
    assert!(!b.raw().join(".isobatch").exists());
    // Through a symlink too.
    std::os::unix::fs::symlink(b.raw(), b.dir.path().join("link")).unwrap();
    let mut cmd = isobatch();
    cmd.args(["run", "--pipeline", "selftest", "--progress", "none"])
        .arg("--input")
        .arg(b.dir.path().join("link"))
        .arg("--output")
        .arg(b.raw().join("o"));
    assert_eq!(run_within(cmd, LIMIT).status.code(), Some(2));
}

#[test]
fn flags_a_pipeline_would_ignore_are_refused() {
    let b = selftest_batch();
    refused(&b, "selftest", &["--param", "pad=200"], "--param pad");
    refused(
        &b,
        "selftest",
        &["--checkpoint-format", "tiff"],
        "--checkpoint-format",
    );
    refused(
        &b,
        "selftest",
        &["--keep-checkpoints", "final"],
        "--keep-checkpoints",
    );
    let exec = |extra: &[&str]| {
        let mut v = vec!["--pattern", "{name}.txt", "--exec", "cat {input}"];
        v.extend_from_slice(extra);
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |extra: &[&str], want: &str| {
        let args = exec(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&b, "exec", &args, want);
    };
    run(&["--checkpoint-format", "both"], "--checkpoint-format");
    run(&["--keep-checkpoints", "final"], "--keep-checkpoints");
    run(&["--param", "a-b=1"], "--param a-b");
    run(
        &["--param", "pad=1", "--param", "PAD=2"],
        "ISOBATCH_PARAM_PAD",
    );
    run(
        &["--rerun-on", "/no/such/file.toml"],
        "--rerun-on /no/such/file.toml",
    );
    refused(
        &b,
        "exec",
        &["--pattern", "{name}.txt", "--exec", "echo {param.pad}"],
        "{param.pad}",
    );
    refused(&b, "fov", &["--param", "pad=200"], "--param pad");
}

#[test]
fn exec_params_reach_the_command_as_placeholder_and_environment() {
    let b = Batch::new();
    fs::create_dir_all(b.raw()).unwrap();
    fs::write(b.raw().join("t.txt"), "x").unwrap();
    let script = b.dir.path().join("pad.sh");
    fs::write(
        &script,
        "#!/bin/sh\necho \"arg=$1 env=$ISOBATCH_PARAM_PAD mode=$ISOBATCH_PARAM_MODE\" > \"$ISOBATCH_TASK_DIR/seen.txt\"\n",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = b.pipeline_cmd(
        "exec",
        &[
            "--pattern",
            "{name}.txt",
            "--param",
            "pad=200",
            "--param",
            "mode=fast",
        ],
    );
    cmd.arg("--exec")
        .arg(format!("{} {{param.pad}}", script.display()));
    let out = run_within(cmd, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        fs::read_to_string(b.out().join("t/seen.txt")).unwrap(),
        "arg=200 env=200 mode=fast\n"
    );
}

#[test]
fn new_options_come_from_the_config_file_too() {
    let b = Batch::new();
    b.task("a", "output=1\n");
    let cfg = b.dir.path().join("c.toml");
    fs::write(&cfg, "[run]\nretries = 500\n").unwrap();
    refused(
        &b,
        "selftest",
        &["--config", cfg.to_str().unwrap()],
        "--retries 500",
    );
    fs::write(
        &cfg,
        "[run]\nkeep-checkpoints = \"final\"\nchecksum = true\nreuse-task-dir = true\n",
    )
    .unwrap();
    refused(
        &b,
        "selftest",
        &["--config", cfg.to_str().unwrap()],
        "--keep-checkpoints",
    );
}
