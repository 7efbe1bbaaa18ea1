//! End-to-end tests of the Problems section and failure causes: identical
//! failures read as one grouped line in the summary and in `status`, the cause
//! is the most informative line (a Python traceback's exception line, a panic's
//! message), never a header such as `command exited with status 1; last output:`.
mod common;
use common::*;

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(180);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A Python program that fails the way a real analysis script does.
const BOGUS: &str = "import sys\n\
def check(name):\n    raise ValueError(f\"Unknown parameter '{name}'\")\n\
print('loading', sys.argv[1])\n\
check('bogus')\n";

/// The Python interpreter itself, not a version manager's shim script that
/// would start a shell for each of the 200 tasks.
fn python() -> PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is needed for this test");
    PathBuf::from(text(&out.stdout).trim())
}

#[test]
fn two_hundred_identical_failures_are_one_problems_line() {
    let b = Batch::new();
    fs::create_dir_all(b.raw()).expect("mkdir raw");
    for i in 1..=200 {
        fs::write(b.raw().join(format!("m{i:03}.txt")), "x").expect("input");
    }
    let script = b.dir.path().join("analyse.py");
    fs::write(&script, BOGUS).expect("script");
    let template = format!("'{}' '{}' {{input}}", python().display(), script.display());
    let mut cmd = b.pipeline_cmd("exec", &["--pattern", "{name}.txt", "--workers", "4"]);
    cmd.args(["--exec", &template]);
    let out = run_within(cmd, LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    let line = "200 × failed:error \"ValueError: Unknown parameter 'bogus'\" — \
                m001, m002, m003, m004, m005, … (+195)";
    let problems = summary
        .split("\nProblems:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no Problems section:\n{summary}"));
    assert_eq!(problems.lines().next(), Some(line), "{summary}");
    // The group is followed by one example: its exit status, the traceback and its log.
    assert!(problems.contains("exited with status 1"), "{problems}");
    assert!(problems.contains("log: "), "{problems}");
    assert!(
        summary.lines().count() < 260,
        "the summary is a table line per task plus a short Problems section:\n{summary}"
    );
    assert_eq!(
        summary
            .lines()
            .filter(|l| l.contains("Unknown parameter"))
            .count(),
        200 + 3,
        "a table row per task, the group line, the example's last two traceback lines:\n{summary}"
    );

    let status = run_within(
        {
            let mut c = isobatch();
            c.arg("status").arg(b.out());
            c
        },
        LIMIT,
    );
    let status = text(&status.stdout);
    assert!(
        status.lines().any(|l| l == format!("failed: {line}")),
        "{status}"
    );
    assert_eq!(status.lines().count(), 3, "{status}");
}

#[test]
fn a_panic_and_a_traceback_state_their_own_cause() {
    let b = Batch::new();
    b.task("p", "panic=1\n");
    let out = b.run(&[]);
    assert_eq!(out.status.code(), Some(1));
    let summary = text(&out.stdout);
    assert!(
        summary
            .lines()
            .any(|l| l == "1 × failed:crashed \"selftest task p panics as asked\" — p"),
        "{summary}"
    );
    let results: serde_json::Value =
        serde_json::from_slice(&read_all(&b.out().join("results.json"))).expect("results.json");
    let message = results["tasks"][0]["message"].as_str().expect("message");
    assert!(
        message.starts_with("selftest task p panics as asked\n"),
        "the cause comes first: {message}"
    );
}
