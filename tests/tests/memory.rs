//! Memory: peaks are the worker's, caps kill over-limit trees, leaking pool
//! workers are flagged and recycled, pre-flight refuses what cannot fit.
mod common;
use common::*;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::time::Duration;

const MIB: u64 = 1024 * 1024;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `.isobatch/memory.csv` as one map column → value per row.
fn memory_rows(b: &Batch) -> Vec<BTreeMap<String, String>> {
    let text = fs::read_to_string(b.out().join(".isobatch/memory.csv")).expect("memory.csv");
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().expect("headers").clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [
            "task",
            "attempt",
            "worker_pid",
            "mode",
            "rss_before_bytes",
            "rss_after_bytes",
            "peak_rss_bytes",
            "duration_s"
        ]
    );
    rdr.records()
        .map(|r| {
            let r = r.expect("row");
            headers
                .iter()
                .map(String::from)
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn num(row: &BTreeMap<String, String>, col: &str) -> u64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} is not a number in {row:?}"))
}

fn peak(b: &Batch, task: &str) -> u64 {
    let row = b.row(task);
    row["peak_rss_bytes"]
        .parse()
        .unwrap_or_else(|_| panic!("peak_rss_bytes of {task}: {row:?}"))
}

/// Distinct worker pids of the journal's attempt_start lines, in first-seen order.
fn journal_worker_pids(b: &Batch) -> Vec<u64> {
    let mut pids = Vec::new();
    for e in b.journal() {
        if e["event"] == "attempt_start" {
            let pid = e["worker_pid"]
                .as_u64()
                .expect("attempt_start has a worker_pid");
            if !pids.contains(&pid) {
                pids.push(pid);
            }
        }
    }
    pids
}

#[test]
fn a_leaking_pool_worker_is_flagged_then_recycled_by_max_worker_memory() {
    let b = Batch::new();
    for i in 1..=8 {
        b.task(&format!("t{i}"), "leak=20M\n");
    }
    let pool = ["--mode", "pool", "--workers", "1", "--memory-debug"];

    // Without a cap: one worker runs everything and keeps growing.
    let out = run_within(b.run_cmd(&pool), Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Memory"), "no Memory section:\n{stdout}");
    assert!(
        stdout.contains("likely leak"),
        "leak not flagged:\n{stdout}"
    );
    let rows = memory_rows(&b);
    assert_eq!(rows.len(), 8);
    let pids: BTreeSet<_> = rows.iter().map(|r| r["worker_pid"].clone()).collect();
    assert_eq!(pids.len(), 1, "one pool worker without recycling: {rows:?}");
    assert!(rows.iter().all(|r| r["mode"] == "pool"), "{rows:?}");
    for r in &rows {
        let peak = num(r, "peak_rss_bytes");
        assert!(
            peak >= num(r, "rss_after_bytes") && peak >= num(r, "rss_before_bytes"),
            "{r:?}"
        );
    }
    let last = rows
        .iter()
        .map(|r| num(r, "rss_after_bytes"))
        .max()
        .unwrap();
    assert!(
        last >= 160 * MIB,
        "8 × 20 MiB leaked, RSS after only {last}"
    );

    // With --max-worker-memory 60M: the worker is replaced once its RSS is over.
    let capped = Batch::new();
    for i in 1..=8 {
        capped.task(&format!("t{i}"), "leak=20M\n");
    }
    let mut args = pool.to_vec();
    args.extend(["--max-worker-memory", "60M"]);
    let out = run_within(capped.run_cmd(&args), Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        capped.verdicts().iter().all(|(_, v)| v == "done"),
        "{:?}",
        capped.verdicts()
    );
    let rows = memory_rows(&capped);
    assert_eq!(rows.len(), 8, "{rows:?}");
    let mut by_pid: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in &rows {
        let after = num(r, "rss_after_bytes");
        assert!(after > 0, "{r:?}");
        assert!(
            after < 100 * MIB,
            "worker RSS not bounded by recycling: {r:?}"
        );
        by_pid
            .entry(r["worker_pid"].clone())
            .or_default()
            .push(after);
    }
    assert!(by_pid.len() >= 2, "the worker was never recycled: {rows:?}");
    // A worker whose RSS went over the cap ran no further task.
    for (pid, afters) in &by_pid {
        let over: Vec<_> = afters.iter().filter(|&&a| a > 60 * MIB).collect();
        assert!(
            over.len() <= 1,
            "worker {pid} kept running over the cap: {afters:?}"
        );
        if let Some(&&o) = over.first() {
            assert_eq!(o, *afters.iter().max().unwrap(), "worker {pid}: {afters:?}");
        }
    }
}

#[test]
fn a_task_over_max_task_memory_fails_with_its_peak_and_the_rest_finish() {
    let b = Batch::new();
    b.task("big", "alloc=300M\nsleep=1\n")
        .task("s1", "sleep=0.1\n")
        .task("s2", "output=1000\n")
        .task("s3", "sleep=0.1\n");
    let out = run_within(
        b.run_cmd(&["--workers", "2", "--max-task-memory", "150M"]),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        b.verdicts(),
        vec![
            ("big".into(), "failed:memory-limit".into()),
            ("s1".into(), "done".into()),
            ("s2".into(), "done".into()),
            ("s3".into(), "done".into()),
        ]
    );
    let row = b.row("big");
    let p = peak(&b, "big");
    assert!(p >= 150 * MIB, "peak {p} below the cap it crossed: {row:?}");
    assert!(
        row["message"].contains("peak"),
        "message lacks the peak: {row:?}"
    );
    assert!(
        row["message"].contains("--max-task-memory"),
        "message does not name the cap: {row:?}"
    );
    let end = b
        .journal()
        .into_iter()
        .find(|e| e["event"] == "attempt_end" && e["task"] == "big")
        .expect("attempt_end for big");
    assert_eq!(end["verdict"], "failed:memory-limit");
    assert!(
        end["peak_rss_bytes"].as_u64().unwrap() >= 150 * MIB,
        "{end}"
    );
}

#[test]
fn peak_rss_is_the_workers_not_the_supervisors() {
    let b = Batch::new();
    b.task("big", "alloc=300M\nsleep=0.5\n")
        .task("tiny", "sleep=0.05\n");
    let out = run_within(b.run_cmd(&["--workers", "1"]), Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let big = peak(&b, "big");
    let tiny = peak(&b, "tiny");
    assert!(big >= 300 * MIB, "big's peak {big} < 300 MiB");
    assert!(tiny > 0, "tiny's peak was not measured");
    assert!(tiny < 100 * MIB, "tiny's peak {tiny} >= 100 MiB");
    // The journal carries the same figure.
    let end = b
        .journal()
        .into_iter()
        .find(|e| e["event"] == "attempt_end" && e["task"] == "big")
        .expect("attempt_end for big");
    assert_eq!(end["peak_rss_bytes"].as_u64(), Some(big));
}

#[test]
fn preflight_refuses_a_task_bigger_than_available_memory_unless_forced() {
    // The selftest estimate (16 MiB + alloc + leak) alone triggers the refusal.
    let b = Batch::new();
    b.task("huge", "alloc=100T\n").task("small", "sleep=0.01\n");
    let out = run_within(b.run_cmd(&["--workers", "1"]), Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("--force-run"), "{err}");
    assert!(err.contains("100.0 TiB"), "estimate not named: {err}");
    assert!(
        err.contains("available"),
        "available memory not named: {err}"
    );
    assert!(
        !b.out().join("summary.csv").exists(),
        "refused batch wrote a summary"
    );
    assert!(
        !b.out().join(".isobatch/journal.jsonl").exists(),
        "refused batch wrote a journal"
    );

    // --task-memory overrides the estimate; --force-run runs it anyway.
    let t = Batch::new();
    t.task("a", "output=10\n").task("b", "sleep=0.01\n");
    let out = run_within(
        t.run_cmd(&["--task-memory", "100T"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--force-run"),
        "{}",
        text(&out.stderr)
    );
    assert!(!t.out().join("summary.csv").exists());

    let out = run_within(
        t.run_cmd(&["--task-memory", "100T", "--force-run", "--workers", "2"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        t.verdicts(),
        vec![("a".into(), "done".into()), ("b".into(), "done".into())]
    );
    assert_eq!(read_all(&t.out().join("a/output.bin")).len(), 10);
}

#[test]
fn max_tasks_per_worker_recycles_pool_workers() {
    let b = Batch::new();
    for i in 1..=6 {
        b.task(&format!("t{i}"), "sleep=0.01\n");
    }
    let out = run_within(
        b.run_cmd(&[
            "--mode",
            "pool",
            "--workers",
            "1",
            "--max-tasks-per-worker",
            "2",
        ]),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        b.verdicts().iter().all(|(_, v)| v == "done"),
        "{:?}",
        b.verdicts()
    );
    let pids = journal_worker_pids(&b);
    assert_eq!(
        pids.len(),
        3,
        "expected 3 workers of 2 tasks each: {pids:?}"
    );
    for pid in &pids {
        let n = b
            .journal()
            .iter()
            .filter(|e| e["event"] == "attempt_start" && e["worker_pid"].as_u64() == Some(*pid))
            .count();
        assert_eq!(n, 2, "worker {pid} ran {n} tasks");
    }
}

#[test]
fn peak_rss_includes_an_allocation_shorter_than_the_sampling_interval() {
    // Four tries: a sample may land at the very end of the allocation by chance.
    let b = Batch::new();
    for i in 1..=4 {
        b.task(&format!("a{i}"), "alloc=200M\n");
    }
    let out = run_within(
        b.run_cmd(&["--workers", "1", "--memory-debug"]),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // At its peak a worker held what it had before the task plus the 200 MiB
    // (less up to 2 MiB of pages counted in rss_before and released since).
    let short: Vec<String> = memory_rows(&b)
        .iter()
        .filter(|r| num(r, "peak_rss_bytes") + 2 * MIB < num(r, "rss_before_bytes") + 200 * MIB)
        .map(|r| {
            format!(
                "{}: peak {} MiB < {} MiB held",
                r["task"],
                num(r, "peak_rss_bytes") / MIB,
                (num(r, "rss_before_bytes") + 200 * MIB) / MIB
            )
        })
        .collect();
    assert!(short.is_empty(), "{short:#?}");
}
