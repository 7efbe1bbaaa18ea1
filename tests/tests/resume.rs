//! Crash-safe state: the journal, the run lock and resume. A supervisor
//! killed with SIGKILL anywhere leaves nothing running and nothing partial,
//! and the next run finishes the batch with every task done exactly once.
mod common;
use common::*;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const RUN_LIMIT: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(20);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An environment variable unique to this test and process: the supervisor,
/// its workers and anything they start inherit it.
fn tag(name: &str) -> (String, String) {
    (
        "ISOBATCH_TEST_TAG".into(),
        format!("resume-{name}-{}", std::process::id()),
    )
}

fn tagged(mut cmd: Command, tag: &(String, String)) -> Command {
    cmd.env(&tag.0, &tag.1);
    cmd
}

fn leftover_processes(tag: &(String, String)) -> Vec<u32> {
    processes_with_env(&format!("{}={}", tag.0, tag.1))
}

/// True while `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|r| !r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

fn lock_shows(b: &Batch, pid: u32) -> bool {
    fs::read_to_string(b.out().join(".isobatch/lock"))
        .is_ok_and(|s| s.contains(&format!("pid={pid} ")))
}

fn count(b: &Batch, event: &str) -> usize {
    b.journal().iter().filter(|e| e["event"] == event).count()
}

/// Worker pids of every attempt_start in the journal.
fn journal_worker_pids(b: &Batch) -> BTreeSet<u32> {
    b.journal()
        .iter()
        .filter(|e| e["event"] == "attempt_start")
        .filter_map(|e| e["worker_pid"].as_u64())
        .map(|p| p as u32)
        .collect()
}

/// Task ids with an attempt_start after the journal's first `skip` lines.
fn started_after(b: &Batch, skip: usize) -> BTreeSet<String> {
    b.journal()
        .iter()
        .skip(skip)
        .filter(|e| e["event"] == "attempt_start")
        .map(|e| e["task"].as_str().unwrap().to_string())
        .collect()
}

/// Runs the batch, waits until `cond` holds, kills the supervisor with
/// SIGKILL, and checks that the run leaves no process behind.
fn kill_when(
    b: &Batch,
    cmd: Command,
    tag: &(String, String),
    what: &str,
    mut cond: impl FnMut(&Batch, u32) -> bool,
) {
    let mut run = Captured::spawn(tagged(cmd, tag));
    let pid = run.pid();
    let mut ended = None;
    wait_until(WAIT, what, || {
        if let Ok(Some(s)) = run.child.try_wait() {
            ended = Some(s);
            return true;
        }
        cond(b, pid)
    });
    assert!(
        ended.is_none(),
        "the run ended ({ended:?}) before the kill point ({what}):\n{}",
        run.stderr_text()
    );
    run.child.kill().expect("SIGKILL the supervisor");
    let out = run.finish(WAIT);
    assert_eq!(out.status.signal(), Some(9), "{}", text(&out.stderr));
    let pids = journal_worker_pids(b);
    wait_until(WAIT, "the killed run's workers to die", || {
        pids.iter().all(|&p| !alive(p)) && leftover_processes(tag).is_empty()
    });
}

/// Every temporary name (`.*.tmp-*`) under the task folders of `out`.
fn temp_leftovers(out: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for e in fs::read_dir(out).into_iter().flatten().flatten() {
        if e.file_name() == ".isobatch" || !e.path().is_dir() {
            continue;
        }
        for f in fs::read_dir(e.path()).into_iter().flatten().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.contains(".tmp-") {
                found.push(f.path().display().to_string());
            }
        }
    }
    found
}

/// Twelve tasks with outputs from 0 bytes to 4 MB and short sleeps.
const TASKS: [(&str, u64, &str); 12] = [
    ("t01", 0, "0.15"),
    ("t02", 1, "0.2"),
    ("t03", 4_000_000, "0.1"),
    ("t04", 65_536, "0.25"),
    ("t05", 65_537, "0.15"),
    ("t06", 2_500_000, "0.2"),
    ("t07", 1_000, "0.3"),
    ("t08", 300_000, "0.15"),
    ("t09", 3_000_001, "0.2"),
    ("t10", 7, "0.25"),
    ("t11", 1_048_576, "0.15"),
    ("t12", 123_457, "0.2"),
];

fn twelve_tasks(b: &Batch) {
    for (id, bytes, secs) in TASKS {
        b.task(id, &format!("sleep={secs}\noutput={bytes}\n"));
    }
}

fn assert_outputs_equal(b: &Batch, reference: &Batch, ids: &[&str]) {
    for id in ids {
        let got = read_all(&b.out().join(id).join("output.bin"));
        let want = read_all(&reference.out().join(id).join("output.bin"));
        assert!(
            got == want,
            "{id}/output.bin differs from the clean run's ({} vs {} bytes)",
            got.len(),
            want.len()
        );
    }
}

fn done(ids: &[&str]) -> Vec<(String, String)> {
    ids.iter()
        .map(|i| (i.to_string(), "done".to_string()))
        .collect()
}

#[test]
fn sigkill_at_any_point_then_rerun_completes_every_task_exactly_once() {
    let ids: Vec<&str> = TASKS.iter().map(|t| t.0).collect();
    let args = ["--workers", "2"];
    // The uninterrupted reference, in parallel with the interrupted runs.
    let reference = Batch::new();
    twelve_tasks(&reference);
    let clean = Captured::spawn(reference.run_cmd(&args));

    let b = Batch::new();
    twelve_tasks(&b);
    let t = tag("sigkill");

    // (a) As soon as the run holds the lock: dispatch is just starting.
    kill_when(
        &b,
        b.run_cmd(&args),
        &t,
        "the lock file to show the run's pid",
        lock_shows,
    );

    // (b) Workers busy: three attempts have ended in this run.
    let ends = count(&b, "attempt_end");
    kill_when(
        &b,
        b.run_cmd(&args),
        &t,
        "3 more attempt_end lines",
        |b, _| count(b, "attempt_end") >= ends + 3,
    );

    // (c) Late in the batch: all but one of the remaining tasks have started.
    let finished: BTreeSet<String> = b
        .journal()
        .iter()
        .filter(|e| e["event"] == "attempt_end" && e["verdict"] == "done")
        .map(|e| e["task"].as_str().unwrap().to_string())
        .collect();
    let remaining = ids.len() - finished.len();
    assert!(
        remaining >= 3,
        "the earlier runs did too much: {finished:?}"
    );
    let starts = count(&b, "attempt_start");
    kill_when(
        &b,
        b.run_cmd(&args),
        &t,
        "all but one remaining task to start",
        |b, _| count(b, "attempt_start") >= starts + remaining - 1,
    );

    // What a worker killed mid-write leaves: a temporary file next to the
    // output of a task that is not done. The rerun must clean it.
    let done_now: BTreeSet<String> = b
        .journal()
        .iter()
        .filter(|e| e["event"] == "attempt_end" && e["verdict"] == "done")
        .map(|e| e["task"].as_str().unwrap().to_string())
        .collect();
    let unfinished = *ids
        .iter()
        .rev()
        .find(|id| !done_now.contains(**id))
        .expect("a task left");
    fs::create_dir_all(b.out().join(unfinished)).unwrap();
    fs::write(
        b.out().join(unfinished).join(".output.bin.tmp-999999"),
        b"partial",
    )
    .unwrap();

    // The rerun starts at once (the lock died with its holder) and finishes.
    let out = run_within(tagged(b.run_cmd(&args), &t), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for (task, verdict) in b.verdicts() {
        assert!(
            verdict == "done" || verdict == "skipped",
            "{task}: {verdict}"
        );
    }
    assert_eq!(b.verdicts().len(), 12);

    // Across all runs: one `done` per task, and nothing started after it.
    let journal = b.journal();
    for id in &ids {
        let events: Vec<_> = journal.iter().filter(|e| e["task"] == *id).collect();
        let done_at: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e["event"] == "attempt_end" && e["verdict"] == "done")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(done_at.len(), 1, "{id}: {events:#?}");
        assert!(
            !events[done_at[0]..]
                .iter()
                .any(|e| e["event"] == "attempt_start"),
            "{id} ran again after it was done: {events:#?}"
        );
        // Attempt numbers continue across runs, so no attempt log is overwritten.
        let attempts: Vec<u64> = events
            .iter()
            .filter(|e| e["event"] == "attempt_start")
            .map(|e| e["attempt"].as_u64().unwrap())
            .collect();
        assert!(
            attempts.windows(2).all(|w| w[0] < w[1]),
            "{id}: attempts {attempts:?}"
        );
        let last = attempts.last().expect("at least one attempt");
        let log = b
            .out()
            .join(format!(".isobatch/logs/{id}/attempt-{last}.log"));
        assert!(log.exists(), "{}", log.display());
    }
    // Run (a) may die before its run_start reaches the journal; the others cannot.
    let runs = count(&b, "run_start");
    assert!((3..=4).contains(&runs), "{runs} run_start lines for 4 runs");

    let clean = clean.finish(RUN_LIMIT);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean.stderr));
    assert_eq!(reference.verdicts(), done(&ids));
    assert_outputs_equal(&b, &reference, &ids);
    assert_eq!(temp_leftovers(&b.out()), Vec::<String>::new());
    assert!(leftover_processes(&t).is_empty());
}

#[test]
fn truncated_or_resized_outputs_are_recomputed() {
    let b = Batch::new();
    let ids = ["a", "b", "c", "d"];
    b.task("a", "output=200000\n")
        .task("b", "output=300001\n")
        .task("c", "output=4096\n")
        .task("d", "output=0\n");
    let out = run_within(b.run_cmd(&["--workers", "2"]), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let before: BTreeMap<&str, Vec<u8>> = ids
        .iter()
        .map(|id| (*id, read_all(&b.out().join(id).join("output.bin"))))
        .collect();

    // a: cut to half, as an attempt killed mid-write with a plain write would leave it.
    let f = fs::OpenOptions::new()
        .write(true)
        .open(b.out().join("a/output.bin"))
        .unwrap();
    f.set_len(100_000).unwrap();
    drop(f);
    // b: grown.
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(b.out().join("b/output.bin"))
        .unwrap();
    f.write_all(b"garbage").unwrap();
    drop(f);

    let lines = b.journal().len();
    let out = run_within(b.run_cmd(&["--workers", "2"]), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        b.verdicts(),
        vec![
            ("a".into(), "done".into()),
            ("b".into(), "done".into()),
            ("c".into(), "skipped".into()),
            ("d".into(), "skipped".into()),
        ]
    );
    assert_eq!(
        started_after(&b, lines),
        ["a", "b"].map(String::from).into()
    );
    for id in ids {
        assert!(
            read_all(&b.out().join(id).join("output.bin")) == before[id],
            "{id}/output.bin is not what the first run wrote"
        );
    }

    // A deleted output (even an empty one) is missing, not up to date.
    fs::remove_file(b.out().join("d/output.bin")).unwrap();
    let out = run_within(b.run_cmd(&["--workers", "2"]), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(b.verdict("d"), "done");
    assert_eq!(b.verdict("a"), "skipped");
    assert_eq!(read_all(&b.out().join("d/output.bin")).len(), 0);
}

/// Half a JSON object, no newline: what a crash mid-append leaves.
const TORN: &[u8] = b"{\"event\":\"attempt_end\",\"time\":1795309337.2,\"task\":\"a\",\"att";

fn tear_journal(b: &Batch) -> usize {
    let path = b.out().join(".isobatch/journal.jsonl");
    let lines = fs::read_to_string(&path).unwrap().lines().count();
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(TORN).unwrap();
    lines + 1
}

#[test]
fn a_torn_last_journal_line_is_tolerated_and_reported() {
    let b = Batch::new();
    b.task("a", "output=1000\n").task("b", "sleep=0.01\n");
    let out = run_within(b.run_cmd(&["--workers", "2"]), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let torn_line = tear_journal(&b);

    // status reads it and says which line is damaged.
    let st = run_within(
        {
            let mut c = isobatch();
            c.arg("status").arg(b.out());
            c
        },
        RUN_LIMIT,
    );
    assert_eq!(st.status.code(), Some(0), "{}", text(&st.stderr));
    let report = text(&st.stdout) + &text(&st.stderr);
    assert!(report.contains(&format!("line {torn_line}")), "{report}");
    assert!(report.contains("2 done"), "{report}");

    // The rerun works, says so, and picks up a new input.
    b.task("c", "output=10\n");
    let out = run_within(b.run_cmd(&["--workers", "2"]), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("damaged") && err.contains(&format!("line {torn_line}")),
        "the damaged line is not mentioned:\n{err}"
    );
    assert_eq!(
        b.verdicts(),
        vec![
            ("a".into(), "skipped".into()),
            ("b".into(), "skipped".into()),
            ("c".into(), "done".into()),
        ]
    );

    let st = run_within(
        {
            let mut c = isobatch();
            c.arg("status").arg(b.out()).arg("--json");
            c
        },
        RUN_LIMIT,
    );
    assert_eq!(st.status.code(), Some(0), "{}", text(&st.stderr));
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).expect("status --json");
    let problems = v["journal_problems"].as_array().expect("journal_problems");
    assert!(!problems.is_empty(), "{v:#}");
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().unwrap().contains(&format!("line {torn_line}"))),
        "{v:#}"
    );
    assert_eq!(v["state"], "finished", "{v:#}");
}

#[test]
fn a_rerun_after_a_torn_line_keeps_its_own_records_intact() {
    let b = Batch::new();
    b.task("a", "output=1000\n").task("b", "sleep=0.01\n");
    let out = run_within(b.run_cmd(&["--workers", "2"]), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let torn_line = tear_journal(&b);

    b.task("s", "sleep=3\n");
    let rerun = Captured::spawn(b.run_cmd(&["--workers", "2"]));
    let pid = rerun.pid();
    wait_until(WAIT, "s to start", || started_after(&b, 0).contains("s"));
    let st = run_within(
        {
            let mut c = isobatch();
            c.arg("status").arg(b.out()).arg("--json");
            c
        },
        RUN_LIMIT,
    );
    let out = rerun.finish(RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).expect("status --json");
    assert_ne!(v["state"], "finished", "status during the rerun: {v:#}");
    assert_eq!(
        v["running"][0]["task"], "s",
        "status during the rerun: {v:#}"
    );

    // Only the torn fragment itself may be damaged; every line the rerun wrote parses.
    let text = fs::read_to_string(b.out().join(".isobatch/journal.jsonl")).unwrap();
    let bad: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| serde_json::from_str::<serde_json::Value>(l).is_err())
        .map(|(i, l)| (i + 1, l))
        .collect();
    assert_eq!(bad.len(), 1, "{bad:#?}");
    assert_eq!(bad[0].0, torn_line);
    assert!(
        b.journal()
            .iter()
            .any(|e| e["event"] == "run_start" && e["pid"].as_u64() == Some(u64::from(pid))),
        "the rerun's run_start is not in the journal:\n{}",
        bad[0].1
    );
}

#[test]
fn changed_parameters_rerun_every_task_and_force_recomputes() {
    let b = Batch::new();
    let ids = ["a", "b", "c"];
    b.task("a", "output=5000\n")
        .task("b", "output=70000\n")
        .task("c", "sleep=0.01\n");
    // An exec pipeline: selftest takes no --param (it would be ignored, so it is refused).
    let run_cmd = |extra: &[&str]| {
        let mut c = b.pipeline_cmd(
            "exec",
            &[
                "--pattern",
                "{id}.txt",
                "--exec",
                "cp {input} {task_dir}/output.bin",
            ],
        );
        c.args(extra);
        c
    };
    let args = ["--workers", "2"];
    let out = run_within(run_cmd(&args), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let a_before = read_all(&b.out().join("a/output.bin"));

    let with_param = ["--workers", "2", "--param", "x=1"];
    let out = run_within(run_cmd(&with_param), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        b.verdicts(),
        done(&ids),
        "a new --param must rerun every task"
    );

    let lines = b.journal().len();
    let out = run_within(run_cmd(&with_param), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        b.verdicts().iter().all(|(_, v)| v == "skipped"),
        "same parameters again must skip: {:?}",
        b.verdicts()
    );
    assert!(started_after(&b, lines).is_empty());

    // Back to no --param: the last done attempts had x=1, so everything reruns.
    let out = run_within(run_cmd(&args), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(b.verdicts(), done(&ids));

    let mut forced = args.to_vec();
    forced.push("--force");
    let lines = b.journal().len();
    let out = run_within(run_cmd(&forced), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(b.verdicts(), done(&ids), "--force recomputes everything");
    assert_eq!(started_after(&b, lines), ids.map(String::from).into());
    assert!(read_all(&b.out().join("a/output.bin")) == a_before);
}

#[test]
fn new_inputs_are_picked_up_and_only_they_run() {
    let b = Batch::new();
    b.task("a", "output=100\n")
        .task("b", "sleep=0.01\n")
        .task("c", "output=1\n");
    let out = run_within(b.run_cmd(&["--workers", "2"]), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    b.task("d", "output=20000\n").task("e", "sleep=0.01\n");
    let lines = b.journal().len();
    let out = run_within(b.run_cmd(&["--workers", "2"]), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        b.verdicts(),
        vec![
            ("a".into(), "skipped".into()),
            ("b".into(), "skipped".into()),
            ("c".into(), "skipped".into()),
            ("d".into(), "done".into()),
            ("e".into(), "done".into()),
        ]
    );
    assert_eq!(
        started_after(&b, lines),
        ["d", "e"].map(String::from).into()
    );
    assert_eq!(read_all(&b.out().join("d/output.bin")).len(), 20000);
}

#[test]
fn a_second_run_is_refused_while_the_first_holds_the_lock_and_not_after_it_dies() {
    let b = Batch::new();
    b.task("slow", &format!("sleep={}\n", marker(30)))
        .task("fast", "output=10\n");
    let t = tag("lock");
    let mut first = Captured::spawn(tagged(b.run_cmd(&["--workers", "2"]), &t));
    let first_pid = first.pid();
    wait_until(WAIT, "the first run to hold the lock", || {
        lock_shows(&b, first_pid)
    });
    wait_until(WAIT, "the slow task to start", || {
        started_after(&b, 0).contains("slow")
    });

    let second = run_within(b.run_cmd(&["--workers", "2"]), RUN_LIMIT);
    assert_eq!(second.status.code(), Some(3), "{}", text(&second.stderr));
    let err = text(&second.stderr);
    assert!(
        err.contains(&format!("pid={first_pid}")),
        "holder not named: {err}"
    );
    assert!(
        !b.out().join("summary.csv").exists(),
        "the refused run wrote a summary"
    );
    assert!(
        lock_shows(&b, first_pid),
        "the refused run overwrote the lock"
    );
    assert_eq!(
        count(&b, "run_start"),
        1,
        "the refused run wrote to the journal"
    );

    first.child.kill().expect("SIGKILL the first run");
    let out = first.finish(WAIT);
    assert_eq!(out.status.signal(), Some(9));
    let pids = journal_worker_pids(&b);
    wait_until(WAIT, "the first run's workers to die", || {
        pids.iter().all(|&p| !alive(p)) && leftover_processes(&t).is_empty()
    });

    // At once: no waiting for a stale lock.
    let third = Captured::spawn(b.run_cmd(&["--workers", "2", "--select", "fast"]));
    let third_pid = third.pid();
    let out = third.finish(RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        lock_shows(&b, third_pid),
        "the lock does not name the new holder"
    );
    assert_eq!(b.verdicts().len(), 1);
    assert_eq!(read_all(&b.out().join("fast/output.bin")).len(), 10);
}

#[test]
fn status_shows_running_tasks_during_a_run_and_final_counts_after() {
    let b = Batch::new();
    b.task("a", "sleep=3\n")
        .task("b", "sleep=3\n")
        .task("c", "fail=boom\n")
        .task("d", "output=10\n");
    let status = |json: bool| {
        let mut c = isobatch();
        c.arg("status").arg(b.out());
        if json {
            c.arg("--json");
        }
        let out = run_within(c, RUN_LIMIT);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        out
    };
    let run = Captured::spawn(b.run_cmd(&["--workers", "2"]));
    wait_until(WAIT, "a and b to start", || {
        let s = started_after(&b, 0);
        s.contains("a") && s.contains("b")
    });
    let v: serde_json::Value = serde_json::from_slice(&status(true).stdout).expect("json");
    let running: BTreeSet<&str> = v["running"]
        .as_array()
        .expect("running")
        .iter()
        .map(|r| r["task"].as_str().unwrap())
        .collect();
    assert_eq!(running, ["a", "b"].into(), "{v:#}");
    assert_ne!(v["state"], "finished", "{v:#}");
    let plain = text(&status(false).stdout);
    assert!(plain.contains("running: a"), "{plain}");

    let out = run.finish(RUN_LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&status(true).stdout).expect("json");
    assert_eq!(v["state"], "finished", "{v:#}");
    assert_eq!(v["running"].as_array().map(Vec::len), Some(0), "{v:#}");
    let mut from_summary: BTreeMap<String, u64> = BTreeMap::new();
    for (_, verdict) in b.verdicts() {
        *from_summary.entry(verdict).or_default() += 1;
    }
    let counts: BTreeMap<String, u64> = v["counts"]
        .as_object()
        .expect("counts")
        .iter()
        .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
        .collect();
    assert_eq!(counts, from_summary, "{v:#}");
    assert_eq!(
        counts,
        [("done".to_string(), 3), ("failed:error".to_string(), 1)].into()
    );
    let failures = v["failures"].as_array().expect("failures");
    assert_eq!(failures.len(), 1, "{v:#}");
    assert_eq!(failures[0]["task"], "c");
    assert!(
        failures[0]["message"].as_str().unwrap().contains("boom"),
        "{v:#}"
    );
}

#[test]
fn an_attempt_killed_after_a_done_one_makes_the_task_run_again() {
    let b = Batch::new();
    b.task("t", "x\n");
    // `isobatch run --pipeline exec` on `b` with the command template `exec`.
    let exec = |exec: &str| {
        let mut cmd = isobatch();
        cmd.args([
            "run",
            "--pipeline",
            "exec",
            "--pattern",
            "{name}.txt",
            "--progress",
            "none",
        ])
        .args(["--workers", "1", "--exec", exec, "--input"])
        .arg(b.raw())
        .arg("--output")
        .arg(b.out());
        cmd
    };
    let old = "sh -c 'echo old > {task_dir}/result.txt'";
    let new = format!(
        "sh -c 'echo new > {{task_dir}}/result.txt; exec sleep {}'",
        marker(30)
    );
    let out = run_within(exec(old), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let result = b.out().join("t/result.txt");
    assert_eq!(fs::read_to_string(&result).unwrap(), "old\n");

    // Other parameters; the supervisor dies once the attempt has written its
    // output, in its staging folder: the published result is never touched.
    let t = tag("stale");
    let staged = || {
        fs::read_dir(b.out().join(".isobatch/staging/t"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| fs::read_to_string(e.path().join("result.txt")).is_ok_and(|s| s == "new\n"))
    };
    // Its start must be on disk too: a start lost in the journal's commit window leaves
    // only the done attempt on record, whose published result is intact (and skipped).
    let started = || {
        fs::read_to_string(b.out().join(".isobatch/journal.jsonl")).is_ok_and(|j| {
            j.lines()
                .any(|l| l.contains(r#""event":"attempt_start""#) && l.contains(r#""attempt":2"#))
        })
    };
    kill_when(
        &b,
        exec(&new),
        &t,
        "the new attempt to be journaled and write result.txt",
        |_, _| staged() && started(),
    );
    assert_eq!(fs::read_to_string(&result).unwrap(), "old\n");

    // The old command again: its last attempt did not finish, so it must run.
    let out = run_within(exec(old), RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(b.verdict("t"), "done", "{}", text(&out.stdout));
    assert_eq!(fs::read_to_string(&result).unwrap(), "old\n");
}

#[test]
fn a_tasks_child_does_not_outlive_a_sigkilled_supervisor() {
    let b = Batch::new();
    let secs = marker(40);
    b.task("c", &format!("child={secs}\nsleep=30\n"));
    let t = tag("child");
    let log = b.out().join(".isobatch/logs/c/attempt-1.log");
    let mut run = Captured::spawn(tagged(b.run_cmd(&["--workers", "1"]), &t));
    wait_until(WAIT, "the child to start", || {
        fs::read_to_string(&log).is_ok_and(|s| s.contains("started child"))
    });
    run.child.kill().expect("SIGKILL the supervisor");
    let out = run.finish(WAIT);
    assert_eq!(out.status.signal(), Some(9));

    let end = std::time::Instant::now() + Duration::from_secs(5);
    let mut left = leftover_processes(&t);
    while !left.is_empty() && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
        left = leftover_processes(&t);
    }
    // Do not leave our own stray processes behind for 40 s.
    for &pid in &left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(
        left.is_empty(),
        "still running after the supervisor died: {left:?}"
    );
}

/// An output rewritten in place with the same size (as an attempt whose start
/// the journal lost inside its group-commit window can leave it) is not the
/// done attempt's any more: the task runs again.
#[test]
fn an_output_rewritten_with_the_same_size_is_not_kept() {
    let b = Batch::new();
    b.task("t", "output=16\n");
    assert_eq!(b.run(&[]).status.code(), Some(0));
    let out = b.out().join("t/output.bin");
    let original = read_all(&out);
    fs::write(&out, [0u8; 16]).expect("rewrite");
    assert_eq!(b.run(&[]).status.code(), Some(0));
    assert_eq!(b.verdict("t"), "done");
    assert_eq!(read_all(&out), original);
    assert_eq!(b.run(&[]).status.code(), Some(0));
    assert_eq!(b.verdict("t"), "skipped");
}
