//! End-to-end tests of `--pipeline exec`: hostile file names reach the
//! program as plain arguments (never through a shell), failures say why with
//! the log tail, the task environment reaches the program, a bad template or
//! program is refused before anything runs, and output goes to the attempt log.
mod common;
use common::*;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `isobatch run --pipeline exec --input raw --output out --pattern '{name}.txt'
/// --exec TEMPLATE` plus `extra`, started in the batch's folder.
fn exec_cmd(b: &Batch, template: &str, extra: &[&str]) -> Command {
    let mut cmd = isobatch();
    cmd.current_dir(b.dir.path())
        .args(["run", "--pipeline", "exec", "--progress", "none", "--input"])
        .arg(b.raw())
        .arg("--output")
        .arg(b.out())
        .args(["--pattern", "{name}.txt", "--exec", template])
        .args(extra);
    cmd
}

fn run_exec(b: &Batch, template: &str, extra: &[&str]) -> Output {
    run_within(exec_cmd(b, template, extra), LIMIT)
}

/// Writes a script into the batch folder (outside the input folder); returns its path.
fn script(b: &Batch, name: &str, body: &str) -> PathBuf {
    let p = b.dir.path().join(name);
    fs::write(&p, body).expect("write script");
    p
}

/// Quotes a path for the `--exec` template (split like a shell would, once).
fn quoted(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

fn absent_or_empty(dir: &Path) -> bool {
    fs::read_dir(dir).map_or(true, |mut d| d.next().is_none())
}

/// Every path under `dir` (recursively).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

/// results.json's tasks as (task id, fields.name, verdict).
fn results(b: &Batch) -> Vec<(String, String, String)> {
    let doc: serde_json::Value =
        serde_json::from_slice(&read_all(&b.out().join("results.json"))).expect("results.json");
    doc["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| {
            (
                t["task"].as_str().unwrap().to_string(),
                t["fields"]["name"].as_str().unwrap_or("").to_string(),
                t["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn hostile_file_names_are_passed_as_plain_arguments() {
    let b = Batch::new();
    let names = [
        "a b",
        "it's \"quoted\"",
        "x;rm -rf y",
        "$(echo pwned)",
        "$(touch pwned)",
        "`touch pwned2`",
        "semi;touch pwned3;",
        "tab\there",
    ];
    fs::create_dir_all(b.raw()).unwrap();
    for (i, n) in names.iter().enumerate() {
        fs::write(
            b.raw().join(format!("{n}.txt")),
            format!("content {i} of {n:?}\n").repeat(i + 1),
        )
        .unwrap();
    }
    // What a shell-interpreted name would destroy.
    let sentinel_file = b.dir.path().join("y");
    fs::write(&sentinel_file, "keep me").unwrap();
    let copy = script(&b, "copy.sh", "cp -- \"$1\" \"$2/copy.txt\"\n");
    let template = format!("sh {} {{input}} {{task_dir}}", quoted(&copy));
    let out = run_exec(&b, &template, &["--workers", "2"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    let tasks = results(&b);
    let mut seen: Vec<String> = tasks.iter().map(|t| t.1.clone()).collect();
    seen.sort();
    let mut want: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    want.sort();
    assert_eq!(seen, want, "every hostile name is one task");
    for (id, name, verdict) in &tasks {
        assert_eq!(verdict, "done", "{name:?} ({id})");
        let input = read_all(&b.raw().join(format!("{name}.txt")));
        let copied = read_all(&b.out().join(id).join("copy.txt"));
        assert!(copied == input, "{name:?}: copy differs from its input");
        assert!(
            !id.contains(['/', ' ', '$', '\'', '"', ';', '`', '\t']),
            "unsafe task id {id:?}"
        );
    }
    // Nothing was interpreted by a shell.
    assert_eq!(fs::read_to_string(&sentinel_file).unwrap(), "keep me");
    for p in walk(b.dir.path()) {
        let n = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !n.starts_with("pwned"),
            "a name was executed: {} exists",
            p.display()
        );
    }
    for n in names {
        assert!(
            b.raw().join(format!("{n}.txt")).is_file(),
            "input {n:?} was removed"
        );
    }
}

#[test]
fn failing_program_reports_exit_status_and_log_tail() {
    let b = Batch::new();
    fs::create_dir_all(b.raw()).unwrap();
    fs::write(b.raw().join("t1.txt"), "x").unwrap();
    let out = run_exec(
        &b,
        "sh -c 'echo some context; echo why-it-failed >&2; exit 7'",
        &[],
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let row = b.row("t1");
    assert_eq!(row["verdict"], "failed:error", "{row:?}");
    assert!(row["message"].contains('7'), "{row:?}");
    assert!(
        row["message"].contains("why-it-failed"),
        "no log tail: {row:?}"
    );
    let problems = stdout
        .split_once("\nProblems:")
        .expect("Problems section")
        .1;
    assert!(
        problems.contains("1 × failed:error \"why-it-failed\" — t1"),
        "{problems}"
    );
    assert!(problems.contains("why-it-failed"), "{problems}");
}

#[test]
fn task_environment_and_attempt_reach_the_program() {
    let b = Batch::new();
    fs::create_dir_all(b.raw()).unwrap();
    fs::write(b.raw().join("t1.txt"), "x").unwrap();
    // Records what it sees; fails on attempt 1, succeeds on attempt 2.
    let env = script(
        &b,
        "env.sh",
        "printf '%s|%s|%s|%s\\n' \"$ISOBATCH_TASK\" \"$ISOBATCH_ATTEMPT\" \"$3\" \"$ISOBATCH_TASK_DIR\" >> \"$2/env.txt\"\n\
         [ \"$ISOBATCH_ATTEMPT\" -ge 2 ]\n",
    );
    let template = format!("sh {} {{input}} {{task_dir}} {{attempt}}", quoted(&env));
    let out = run_exec(&b, &template, &["--retries", "1"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let row = b.row("t1");
    assert_eq!(
        (row["verdict"].as_str(), row["attempts"].as_str()),
        ("done", "2"),
        "{row:?}"
    );
    // Each attempt ran in its own clean folder: attempt 1's is kept among the failed ones,
    // attempt 2's was published as t1/.
    let failed = b.out().join(".isobatch/failed/t1/attempt-1");
    for (attempt, dir) in [(1, failed), (2, b.out().join("t1"))] {
        let lines = fs::read_to_string(dir.join("env.txt")).expect("env.txt");
        let lines: Vec<Vec<&str>> = lines.lines().map(|l| l.split('|').collect()).collect();
        assert_eq!(lines.len(), 1, "attempt {attempt}: {lines:?}");
        let a = attempt.to_string();
        assert_eq!(&lines[0][..3], &["t1", a.as_str(), a.as_str()], "{lines:?}");
        let staging = b.out().join(".isobatch/staging/t1");
        assert!(
            Path::new(lines[0][3]).starts_with(&staging)
                && lines[0][3].contains(&format!("/attempt-{attempt}.")),
            "ISOBATCH_TASK_DIR is the attempt's staging folder: {lines:?}"
        );
    }
}

#[test]
fn unknown_placeholder_is_refused_before_anything_runs() {
    let b = Batch::new();
    fs::create_dir_all(b.raw()).unwrap();
    fs::write(b.raw().join("t1.txt"), "x").unwrap();
    let ran = b.dir.path().join("ran");
    let template = format!("touch {} {{input}} {{bogus}}", quoted(&ran));
    let out = run_exec(&b, &template, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("{bogus}"),
        "the placeholder is not named:\n{stderr}"
    );
    assert!(!ran.exists(), "the program ran");
    assert!(absent_or_empty(&b.out()), "the output folder was touched");
}

#[test]
fn missing_program_is_refused_before_anything_runs() {
    let b = Batch::new();
    fs::create_dir_all(b.raw()).unwrap();
    fs::write(b.raw().join("t1.txt"), "x").unwrap();
    for program in [
        "isobatch-no-such-program-x7",
        "/nonexistent/isobatch-no-such-program",
    ] {
        let out = run_exec(&b, &format!("{program} {{input}}"), &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{program}: {stderr}");
        assert!(
            stderr.contains(program),
            "the program is not named:\n{stderr}"
        );
        assert!(absent_or_empty(&b.out()), "the output folder was touched");
    }
}

#[test]
fn program_output_goes_to_the_attempt_log() {
    let b = Batch::new();
    fs::create_dir_all(b.raw()).unwrap();
    fs::write(b.raw().join("t1.txt"), "x").unwrap();
    // The printed numbers are computed, so they are not in the template (which the plan shows).
    let out = run_exec(
        &b,
        "sh -c 'echo to-stdout-$((5000+150)); echo to-stderr-$((6000+160)) >&2'",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let log =
        fs::read_to_string(b.out().join(".isobatch/logs/t1/attempt-1.log")).expect("attempt-1.log");
    assert!(
        log.contains("to-stdout-5150") && log.contains("to-stderr-6160"),
        "{log}"
    );
    // Not on isobatch's own output.
    assert!(!text(&out.stdout).contains("to-stdout-5150"));
    assert!(!text(&out.stderr).contains("to-stderr-6160"));
}

#[test]
fn killed_supervisor_takes_the_exec_command_with_it() {
    let m = sleep_marker(47);
    let b = Batch::new();
    fs::create_dir_all(b.raw()).unwrap();
    fs::write(b.raw().join("t1.txt"), "x").unwrap();
    let mut run = Captured::spawn(exec_cmd(&b, &format!("sleep {m}"), &[]));
    wait_until(Duration::from_secs(20), "the exec command to start", || {
        !processes_with_arg(&m).is_empty()
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.pid() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_exit(&mut run.child, LIMIT);
    let end = std::time::Instant::now() + Duration::from_secs(2);
    while !processes_with_arg(&m).is_empty() && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = processes_with_arg(&m);
    for &p in &left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(
        left.is_empty(),
        "the exec command outlived its supervisor: {left:?}"
    );
}
