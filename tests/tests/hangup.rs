//! The terminal goes away, the batch does not (issue 17, deliverables 1 and 2):
//! a closed terminal (SIGHUP, then EIO on every write), `nohup`'s inherited
//! SIG_IGN, a SIGHUP from `kill`, stdout and stderr closed mid-batch, and a
//! stderr nobody reads. Each batch must run every task to the end, journal it,
//! write its reports and exit 0; the run log keeps what the terminal missed.
//! Tasks wait on a gate file, so each test decides when they end.
mod common;
use common::*;

use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

use nix::libc;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const LIMIT: Duration = Duration::from_secs(60);
const SIGHUP: i32 = 1;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Four gated tasks.
fn gated_batch() -> (Batch, std::path::PathBuf) {
    let b = Batch::new();
    for t in ["t1", "t2", "t3", "t4"] {
        b.task(t, "");
    }
    let gate = b.dir.path().join("gate");
    (b, gate)
}

/// Every task done, the journal closed with `run_end`, the reports written.
fn assert_batch_completed(b: &Batch) {
    let all_done: Vec<(String, String)> = ["t1", "t2", "t3", "t4"]
        .iter()
        .map(|t| (t.to_string(), "done".to_string()))
        .collect();
    assert_eq!(b.verdicts(), all_done);
    assert_eq!(journal_count(b, "run_end"), 1);
    assert_eq!(journal_count(b, "attempt_end"), 4);
    assert!(b.out().join("results.json").is_file());
}

fn running(b: &Batch) -> bool {
    journal_count(b, "attempt_start") >= 2
}

/// A pseudo-terminal: (master, path of the slave).
fn open_pty() -> (OwnedFd, String) {
    // SAFETY: plain libc calls on a descriptor this function owns; ptsname_r
    // writes at most `buf.len()` bytes.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(master >= 0, "posix_openpt");
        assert_eq!(libc::grantpt(master), 0, "grantpt");
        assert_eq!(libc::unlockpt(master), 0, "unlockpt");
        let mut buf = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(master, buf.as_mut_ptr(), buf.len()), 0);
        let name = std::ffi::CStr::from_ptr(buf.as_ptr())
            .to_string_lossy()
            .into_owned();
        (OwnedFd::from_raw_fd(master), name)
    }
}

#[test]
fn closing_the_terminal_leaves_the_batch_running_to_the_end() {
    let (b, gate) = gated_batch();
    let (master, slave) = open_pty();
    let tty = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&slave)
        .expect("open the pty slave");
    // The default `--progress auto` draws a bar on a terminal: the hangup hits that path.
    let mut cmd = gated_cmd(&b, &gate, &["--workers", "2"]);
    cmd.stdin(tty.try_clone().unwrap())
        .stdout(tty.try_clone().unwrap())
        .stderr(tty);
    // SAFETY: setsid and ioctl are async-signal-safe. isobatch leads a session whose
    // controlling terminal is the pty, as a login shell's job would be.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn isobatch on a pty");
    drop(cmd);
    // Drain the terminal without blocking, so isobatch's writes never wait on us.
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(master.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let mut screen = Vec::new();
    let mut term = fs::File::from(master);
    wait_until(LIMIT, "two tasks to run", || {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = term.read(&mut chunk) {
            screen.extend_from_slice(&chunk[..n]);
        }
        running(&b)
    });
    // The terminal emulator (or the SSH session) goes away.
    drop(term);
    wait_until(LIMIT, "isobatch to note the hangup in its log", || {
        run_log(&b).contains("SIGHUP: the terminal is gone")
    });
    assert!(
        child.try_wait().unwrap().is_none(),
        "isobatch died of SIGHUP"
    );
    fs::write(&gate, "").unwrap();
    let status = wait_exit(&mut child, LIMIT);
    assert_eq!(status.code(), Some(0), "{status:?}\n{}", run_log(&b));
    assert_batch_completed(&b);
    let log = run_log(&b);
    for t in ["t1", "t2", "t3", "t4"] {
        assert!(log.contains(&format!("{t} attempt 1: done")), "{log}");
    }
    assert!(
        log.contains("4 task(s) in"),
        "the summary is not in the log:\n{log}"
    );
    assert!(!screen.is_empty(), "nothing was ever drawn on the terminal");
}

#[test]
fn under_nohup_sighup_stays_ignored() {
    let (b, gate) = gated_batch();
    let inner = gated_cmd(&b, &gate, &["--progress", "plain"]);
    let mut cmd = std::process::Command::new("nohup");
    cmd.arg(inner.get_program()).args(inner.get_args());
    cmd.env_remove("ISOBATCH_WORKER").stdin(Stdio::null());
    let run = Captured::spawn(cmd);
    wait_until(LIMIT, "two tasks to run", || running(&b));
    // nohup exec'd isobatch: the same pid. SIG_IGN is still in place, no handler replaced it.
    assert_eq!(signal_disposition(run.pid(), SIGHUP), (true, false));
    kill(Pid::from_raw(run.pid() as i32), Signal::SIGHUP).unwrap();
    fs::write(&gate, "").unwrap();
    let out = run.finish(LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_batch_completed(&b);
    assert!(run_log(&b).contains("SIGHUP arrived ignored"));
    // The terminal was never declared gone: the summary reached stdout.
    assert!(
        text(&out.stdout).contains("4 task(s) in"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn sighup_stops_terminal_output_and_the_batch_goes_on() {
    let (b, gate) = gated_batch();
    let run = Captured::spawn(gated_cmd(&b, &gate, &["--progress", "plain"]));
    wait_until(LIMIT, "two tasks to run", || running(&b));
    assert_eq!(signal_disposition(run.pid(), SIGHUP), (false, true));
    kill(Pid::from_raw(run.pid() as i32), Signal::SIGHUP).unwrap();
    wait_until(LIMIT, "the hangup to be logged", || {
        run_log(&b).contains("SIGHUP: the terminal is gone")
    });
    let before = run.stderr_text();
    fs::write(&gate, "").unwrap();
    let out = run.finish(LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_batch_completed(&b);
    // Nothing reached the terminal after the hangup: no progress line, no summary.
    assert_eq!(text(&out.stderr), before);
    assert!(!before.contains("attempt 1: done"), "{before}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let log = run_log(&b);
    assert!(
        log.contains("t4 attempt 1: done") && log.contains("4 task(s) in"),
        "{log}"
    );
}

#[test]
fn stdout_and_stderr_closed_mid_batch_do_not_stop_it() {
    let (b, gate) = gated_batch();
    let mut child = gated_cmd(&b, &gate, &["--progress", "plain"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn isobatch");
    let mut stderr = child.stderr.take().expect("stderr");
    let mut first = [0u8; 64];
    assert!(stderr.read(&mut first).expect("read stderr") > 0);
    wait_until(LIMIT, "two tasks to run", || running(&b));
    // `isobatch run ... 2>&1 | tee run.txt` and tee is gone: both pipes close.
    drop(stderr);
    drop(child.stdout.take());
    fs::write(&gate, "").unwrap();
    let status = wait_exit(&mut child, LIMIT);
    assert_eq!(status.code(), Some(0), "{status:?}\n{}", run_log(&b));
    assert_batch_completed(&b);
    let log = run_log(&b);
    assert!(log.contains("stderr: Broken pipe"), "{log}");
    assert!(
        log.contains("t4 attempt 1: done") && log.contains("4 task(s) in"),
        "{log}"
    );
}

#[test]
fn a_stderr_nobody_reads_does_not_stall_the_batch() {
    let b = Batch::new();
    for i in 0..150 {
        b.task(&format!("t{i:03}"), "sleep=0\n");
    }
    // A one-page pipe whose reader never reads: the plan and ~150 progress
    // lines cannot fit, so a write to it blocks for good.
    let (reader, writer) = nix::unistd::pipe().expect("pipe");
    nix::fcntl::fcntl(&writer, nix::fcntl::FcntlArg::F_SETPIPE_SZ(4096)).expect("F_SETPIPE_SZ");
    let mut cmd = b.progress_cmd("selftest", "plain", &["--workers", "2"]);
    cmd.stderr(Stdio::from(writer)).stdout(Stdio::null());
    let mut child = cmd.spawn().expect("spawn isobatch");
    drop(cmd);
    let status = wait_exit(&mut child, LIMIT);
    drop(reader);
    assert_eq!(status.code(), Some(0), "{status:?}\n{}", run_log(&b));
    assert_eq!(journal_count(&b, "attempt_end"), 150);
    assert!(b.verdicts().iter().all(|(_, v)| v == "done"));
    // It gave up on the terminal (during the batch, or when flushing at the end).
    let log = run_log(&b);
    assert!(
        log.contains("the terminal does not take output")
            || log.contains("the terminal did not take all of the output"),
        "{log}"
    );
    assert!(log.contains("150 task(s) in"), "{log}");
}
