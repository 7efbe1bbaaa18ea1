//! `.isobatch/run.log`: every line the supervisor shows or decides, written on a
//! thread of its own so a slow or hung output disk never stalls the dispatcher.
//!
//! Lines queued within a few milliseconds go out in one `write` to the file
//! opened for appending: the log is complete up to moments before a kill,
//! without a system call per line. Lines that arrive while the writer is stuck
//! are dropped and counted, and the count is logged once the writer moves again.

use std::fs::File;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::outlet::Outlet;

/// Lines that may wait for the writer.
const CAPACITY: usize = 4096;
/// A write stuck this long makes the log drop lines instead of queueing them.
const PATIENCE: Duration = Duration::from_secs(5);
/// How long the writer gathers lines before it writes them.
const LINGER: Duration = Duration::from_millis(5);

/// A handle to the run log (clones share it); `None` inside means no log (dry runs).
#[derive(Clone)]
pub struct RunLog {
    outlet: Option<Outlet<String>>,
    dropped: Arc<AtomicU64>,
}

impl RunLog {
    /// Starts the writer for `file`, or a log that keeps nothing when `file` is None.
    pub fn start(file: Option<File>) -> std::io::Result<Self> {
        let dropped = Arc::new(AtomicU64::new(0));
        let outlet = match file {
            None => None,
            Some(mut file) => {
                let lost = dropped.clone();
                Some(Outlet::start(
                    "run-log",
                    CAPACITY,
                    PATIENCE,
                    LINGER,
                    move |lines: Vec<String>| {
                        let mut text = String::new();
                        let n = lost.swap(0, Ordering::Relaxed);
                        if n > 0 {
                            text = format!(
                                "{:.3} ({n} log line(s) were dropped while the disk did not accept writes)\n",
                                crate::journal::now()
                            );
                        }
                        text.extend(lines);
                        let _ = file.write_all(text.as_bytes());
                    },
                )?)
            }
        };
        Ok(RunLog { outlet, dropped })
    }

    /// Appends `line` with a timestamp; never waits for the disk.
    pub fn line(&self, line: &str) {
        if let Some(outlet) = &self.outlet {
            let text = format!("{:.3} {line}\n", crate::journal::now());
            if outlet.send(text).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Waits (within the writer's patience) until every line so far is written.
    pub fn flush(&self) -> bool {
        self.outlet.as_ref().is_none_or(Outlet::flush)
    }
}
