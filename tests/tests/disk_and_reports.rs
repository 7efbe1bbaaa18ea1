//! When the disk or the reports fail, the batch still ends as the contract
//! says (issue 17, deliverables 5, 6 and 8): a journal append that fails on a
//! full disk (a real 20 MiB tmpfs) leaves no partial line, stops new tasks,
//! prints why and exits 1, never 130; reports that cannot be written still
//! print the summary and exit 1; report temp files of a killed run are removed
//! by the next one; an internal error before anything ran, or a worker program
//! that cannot start, exits 2.
mod common;
use common::*;

use std::fs;
use std::os::unix::process::CommandExt;
use std::time::Duration;

use nix::libc;

const LIMIT: Duration = Duration::from_secs(60);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_journal_append_on_a_full_disk_leaves_no_partial_line_and_exits_1() {
    let b = Batch::new();
    for i in 0..60 {
        b.task(&format!("t{i:02}"), "");
    }
    let Some(_disk) = Tmpfs::mount(&b.out(), "20m") else {
        eprintln!("skipped: cannot mount a tmpfs (needs root)");
        return;
    };
    let gate = b.dir.path().join("gate");
    let run = Captured::spawn(gated_cmd(
        &b,
        &gate,
        &["--progress", "plain", "--workers", "4"],
    ));
    wait_until(LIMIT, "four tasks to run", || {
        journal_count(&b, "attempt_start") == 4
    });
    // The disk fills up under the running batch; the journal's last page still
    // has room for a line or two, so an append fails part-way through a page.
    fill_up(&b.out(), "filler");
    fs::write(&gate, "").unwrap();
    let out = run.finish(LIMIT);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write the journal"), "{stderr}");
    assert!(stderr.contains("No space left"), "{stderr}");
    // The summary table is printed even though summary.csv could not be written.
    assert!(
        stdout.contains("60 task(s) in") && stdout.contains("t00"),
        "{stdout}"
    );
    assert!(stderr.contains("summary.csv"), "{stderr}");

    let journal = fs::read(b.out().join(".isobatch/journal.jsonl")).unwrap();
    assert_eq!(
        journal.last(),
        Some(&b'\n'),
        "the journal ends in a partial line"
    );
    for line in String::from_utf8_lossy(&journal).lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "a partial or glued line: {line:?}"
        );
    }
    let recorded = journal_count(&b, "attempt_end");
    assert!(
        recorded < 60,
        "the disk never filled: {recorded} attempts recorded"
    );

    // With room again, the next run reads a clean journal and finishes the batch.
    fs::remove_file(b.out().join("filler")).unwrap();
    let out = run_within(gated_cmd(&b, &gate, &["--progress", "none"]), LIMIT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("damaged"), "{stderr}");
    assert_eq!(b.verdicts().len(), 60);
    assert!(
        b.verdicts()
            .iter()
            .all(|(_, v)| v == "done" || v == "skipped")
    );
}

#[test]
fn reports_that_cannot_be_written_still_print_the_summary_and_exit_1() {
    let b = Batch::new();
    b.task("alpha", "sleep=0\n").task("beta", "output=10\n");
    // A folder where each report goes: renaming a file over it fails.
    for report in ["summary.csv", "results.json"] {
        fs::create_dir_all(b.out().join(report).join("in-the-way")).unwrap();
    }
    let out = run_within(b.run_cmd(&[]), LIMIT);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for report in ["summary.csv", "results.json"] {
        assert!(
            stderr.contains(&format!("cannot write {}", b.out().join(report).display())),
            "{stderr}"
        );
    }
    assert!(
        stdout.contains("2 task(s) in") && stdout.contains("alpha") && stdout.contains("beta"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cannot write"),
        "the summary's notes miss the error:\n{stdout}"
    );
    // The journal has the results: the next run (reports writable again) skips both.
    for report in ["summary.csv", "results.json"] {
        fs::remove_dir_all(b.out().join(report)).unwrap();
    }
    let out = run_within(b.run_cmd(&[]), LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        b.verdicts(),
        vec![
            ("alpha".into(), "skipped".into()),
            ("beta".into(), "skipped".into())
        ]
    );
}

#[test]
fn report_temp_files_left_by_a_killed_run_are_removed_by_the_next() {
    let b = Batch::new();
    b.task("a", "sleep=0\n");
    assert_eq!(run_within(b.run_cmd(&[]), LIMIT).status.code(), Some(0));
    // What a supervisor killed while writing its reports leaves (atomic writes' temp names).
    let leftovers = [
        b.out().join(".summary.csv.tmp-4242"),
        b.out().join(".results.json.tmp-4242"),
        b.out().join(".traces.csv.tmp-77"),
        b.out().join(".isobatch/.memory.csv.tmp-4242"),
    ];
    for f in &leftovers {
        fs::write(f, "partial").unwrap();
    }
    let not_ours = b.out().join(".notes.txt.tmp-1");
    fs::write(&not_ours, "someone else's").unwrap();
    let out = run_within(b.run_cmd(&[]), LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for f in &leftovers {
        assert!(!f.exists(), "{} was left", f.display());
    }
    assert!(
        not_ours.exists(),
        "a file that is not a report's temp file was removed"
    );
    assert!(run_log(&b).contains("left by a run killed while writing reports"));
}

/// Tasks (threads included) of user `uid` on this machine now.
fn tasks_of(uid: u32) -> u64 {
    let mut n = 0;
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(tasks) = fs::read_dir(e.path().join("task")) else {
            continue;
        };
        let status = fs::read_to_string(e.path().join("status")).unwrap_or_default();
        let owner = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u32>().ok());
        if owner == Some(uid) {
            n += tasks.count() as u64;
        }
    }
    n
}

#[test]
fn an_internal_error_before_anything_ran_exits_2() {
    const NOBODY: u32 = 65534;
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run isobatch as another user");
        return;
    }
    let b = Batch::new();
    b.task("a", "sleep=0\n");
    std::process::Command::new("chmod")
        .args(["-R", "a+rwX"])
        .arg(b.dir.path())
        .status()
        .expect("chmod");
    // As `nobody`, with room for the main thread and the journal's writer only:
    // the next thread isobatch starts (terminal output) is refused by the OS.
    let limit = tasks_of(NOBODY) + 2;
    let mut cmd = b.run_cmd(&[]);
    // SAFETY: only async-signal-safe system calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_NPROC, &lim) != 0
                || libc::setgid(NOBODY) != 0
                || libc::setuid(NOBODY) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = run_within(cmd, LIMIT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot start the output threads"),
        "{stderr}"
    );
    assert_eq!(journal_count(&b, "attempt_start"), 0);
}

#[test]
fn a_worker_program_that_cannot_start_means_nothing_ran_exit_2() {
    let b = Batch::new();
    b.task("a", "sleep=0\n").task("b", "sleep=0\n");
    let mut cmd = b.run_cmd(&[]);
    cmd.env("ISOBATCH_WORKER", b.dir.path().join("no-such-worker"));
    let out = run_within(cmd, LIMIT);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stdout.contains("cannot start a worker"), "{stdout}");
    assert_eq!(journal_count(&b, "attempt_start"), 0);
    assert!(b.verdicts().iter().all(|(_, v)| v == "cancelled"));
}
