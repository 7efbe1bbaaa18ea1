//! Reruns and retries you can trust, end to end with the real binaries: a rerun
//! recomputes exactly the tasks whose inputs, exec program or `--rerun-on`
//! files changed and says why (plan, summary, status); each attempt runs in a
//! clean folder published only when done; a task folder never holds a mix of
//! two attempts, whatever moment the supervisor is SIGKILLed at; a SIGKILL
//! from outside is not called "out of memory" without evidence.
mod common;
use common::*;

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

const LIMIT: Duration = Duration::from_secs(60);

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A batch of exec tasks `raw/NAME.txt` run by an executable script that logs
/// each call (task and attempt) to `calls.log` outside the output folder.
struct Exec {
    b: Batch,
    script: PathBuf,
    config: PathBuf,
}

const SCRIPT: &str = "#!/bin/sh\n\
    echo \"$ISOBATCH_TASK\" >> \"$(dirname \"$0\")/calls.log\"\n\
    cat \"$1\" > \"$ISOBATCH_TASK_DIR/copy.txt\"\n";

impl Exec {
    fn new(names: &[&str]) -> Exec {
        let b = Batch::new();
        fs::create_dir_all(b.raw()).unwrap();
        for n in names {
            fs::write(b.raw().join(format!("{n}.txt")), format!("input {n}\n")).unwrap();
        }
        let script = b.dir.path().join("analyse.sh");
        fs::write(&script, SCRIPT).unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        let config = b.dir.path().join("lab.toml");
        fs::write(&config, "threshold = 3\n").unwrap();
        Exec { b, script, config }
    }

    fn cmd(&self, extra: &[&str]) -> Command {
        let mut cmd = self.b.pipeline_cmd("exec", extra);
        cmd.args(["--pattern", "{name}.txt", "--exec"])
            .arg(format!("{} {{input}}", self.script.display()))
            .arg("--rerun-on")
            .arg(&self.config);
        cmd
    }

    fn run(&self, extra: &[&str]) -> Output {
        let out = run_within(self.cmd(extra), LIMIT);
        ok(&out);
        out
    }

    /// The tasks the script ran since the last call, sorted; clears the log.
    fn calls(&self) -> Vec<String> {
        let log = self.b.dir.path().join("calls.log");
        let mut v: Vec<String> = fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        let _ = fs::remove_file(&log);
        v.sort();
        v
    }

    fn input(&self, name: &str) -> PathBuf {
        self.b.raw().join(format!("{name}.txt"))
    }
}

fn mtime(p: &Path) -> SystemTime {
    fs::metadata(p).unwrap().modified().unwrap()
}

fn set_mtime(p: &Path, t: SystemTime) {
    File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

#[test]
fn each_kind_of_change_reruns_exactly_the_affected_tasks_and_says_why() {
    let e = Exec::new(&["a", "b", "c", "d"]);
    e.run(&[]);
    assert_eq!(e.calls(), ["a", "b", "c", "d"]);
    e.run(&[]);
    assert!(e.calls().is_empty(), "nothing changed, nothing runs");

    // a: replaced by another file with the same size, content and mtime.
    let a = e.input("a");
    let t = mtime(&a);
    let tmp = e.b.dir.path().join("a.new");
    fs::copy(&a, &tmp).unwrap();
    set_mtime(&tmp, t);
    fs::rename(&tmp, &a).unwrap();
    assert_eq!(mtime(&a), t);
    let out = e.run(&[]);
    assert_eq!(e.calls(), ["a"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stdout.contains("Computed again"), "{stdout}");
    assert!(
        stdout.contains("- a: ") && stdout.contains("a.txt replaced by another file (inode"),
        "{stdout}"
    );
    assert!(
        stderr.contains("computed again (1)") && stderr.contains("a: "),
        "{stderr}"
    );

    // b: touched.
    let b = e.input("b");
    set_mtime(&b, mtime(&b) + Duration::from_secs(5));
    let out = e.run(&["--dry-run"]);
    assert!(
        text(&out.stdout).contains("b.txt modified"),
        "{}",
        text(&out.stdout)
    );
    assert!(e.calls().is_empty(), "a dry run runs nothing");
    e.run(&[]);
    assert_eq!(e.calls(), ["b"]);

    // c: rewritten in place, same size, mtime put back: only ctime tells.
    let c = e.input("c");
    let t = mtime(&c);
    fs::write(&c, "INPUT c\n").unwrap();
    set_mtime(&c, t);
    e.run(&[]);
    assert_eq!(e.calls(), ["c"]);
    assert_eq!(
        fs::read_to_string(e.b.out().join("c/copy.txt")).unwrap(),
        "INPUT c\n"
    );
    let status = run_within(
        {
            let mut s = isobatch();
            s.arg("status").arg(e.b.out());
            s
        },
        LIMIT,
    );
    let st = text(&status.stdout);
    assert!(
        st.contains("computed again: c: ") && st.contains("ctime"),
        "{st}"
    );

    // The exec program itself: every task.
    fs::write(&e.script, format!("{SCRIPT}# edited\n")).unwrap();
    let out = e.run(&[]);
    assert_eq!(e.calls(), ["a", "b", "c", "d"]);
    assert!(
        text(&out.stdout).contains("analyse.sh"),
        "{}",
        text(&out.stdout)
    );

    // A --rerun-on file: every task.
    fs::write(&e.config, "threshold = 4\n").unwrap();
    let out = e.run(&[]);
    assert_eq!(e.calls(), ["a", "b", "c", "d"]);
    assert!(
        text(&out.stdout).contains("lab.toml"),
        "{}",
        text(&out.stdout)
    );
    e.run(&[]);
    assert!(e.calls().is_empty());

    // Journal: each attempt recorded size, mtime, inode and ctime per input.
    let end =
        e.b.journal()
            .into_iter()
            .rfind(|r| r["event"] == "attempt_end" && r["task"] == "d")
            .unwrap();
    let inputs = end["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 3, "input, program, --rerun-on: {end}");
    for k in ["bytes", "mtime_ns", "inode", "ctime_ns"] {
        assert!(inputs[0][k].is_number(), "{k}: {end}");
    }
}

#[test]
fn checksum_compares_content_not_metadata() {
    let e = Exec::new(&["a", "b"]);
    e.run(&["--checksum"]);
    assert_eq!(e.calls(), ["a", "b"]);
    let a = e.input("a");
    set_mtime(&a, mtime(&a) + Duration::from_secs(5));
    e.run(&["--checksum"]);
    assert!(e.calls().is_empty(), "touched, same content: skipped");
    fs::write(e.input("b"), "input B\n").unwrap();
    let out = e.run(&["--checksum"]);
    assert_eq!(e.calls(), ["b"]);
    assert!(
        text(&out.stdout).contains("content changed"),
        "{}",
        text(&out.stdout)
    );
}

/// An exec script that, on attempt 1, leaves a half-made checkpoint and hangs
/// until the timeout; on later attempts records what it finds in its folder.
fn half_then_check(dir: &Path) -> PathBuf {
    let p = dir.join("half.sh");
    fs::write(
        &p,
        "#!/bin/sh\n\
         ls -A \"$ISOBATCH_TASK_DIR\" > \"$(dirname \"$0\")/seen-$ISOBATCH_ATTEMPT.txt\"\n\
         if [ \"$ISOBATCH_ATTEMPT\" = 1 ]; then\n\
           echo half > \"$ISOBATCH_TASK_DIR/checkpoint.txt\"\n\
           exec sleep 60\n\
         fi\n\
         echo whole > \"$ISOBATCH_TASK_DIR/result.txt\"\n",
    )
    .unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn timed_out_then_retried(reuse: bool) -> (Batch, PathBuf) {
    let b = Batch::new();
    fs::create_dir_all(b.raw()).unwrap();
    fs::write(b.raw().join("t.txt"), "x").unwrap();
    let script = half_then_check(b.dir.path());
    let mut cmd = b.pipeline_cmd("exec", &["--pattern", "{name}.txt"]);
    cmd.arg("--exec").arg(script.display().to_string()).args([
        "--timeout",
        "1s",
        "--kill-grace",
        "1s",
        "--retries",
        "1",
    ]);
    if reuse {
        cmd.arg("--reuse-task-dir");
    }
    let out = run_within(cmd, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    (b, script)
}

#[test]
fn a_timed_out_attempts_retry_starts_in_an_empty_folder() {
    let (b, _) = timed_out_then_retried(false);
    let seen = |n: u32| fs::read_to_string(b.dir.path().join(format!("seen-{n}.txt"))).unwrap();
    assert_eq!(seen(1), "", "attempt 1 starts empty");
    assert_eq!(
        seen(2),
        "",
        "the retry sees nothing of the timed-out attempt"
    );
    let t = b.out().join("t");
    assert!(t.join("result.txt").exists());
    assert!(!t.join("checkpoint.txt").exists(), "no mix of two attempts");
    let kept = b.out().join(".isobatch/failed/t/attempt-1/checkpoint.txt");
    assert_eq!(fs::read_to_string(kept).unwrap(), "half\n");
    assert!(
        fs::read_dir(b.out().join(".isobatch/staging/t")).map_or(true, |mut d| d.next().is_none()),
        "no staging folder left"
    );
}

#[test]
fn reuse_task_dir_keeps_the_folder_across_attempts() {
    let (b, _) = timed_out_then_retried(true);
    let seen = fs::read_to_string(b.dir.path().join("seen-2.txt")).unwrap();
    assert_eq!(seen, "checkpoint.txt\n");
    assert!(b.out().join("t/result.txt").exists());
}

#[test]
fn only_the_last_failed_attempt_is_kept() {
    let b = Batch::new();
    b.task("t", "fail=nope\noutput=10\n");
    let out = b.run(&["--retries", "2"]);
    assert_eq!(out.status.code(), Some(1));
    let failed = b.out().join(".isobatch/failed/t");
    let kept: Vec<String> = fs::read_dir(&failed)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(kept, ["attempt-3"]);
    assert!(
        !b.out().join("t").exists(),
        "a failed task publishes nothing"
    );
}

/// A tiny seeded generator (xorshift), so the chaos loop is reproducible.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Every file in each task folder comes from one attempt: the three files
/// name the same attempt, and a folder is whole or absent.
fn assert_unmixed(out: &Path, tasks: &[&str], round: usize) {
    for t in tasks {
        let dir = out.join(t);
        if !dir.exists() {
            continue;
        }
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["a.txt", "b.txt", "c.txt"], "round {round}: {t}");
        let contents: Vec<String> = names
            .iter()
            .map(|n| fs::read_to_string(dir.join(n)).unwrap())
            .collect();
        assert!(
            contents.iter().all(|c| c == &contents[0]),
            "round {round}: {t} mixes attempts: {contents:?}"
        );
    }
}

#[test]
fn sigkill_at_any_moment_never_leaves_a_mixed_task_folder() {
    let b = Batch::new();
    let tasks = ["t1", "t2", "t3", "t4"];
    fs::create_dir_all(b.raw()).unwrap();
    for t in tasks {
        fs::write(b.raw().join(format!("{t}.txt")), t).unwrap();
    }
    let script = b.dir.path().join("write3.sh");
    fs::write(
        &script,
        "#!/bin/sh\nfor f in a b c; do echo \"$ISOBATCH_ATTEMPT $$\" > \"$ISOBATCH_TASK_DIR/$f.txt\"; done\n",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let cmd = |force: bool| {
        let mut c = b.pipeline_cmd("exec", &["--pattern", "{name}.txt", "--workers", "2"]);
        c.arg("--exec").arg(script.display().to_string());
        if force {
            c.arg("--force");
        }
        c
    };
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for round in 0..12 {
        let run = Captured::spawn(cmd(true));
        // Chaos, not synchronisation: kill after a seeded 0-250 ms, wherever it is.
        std::thread::sleep(Duration::from_millis(rng.below(250)));
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(run.pid() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = run.finish(LIMIT);
        assert_unmixed(&b.out(), &tasks, round);
    }
    let out = run_within(cmd(false), LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_unmixed(&b.out(), &tasks, 99);
    for t in tasks {
        assert!(b.out().join(t).join("a.txt").exists(), "{t} published");
    }
}

#[test]
fn a_sigkill_from_outside_is_not_called_out_of_memory() {
    let b = Batch::new();
    let m = sleep_marker(45);
    b.task("t", &format!("sleep={m}\n"));
    let run = Captured::spawn(b.run_cmd(&[]));
    let mut pid = None;
    wait_until(LIMIT, "the attempt to start", || {
        pid = b
            .journal()
            .into_iter()
            .find(|r| r["event"] == "attempt_start")
            .and_then(|r| r["worker_pid"].as_u64());
        pid.is_some()
    });
    let pid = pid.unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let out = run.finish(LIMIT);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(b.verdict("t"), "failed:killed");
    let msg = b.row("t")["message"].clone();
    assert!(
        msg.contains("SIGKILL from outside isobatch") && !msg.contains("out of memory"),
        "{msg}"
    );
}
