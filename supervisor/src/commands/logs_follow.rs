//! `isobatch logs OUTPUT TASK --follow`: prints an attempt's log as it grows
//! and ends when the journal records the attempt's end (pueue's `follow`).
//!
//! A bounded poll: every [`POLL`] it reads what was appended to the journal
//! and the log since the last look, and sleeps in between, so a follow costs
//! no CPU while nothing happens. It also ends when the run that owns the
//! attempt is gone (ended, or its supervisor died) without ending it.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{EXIT_OK, EXIT_TASKS_FAILED, Error};
use crate::journal::Record;
use crate::layout;

/// Time between two looks at the journal and the log.
const POLL: Duration = Duration::from_millis(200);

/// Reads the records appended to the journal since the last call.
struct JournalTail {
    reader: BufReader<File>,
    partial: Vec<u8>,
}

impl JournalTail {
    fn open(path: &Path) -> io::Result<Self> {
        Ok(JournalTail {
            reader: BufReader::new(File::open(path)?),
            partial: Vec::new(),
        })
    }

    /// Complete lines appended since the last call (a line still being written waits).
    fn new_records(&mut self) -> io::Result<Vec<Record>> {
        let mut out = Vec::new();
        loop {
            let n = self.reader.read_until(b'\n', &mut self.partial)?;
            if n == 0 || !self.partial.ends_with(b"\n") {
                return Ok(out);
            }
            if let Ok(r) = serde_json::from_slice::<Record>(&self.partial) {
                out.push(r);
            }
            self.partial.clear();
        }
    }
}

/// What the journal has said so far about the followed attempt and its run.
#[derive(Default)]
struct Watch {
    attempt: Option<u32>,
    ended: Option<String>,
    run_pid: Option<(u32, String)>,
    run_ended: bool,
}

impl Watch {
    fn see(&mut self, task: &str, r: Record) {
        match r {
            Record::RunStart { pid, host, .. } => {
                self.run_pid = Some((pid, host));
                self.run_ended = false;
            }
            Record::RunEnd { .. } => self.run_ended = true,
            Record::AttemptStart {
                task: t, attempt, ..
            } if t == task => {
                self.attempt.get_or_insert(attempt);
            }
            Record::AttemptEnd {
                task: t,
                attempt,
                verdict,
                ..
            } if t == task && Some(attempt) == self.attempt => {
                self.ended = Some(verdict.to_string());
            }
            _ => {}
        }
    }

    /// Whether the supervisor of the latest run can still end the attempt.
    fn run_alive(&self) -> bool {
        let Some((pid, host)) = &self.run_pid else {
            return false;
        };
        if self.run_ended {
            return false;
        }
        let here = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned());
        if here.as_deref().ok() != Some(host.as_str()) {
            // Another machine's run (shared storage): only the journal can say.
            return true;
        }
        let pid = nix::unistd::Pid::from_raw(i32::try_from(*pid).unwrap_or(i32::MAX));
        !matches!(
            nix::sys::signal::kill(pid, None),
            Err(nix::errno::Errno::ESRCH)
        )
    }
}

/// Copies what was appended to a log since the last call.
struct LogTail {
    path: PathBuf,
    file: Option<File>,
}

impl LogTail {
    /// Copies new bytes to `out`; `Ok(false)` when `out` is closed (`| head`).
    fn pump(&mut self, out: &mut dyn Write) -> Result<bool, Error> {
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(f) => self.file = Some(f),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
                Err(e) => return Err(Error::io(&self.path, e)),
            }
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(true);
        };
        match io::copy(file, out).and_then(|_| out.flush()) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(Error::io(&self.path, e)),
        }
    }
}

/// Follows `task`'s attempt `attempt` (or, with `None`, the first attempt that
/// starts) until the journal records its end; exit 0, or 1 when its run is
/// gone first.
pub fn follow(out: &Path, task: &str, attempt: Option<u32>) -> Result<i32, Error> {
    let journal_path = layout::journal(out);
    let mut journal = JournalTail::open(&journal_path).map_err(|e| Error::io(&journal_path, e))?;
    let mut watch = Watch {
        attempt,
        ..Watch::default()
    };
    let mut log: Option<LogTail> = None;
    let mut stdout = io::stdout().lock();
    loop {
        for r in journal
            .new_records()
            .map_err(|e| Error::io(&journal_path, e))?
        {
            watch.see(task, r);
        }
        let alive = watch.run_alive();
        if let Some(n) = watch.attempt {
            let tail = log.get_or_insert_with(|| LogTail {
                path: layout::attempt_log(out, task, n),
                file: None,
            });
            if !tail.pump(&mut stdout)? {
                return Ok(EXIT_OK);
            }
            if let Some(verdict) = &watch.ended {
                eprintln!("isobatch: {task} attempt {n} ended: {verdict}");
                return Ok(EXIT_OK);
            }
            if !alive {
                eprintln!(
                    "isobatch: no run is going on in {}: {task} attempt {n} will not end normally \
                     (its run was stopped or killed)",
                    out.display()
                );
                return Ok(EXIT_TASKS_FAILED);
            }
        } else if !alive {
            let (records, _) =
                crate::journal::read(&journal_path).map_err(|e| Error::io(&journal_path, e))?;
            return Err(super::logs::unknown_task(
                task,
                &crate::resume::history(&records),
            ));
        }
        std::thread::sleep(POLL);
    }
}
