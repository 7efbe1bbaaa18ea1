//! Where a journal line is written: `.isobatch/journal.jsonl`, append-only,
//! one JSON object a line, the source of truth for resume and `status`.
//! The records are here; [`writer`] appends them from a thread of its own.

pub mod writer;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use isobatch_shared::{FileIdentity, StageReport, Verdict};
use serde::{Deserialize, Serialize};

pub use writer::Journal;

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
        /// Worker pid (absent in serial mode; with `--executor slurm`, a pid on `node`).
        worker_pid: Option<u32>,
        /// With `--executor slurm`: the array element running it, `JOBID_INDEX`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slurm_job: Option<String>,
        /// With `--executor slurm`: the node it runs on, as squeue names it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
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
    /// `--executor slurm` submitted a job array: elements `offset..offset+count`
    /// of the task list in `list`. A rerun after the supervisor was killed
    /// attaches to it instead of submitting those tasks again.
    SlurmArray {
        /// Seconds since the Unix epoch.
        time: f64,
        /// The array's job id.
        job_id: String,
        /// The submission folder, relative to the output folder.
        list: PathBuf,
        /// The task list element of array index 0.
        offset: usize,
        /// Number of elements.
        count: usize,
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
    use std::sync::mpsc;
    use std::time::Duration;

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

    #[test]
    fn notices_come_once_the_line_is_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let j = Journal::open(&path).unwrap();
        let (tx, rx) = mpsc::channel();
        let record = Record::Skipped {
            time: 1.0,
            task: "t".into(),
        };
        let p = path.clone();
        j.appender().append_then(
            &record,
            Box::new(move |durable| {
                let on_disk = std::fs::read_to_string(&p).unwrap().contains("\"t\"");
                tx.send((durable, on_disk)).unwrap();
            }),
        );
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok((true, true)));
    }
}
