//! Chaos: the supervisor is killed with SIGKILL at 20 random moments of a
//! 200-task batch, in subprocess and in pool mode, and resumed each time
//! (issue 17). Every output must end byte-identical to an uninterrupted run's,
//! every task done exactly once, nothing left running and no temp file left.
//!
//! Kill moments come from a seeded RNG (`CHAOS_SEED` overrides it): mostly "after N
//! more attempts ended", sometimes as soon as the run holds the lock, and last
//! when the run has journaled `run_end` and is writing its reports; each plus a
//! random delay of up to 30 ms so kills also land between journal lines.
mod common;
use common::*;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

const TASKS: usize = 200;
const KILLS: usize = 20;
const LIMIT: Duration = Duration::from_secs(120);
const WAIT: Duration = Duration::from_secs(30);

/// xorshift64*, enough to spread kill moments reproducibly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x150b_a7c4)
}

/// 200 tiny tasks: an output of 0–64 KiB and a sleep of 0–30 ms each.
fn write_tasks(b: &Batch) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..TASKS {
        let bytes = rng.below(65_537);
        let sleep = rng.below(4) as f64 * 0.01;
        b.task(
            &format!("t{i:03}"),
            &format!("output={bytes}\nsleep={sleep}\n"),
        );
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// How many journal lines record `event` (a cheap scan, polled often).
fn lines_with(b: &Batch, event: &str) -> usize {
    let needle = format!("\"event\":\"{event}\"");
    fs::read_to_string(b.out().join(".isobatch/journal.jsonl"))
        .map_or(0, |j| j.matches(&needle).count())
}

/// Where to kill the next run.
#[derive(Debug)]
enum Moment {
    /// As soon as the lock file names the run: dispatch is just starting.
    Locked,
    /// Once this many more attempts have ended.
    AttemptsEnded(usize),
    /// Once `run_end` is journaled: the reports are being written.
    Reporting,
}

/// Runs the batch and SIGKILLs it at `moment` (plus `delay`); false if the
/// batch finished first. Then waits until nothing of it is left running.
fn kill_at(
    b: &Batch,
    args: &[&str],
    tag: &(String, String),
    moment: &Moment,
    delay: Duration,
) -> bool {
    let ends = lines_with(b, "attempt_end");
    let run_ends = lines_with(b, "run_end");
    let mut cmd = b.run_cmd(args);
    cmd.env(&tag.0, &tag.1);
    let mut run = Captured::spawn(cmd);
    let pid = run.pid();
    let lock = b.out().join(".isobatch/lock");
    let mut finished = false;
    wait_until(WAIT, &format!("kill moment {moment:?}"), || {
        if run.child.try_wait().ok().flatten().is_some() {
            finished = true;
            return true;
        }
        match moment {
            Moment::Locked => {
                fs::read_to_string(&lock).is_ok_and(|s| s.contains(&format!("pid={pid} ")))
            }
            Moment::AttemptsEnded(n) => lines_with(b, "attempt_end") >= ends + n,
            Moment::Reporting => lines_with(b, "run_end") > run_ends,
        }
    });
    if !finished {
        // The delay picks a moment between journal lines; it synchronises nothing.
        std::thread::sleep(delay);
        let _ = run.child.kill();
    }
    let out = run.finish(WAIT);
    let needle = format!("{}={}", tag.0, tag.1);
    wait_until(WAIT, "the killed run's processes to be gone", || {
        processes_with_env(&needle).is_empty()
    });
    if let Some(code) = out.status.code() {
        assert_eq!(
            code,
            0,
            "a run ended on its own, but not well:\n{}",
            text(&out.stderr)
        );
        return true;
    }
    false
}

/// Every `.*.tmp-*` file in `out` and one level below (task folders, `.isobatch`).
fn temp_files(out: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![out.to_path_buf()];
    for e in fs::read_dir(out).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            dirs.push(e.path());
        }
    }
    for d in dirs {
        for f in fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.contains(".tmp-") {
                found.push(f.path().display().to_string());
            }
        }
    }
    found
}

fn chaos(mode: &str, reference: &Batch) {
    let b = Batch::new();
    write_tasks(&b);
    let tag = (
        "ISOBATCH_TEST_TAG".to_string(),
        format!("chaos-{mode}-{}", std::process::id()),
    );
    let args = ["--mode", mode, "--workers", "2"];
    let mut rng = Rng(seed() ^ mode.len() as u64);
    let mut kills = 0;
    for k in 0..KILLS {
        // The last run gets to the end of the batch and dies writing its reports.
        let moment = match rng.below(10) {
            _ if k == KILLS - 1 => Moment::Reporting,
            0 => Moment::Locked,
            _ => Moment::AttemptsEnded(1 + rng.below(10) as usize),
        };
        let delay = Duration::from_millis(rng.below(31));
        if kill_at(&b, &args, &tag, &moment, delay) {
            break;
        }
        kills += 1;
    }
    eprintln!("chaos {mode}: {kills} kills (seed {})", seed());

    let out = run_within(b.run_cmd(&args), LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let verdicts = b.verdicts();
    assert_eq!(verdicts.len(), TASKS);
    for (task, verdict) in &verdicts {
        assert!(
            verdict == "done" || verdict == "skipped",
            "{task}: {verdict}"
        );
        let got = read_all(&b.out().join(task).join("output.bin"));
        let want = read_all(&reference.out().join(task).join("output.bin"));
        assert!(
            got == want,
            "{mode}: {task}/output.bin differs from the uninterrupted run's"
        );
    }
    // Across all runs: exactly one `done` per task, and nothing started after it.
    let mut done_at: BTreeMap<String, usize> = BTreeMap::new();
    for (i, e) in b.journal().iter().enumerate() {
        let task = e["task"].as_str().unwrap_or("").to_string();
        if e["event"] == "attempt_end" && e["verdict"] == "done" {
            let again = done_at.insert(task.clone(), i);
            assert!(again.is_none(), "{mode}: {task} was done twice");
        } else if e["event"] == "attempt_start" {
            assert!(
                !done_at.contains_key(&task),
                "{mode}: {task} ran again after it was done"
            );
        }
    }
    assert_eq!(
        done_at.len(),
        TASKS,
        "{mode}: not every task has a done attempt"
    );
    assert_eq!(temp_files(&b.out()), Vec::<String>::new());
    assert!(processes_with_env(&format!("{}={}", tag.0, tag.1)).is_empty());
    assert!(
        kills >= KILLS / 2,
        "{mode}: the batch finished after only {kills} kills"
    );
}

#[test]
fn twenty_sigkills_then_resume_match_an_uninterrupted_run() {
    let reference = Batch::new();
    write_tasks(&reference);
    let out = run_within(reference.run_cmd(&["--workers", "2"]), LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for mode in ["subprocess", "pool"] {
        chaos(mode, &reference);
    }
}
