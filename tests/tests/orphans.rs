//! No process outlives its task, even when the supervisor is killed with
//! SIGKILL (issue 17, deliverable 3): a `setsid` escapee and an orphaned
//! grandchild are found through `/proc` and must be gone once the supervisor
//! is; a worker that could not clean up (frozen) is swept with its escapee by
//! the next run; and a journaled pid now owned by another process is never touched.
mod common;
use common::*;

use std::fs;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const LIMIT: Duration = Duration::from_secs(60);
/// Longest wait for a killed process to vanish before the test fails.
const GONE: Duration = Duration::from_secs(5);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn tag(name: &str) -> (String, String) {
    (
        "ISOBATCH_TEST_TAG".into(),
        format!("orphans-{name}-{}", std::process::id()),
    )
}

fn signal(pid: u32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid as i32), sig);
}

/// (parent pid, session id) of `pid` from `/proc/PID/stat`.
fn parent_and_session(pid: u32) -> Option<(u32, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    Some((rest.get(1)?.parse().ok()?, rest.get(3)?.parse().ok()?))
}

/// The one live process with argument `marker`, once it exists.
fn wait_for_marker(marker: &str) -> u32 {
    let mut found = Vec::new();
    wait_until(LIMIT, "the escapee to start", || {
        found = processes_with_arg(marker);
        !found.is_empty()
    });
    assert_eq!(found.len(), 1, "{found:?}");
    found[0]
}

/// The worker pids the journal recorded.
fn worker_pids(b: &Batch) -> Vec<u32> {
    b.journal()
        .iter()
        .filter(|e| e["event"] == "worker")
        .filter_map(|e| e["pid"].as_u64().map(|p| p as u32))
        .collect()
}

/// Waits (up to [`GONE`]) for every process carrying `tag` to vanish; kills and
/// reports survivors. Returns how long it took.
fn assert_all_gone(tag: &(String, String), what: &str) -> Duration {
    let start = Instant::now();
    let needle = format!("{}={}", tag.0, tag.1);
    loop {
        let left = processes_with_env(&needle);
        if left.is_empty() {
            return start.elapsed();
        }
        if start.elapsed() > GONE {
            for &p in &left {
                signal(p, Signal::SIGKILL);
            }
            panic!("{what}: {left:?} still running");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Starts the batch, waits for the escapee `marker` to run outside the worker's
/// session, SIGKILLs the supervisor and checks that nothing of the batch survives.
/// Run with the run's cgroup (where the machine offers one) and without it
/// (`/proc` walks only), as each test below does.
fn sigkill_leaves_nothing(b: &Batch, cmd: Command, marker: &str, name: &str) {
    let tag = tag(name);
    let mut cmd = cmd;
    cmd.env(&tag.0, &tag.1);
    let mut run = Captured::spawn(cmd);
    let escapee = wait_for_marker(marker);
    let (parent, session) = parent_and_session(escapee).expect("escapee stat");
    // The journal's group commit may still hold the worker's line for a moment.
    wait_until(
        LIMIT,
        "the escapee's parent to be a journaled worker",
        || worker_pids(b).contains(&parent),
    );
    let (_, worker_session) = parent_and_session(parent).expect("worker stat");
    assert_ne!(
        session, worker_session,
        "the escapee did not leave the session"
    );
    signal(run.pid(), Signal::SIGKILL);
    wait_exit(&mut run.child, LIMIT);
    let took = assert_all_gone(&tag, "the batch outlived its SIGKILLed supervisor");
    eprintln!("{name}: every process of the batch gone {took:?} after the supervisor was reaped");
    drop(run);
}

/// This process's cgroup v2 folder, if there is a cgroup2 mount.
fn own_cgroup() -> Option<std::path::PathBuf> {
    let rel = fs::read_to_string("/proc/self/cgroup")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(String::from))?;
    let mounts = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let root = mounts
        .lines()
        .find(|l| l.contains(" - cgroup2 "))?
        .split_whitespace()
        .nth(4)?
        .to_string();
    Some(std::path::Path::new(&root).join(rel.trim().trim_start_matches('/')))
}

/// A cgroup of the test's own, frozen (cgroup v2 freezer): its processes do
/// not run at all, so a worker in it cannot act on its parent-death signal,
/// as one stuck in uninterruptible sleep could not. SIGKILL still ends them.
/// Dropping it kills what is left and removes it.
struct Frozen(std::path::PathBuf);

impl Frozen {
    /// Moves `pids` into a new frozen cgroup; None without a usable cgroup v2.
    fn freeze(pids: &[u32]) -> Option<Frozen> {
        let dir = own_cgroup()?.join(format!("isobatch-test-frozen-{}", std::process::id()));
        fs::create_dir(&dir).ok()?;
        let cg = Frozen(dir);
        for pid in pids {
            fs::write(cg.0.join("cgroup.procs"), pid.to_string()).ok()?;
        }
        fs::write(cg.0.join("cgroup.freeze"), "1").ok()?;
        wait_until(LIMIT, "the cgroup to freeze", || {
            fs::read_to_string(cg.0.join("cgroup.events")).is_ok_and(|e| e.contains("frozen 1"))
        });
        Some(cg)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = fs::write(self.0.join("cgroup.kill"), "1");
        let end = Instant::now() + GONE;
        while fs::remove_dir(&self.0).is_err() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Runs a scenario (given a marker base: its batch, command and escapee's
/// marker) twice: with the run's cgroup, where the machine offers one, and
/// with `/proc` walks only (`ISOBATCH_NO_CGROUP=1`).
fn both_ways(name: &str, base: u32, scenario: impl Fn(u32) -> (Batch, Command, String)) {
    for (way, base) in [("cgroup", base), ("proc", base + 10)] {
        let (b, mut cmd, m) = scenario(base);
        if way == "proc" {
            cmd.env("ISOBATCH_NO_CGROUP", "1");
        }
        sigkill_leaves_nothing(&b, cmd, &m, &format!("{name}-{way}"));
    }
}

#[test]
fn a_setsid_escapee_dies_with_a_sigkilled_supervisor_subprocess() {
    both_ways("subprocess", 71, |base| {
        let m = sleep_marker(base);
        let b = Batch::new();
        b.task("esc", &format!("escape={m}\nsleep=30\n"));
        let cmd = b.run_cmd(&["--mode", "subprocess", "--workers", "1"]);
        (b, cmd, m)
    });
}

#[test]
fn a_setsid_escapee_dies_with_a_sigkilled_supervisor_pool() {
    both_ways("pool", 72, |base| {
        let m = sleep_marker(base);
        let b = Batch::new();
        b.task("esc", &format!("escape={m}\nsleep=30\n"))
            .task("other", "sleep=30\n");
        let cmd = b.run_cmd(&["--mode", "pool", "--workers", "2"]);
        (b, cmd, m)
    });
}

#[test]
fn an_orphaned_setsid_grandchild_dies_with_a_sigkilled_supervisor() {
    both_ways("double-fork", 73, |base| {
        let m = sleep_marker(base);
        let b = Batch::new();
        b.task("double_fork", "");
        // The subshell starts `setsid sleep` and exits at once: the sleep is orphaned
        // in a session of its own, two generations below the worker.
        let mut cmd = isobatch();
        cmd.args(["run", "--pipeline", "exec", "--progress", "none", "--input"])
            .arg(b.raw())
            .arg("--output")
            .arg(b.out())
            .args(["--pattern", "{name}.txt", "--exec"])
            .arg(format!("sh -c \"(setsid sleep {m} &); sleep 30\""));
        (b, cmd, m)
    });
}

#[test]
fn a_frozen_worker_and_its_escapee_are_swept_by_the_next_run() {
    let m = sleep_marker(94);
    let b = Batch::new();
    b.task("esc", &format!("escape={m}\nsleep=30\n"));
    // One pool worker and no other: no sibling worker can clean up for it.
    let mut run = Captured::spawn(b.run_cmd(&["--mode", "pool", "--workers", "1"]));
    let escapee = wait_for_marker(&m);
    let (worker, _) = parent_and_session(escapee).expect("escapee stat");
    // Frozen and out of the run's cgroup: only the journaled pid can lead the next run to them.
    let Some(_frozen) = Frozen::freeze(&[worker, escapee]) else {
        eprintln!("skipped: no cgroup v2 this test may freeze (needs root and cgroup2)");
        return;
    };
    signal(run.pid(), Signal::SIGKILL);
    wait_exit(&mut run.child, LIMIT);
    drop(run);
    for pid in [worker, escapee] {
        assert!(
            proc_state(pid).is_some_and(|s| s != 'Z'),
            "{pid} is gone already"
        );
    }

    b.task("next", "sleep=0\n");
    let out = run_within(b.run_cmd(&["--select", "next"]), LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for (pid, what) in [(worker, "worker"), (escapee, "escapee")] {
        let end = Instant::now() + GONE;
        while proc_state(pid).is_some_and(|s| s != 'Z') && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
        }
        let state = proc_state(pid);
        if state.is_some_and(|s| s != 'Z') {
            signal(pid, Signal::SIGKILL);
            panic!("the killed run's {what} {pid} survived the next run (state {state:?})");
        }
    }
    let log = run_log(&b);
    assert!(
        log.contains(&format!("killed worker {worker}")) || log.contains("an earlier run's"),
        "{log}"
    );
}

#[test]
fn a_journaled_pid_now_owned_by_another_process_is_never_touched() {
    let b = Batch::new();
    b.task("a", "sleep=0\n");
    assert_eq!(run_within(b.run_cmd(&[]), LIMIT).status.code(), Some(0));
    // An unrelated process whose pid a killed run "recorded" with another start time.
    let mut bystander = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("spawn sleep");
    let ticks: u64 = fs::read_to_string(format!("/proc/{}/stat", bystander.id()))
        .unwrap()
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let mut journal = fs::OpenOptions::new()
        .append(true)
        .open(b.out().join(".isobatch/journal.jsonl"))
        .unwrap();
    for line in [
        serde_json::json!({"event": "run_start", "time": 1.0, "pid": 1, "host": "h",
            "pipeline": "selftest", "tasks": 1, "param_hash": "x", "mode": "pool", "workers": 1}),
        serde_json::json!({"event": "run_scope", "time": 1.0, "boot_id": boot.trim()}),
        serde_json::json!({"event": "worker", "time": 1.0, "pid": bystander.id(),
            "start_ticks": ticks + 1}),
    ] {
        writeln!(journal, "{line}").unwrap();
    }
    drop(journal);
    b.task("b", "sleep=0\n");
    let out = run_within(b.run_cmd(&[]), LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let alive = bystander.try_wait().unwrap().is_none();
    let _ = bystander.kill();
    let _ = bystander.wait();
    assert!(
        alive,
        "the sweep killed a process that merely reused a journaled pid"
    );
    assert!(!run_log(&b).contains("killed worker"), "{}", run_log(&b));
}
