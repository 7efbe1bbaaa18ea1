//! Where a journal line is written: `.isobatch/journal.jsonl`, append-only,
//! one JSON object a line, the source of truth for resume and `status`.
//!
//! A writer thread does group commit: after the first line it gathers every
//! line queued within a short window, appends them in one `write`, then one
//! `fdatasync`, so thousands of short tasks cost a few hundred syncs a second,
//! not one each. `flush` waits until
//! everything queued so far is on disk.
//!
//! A commit that fails (a full disk, an I/O error) is taken back: the file is
//! truncated to the end of its last whole record, so no partial line is ever
//! left for the next record to be glued to. The failed lines stay queued and
//! go out with the next commit, in order, should the disk take them again.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use isobatch_shared::{FileIdentity, StageReport, Verdict};
use serde::{Deserialize, Serialize};

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Record {
    /// A run started.
    RunStart {
        /// Seconds since the Unix epoch.
        time: f64,
        /// Supervisor pid.
        pid: u32,
        /// Host name.
        host: String,
        /// Pipeline name.
        pipeline: String,
        /// Number of tasks in this run (selected, not missing).
        tasks: usize,
        /// Hash of everything that decides a task's outputs.
        param_hash: String,
        /// Isolation mode.
        mode: String,
        /// Concurrency.
        workers: usize,
        /// The isobatch version that ran (absent in journals written before it was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
        /// The command line, one argument an element (likewise).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        command_line: Vec<String>,
    },
    /// An attempt was handed to a worker.
    AttemptStart {
        /// Seconds since the Unix epoch.
        time: f64,
        /// Task id.
        task: String,
        /// Attempt number.
        attempt: u32,
        /// Worker pid (absent in serial mode).
        worker_pid: Option<u32>,
    },
    /// An attempt ended.
    AttemptEnd {
        /// Seconds since the Unix epoch.
        time: f64,
        /// Task id.
        task: String,
        /// Attempt number.
        attempt: u32,
        /// The verdict.
        verdict: Verdict,
        /// Wall time, seconds.
        duration_s: f64,
        /// Peak tree RSS, bytes.
        peak_rss_bytes: u64,
        /// Why it failed.
        message: String,
        /// Outputs relative to the output folder, with their sizes and mtimes.
        outputs: Vec<OutputRecord>,
        /// Hash of the parameters it ran with.
        param_hash: String,
        /// What each stage of a multi-stage pipeline did (absent for single-step pipelines).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        stages: Vec<StageReport>,
        /// Every input and tracked file (exec program, `--rerun-on`) as the
        /// attempt found it (absent in journals written before it was recorded,
        /// and for attempts that never reported).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        inputs: Vec<FileIdentity>,
        /// The task's own results (`TASK/result.json`'s scalar fields) of a
        /// `done` attempt, so a later run that skips the task still reports them.
        #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
        result: serde_json::Map<String, serde_json::Value>,
    },
    /// A task that an earlier run finished `done` is computed again, and why
    /// (an input, the parameters or an output changed).
    Rerun {
        /// Seconds since the Unix epoch.
        time: f64,
        /// Task id.
        task: String,
        /// What changed, in words.
        reason: String,
    },
    /// A task never started in this run (interrupted, or stopped early by
    /// `--max-fail`); a rerun runs it.
    Cancelled {
        /// Seconds since the Unix epoch.
        time: f64,
        /// Task id.
        task: String,
        /// Why it was not started.
        reason: String,
    },
    /// A task was up to date and not run.
    Skipped {
        /// Seconds since the Unix epoch.
        time: f64,
        /// Task id.
        task: String,
    },
    /// Where this run's processes can be found if it is killed: the boot it
    /// runs in and its cgroup, if it made one. Written once, after `run_start`.
    RunScope {
        /// Seconds since the Unix epoch.
        time: f64,
        /// `/proc/sys/kernel/random/boot_id` (pids mean nothing in another boot).
        boot_id: String,
        /// The run's cgroup folder, which holds every worker and what it started.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cgroup: Option<PathBuf>,
    },
    /// A worker process was started.
    Worker {
        /// Seconds since the Unix epoch.
        time: f64,
        /// Its pid (and process group id).
        pid: u32,
        /// Its start time in clock ticks since boot: a later process with the same pid differs.
        start_ticks: u64,
    },
    /// A run ended (absent when the supervisor was killed).
    RunEnd {
        /// Seconds since the Unix epoch.
        time: f64,
        /// Ctrl-C or SIGTERM stopped it.
        interrupted: bool,
        /// Final verdict counts.
        counts: BTreeMap<String, usize>,
    },
}

/// An output file as the journal records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// Path relative to the output folder.
    pub path: PathBuf,
    /// Size in bytes when the attempt ended.
    pub bytes: u64,
    /// Modification time when the attempt ended, nanoseconds since the Unix
    /// epoch (absent in journals written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime_ns: Option<u64>,
}

impl OutputRecord {
    /// Records `path` (absolute) as it is now, relative to `output`.
    pub fn of(output: &Path, path: &Path) -> OutputRecord {
        let meta = std::fs::metadata(path).ok();
        OutputRecord {
            path: path.strip_prefix(output).unwrap_or(path).to_path_buf(),
            bytes: meta.as_ref().map_or(0, |m| m.len()),
            mtime_ns: meta.and_then(|m| mtime_ns(&m)),
        }
    }

    /// True when the file at `output/path` still has the recorded size and,
    /// where recorded, modification time: the same bytes the attempt left.
    pub fn unchanged(&self, output: &Path) -> bool {
        std::fs::metadata(output.join(&self.path)).is_ok_and(|m| {
            m.len() == self.bytes && (self.mtime_ns.is_none() || mtime_ns(&m) == self.mtime_ns)
        })
    }
}

fn mtime_ns(meta: &std::fs::Metadata) -> Option<u64> {
    let t = meta.modified().ok()?;
    u64::try_from(t.duration_since(UNIX_EPOCH).ok()?.as_nanos()).ok()
}

/// Seconds since the Unix epoch, now.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Journals that `task` was not started in this run, and why.
pub fn journal_cancelled(journal: &Journal, task: &str, reason: &str) {
    journal.append(&Record::Cancelled {
        time: now(),
        task: task.to_string(),
        reason: reason.to_string(),
    });
}

enum Msg {
    Line(Vec<u8>),
    Flush(Sender<()>),
}

/// What the writer thread reports back.
#[derive(Default)]
struct Health {
    /// The first write error, if any.
    error: Mutex<Option<String>>,
    /// Bytes of records queued but not (yet) on disk after a failed commit.
    unwritten: AtomicU64,
}

/// The journal writer.
pub struct Journal {
    tx: Option<Sender<Msg>>,
    thread: Option<JoinHandle<()>>,
    health: Arc<Health>,
}

fn commit(file: &mut File, batch: &[u8]) -> io::Result<()> {
    file.write_all(batch)?;
    file.sync_data()
}

/// How long the writer keeps collecting lines after the first one before it
/// syncs: the price in latency of turning one fsync per line into one per window.
const COMMIT_WINDOW: Duration = Duration::from_millis(5);

/// Appends `batch` after the first `*good` bytes of `file` and syncs it; on
/// failure truncates the file back to `*good` bytes, so whatever part of the
/// batch reached it is taken back whole.
fn commit_or_take_back(file: &mut File, good: &mut u64, batch: &[u8]) -> io::Result<()> {
    match commit(file, batch) {
        Ok(()) => {
            *good += batch.len() as u64;
            Ok(())
        }
        Err(e) => match file.set_len(*good) {
            Ok(()) => Err(e),
            Err(t) => Err(io::Error::new(
                e.kind(),
                format!("{e}; and truncating back to the last whole record failed: {t}"),
            )),
        },
    }
}

fn writer(mut file: File, mut good: u64, rx: Receiver<Msg>, health: Arc<Health>, path: PathBuf) {
    let mut batch = Vec::new();
    let mut waiters = Vec::new();
    while let Ok(first) = rx.recv() {
        let deadline = Instant::now() + COMMIT_WINDOW;
        let mut next = Some(first);
        let mut slept = false;
        while let Some(msg) = next {
            match msg {
                Msg::Line(line) => batch.extend_from_slice(&line),
                Msg::Flush(done) => waiters.push(done),
            }
            next = rx.try_recv().ok();
            // Gather until the window closes by sleeping through it once, not by waiting on
            // the channel: a sender then finds nobody to wake, so a line costs the dispatcher
            // no wake-up of this thread. A flush is waited on: commit at once.
            if next.is_none() && !slept && waiters.is_empty() {
                thread::sleep(deadline.saturating_duration_since(Instant::now()));
                slept = true;
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            match commit_or_take_back(&mut file, &mut good, &batch) {
                Ok(()) => batch.clear(),
                Err(e) => {
                    let mut slot = health.error.lock().unwrap_or_else(|p| p.into_inner());
                    slot.get_or_insert_with(|| format!("{}: {e}", path.display()));
                }
            }
            health
                .unwritten
                .store(batch.len() as u64, Ordering::Relaxed);
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
    }
}

impl Journal {
    /// Opens (creating if needed) the journal for appending.
    /// A torn last line (a crash mid-write) is closed with a newline first, so
    /// the next record starts on a line of its own instead of being glued to it.
    pub fn open(path: &Path) -> io::Result<Journal> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)?;
        let mut len = file.metadata()?.len();
        if len > 0 {
            use std::io::{Read, Seek, SeekFrom};
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                commit(&mut file, b"\n")?;
                len += 1;
            }
        }
        let (tx, rx) = mpsc::channel();
        let health = Arc::new(Health::default());
        let (h, p) = (health.clone(), path.to_path_buf());
        let thread = thread::Builder::new()
            .name("journal".into())
            .spawn(move || writer(file, len, rx, h, p))?;
        Ok(Journal {
            tx: Some(tx),
            thread: Some(thread),
            health,
        })
    }

    /// Queues one record; it reaches the disk with the next group commit.
    pub fn append(&self, record: &Record) {
        let Ok(mut line) = serde_json::to_vec(record) else {
            return;
        };
        line.push(b'\n');
        if let Some(tx) = &self.tx {
            let _ = tx.send(Msg::Line(line));
        }
    }

    /// Waits until every queued record is written and synced.
    pub fn flush(&self) {
        let (done_tx, done_rx) = mpsc::channel();
        if let Some(tx) = &self.tx
            && tx.send(Msg::Flush(done_tx)).is_ok()
        {
            let _ = done_rx.recv();
        }
    }

    /// The first write error, if any (e.g. the disk is full).
    pub fn error(&self) -> Option<String> {
        self.health
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Bytes of records that a failed commit left off the disk and no later
    /// commit has written yet (as of the last commit; [`Journal::flush`] first).
    pub fn unwritten_bytes(&self) -> u64 {
        self.health.unwritten.load(Ordering::Relaxed)
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads every well-formed record; a torn or garbled line is skipped and
/// reported (by line number) instead of failing the read.
pub fn read(path: &Path) -> io::Result<(Vec<Record>, Vec<String>)> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(e),
    };
    let mut records = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Record>(line) {
            Ok(r) => records.push(r),
            Err(e) => problems.push(format!(
                "{}: line {} is damaged and was ignored ({e})",
                path.display(),
                i + 1
            )),
        }
    }
    Ok((records, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_commit_and_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let j = Journal::open(&path).unwrap();
        for i in 0..100 {
            j.append(&Record::Skipped {
                time: 1.0,
                task: format!("t{i}"),
            });
        }
        j.flush();
        drop(j);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"{\"event\":\"skipped\",\"ti");
        std::fs::write(&path, bytes).unwrap();
        let (records, problems) = read(&path).unwrap();
        assert_eq!(records.len(), 100);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("line 101"), "{problems:?}");
    }
}
