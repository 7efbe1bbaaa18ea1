//! End-to-end tests of the supervisor core: verdicts and clean-up in every
//! isolation mode, a worker killed from outside, discovery refusals, dry runs,
//! identical results across modes and strategies, the run lock, Ctrl-C,
//! retries and serial mode. Real binaries, real processes, no sleeps.
mod common;
use common::*;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Upper bound for any single isobatch run in these tests (a hang fails, never blocks).
const LIMIT: Duration = Duration::from_secs(60);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn signal(pid: u32, sig: Signal) {
    kill(Pid::from_raw(pid as i32), sig).unwrap_or_else(|e| panic!("kill {pid} {sig}: {e}"));
}

/// An environment entry unique to one test, set on the supervisor; every
/// process of its batch (workers, children, setsid escapees) inherits it.
fn tag(name: &str) -> (String, String) {
    (
        "ISOBATCH_TEST_TAG".into(),
        format!("{name}-{}", std::process::id()),
    )
}

fn tagged(mut cmd: std::process::Command, tag: &(String, String)) -> std::process::Command {
    cmd.env(&tag.0, &tag.1);
    cmd
}

fn cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| text(&c).replace('\0', " "))
        .unwrap_or_default()
}

/// Live processes with `marker` on their command line or carrying `tag`.
fn batch_processes(marker: Option<&str>, tag: Option<&(String, String)>) -> Vec<u32> {
    let mut left = tag.map_or_else(Vec::new, |(k, v)| processes_with_env(&format!("{k}={v}")));
    if let Some(m) = marker {
        left.extend(processes_with_arg(m));
    }
    left.sort_unstable();
    left.dedup();
    left
}

/// Waits up to 2 s (the kernel finishing its reaping) for every process with
/// `marker` on its command line or carrying `tag` to be gone; survivors are
/// killed (a failure leaves nothing behind) and reported.
fn assert_gone(what: &str, marker: Option<&str>, tag: Option<&(String, String)>) {
    let end = Instant::now() + Duration::from_secs(2);
    loop {
        let left = batch_processes(marker, tag);
        if left.is_empty() {
            return;
        }
        if Instant::now() > end {
            let described: Vec<String> = left
                .iter()
                .map(|&p| format!("{p}: {}", cmdline(p)))
                .collect();
            for &p in &left {
                let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL);
            }
            panic!("{what}: {described:#?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// After a batch exited: nothing it started may remain.
fn assert_no_leftovers(marker: Option<&str>, tag: &(String, String)) {
    assert_gone(
        "processes of the batch outlived isobatch",
        marker,
        Some(tag),
    );
}

/// The journal's `attempt_start` lines for `task`, as (attempt, worker_pid).
fn attempt_starts(b: &Batch, task: &str) -> Vec<(u64, Option<u32>)> {
    b.journal()
        .iter()
        .filter(|r| r["event"] == "attempt_start" && r["task"] == task)
        .map(|r| {
            (
                r["attempt"].as_u64().unwrap_or(0),
                r["worker_pid"].as_u64().map(|p| p as u32),
            )
        })
        .collect()
}

/// The verdict of `task`'s last `attempt_end` in the journal, if any.
fn journal_verdict(b: &Batch, task: &str) -> Option<String> {
    b.journal()
        .iter()
        .filter(|r| r["event"] == "attempt_end" && r["task"] == task)
        .filter_map(|r| r["verdict"].as_str().map(String::from))
        .next_back()
}

fn attempt_log(b: &Batch, task: &str, attempt: u32) -> std::path::PathBuf {
    b.out()
        .join(format!(".isobatch/logs/{task}/attempt-{attempt}.log"))
}

/// True when `dir` does not exist or is empty.
fn absent_or_empty(dir: &Path) -> bool {
    fs::read_dir(dir).map_or(true, |mut d| d.next().is_none())
}

// ---------------------------------------------------------------------------
// 1. Every kind of task end, in subprocess and pool mode, and nothing survives.

/// Writes the 20-task mixed batch; returns the expected verdict per task.
fn mixed_batch(b: &Batch, m: &str) -> BTreeMap<&'static str, &'static str> {
    let tasks: [(&str, String, &str); 20] = [
        ("sleep_a", "sleep=0.1\n".into(), "done"),
        ("sleep_b", "sleep=0.3\n".into(), "done"),
        ("empty", "# nothing to do\n".into(), "done"),
        ("out_small", "output=1\n".into(), "done"),
        ("out_mid", "output=4096\n".into(), "done"),
        ("out_big", "sleep=0.05\noutput=300000\n".into(), "done"),
        ("fail_a", "fail=disk on fire\n".into(), "failed:error"),
        (
            "fail_b",
            "sleep=0.1\nfail=second problem here\n".into(),
            "failed:error",
        ),
        ("panic", "panic=1\n".into(), "failed:crashed"),
        ("abort", "abort=1\n".into(), "failed:crashed"),
        ("exit3", "exit=3\n".into(), "failed:crashed"),
        ("hang_term", "sleep=30\n".into(), "failed:timeout"),
        (
            "hang_ignore",
            "ignore_term=1\nsleep=30\n".into(),
            "failed:timeout",
        ),
        (
            "child_hang",
            format!("child={m}\nsleep=30\n"),
            "failed:timeout",
        ),
        (
            "escape_hang",
            format!("escape={m}\nsleep=30\n"),
            "failed:timeout",
        ),
        ("escape_done", format!("escape={m}\n"), "done"),
        ("child_done", format!("child={m}\n"), "done"),
        (
            "invalid_key",
            "colour=blue\n".into(),
            "failed:invalid-input",
        ),
        (
            "invalid_value",
            "sleep=soon\n".into(),
            "failed:invalid-input",
        ),
        (
            "invalid_line",
            "this is not a directive\n".into(),
            "failed:invalid-input",
        ),
    ];
    let mut expected = BTreeMap::new();
    for (name, body, verdict) in tasks {
        b.task(name, &body);
        expected.insert(name, verdict);
    }
    expected
}

fn mixed_batch_in_mode(mode: &[&str], base: u32, name: &str) {
    let m = sleep_marker(base);
    let tag = tag(name);
    let b = Batch::new();
    let expected = mixed_batch(&b, &m);
    let mut args = vec!["--timeout", "2", "--kill-grace", "1", "--workers", "4"];
    args.extend_from_slice(mode);
    let out = run_within(tagged(b.run_cmd(&args), &tag), LIMIT);
    // Checked first and right away: the supervisor must have cleaned up before exiting.
    assert_no_leftovers(Some(&m), &tag);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );

    let got: BTreeMap<String, String> = b.verdicts().into_iter().collect();
    let want: BTreeMap<String, String> = expected
        .iter()
        .map(|(t, v)| (t.to_string(), v.to_string()))
        .collect();
    assert_eq!(got, want, "stdout:\n{stdout}");

    // The grandchildren really carried the marker (so the leftover check saw them).
    for task in ["child_hang", "escape_hang", "escape_done", "child_done"] {
        let log = fs::read_to_string(attempt_log(&b, task, 1)).unwrap_or_default();
        assert!(log.contains(&format!("sleep {m}`")), "{task} log:\n{log}");
    }
    // Every attempt has its log.
    for task in expected.keys() {
        let log = attempt_log(&b, task, 1);
        assert!(log.is_file(), "missing {}", log.display());
    }

    // The Problems section groups the failed tasks by verdict and cause: one
    // line `N × verdict "cause" — ids`, then one example's detail, indented.
    let problems = stdout
        .split_once("\nProblems:\n")
        .unwrap_or_else(|| panic!("no Problems section:\n{stdout}"))
        .1;
    let mut groups: Vec<String> = Vec::new();
    for line in problems.lines() {
        if line.is_empty() || line.ends_with(':') && !line.starts_with(' ') {
            break;
        }
        match groups.last_mut() {
            Some(g) if line.starts_with(' ') => *g += &format!("\n{line}"),
            _ => groups.push(line.to_string()),
        }
    }
    let section = |task: &str| -> Option<&String> {
        groups.iter().find(|g| {
            let head = g.lines().next().unwrap_or("");
            head.rsplit_once(" — ")
                .is_some_and(|(_, ids)| ids.split(", ").any(|id| id == task))
        })
    };
    for (task, verdict) in &expected {
        match section(task) {
            Some(g) => assert!(
                verdict.starts_with("failed") && g.contains(&format!(" × {verdict}")),
                "{task} [{verdict}] in Problems as:\n{g}"
            ),
            None => assert!(
                !verdict.starts_with("failed"),
                "{task} [{verdict}] not in Problems:\n{problems}"
            ),
        }
    }
    for (task, needle) in [
        ("fail_a", "disk on fire"),
        ("fail_b", "second problem here"),
        ("panic", "selftest task panic panics as asked"),
        ("exit3", "status 3"),
        ("hang_term", "timeout"),
        ("hang_ignore", "timeout"),
        ("child_hang", "timeout"),
        ("escape_hang", "timeout"),
        ("invalid_key", "colour"),
        ("invalid_value", "soon"),
        ("invalid_line", "this is not a directive"),
    ] {
        let head = section(task)
            .and_then(|g| g.lines().next())
            .unwrap_or_default();
        assert!(
            head.contains(needle),
            "{task}: {needle:?} not in its Problems line:\n{problems}"
        );
    }
    // The same messages are in summary.csv.
    assert!(b.row("panic")["message"].contains("selftest task panic panics as asked"));
    assert!(b.row("fail_a")["message"].contains("disk on fire"));
    assert_eq!(read_all(&b.out().join("out_big/output.bin")).len(), 300_000);
}

#[test]
fn mixed_batch_subprocess_verdicts_and_no_leftovers() {
    mixed_batch_in_mode(&["--mode", "subprocess"], 41, "mixed-subprocess");
}

#[test]
fn mixed_batch_subprocess_batch_size_3_verdicts_and_no_leftovers() {
    mixed_batch_in_mode(
        &["--mode", "subprocess", "--batch-size", "3"],
        49,
        "mixed-subprocess-bs3",
    );
}

#[test]
fn mixed_batch_pool_batched_verdicts_and_no_leftovers() {
    mixed_batch_in_mode(
        &["--mode", "pool", "--strategy", "batched"],
        50,
        "mixed-pool-batched",
    );
}

#[test]
fn mixed_batch_pool_verdicts_and_no_leftovers() {
    mixed_batch_in_mode(&["--mode", "pool"], 42, "mixed-pool");
}

// ---------------------------------------------------------------------------
// 2. A worker killed from outside fails only its own task; a successor
//    killed while it waits fails none.

/// Starts a batch of `a_long` (sleeps 30 s; it sorts first, so it is dispatched at once) and
/// `shorts` short tasks with `args`; returns once `a_long` runs, with its worker's pid.
fn start_long_and_shorts(
    tag: &(String, String),
    shorts: usize,
    args: &[&str],
) -> (Batch, Captured, u32) {
    let b = Batch::new();
    b.task("a_long", "sleep=30\n");
    for i in 1..=shorts {
        b.task(&format!("short{i}"), "sleep=0.3\n");
    }
    let run = Captured::spawn(tagged(b.run_cmd(args), tag));
    let mut pid = None;
    wait_until(
        Duration::from_secs(20),
        "a_long's attempt_start with worker_pid",
        || {
            pid = attempt_starts(&b, "a_long").first().and_then(|s| s.1);
            pid.is_some()
        },
    );
    (b, run, pid.unwrap())
}

/// Waits for the batch to end; asserts it exited 1 (a task failed) and left no process
/// behind. Returns what it printed on stdout.
fn finish_with_a_failure(run: Captured, tag: &(String, String)) -> String {
    let out = run.finish(LIMIT);
    assert_no_leftovers(None, tag);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    stdout
}

#[test]
fn pool_worker_killed_with_sigkill_fails_only_its_task() {
    let tag = tag("sigkill");
    // The short tasks are still queued when a_long's worker dies.
    let (b, run, victim_pid) =
        start_long_and_shorts(&tag, 6, &["--mode", "pool", "--workers", "2"]);
    assert!(
        cmdline(victim_pid).contains("worker"),
        "{victim_pid}: {}",
        cmdline(victim_pid)
    );
    signal(victim_pid, Signal::SIGKILL);
    let stdout = finish_with_a_failure(run, &tag);
    let row = b.row("a_long");
    assert_eq!(row["verdict"], "failed:killed", "{row:?}");
    // A kill from outside with no OOM kill counted is not called out of memory.
    assert!(
        row["message"].contains("from outside isobatch")
            && !row["message"].contains("out of memory"),
        "{row:?}"
    );
    assert_eq!(row["attempts"], "1");
    for i in 1..=6 {
        assert_eq!(b.verdict(&format!("short{i}")), "done", "{stdout}");
    }
}

/// Live worker processes of the batch tagged `tag`, other than `except`.
fn batch_workers(tag: &(String, String), except: &[u32]) -> Vec<u32> {
    processes_with_env(&format!("{}={}", tag.0, tag.1))
        .into_iter()
        .filter(|p| cmdline(*p).contains("--connect") && !except.contains(p))
        .collect()
}

#[test]
fn subprocess_successor_killed_while_it_waits_costs_no_task() {
    let tag = tag("successor");
    let (b, run, long_pid) =
        start_long_and_shorts(&tag, 3, &["--mode", "subprocess", "--workers", "1"]);
    // With one slot, any other worker is the fresh one started to take the
    // next task when a_long ends.
    let mut successor = None;
    wait_until(Duration::from_secs(20), "a successor worker", || {
        successor = batch_workers(&tag, &[long_pid]).first().copied();
        successor.is_some()
    });
    let successor = successor.unwrap();
    signal(successor, Signal::SIGKILL);
    wait_until(Duration::from_secs(20), "a replacement successor", || {
        !batch_workers(&tag, &[long_pid, successor]).is_empty()
    });
    signal(long_pid, Signal::SIGKILL);
    let stdout = finish_with_a_failure(run, &tag);
    assert_eq!(b.verdict("a_long"), "failed:killed", "{stdout}");
    let mut pids = vec![long_pid];
    for i in 1..=3 {
        let task = format!("short{i}");
        assert_eq!(b.verdict(&task), "done", "{stdout}");
        let starts = attempt_starts(&b, &task);
        assert_eq!(starts.len(), 1, "{task}: {starts:?}");
        pids.extend(starts[0].1);
    }
    // A fresh process per task, and never the one that was killed.
    let mut unique = pids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 4, "{pids:?}");
    assert!(!pids.contains(&successor), "{pids:?}");
}

// ---------------------------------------------------------------------------
// 3. Strict and lenient grids.

fn grid_batch() -> Batch {
    let b = Batch::new();
    for name in ["s1_dapi", "s1_gfp", "s2_dapi", "s3_gfp"] {
        b.task(name, "sleep=0.01\n");
    }
    b
}

/// `s4` has no file at all; `cy5` is in no file at all.
const GRID: [&str; 6] = [
    "--pattern",
    "{sample}_{dye}.txt",
    "--grid",
    "sample=s1,s2,s3,s4",
    "--grid",
    "dye=dapi,gfp,cy5",
];
const MISSING: [&str; 8] = [
    "s1_cy5", "s2_gfp", "s2_cy5", "s3_dapi", "s3_cy5", "s4_dapi", "s4_gfp", "s4_cy5",
];

#[test]
fn strict_grid_refuses_and_lists_every_missing_combination() {
    let b = grid_batch();
    let out = run_within(b.run_cmd(&GRID), LIMIT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for id in MISSING {
        assert!(stderr.contains(id), "{id} not listed:\n{stderr}");
    }
    for id in ["s1_dapi", "s1_gfp", "s2_dapi", "s3_gfp"] {
        assert!(!stderr.contains(id), "{id} exists but is listed:\n{stderr}");
    }
    assert!(absent_or_empty(&b.out()), "the output folder was touched");
    assert!(!b.out().join("summary.csv").exists());
}

#[test]
fn lenient_grid_runs_and_lists_missing_combinations() {
    let b = grid_batch();
    let mut args = GRID.to_vec();
    args.push("--lenient");
    let out = run_within(b.run_cmd(&args), LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got: BTreeMap<String, String> = b.verdicts().into_iter().collect();
    let mut want: BTreeMap<String, String> = MISSING
        .iter()
        .map(|t| (t.to_string(), "missing".into()))
        .collect();
    for id in ["s1_dapi", "s1_gfp", "s2_dapi", "s3_gfp"] {
        want.insert(id.into(), "done".into());
    }
    assert_eq!(got, want);
}

// ---------------------------------------------------------------------------
// 4. Fatal input layouts (regardless of --lenient).

#[test]
fn missing_input_folder_is_fatal_and_shows_the_layout() {
    let b = Batch::new();
    for extra in [&[][..], &["--lenient"][..]] {
        let out = run_within(b.run_cmd(extra), LIMIT);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("does not exist"), "{stderr}");
        assert!(stderr.contains(&b.raw().display().to_string()), "{stderr}");
        assert!(
            stderr.contains("Expected layout") && stderr.contains("<task>.txt"),
            "{stderr}"
        );
        assert!(absent_or_empty(&b.out()));
    }
}

#[test]
fn empty_input_folder_is_fatal() {
    let b = Batch::new();
    fs::create_dir_all(b.raw()).unwrap();
    for extra in [&[][..], &["--lenient"][..]] {
        let out = run_within(b.run_cmd(extra), LIMIT);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("empty"), "{stderr}");
        assert!(
            stderr.contains("Expected layout") && stderr.contains("<task>.txt"),
            "{stderr}"
        );
        assert!(absent_or_empty(&b.out()));
    }
}

#[test]
fn input_where_nothing_matches_is_fatal() {
    let b = Batch::new();
    fs::create_dir_all(b.raw()).unwrap();
    fs::write(b.raw().join("notes.dat"), "x").unwrap();
    fs::write(b.raw().join("image.tif"), "x").unwrap();
    for extra in [&[][..], &["--lenient"][..]] {
        let out = run_within(b.run_cmd(extra), LIMIT);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("matches"), "{stderr}");
        assert!(
            stderr.contains("Expected layout") && stderr.contains("<task>.txt"),
            "{stderr}"
        );
        assert!(
            stderr.contains("notes.dat"),
            "found files are not shown:\n{stderr}"
        );
        assert!(absent_or_empty(&b.out()));
    }
}

// ---------------------------------------------------------------------------
// 5. --dry-run.

#[test]
fn dry_run_lists_tasks_and_creates_nothing() {
    let b = Batch::new();
    b.task("alpha", "sleep=5\n")
        .task("beta", "output=10\n")
        .task("gamma", "fail=x\n");
    let out = run_within(b.run_cmd(&["--dry-run"]), LIMIT);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for t in ["alpha", "beta", "gamma"] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(t)),
            "{t} not listed:\n{stdout}"
        );
    }
    assert!(
        absent_or_empty(&b.out()),
        "dry run created files in the output folder"
    );
}

// ---------------------------------------------------------------------------
// 6. Identical results for every mode and strategy.

#[test]
fn results_identical_across_modes_and_strategies() {
    let sizes: [(&str, u64); 7] = [
        ("o_zero", 0),
        ("o_one", 1),
        ("o_seven", 7),
        ("o_page", 4096),
        ("o_64k", 65_536),
        ("o_64k1", 65_537),
        ("o_big", 1_000_000),
    ];
    let configs: [(&str, &[&str]); 6] = [
        (
            "subprocess batch-size 1",
            &[
                "--mode",
                "subprocess",
                "--workers",
                "2",
                "--batch-size",
                "1",
            ],
        ),
        (
            "subprocess batch-size 3",
            &[
                "--mode",
                "subprocess",
                "--workers",
                "2",
                "--batch-size",
                "3",
            ],
        ),
        (
            "pool individual",
            &[
                "--mode",
                "pool",
                "--workers",
                "3",
                "--strategy",
                "individual",
            ],
        ),
        (
            "pool batched",
            &["--mode", "pool", "--workers", "3", "--strategy", "batched"],
        ),
        (
            "pool chunked",
            &[
                "--mode",
                "pool",
                "--workers",
                "3",
                "--strategy",
                "chunked",
                "--batch-size",
                "2",
            ],
        ),
        ("serial", &["--mode", "serial"]),
    ];
    let summary_rows = |b: &Batch| -> Vec<(String, String, String)> {
        let text = fs::read_to_string(b.out().join("summary.csv")).expect("summary.csv");
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let h = rdr.headers().unwrap().clone();
        assert_eq!(
            h.iter().take(3).collect::<Vec<_>>(),
            ["task", "status", "verdict"]
        );
        let mut rows: Vec<_> = rdr
            .records()
            .map(|r| {
                let r = r.unwrap();
                (r[0].to_string(), r[1].to_string(), r[2].to_string())
            })
            .collect();
        rows.sort();
        rows
    };
    type Rows = Vec<(String, String, String)>;
    // (first configuration's name, its summary rows, its output.bin files)
    let mut reference: Option<(String, Rows, Vec<Vec<u8>>)> = None;
    for (name, args) in configs {
        let b = Batch::new();
        for (t, n) in sizes {
            b.task(t, &format!("output={n}\n"));
        }
        b.task("o_fails", "fail=deliberate\n");
        let out = run_within(b.run_cmd(args), LIMIT);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out.stderr));
        let rows = summary_rows(&b);
        let files: Vec<Vec<u8>> = sizes
            .iter()
            .map(|(t, _)| read_all(&b.out().join(t).join("output.bin")))
            .collect();
        for ((t, n), f) in sizes.iter().zip(&files) {
            assert_eq!(f.len() as u64, *n, "{name}: {t}");
        }
        assert!(!b.out().join("o_fails/output.bin").exists());

        // results.json: outputs relative to the output folder, and they exist.
        let results: serde_json::Value =
            serde_json::from_slice(&read_all(&b.out().join("results.json"))).expect("results.json");
        let tasks = results["tasks"].as_array().expect("tasks");
        assert_eq!(tasks.len(), 8, "{name}");
        for t in tasks {
            let id = t["task"].as_str().unwrap();
            let outputs: Vec<&str> = t["outputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o.as_str().unwrap())
                .collect();
            if id == "o_fails" {
                assert!(outputs.is_empty(), "{name}: {outputs:?}");
                continue;
            }
            assert_eq!(outputs, vec![format!("{id}/output.bin")], "{name}: {id}");
            for o in outputs {
                assert!(Path::new(o).is_relative(), "{name}: {o}");
                assert!(b.out().join(o).is_file(), "{name}: {o}");
            }
        }

        match &reference {
            None => reference = Some((name.to_string(), rows, files)),
            Some((first, ref_rows, ref_files)) => {
                assert_eq!(&rows, ref_rows, "summary differs: {name} vs {first}");
                for (i, (t, _)) in sizes.iter().enumerate() {
                    assert!(
                        files[i] == ref_files[i],
                        "{t}/output.bin differs: {name} vs {first}"
                    );
                }
            }
        }
    }
    let (_, rows, _) = reference.unwrap();
    assert!(
        rows.iter()
            .any(|r| r == &("o_fails".into(), "failed".into(), "failed:error".into()))
    );
    assert_eq!(rows.iter().filter(|r| r.2 == "done").count(), 7);
}

// ---------------------------------------------------------------------------
// 7. The run lock: exit 3 while held, free at once after the holder is killed.

#[test]
fn second_run_on_a_held_output_exits_3_and_a_killed_holder_frees_it() {
    let tag = tag("lock");
    let b = Batch::new();
    b.task("long", "sleep=20\n");
    let mut first = Captured::spawn(tagged(b.run_cmd(&["--workers", "1"]), &tag));
    let lock = b.out().join(".isobatch/lock");
    wait_until(
        Duration::from_secs(20),
        "the first run to hold the lock",
        || fs::read_to_string(&lock).is_ok_and(|s| s.contains("pid=")),
    );
    let second = run_within(b.run_cmd(&[]), LIMIT);
    let stderr = text(&second.stderr);
    assert_eq!(second.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("pid={}", first.pid())),
        "holder not named:\n{stderr}"
    );

    // Make sure the task is really running (a worker exists), then kill the supervisor.
    wait_until(Duration::from_secs(20), "long's attempt_start", || {
        !attempt_starts(&b, "long").is_empty()
    });
    let env = format!("{}={}", tag.0, tag.1);
    wait_until(
        Duration::from_secs(10),
        "the worker to be visible by its tag",
        || !processes_with_env(&env).is_empty(),
    );
    signal(first.pid(), Signal::SIGKILL);
    let status = wait_exit(&mut first.child, LIMIT);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    // Its worker goes with it (parent-death signal).
    assert_no_leftovers(None, &tag);

    b.task("quick", "sleep=0\n");
    let third = run_within(b.run_cmd(&["--select", "quick*"]), LIMIT);
    assert_eq!(third.status.code(), Some(0), "{}", text(&third.stderr));
    assert_eq!(
        b.verdicts(),
        vec![("quick".to_string(), "done".to_string())]
    );
}

// ---------------------------------------------------------------------------
// 8. Ctrl-C: once drains, twice stops.

fn wait_both_running(b: &Batch) {
    wait_until(
        Duration::from_secs(20),
        "both running tasks to start",
        || !attempt_starts(b, "a_run1").is_empty() && !attempt_starts(b, "a_run2").is_empty(),
    );
}

#[test]
fn one_ctrl_c_drains_running_tasks_and_cancels_the_rest() {
    let tag = tag("ctrlc1");
    let b = Batch::new();
    b.task("a_run1", "sleep=3\n").task("a_run2", "sleep=3\n");
    for i in 1..=6 {
        b.task(&format!("b_queued{i}"), "sleep=0.01\n");
    }
    let run = Captured::spawn(tagged(
        b.run_cmd(&["--mode", "pool", "--workers", "2"]),
        &tag,
    ));
    wait_both_running(&b);
    signal(run.pid(), Signal::SIGINT);
    let out = run.finish(LIMIT);
    assert_no_leftovers(None, &tag);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(b.out().join("summary.csv").is_file());
    assert_eq!(b.verdict("a_run1"), "done");
    assert_eq!(b.verdict("a_run2"), "done");
    for i in 1..=6 {
        assert_eq!(b.verdict(&format!("b_queued{i}")), "cancelled");
    }
}

#[test]
fn two_ctrl_c_stop_running_tasks_and_leave_nothing_behind() {
    let m = sleep_marker(48);
    let tag = tag("ctrlc2");
    let b = Batch::new();
    b.task("a_run1", &format!("child={m}\nsleep=30\n"))
        .task("a_run2", &format!("escape={m}\nsleep=30\n"));
    for i in 1..=6 {
        b.task(&format!("b_queued{i}"), "sleep=0.01\n");
    }
    let run = Captured::spawn(tagged(
        b.run_cmd(&["--mode", "pool", "--workers", "2", "--kill-grace", "1"]),
        &tag,
    ));
    wait_both_running(&b);
    // The leftover check below is only worth something if it sees them now.
    wait_until(
        Duration::from_secs(10),
        "the child and the escapee to start",
        || processes_with_arg(&m).len() >= 2,
    );
    signal(run.pid(), Signal::SIGINT);
    // The second Ctrl-C only after the first was processed (signals do not queue).
    wait_until(
        Duration::from_secs(10),
        "the first interrupt to be acknowledged",
        || run.stderr_text().contains("interrupted"),
    );
    signal(run.pid(), Signal::SIGINT);
    let out = run.finish(Duration::from_secs(15));
    assert_no_leftovers(Some(&m), &tag);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(b.out().join("summary.csv").is_file());
    for t in ["a_run1", "a_run2"] {
        assert_eq!(b.verdict(t), "cancelled", "{}", text(&out.stdout));
    }
    for i in 1..=6 {
        assert_eq!(b.verdict(&format!("b_queued{i}")), "cancelled");
    }
}

// ---------------------------------------------------------------------------
// 9. Retries.

#[test]
fn failed_tasks_are_retried_but_invalid_input_is_not() {
    let b = Batch::new();
    b.task("flaky", "exit=3\n").task("broken", "colour=blue\n");
    let out = run_within(b.run_cmd(&["--retries", "2", "--workers", "2"]), LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

    let flaky = b.row("flaky");
    assert_eq!(flaky["verdict"], "failed:crashed", "{flaky:?}");
    assert_eq!(flaky["attempts"], "3", "{flaky:?}");
    for n in 1..=3 {
        assert!(attempt_log(&b, "flaky", n).is_file(), "attempt-{n}.log");
    }
    assert!(!attempt_log(&b, "flaky", 4).exists());
    let starts: Vec<u64> = attempt_starts(&b, "flaky").iter().map(|s| s.0).collect();
    assert_eq!(starts, vec![1, 2, 3]);

    let broken = b.row("broken");
    assert_eq!(broken["verdict"], "failed:invalid-input", "{broken:?}");
    assert_eq!(broken["attempts"], "1", "{broken:?}");
    assert!(!attempt_log(&b, "broken", 2).exists());
    assert_eq!(attempt_starts(&b, "broken").len(), 1);
}

// ---------------------------------------------------------------------------
// 10. Serial mode.

#[test]
fn serial_mode_runs_and_says_timeouts_were_not_enforced() {
    let b = Batch::new();
    b.task("a", "output=10\n").task("b", "sleep=0.01\n");
    let out = run_within(b.run_cmd(&["--mode", "serial", "--timeout", "5"]), LIMIT);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        b.verdicts(),
        vec![("a".into(), "done".into()), ("b".into(), "done".into())]
    );
    assert_eq!(read_all(&b.out().join("a/output.bin")).len(), 10);
    assert!(
        stdout.contains("timeouts") && stdout.contains("not enforced"),
        "the summary does not say timeouts were not enforced:\n{stdout}"
    );
}

// ---------------------------------------------------------------------------
// Extra: what a finished task left running dies with the task, not only at
// the end of the batch; SIGTERM to the supervisor stops running tasks at once.

/// SIGTERM twice, the second once the first was acknowledged (signals do not
/// queue): the first drains, the second stops running tasks.
fn stop_running_tasks(run: &Captured) {
    signal(run.pid(), Signal::SIGTERM);
    wait_until(
        Duration::from_secs(10),
        "the first SIGTERM to be acknowledged",
        || run.stderr_text().contains("interrupted (SIGTERM)"),
    );
    signal(run.pid(), Signal::SIGTERM);
}

fn finished_task_leaves_nothing_running(mode: &str, base: u32, name: &str) {
    let m = sleep_marker(base);
    let tag = tag(name);
    let b = Batch::new();
    b.task("a_child", &format!("child={m}\n"))
        .task("a_escape", &format!("escape={m}\n"))
        .task("z_long", "sleep=30\n");
    let mut run = Captured::spawn(tagged(
        // One worker: in pool mode the worker that ran the finished tasks is
        // still alive (running z_long) when the check is made.
        b.run_cmd(&["--mode", mode, "--workers", "1", "--kill-grace", "1"]),
        &tag,
    ));
    let ended = |t: &str| {
        b.journal()
            .iter()
            .any(|r| r["event"] == "attempt_end" && r["task"] == t)
    };
    wait_until(
        Duration::from_secs(20),
        "a_child and a_escape to end",
        || ended("a_child") && ended("a_escape"),
    );
    assert_gone(
        "the finished tasks' child and escapee are still running",
        Some(&m),
        None,
    );
    assert!(
        run.child.try_wait().unwrap().is_none(),
        "the batch ended early"
    );
    assert!(!ended("z_long"));
    stop_running_tasks(&run);
    let out = run.finish(Duration::from_secs(15));
    assert_no_leftovers(Some(&m), &tag);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert_eq!(b.verdict("a_child"), "done");
    assert_eq!(b.verdict("a_escape"), "done");
    assert_eq!(b.verdict("z_long"), "cancelled");
    for t in ["a_child", "a_escape"] {
        let log = fs::read_to_string(attempt_log(&b, t, 1)).unwrap_or_default();
        assert!(log.contains(&format!("sleep {m}`")), "{t} log:\n{log}");
    }
}

#[test]
fn finished_task_children_die_with_the_task_pool() {
    finished_task_leaves_nothing_running("pool", 43, "finished-pool");
}

#[test]
fn finished_task_children_die_with_the_task_subprocess() {
    finished_task_leaves_nothing_running("subprocess", 44, "finished-subprocess");
}

#[test]
fn timed_out_task_escapee_dies_at_the_timeout_not_at_batch_end() {
    let m = sleep_marker(45);
    let tag = tag("escape-timeout");
    let b = Batch::new();
    b.task("a_escape_hang", &format!("escape={m}\nsleep=30\n"))
        .task("z_long", "sleep=30\n");
    // One worker: z_long runs after a_escape_hang and keeps the batch alive.
    let mut run = Captured::spawn(tagged(
        b.run_cmd(&[
            "--mode",
            "pool",
            "--workers",
            "1",
            "--timeout",
            "3",
            "--kill-grace",
            "1",
        ]),
        &tag,
    ));
    wait_until(Duration::from_secs(20), "the escapee to start", || {
        !processes_with_arg(&m).is_empty()
    });
    wait_until(Duration::from_secs(20), "z_long to start", || {
        !attempt_starts(&b, "z_long").is_empty()
    });
    assert_eq!(
        journal_verdict(&b, "a_escape_hang").as_deref(),
        Some("failed:timeout")
    );
    assert_gone(
        "the timed-out task's setsid escapee is still running",
        Some(&m),
        None,
    );
    assert!(
        run.child.try_wait().unwrap().is_none(),
        "the batch ended early"
    );
    stop_running_tasks(&run);
    let out = run.finish(Duration::from_secs(15));
    assert_no_leftovers(Some(&m), &tag);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert_eq!(b.verdict("a_escape_hang"), "failed:timeout");
}

#[test]
fn killed_supervisor_takes_task_children_with_it() {
    let m = sleep_marker(46);
    let b = Batch::new();
    b.task("t", &format!("child={m}\nsleep=30\n"));
    let mut run = Captured::spawn(b.run_cmd(&["--mode", "pool", "--workers", "1"]));
    wait_until(Duration::from_secs(20), "the task's child to start", || {
        !processes_with_arg(&m).is_empty()
    });
    signal(run.pid(), Signal::SIGKILL);
    wait_exit(&mut run.child, LIMIT);
    assert_gone(
        "the task's child outlived its killed supervisor",
        Some(&m),
        None,
    );
}
