//! `--executor slurm` on a real single-node cluster (scripts/slurm-up).
//!
//! These tests are `#[ignore]`d so that a plain `cargo test --workspace` on a
//! machine without Slurm stays green; `.ci/run` starts the cluster and runs them
//! with `-- --ignored`. Run that way, a missing cluster fails them: they never skip.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use common::slurm::*;
use common::*;

const LIMIT: Duration = Duration::from_secs(180);

/// The cluster: shared by the tests, taken alone by the one that takes its node down.
static CLUSTER: RwLock<()> = RwLock::new(());

/// Panics unless a Slurm cluster answers; shares it with the other tests.
fn require_slurm() -> RwLockReadGuard<'static, ()> {
    let shared = CLUSTER.read().unwrap_or_else(PoisonError::into_inner);
    common::slurm::require_slurm();
    shared
}

/// Like [`require_slurm`], but no other test of this file uses the cluster meanwhile.
fn require_slurm_alone() -> RwLockWriteGuard<'static, ()> {
    let alone = CLUSTER.write().unwrap_or_else(PoisonError::into_inner);
    common::slurm::require_slurm();
    alone
}

/// The submission folder of the first array.
fn submission(b: &Batch) -> std::path::PathBuf {
    let j = b.journal();
    let e = j
        .iter()
        .find(|e| e["event"] == "slurm_array")
        .expect("a slurm_array record");
    b.out().join(e["list"].as_str().expect("list"))
}

/// True once element `index` of the submission journaled the start of its task.
fn element_started(dir: &Path, index: usize) -> bool {
    ["jsonl.tmp", "jsonl"].iter().any(|ext| {
        fs::read_to_string(dir.join(format!("results/{index}.{ext}")))
            .is_ok_and(|t| t.contains("attempt_start"))
    })
}

/// `isobatch run` of the fov pipeline over the batch's `raw/` into `out`.
fn fov_cmd(b: &Batch, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = isobatch();
    cmd.args(["run", "--progress", "none", "--input"])
        .arg(b.raw())
        .arg("--output")
        .arg(out)
        .args(extra);
    cmd
}

/// Slurm, two elements at a time.
const THROTTLED: [&str; 6] = [
    "--executor",
    "slurm",
    "--workers",
    "2",
    "--progress",
    "none",
];

/// `tasks` for [`gated_cmd`], and the gate file that lets them finish.
fn gated_tasks(tasks: &[&str]) -> (Batch, std::path::PathBuf) {
    let b = Batch::new();
    for t in tasks {
        b.task(t, "x\n");
    }
    let gate = b.dir.path().join("gate");
    (b, gate)
}

fn attempt_ends(b: &Batch, task: &str) -> usize {
    b.journal()
        .iter()
        .filter(|e| e["event"] == "attempt_end" && e["task"] == task)
        .count()
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-up, then cargo test --test slurm -- --ignored"]
fn fov_batch_on_slurm_gives_the_local_traces_byte_for_byte() {
    let _shared = require_slurm();
    let b = Batch::new();
    demo(&b, &["--fovs", "3", "--frames", "6", "--size", "96"]);
    let local = b.dir.path().join("local");
    ok(&run_within(fov_cmd(&b, &local, &[]), LIMIT));
    ok(&run_within(
        fov_cmd(&b, &b.out(), &["--executor", "slurm"]),
        LIMIT,
    ));
    assert_eq!(arrays(&b).len(), 1, "one sbatch for one array");
    for task in ["fov01", "fov02", "fov03"] {
        let rel = format!("{task}/traces.csv");
        assert_eq!(
            read_all(&b.out().join(&rel)),
            read_all(&local.join(&rel)),
            "{rel} differs between Slurm and local"
        );
        assert_eq!(b.verdict(task), "done");
    }
    assert_eq!(
        read_all(&b.out().join("traces.csv")),
        read_all(&local.join("traces.csv"))
    );
    // The same journal a local run writes: a rerun skips everything.
    ok(&run_within(
        fov_cmd(&b, &b.out(), &["--executor", "slurm"]),
        LIMIT,
    ));
    assert_eq!(arrays(&b).len(), 1, "nothing submitted when all is done");
    assert_eq!(b.verdict("fov01"), "skipped");
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-up, then cargo test --test slurm -- --ignored"]
fn hanging_failing_and_oversized_tasks_get_their_verdicts() {
    let _shared = require_slurm();
    let b = Batch::new();
    b.task("fine", "sleep=0.01\n")
        .task("hangs", "sleep=600\n")
        .task("fails", "fail=asked to\n")
        .task("big", "alloc=400M\nsleep=5\n");
    let mut cmd = b.run_cmd(&[
        "--executor",
        "slurm",
        "--timeout",
        "3s",
        "--kill-grace",
        "1s",
        "--max-task-memory",
        "150M",
        "--workers",
        "4",
    ]);
    cmd.arg("--force-run");
    let out = run_within(cmd, LIMIT);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        b.verdicts(),
        vec![
            ("big".into(), "failed:memory-limit".into()),
            ("fails".into(), "failed:error".into()),
            ("fine".into(), "done".into()),
            ("hangs".into(), "failed:timeout".into()),
        ]
    );
    let results: serde_json::Value =
        serde_json::from_slice(&read_all(&b.out().join("results.json"))).expect("results.json");
    assert!(results.to_string().contains("failed:timeout"));
    assert_eq!(arrays(&b).len(), 1);
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-up, then cargo test --test slurm -- --ignored"]
fn killed_supervisor_rerun_attaches_instead_of_resubmitting() {
    killed_supervisor_then_rerun(false);
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-up, then cargo test --test slurm -- --ignored"]
fn supervisor_killed_before_journaling_its_array_is_found_by_job_name() {
    killed_supervisor_then_rerun(true);
}

/// SIGKILLs the supervisor while two elements run (with `forget`, also takes
/// the array's journal line away, as if it died between sbatch and the journal),
/// reruns: every task done exactly once, nothing submitted again.
fn killed_supervisor_then_rerun(forget: bool) {
    let _shared = require_slurm();
    let (b, gate) = gated_tasks(&["a", "b", "c", "d"]);
    let mut first = spawn(gated_cmd(&b, &gate, &THROTTLED));
    wait_until(LIMIT, "a submitted array", || !arrays(&b).is_empty());
    let dir = submission(&b);
    wait_until(LIMIT, "two elements running", || {
        element_started(&dir, 0) && element_started(&dir, 1)
    });
    // The supervisor journaled both starts as they came: the rerun must not count
    // them as attempts of its own and submit the tasks again.
    wait_until(LIMIT, "both starts journaled", || {
        journal_count(&b, "attempt_start") == 2
    });
    first.kill().expect("SIGKILL the supervisor");
    first.wait().expect("reap it");
    let job = arrays(&b).remove(0);
    if forget {
        let path = b.out().join(".isobatch/journal.jsonl");
        let text = fs::read_to_string(&path).expect("journal");
        let kept: String = text
            .lines()
            .filter(|l| !l.contains("\"slurm_array\""))
            .map(|l| format!("{l}\n"))
            .collect();
        fs::write(&path, kept).expect("rewrite journal");
        assert!(arrays(&b).is_empty());
    }
    let rerun = spawn(gated_cmd(&b, &gate, &THROTTLED));
    wait_until(LIMIT, "the rerun attached", || {
        run_log(&b).contains("attached to the Slurm job")
    });
    wait_until(LIMIT, "status shows the attached tasks running", || {
        let s = status_json(&b);
        let mut running: Vec<&str> = s["running"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["task"].as_str())
            .collect();
        running.sort_unstable();
        s["state"] == "running" && running == ["a", "b"]
    });
    fs::write(&gate, "").expect("open the gate");
    let out = rerun.wait_with_output().expect("rerun");
    ok(&out);
    assert_eq!(arrays(&b), vec![job], "the rerun submitted nothing");
    for t in ["a", "b", "c", "d"] {
        assert_eq!(b.verdict(t), "done", "{t}");
        assert_eq!(attempt_ends(&b, t), 1, "{t} ran exactly once");
    }
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-up, then cargo test --test slurm -- --ignored"]
fn scancel_of_one_element_cancels_that_task_only() {
    let _shared = require_slurm();
    let (b, gate) = gated_tasks(&["a", "b"]);
    let args = ["--executor", "slurm", "--progress", "none"];
    let run = spawn(gated_cmd(&b, &gate, &args));
    wait_until(LIMIT, "a submitted array", || !arrays(&b).is_empty());
    let dir = submission(&b);
    let job = arrays(&b).remove(0);
    wait_until(LIMIT, "both elements running", || {
        element_started(&dir, 0) && element_started(&dir, 1)
    });
    slurm("scancel", &[&format!("{job}_1")]);
    wait_until(LIMIT, "element 1 ended", || {
        slurm(
            "squeue",
            &["-h", "-r", "-t", "all", "-j", &job, "-o", "%K %T"],
        )
        .lines()
        .any(|l| l.starts_with("1 CANCELLED"))
    });
    fs::write(&gate, "").expect("open the gate");
    let out = run.wait_with_output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        b.verdicts(),
        vec![
            ("a".into(), "done".into()),
            ("b".into(), "cancelled".into())
        ]
    );
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-up, then cargo test --test slurm -- --ignored"]
fn what_the_partition_cannot_give_is_refused_before_submission() {
    let _shared = require_slurm();
    let b = Batch::new();
    b.task("a", "sleep=0.01\n");
    let out = b.run(&["--executor", "slurm", "--max-task-memory", "100T"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("largest node of partition"), "{err}");
    assert!(err.contains("MiB"), "{err}");
    let out = b.run(&["--executor", "slurm", "--slurm-arg", "--mem=1G"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-task-memory"));
    let out = b.run(&["--executor", "slurm", "--slurm-arg", "--partition=nonesuch"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nonesuch"));
    assert!(arrays(&b).is_empty(), "nothing submitted");
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-up, then cargo test --test slurm -- --ignored"]
fn ctrl_c_once_cancels_pending_elements_twice_cancels_running_ones() {
    let _shared = require_slurm();
    for twice in [false, true] {
        let (b, gate) = gated_tasks(&["a", "b", "c", "d"]);
        let run = spawn(gated_cmd(&b, &gate, &THROTTLED));
        wait_until(LIMIT, "a submitted array", || !arrays(&b).is_empty());
        let dir = submission(&b);
        wait_until(LIMIT, "two elements running", || {
            element_started(&dir, 0) && element_started(&dir, 1)
        });
        let pid = run.id().to_string();
        slurm("kill", &["-INT", &pid]);
        if twice {
            wait_until(LIMIT, "the first Ctrl-C noted", || {
                run_log(&b).contains("interrupted (SIGINT)")
            });
            slurm("kill", &["-INT", &pid]);
        } else {
            wait_until(LIMIT, "pending elements cancelled", || {
                run_log(&b).contains("interrupted (SIGINT)")
            });
            fs::write(&gate, "").expect("open the gate");
        }
        let out = run.wait_with_output().expect("run");
        assert_eq!(out.status.code(), Some(130), "{out:?}");
        let running = if twice { "cancelled" } else { "done" };
        assert_eq!(
            b.verdicts(),
            vec![
                ("a".into(), running.into()),
                ("b".into(), running.into()),
                ("c".into(), "cancelled".into()),
                ("d".into(), "cancelled".into()),
            ],
            "twice: {twice}"
        );
        assert_eq!(attempt_ends(&b, "c"), 0, "c never started");
    }
}

/// `isobatch status --json` of the batch.
fn status_json(b: &Batch) -> serde_json::Value {
    let out = isobatch()
        .args(["status", "--json"])
        .arg(b.out())
        .output()
        .expect("isobatch status");
    ok(&out);
    serde_json::from_slice(&out.stdout).expect("status --json")
}

/// The one node of the test cluster, as squeue names it.
fn node_name() -> String {
    slurm("sinfo", &["-h", "-o", "%N"]).trim().to_string()
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-up, then cargo test --test slurm -- --ignored"]
fn a_task_shows_running_while_its_element_runs() {
    let _shared = require_slurm();
    let (b, gate) = gated_tasks(&["a", "b"]);
    let args = [
        "--executor",
        "slurm",
        "--workers",
        "1",
        "--progress",
        "plain",
    ];
    let run = Captured::spawn(gated_cmd(&b, &gate, &args));
    wait_until(LIMIT, "a submitted array", || !arrays(&b).is_empty());
    let job = arrays(&b).remove(0);
    // a runs on the cluster (it waits on the gate); b waits behind the throttle.
    let mut status = serde_json::Value::Null;
    wait_until(LIMIT, "status shows a running", || {
        status = status_json(&b);
        status["running"].as_array().is_some_and(|r| !r.is_empty())
    });
    assert_eq!(status["state"], "running", "{status:#}");
    let running = status["running"].as_array().expect("running");
    assert_eq!(running.len(), 1, "{status:#}");
    assert_eq!(running[0]["task"], "a");
    assert_eq!(running[0]["attempt"], 1);
    assert_eq!(running[0]["slurm_job"], format!("{job}_0"));
    assert_eq!(running[0]["node"], node_name());
    assert_eq!(status["run"]["started"], 1, "{status:#}");
    assert_eq!(status["run"]["not_started"], 1, "{status:#}");
    let text = isobatch()
        .arg("status")
        .arg(b.out())
        .output()
        .expect("isobatch status");
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.contains(&format!("Slurm job {job}_0 on {}", node_name())),
        "{text}"
    );
    assert!(
        !run.stderr_text().contains("a: done"),
        "{}",
        run.stderr_text()
    );
    fs::write(&gate, "").expect("open the gate");
    let out = run.finish(LIMIT);
    ok(&out);
    assert_eq!(
        b.verdicts(),
        vec![("a".into(), "done".into()), ("b".into(), "done".into())]
    );
    // One line per task as it ends, counted like a local run.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[1/2 done 1 · failed 0 · running 0 · left 1") && err.contains("] a: done"),
        "{err}"
    );
    assert!(
        err.contains("[2/2 done 2 · failed 0 · running 0 · left 0") && err.contains("] b: done"),
        "{err}"
    );
    // Each attempt journaled once, taken in live or at the element's end alike.
    for t in ["a", "b"] {
        let starts: Vec<serde_json::Value> = b
            .journal()
            .into_iter()
            .filter(|e| e["event"] == "attempt_start" && e["task"] == t)
            .collect();
        assert_eq!(starts.len(), 1, "{t}: {starts:?}");
        assert!(starts[0]["slurm_job"].as_str().is_some(), "{starts:?}");
        assert_eq!(attempt_ends(&b, t), 1, "{t}");
    }
    assert!(run_log(&b).contains("a attempt 1: done"));
    let after = status_json(&b);
    assert_eq!(after["state"], "finished");
    assert!(after["running"].as_array().is_some_and(Vec::is_empty));
}

/// The value of `key` in `scontrol show config`.
fn config(key: &str) -> String {
    slurm("scontrol", &["show", "config"])
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
        .unwrap_or_default()
}

/// The journaled ends of `task`: (attempt, verdict, message).
fn ends(b: &Batch, task: &str) -> Vec<(u64, String, String)> {
    b.journal()
        .iter()
        .filter(|e| e["event"] == "attempt_end" && e["task"] == task)
        .map(|e| {
            (
                e["attempt"].as_u64().unwrap_or(0),
                e["verdict"].as_str().unwrap_or("").to_string(),
                e["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-up, then cargo test --test slurm -- --ignored"]
fn slurms_time_limit_gives_failed_timeout() {
    let _shared = require_slurm();
    let partitions = slurm("sinfo", &["-h", "-o", "%P|%l"]);
    assert!(
        partitions.lines().any(|l| l.trim() == "short|1:00"),
        "needs partition `short` with a 1-minute time limit (scripts/slurm-up makes it): \
         {partitions}"
    );
    let b = Batch::new();
    b.task("hangs", "sleep=600\n").task("quick", "sleep=0.01\n");
    // --timeout maps to --time, which `short` cannot give: refused before submission.
    let out = b.run(&[
        "--executor",
        "slurm",
        "--timeout",
        "30s",
        "--slurm-arg",
        "--partition=short",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("short"),
        "{out:?}"
    );
    assert!(arrays(&b).is_empty());
    // Without --timeout only Slurm's limit (the partition's 1 minute) stops the element.
    let cmd = b.run_cmd(&["--executor", "slurm", "--slurm-arg", "--partition=short"]);
    one_failed_one_done(
        &b,
        cmd,
        ("hangs", "failed:timeout", "time limit (TIMEOUT)"),
        "quick",
    );
}

/// Runs `cmd`: exit 1, task `failed` ends with `verdict` in one attempt whose
/// message says `says`, task `done` ends done.
fn one_failed_one_done(
    b: &Batch,
    cmd: Command,
    (failed, verdict, says): (&str, &str, &str),
    done: &str,
) {
    let out = run_within(cmd, LIMIT);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let mut want = vec![
        (failed.to_string(), verdict.to_string()),
        (done.to_string(), "done".to_string()),
    ];
    want.sort();
    assert_eq!(b.verdicts(), want);
    let ended = ends(b, failed);
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert!(ended[0].2.contains(says), "{ended:?}");
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-up, then cargo test --test slurm -- --ignored"]
fn slurms_memory_kill_gives_failed_memory_limit() {
    let _shared = require_slurm();
    assert!(
        config("JobAcctGatherParams").contains("OverMemoryKill")
            || config("TaskPlugin").contains("cgroup"),
        "needs a cluster that enforces --mem (scripts/slurm-up sets OverMemoryKill)"
    );
    let b = Batch::new();
    // Slurm samples every 30 s (JobAcctGatherFrequency): big outlives one sample.
    b.task("big", "alloc=600M\nsleep=75\n")
        .task("small", "sleep=0.01\n");
    // A declared need far below the real one gives --mem = 100M + 25 % + 128 MiB; with
    // no --max-task-memory the element's own cap is off, so Slurm's --mem is what holds.
    let cmd = b.run_cmd(&["--executor", "slurm", "--task-memory", "100M"]);
    let big = ("big", "failed:memory-limit", "over its memory limit");
    one_failed_one_done(&b, cmd, big, "small");
}

/// Takes a node down for Slurm (its jobs end NODE_FAIL); resumes it when dropped.
struct NodeDown(String);

impl NodeDown {
    fn take(node: &str) -> NodeDown {
        slurm(
            "scontrol",
            &[
                "update",
                &format!("nodename={node}"),
                "state=down",
                "reason=isobatch test: node failure",
            ],
        );
        NodeDown(node.to_string())
    }
}

impl Drop for NodeDown {
    fn drop(&mut self) {
        let _ = Command::new("scontrol")
            .args(["update", &format!("nodename={}", self.0), "state=resume"])
            .status();
    }
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-up, then cargo test --test slurm -- --ignored"]
fn a_node_failure_runs_the_task_again_without_using_up_retries() {
    let _alone = require_slurm_alone();
    let (b, gate) = gated_tasks(&["a"]);
    let args = [
        "--executor",
        "slurm",
        "--retries",
        "0",
        "--progress",
        "none",
    ];
    let run = spawn(gated_cmd(&b, &gate, &args));
    wait_until(LIMIT, "a submitted array", || !arrays(&b).is_empty());
    let job = arrays(&b).remove(0);
    let first = submission(&b);
    wait_until(LIMIT, "a running", || {
        journal_count(&b, "attempt_start") == 1
    });
    // Taking the node down ends every job on it: wait until only ours runs there.
    wait_until(LIMIT, "no other job on the cluster", || {
        slurm("squeue", &["-h", "-o", "%F"])
            .lines()
            .all(|l| l.trim() == job)
    });
    let node = node_name();
    let down = NodeDown::take(&node);
    wait_until(LIMIT, "the element ended NODE_FAIL", || {
        slurm(
            "squeue",
            &["-h", "-r", "-t", "all", "-j", &job, "-o", "%K %T"],
        )
        .lines()
        .any(|l| l.trim() == "0 NODE_FAIL")
    });
    let first_dir = first.to_string_lossy().into_owned();
    wait_until(LIMIT, "the failed element's processes gone", || {
        processes_with_arg(&first_dir).is_empty()
    });
    wait_until(LIMIT, "the task submitted again", || arrays(&b).len() == 2);
    drop(down);
    fs::write(&gate, "").expect("open the gate");
    let out = run.wait_with_output().expect("run");
    ok(&out);
    assert_eq!(b.verdict("a"), "done");
    let a = ends(&b, "a");
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!((a[0].0, a[0].1.as_str()), (1, "failed:killed"), "{a:?}");
    assert!(a[0].2.contains("NODE_FAIL"), "{a:?}");
    assert!(a[0].2.contains("without using up --retries"), "{a:?}");
    assert_eq!((a[1].0, a[1].1.as_str()), (2, "done"), "{a:?}");
    assert_eq!(b.row("a")["attempts"], "2");
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-up, then cargo test --test slurm -- --ignored"]
fn a_chunk_reports_each_task_as_it_ends() {
    let _shared = require_slurm();
    let (b, gate) = gated_tasks(&["a", "b"]);
    // One element runs both: a ends at once, b waits on the gate.
    let script = format!(
        "[ {{name}} = a ] || while [ ! -e '{}' ]; do sleep 0.01; done",
        gate.display()
    );
    let args = [
        "--executor",
        "slurm",
        "--batch-size",
        "2",
        "--progress",
        "none",
    ];
    let run = spawn(exec_cmd(&b, &script, &args));
    wait_until(LIMIT, "a submitted array", || !arrays(&b).is_empty());
    let mut status = serde_json::Value::Null;
    wait_until(
        LIMIT,
        "a done and b running, the element still running",
        || {
            status = status_json(&b);
            status["counts"]["done"] == 1
                && status["running"]
                    .as_array()
                    .is_some_and(|r| r.len() == 1 && r[0]["task"] == "b")
        },
    );
    let job = arrays(&b).remove(0);
    assert_eq!(status["running"][0]["slurm_job"], format!("{job}_0"));
    assert_eq!(attempt_ends(&b, "a"), 1);
    fs::write(&gate, "").expect("open the gate");
    ok(&run.wait_with_output().expect("run"));
    assert_eq!(
        b.verdicts(),
        vec![("a".into(), "done".into()), ("b".into(), "done".into())]
    );
    for t in ["a", "b"] {
        assert_eq!(attempt_ends(&b, t), 1, "{t}");
    }
    assert_eq!(journal_count(&b, "attempt_start"), 2);
    assert_eq!(arrays(&b).len(), 1);
}
