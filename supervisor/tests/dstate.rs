//! A task stuck in uninterruptible sleep (D state) freezes nothing (issue 17,
//! deliverable 7): timeouts of other tasks and Ctrl-C keep working, the stuck
//! worker gets its verdict once SIGKILL has had its chance, and the batch ends
//! with the exit code the contract gives.
//!
//! The D state is real, not simulated: the task's input is a file on a FUSE
//! file system served by this test, which never answers a worker's read. A
//! read already handed to the server cannot be interrupted once a fatal signal
//! arrives: the worker then sits in D state, SIGKILL pending and unable to
//! act, exactly as on a hung NFS mount, until the test answers at the end.
//! What this proves: nothing on the dispatcher's path waits for such a
//! process (no blocking `waitpid`, no blocking `/proc` read). Needs root and
//! `/dev/fuse`; elsewhere the tests say so and pass.
mod common;
use common::*;

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::libc;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const LIMIT: Duration = Duration::from_secs(60);

/// What the FUSE file holds (a selftest task for whoever may read it).
const CONTENT: &[u8] = b"sleep=0\n";
const FILE_NAME: &str = "stuck.txt";
const ROOT: u64 = 1;
const FILE: u64 = 2;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A FUSE mount served by a thread of this test: one file, `stuck.txt`. Reads
/// by this test's own children (the supervisor: discovery, pre-flight) are
/// answered; reads by anyone else (a worker) are kept unanswered until
/// [`Fuse::release`] or drop.
struct Fuse {
    dir: PathBuf,
    dev: File,
    /// Held reads: (request id, reading thread).
    hung: Arc<Mutex<Vec<(u64, u32)>>>,
}

fn le(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// `fuse_attr` for the root folder or the file.
fn attr(node: u64) -> Vec<u8> {
    let (size, mode, nlink) = if node == ROOT {
        (0u64, 0o040755u32, 2u32)
    } else {
        (CONTENT.len() as u64, 0o100644u32, 1u32)
    };
    le(&[
        &node.to_le_bytes(),
        &size.to_le_bytes(),
        &1u64.to_le_bytes(), // blocks
        &[0u8; 24],          // atime, mtime, ctime
        &[0u8; 12],          // their nanoseconds
        &mode.to_le_bytes(),
        &nlink.to_le_bytes(),
        &[0u8; 12],             // uid, gid, rdev
        &4096u32.to_le_bytes(), // blksize
        &0u32.to_le_bytes(),    // flags
    ])
}

/// The parent pid of the process owning thread `tid`.
fn parent_of(tid: u32) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))?
        .trim()
        .parse()
        .ok()
}

impl Fuse {
    /// Mounts at `dir`; None where FUSE cannot be mounted.
    fn mount(dir: &Path) -> Option<Fuse> {
        fs::create_dir_all(dir).ok()?;
        let dev = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/fuse")
            .ok()?;
        let opts = format!("fd={},rootmode=40000,user_id=0,group_id=0", dev.as_raw_fd());
        let (src, target, fstype, data) = (
            CString::new("isobatch-test").ok()?,
            CString::new(dir.as_os_str().as_encoded_bytes()).ok()?,
            CString::new("fuse").ok()?,
            CString::new(opts).ok()?,
        );
        // SAFETY: valid NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                data.as_ptr().cast(),
            )
        };
        if rc != 0 {
            return None;
        }
        let hung = Arc::new(Mutex::new(Vec::new()));
        let reader = dev.try_clone().ok()?;
        let h = hung.clone();
        std::thread::spawn(move || serve(reader, &h));
        Some(Fuse {
            dir: dir.to_path_buf(),
            dev,
            hung,
        })
    }

    fn file(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// The threads whose reads are held unanswered so far.
    fn hung(&self) -> Vec<u32> {
        self.hung.lock().unwrap().iter().map(|h| h.1).collect()
    }

    /// Answers every held read with EIO: the readers wake up (and die of their pending signals).
    fn release(&self) {
        for (unique, _) in self.hung.lock().unwrap().drain(..) {
            let _ = (&self.dev).write_all(&reply(unique, -libc::EIO, &[]));
        }
    }
}

impl Drop for Fuse {
    fn drop(&mut self) {
        self.release();
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status();
    }
}

fn reply(unique: u64, error: i32, payload: &[u8]) -> Vec<u8> {
    let len = (16 + payload.len()) as u32;
    le(&[
        &len.to_le_bytes(),
        &error.to_le_bytes(),
        &unique.to_le_bytes(),
        payload,
    ])
}

/// The server loop: answers INIT, LOOKUP, GETATTR, OPEN, READ, RELEASE, FLUSH;
/// ENOSYS for anything else that expects an answer.
fn serve(mut dev: File, hung: &Mutex<Vec<(u64, u32)>>) {
    let me = std::process::id();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match dev.read(&mut buf) {
            Ok(n) if n >= 40 => n,
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            _ => return,
        };
        let req = &buf[..n];
        let u32_at = |o: usize| u32::from_le_bytes(req[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(req[o..o + 8].try_into().unwrap());
        let (opcode, unique, node, pid) = (u32_at(4), u64_at(8), u64_at(16), u32_at(32));
        let body = &req[40..];
        let answer = match opcode {
            // INIT: protocol 7.31, no optional features.
            26 => {
                let readahead = u32::from_le_bytes(body[8..12].try_into().unwrap());
                let mut out = le(&[
                    &7u32.to_le_bytes(),
                    &31u32.to_le_bytes(),
                    &readahead.to_le_bytes(),
                ]);
                out.extend_from_slice(&0u32.to_le_bytes()); // flags
                out.extend_from_slice(&[0u8; 4]); // max_background, congestion_threshold
                out.extend_from_slice(&65536u32.to_le_bytes()); // max_write
                out.extend_from_slice(&1u32.to_le_bytes()); // time_gran
                out.resize(64, 0);
                Some((0, out))
            }
            // LOOKUP
            1 => {
                let name = body.split(|&b| b == 0).next().unwrap_or(b"");
                if node == ROOT && name == FILE_NAME.as_bytes() {
                    let mut out = le(&[&FILE.to_le_bytes(), &0u64.to_le_bytes()]);
                    out.extend_from_slice(&60u64.to_le_bytes()); // entry_valid
                    out.extend_from_slice(&60u64.to_le_bytes()); // attr_valid
                    out.extend_from_slice(&[0u8; 8]);
                    out.extend_from_slice(&attr(FILE));
                    Some((0, out))
                } else {
                    Some((-libc::ENOENT, Vec::new()))
                }
            }
            // GETATTR
            3 => {
                let mut out = le(&[&60u64.to_le_bytes(), &[0u8; 8]]);
                out.extend_from_slice(&attr(node));
                Some((0, out))
            }
            // OPEN, OPENDIR: direct I/O, so every read comes here (no page cache).
            14 | 27 => Some((
                0,
                le(&[&0u64.to_le_bytes(), &1u32.to_le_bytes(), &[0u8; 4]]),
            )),
            // READ: the supervisor gets the content; a worker waits forever.
            15 => {
                if parent_of(pid) == Some(me) {
                    let offset = usize::try_from(u64_at(48)).unwrap_or(usize::MAX);
                    Some((0, CONTENT.get(offset..).unwrap_or(&[]).to_vec()))
                } else {
                    hung.lock().unwrap().push((unique, pid));
                    None
                }
            }
            // RELEASE, FLUSH, RELEASEDIR
            18 | 25 | 29 => Some((0, Vec::new())),
            // FORGET, INTERRUPT, BATCH_FORGET, DESTROY: no answer expected (or wanted).
            2 | 36 | 42 | 38 => None,
            _ => Some((-libc::ENOSYS, Vec::new())),
        };
        if let Some((error, payload)) = answer {
            let _ = (&dev).write_all(&reply(unique, error, &payload));
        }
    }
}

/// A batch whose task `stuck` reads the FUSE file, with `others` beside it.
fn batch_with_stuck_task(others: &[(&str, &str)]) -> Option<(Batch, Fuse)> {
    let b = Batch::new();
    let Some(fuse) = Fuse::mount(&b.dir.path().join("fuse")) else {
        eprintln!("skipped: cannot mount a FUSE file system (needs root and /dev/fuse)");
        return None;
    };
    for (name, body) in others {
        b.task(name, body);
    }
    std::os::unix::fs::symlink(fuse.file(), b.raw().join("stuck.txt")).unwrap();
    Some((b, fuse))
}

fn tag(name: &str) -> (String, String) {
    (
        "ISOBATCH_TEST_TAG".into(),
        format!("dstate-{name}-{}", std::process::id()),
    )
}

fn attempt_end(b: &Batch, task: &str) -> Option<serde_json::Value> {
    b.journal()
        .into_iter()
        .find(|e| e["event"] == "attempt_end" && e["task"] == task)
}

/// The worker running `task`'s first attempt.
fn worker_of(b: &Batch, task: &str) -> u32 {
    let mut pid = None;
    wait_until(LIMIT, "the task's attempt_start", || {
        pid = b
            .journal()
            .iter()
            .find(|e| e["event"] == "attempt_start" && e["task"] == task)
            .and_then(|e| e["worker_pid"].as_u64());
        pid.is_some()
    });
    pid.unwrap() as u32
}

/// After the test answered the held reads: nothing of the batch is left.
fn assert_nothing_left(tag: &(String, String)) {
    let needle = format!("{}={}", tag.0, tag.1);
    wait_until(
        LIMIT,
        "the stuck worker to die once its read is answered",
        || processes_with_env(&needle).is_empty(),
    );
}

#[test]
fn timeouts_keep_working_while_a_worker_is_stuck_in_d_state() {
    let Some((b, fuse)) = batch_with_stuck_task(&[("slow", "sleep=30\n"), ("quick", "sleep=0\n")])
    else {
        return;
    };
    let tag = tag("timeout");
    let mut cmd = b.run_cmd(&["--workers", "3", "--timeout", "3", "--kill-grace", "1"]);
    cmd.env(&tag.0, &tag.1);
    let run = Captured::spawn(cmd);
    let stuck = worker_of(&b, "stuck");
    wait_until(LIMIT, "the worker's read to be held", || {
        fuse.hung() == [stuck]
    });
    // The timeout's SIGTERM puts it in uninterruptible sleep: from now on it cannot die.
    wait_until(LIMIT, "the stuck worker to enter D state", || {
        proc_state(stuck) == Some('D')
    });
    wait_until(LIMIT, "slow's timeout", || {
        attempt_end(&b, "slow").is_some()
    });
    assert_eq!(
        proc_state(stuck),
        Some('D'),
        "the stand-in is not stuck any more"
    );
    let out = run.finish(LIMIT);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        proc_state(stuck),
        Some('D'),
        "the worker died: nothing was proven"
    );
    assert_eq!(b.verdict("slow"), "failed:timeout");
    assert_eq!(b.verdict("quick"), "done");
    assert_eq!(b.verdict("stuck"), "failed:timeout");
    assert!(
        stdout.contains(&format!(
            "worker {stuck} (task stuck) did not exit after SIGKILL"
        )) && stdout.contains("uninterruptible sleep"),
        "{stdout}"
    );
    fuse.release();
    assert_nothing_left(&tag);
}

#[test]
fn ctrl_c_keeps_working_while_a_worker_is_stuck_in_d_state() {
    let Some((b, fuse)) = batch_with_stuck_task(&[("long", "sleep=60\n")]) else {
        return;
    };
    let tag = tag("ctrlc");
    let mut cmd = b.run_cmd(&["--workers", "2", "--kill-grace", "1"]);
    cmd.env(&tag.0, &tag.1);
    let run = Captured::spawn(cmd);
    let stuck = worker_of(&b, "stuck");
    worker_of(&b, "long");
    wait_until(LIMIT, "the worker's read to be held", || {
        fuse.hung() == [stuck]
    });
    let sigint = || kill(Pid::from_raw(run.pid() as i32), Signal::SIGINT).unwrap();
    sigint();
    wait_until(LIMIT, "the first Ctrl-C to be acknowledged", || {
        run.stderr_text().contains("interrupted (SIGINT)")
    });
    sigint();
    wait_until(LIMIT, "the stuck worker to enter D state", || {
        proc_state(stuck) == Some('D')
    });
    let out = run.finish(LIMIT);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert_eq!(
        proc_state(stuck),
        Some('D'),
        "the worker died: nothing was proven"
    );
    assert_eq!(b.verdict("long"), "cancelled");
    assert_eq!(b.verdict("stuck"), "cancelled");
    fuse.release();
    assert_nothing_left(&tag);
}

#[test]
fn an_orphan_stuck_in_d_state_does_not_freeze_the_dispatcher() {
    let Some((b, fuse)) = batch_with_stuck_task(&[("z_slow", "")]) else {
        return;
    };
    let tag = tag("orphan");
    // One worker: z_slow starts only after stuck's attempt ended and its
    // process (`cat`, stuck reading) was left behind, re-parented to the supervisor.
    let mut cmd = isobatch();
    cmd.env(&tag.0, &tag.1)
        .args(["run", "--pipeline", "exec", "--progress", "none", "--input"])
        .arg(b.raw())
        .arg("--output")
        .arg(b.out())
        .args([
            "--pattern",
            "{name}.txt",
            "--exec",
            "sh -c 'cat \"$0\"; sleep 60' {input}",
        ])
        .args(["--workers", "1", "--timeout", "3", "--kill-grace", "1"]);
    let run = Captured::spawn(cmd);
    let mut cat = Vec::new();
    wait_until(LIMIT, "cat's read to be held", || {
        cat = fuse.hung();
        !cat.is_empty()
    });
    let cat = cat[0];
    wait_until(LIMIT, "stuck's timeout", || {
        attempt_end(&b, "stuck").is_some()
    });
    wait_until(
        LIMIT,
        "cat to be left to the supervisor, in D state",
        || proc_state(cat) == Some('D') && parent_of(cat) == Some(run.pid()),
    );
    // The dispatcher still starts z_slow and enforces its timeout.
    wait_until(LIMIT, "z_slow's timeout", || {
        attempt_end(&b, "z_slow").is_some()
    });
    let out = run.finish(LIMIT);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(b.verdict("stuck"), "failed:timeout");
    assert_eq!(b.verdict("z_slow"), "failed:timeout");
    assert!(
        stdout.contains("could not be killed") && stdout.contains(&format!("{cat} (state D")),
        "{stdout}"
    );
    fuse.release();
    assert_nothing_left(&tag);
}
