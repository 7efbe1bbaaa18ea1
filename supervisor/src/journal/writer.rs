//! The journal's writer: a thread that does group commit: after the first line it gathers every
//! line queued within a short window, appends them in one `write`, then one
//! `fdatasync`, so thousands of short tasks cost a few hundred syncs a second,
//! not one each. `flush` waits until
//! everything queued so far is on disk.
//!
//! A line may carry a notice ([`Appender::append_then`]) called once its commit
//! is durable (or failed): the dispatcher learns of an attempt's end only
//! then, and shows it, without ever waiting for the disk itself.
//!
//! A commit that fails (a full disk, an I/O error) is taken back: the file is
//! truncated to the end of its last whole record, so no partial line is ever
//! left for the next record to be glued to. The failed lines stay queued and
//! go out with the next commit, in order, should the disk take them again.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::Record;

/// Called once with whether the line it came with is on disk (true) or its
/// commit failed (false).
pub type Durable = Box<dyn FnOnce(bool) + Send>;

enum Msg {
    Line(Vec<u8>, Option<Durable>),
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

/// Appends to a [`Journal`] from another thread; lines queued after the
/// journal is dropped are refused (their notices get false).
#[derive(Clone)]
pub struct Appender {
    tx: Option<Sender<Msg>>,
}

impl Appender {
    /// Queues one record and calls `durable` from the writer thread once its
    /// commit is synced (true) or failed (false); at once with false if the
    /// record cannot be queued.
    pub fn append_then(&self, record: &Record, durable: Durable) {
        queue(self.tx.as_ref(), record, Some(durable));
    }
}

fn queue(tx: Option<&Sender<Msg>>, record: &Record, durable: Option<Durable>) {
    let refused = match (serde_json::to_vec(record), tx) {
        (Ok(mut line), Some(tx)) => {
            line.push(b'\n');
            match tx.send(Msg::Line(line, durable)) {
                Err(mpsc::SendError(Msg::Line(_, d))) => d,
                _ => None,
            }
        }
        _ => durable,
    };
    if let Some(d) = refused {
        d(false);
    }
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
    let mut notices: Vec<Durable> = Vec::new();
    while let Ok(first) = rx.recv() {
        let deadline = Instant::now() + COMMIT_WINDOW;
        let mut next = Some(first);
        let mut slept = false;
        while let Some(msg) = next {
            match msg {
                Msg::Line(line, notice) => {
                    batch.extend_from_slice(&line);
                    notices.extend(notice);
                }
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
            let committed = commit_or_take_back(&mut file, &mut good, &batch);
            for notice in notices.drain(..) {
                notice(committed.is_ok());
            }
            match committed {
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
        queue(self.tx.as_ref(), record, None);
    }

    /// A handle other threads may append through (see [`Appender`]).
    pub fn appender(&self) -> Appender {
        Appender {
            tx: self.tx.clone(),
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
