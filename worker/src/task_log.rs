//! The attempt log: `OUTPUT/.isobatch/logs/TASK/attempt-N.log`.
//!
//! [`open_log`] opens it for appending (pipelines write their own lines and hand it
//! to programs they start). [`TaskLog`] is for the worker process only: for the
//! duration of one task it points the process's stdout and stderr (fds 1 and 2)
//! at the log, so that anything printed — including a panic message — lands there.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::unistd::{dup2_stderr, dup2_stdout};

/// Opens (creating it and its parent folders if needed) an attempt log for appending.
///
/// The error message names the path.
pub fn open_log(path: &Path) -> io::Result<File> {
    let context = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("cannot open attempt log {}: {e}", path.display()),
        )
    };
    let open = || OpenOptions::new().create(true).append(true).open(path);
    match open() {
        // The folder is made only when missing: by the time a pipeline opens its log,
        // `TaskLog::redirect` has usually made it.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(folder) = folder_of(path) {
                fs::create_dir_all(folder).map_err(context)?;
            }
            open().map_err(context)
        }
        other => other.map_err(context),
    }
}

/// The folder `path` names, if it names one (a bare file name does not).
fn folder_of(path: &Path) -> Option<&Path> {
    path.parent().filter(|p| !p.as_os_str().is_empty())
}

/// While alive, the process's fds 1 and 2 write to an attempt log; dropping it
/// restores the originals.
#[derive(Debug)]
pub struct TaskLog {
    saved_stdout: OwnedFd,
    saved_stderr: OwnedFd,
}

impl TaskLog {
    /// Redirects fds 1 and 2 to `path` (created or appended to).
    ///
    /// On error nothing is redirected and the message names the log path.
    pub fn redirect(path: &Path) -> io::Result<TaskLog> {
        // An attempt's log is new more often than not: make its folder first
        // rather than fail one open on it.
        if let Some(folder) = folder_of(path) {
            let _ = fs::create_dir(folder);
        }
        let log = open_log(path)?;
        // Saved copies are close-on-exec, so programs a task starts never inherit them.
        let saved_stdout = io::stdout().as_fd().try_clone_to_owned()?;
        let saved_stderr = io::stderr().as_fd().try_clone_to_owned()?;
        let _ = io::stdout().flush();
        dup2_stdout(&log).map_err(io::Error::from)?;
        if let Err(err) = dup2_stderr(&log) {
            let _ = dup2_stdout(&saved_stdout);
            return Err(err.into());
        }
        Ok(TaskLog {
            saved_stdout,
            saved_stderr,
        })
    }
}

impl Drop for TaskLog {
    fn drop(&mut self) {
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();
        let _ = dup2_stdout(&self.saved_stdout);
        let _ = dup2_stderr(&self.saved_stderr);
    }
}

/// The last `max_lines` non-empty lines written to `path` at or after byte `from`, reading at
/// most its final `window` bytes, for error messages. Empty when unreadable or missing.
pub fn tail(path: &Path, from: u64, window: u64, max_lines: usize) -> Vec<String> {
    use std::io::{Read, Seek, SeekFrom};
    let read = || -> io::Result<Vec<u8>> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        let start = from.max(len.saturating_sub(window));
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.take(window).read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    let Ok(bytes) = read() else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let skip = lines.len().saturating_sub(max_lines);
    lines[skip..].iter().map(|l| l.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_log_creates_parents_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/t/attempt-1.log");
        writeln!(open_log(&path).unwrap(), "one").unwrap();
        writeln!(open_log(&path).unwrap(), "\ntwo\n  \nthree").unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "one\n\ntwo\n  \nthree\n"
        );
        assert_eq!(tail(&path, 0, 1024, 2), vec!["two", "three"]);
        assert_eq!(tail(&path, 4, 1024, 5), vec!["two", "three"]);
        assert!(tail(&dir.path().join("nope"), 0, 1024, 5).is_empty());
        // Only the final `window` bytes are read: "three\n" is 6.
        assert_eq!(tail(&path, 0, 6, 5), vec!["three"]);
    }

    #[test]
    fn open_log_error_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, "x").unwrap();
        let err = open_log(&blocker.join("sub/attempt-1.log")).unwrap_err();
        assert!(err.to_string().contains("attempt-1.log"), "{err}");
        assert!(TaskLog::redirect(&blocker.join("a.log")).is_err());
    }
}
