//! The dispatcher's file operations, off its thread: a file system can block
//! a call for as long as it likes (a hung NFS or FUSE mount), and the thread
//! that enforces timeouts and answers Ctrl-C must never be the one waiting.
//!
//! The dispatcher hands a [`Job`] to a small pool of threads and reacts to the
//! [`Event`] each one sends back when done, so every decision stays on the
//! dispatcher. Order within an attempt comes from that hand-off: `Run` goes
//! out only after [`Event::Prepared`]; an attempt's end is journaled only once
//! its folder is published, and [`Event::Settled`] comes once that journal
//! line is on disk (the journal's own thread sends it). Attempts do not wait
//! for one another, so one hung folder holds up its own attempt, not the pool:
//! there is a thread per worker slot, and one spare.

use std::io;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;

use isobatch_shared::TaskSpec;

use super::assign::prepare;
use super::batch::Attempt;
use super::classify::Message;
use super::events::{Event, WorkerId};
use super::finish::{attempt_end, publish_outputs};
use super::schedule::TaskIdx;
use crate::config::RunConfig;
use crate::journal::writer::Appender;
use crate::layout;

/// A file operation the dispatcher needs done.
pub enum Job {
    /// Readies the attempt's folders ([`prepare`]); answered by [`Event::Prepared`].
    Prepare {
        /// The worker reserved for the attempt.
        worker: WorkerId,
        /// Which task.
        task: TaskIdx,
        /// The attempt's spec (names its folder).
        spec: Box<TaskSpec>,
    },
    /// Completes an ended attempt's message from its log where needed, then
    /// publishes or keeps its folder, measures its outputs and journals its
    /// end; answered by [`Event::Settled`] once that line is durable.
    Settle {
        /// Which task.
        task: TaskIdx,
        /// Its id.
        id: String,
        /// The attempt.
        attempt: Box<Attempt>,
        /// Its message, if part of it is still to be read from the log.
        message: Option<Message>,
    },
}

/// What every pool thread shares.
struct Shared {
    cfg: RunConfig,
    param_hash: String,
    journal: Appender,
    events: Sender<Event>,
}

impl Job {
    /// Does the job here and now; its event goes to the dispatcher (for a
    /// settled attempt, from the journal's thread once its line is durable).
    fn run(self, shared: &Shared) {
        let cfg = &shared.cfg;
        match self {
            Job::Prepare {
                worker,
                task,
                mut spec,
            } => {
                prepare(&mut spec);
                let _ = shared.events.send(Event::Prepared { worker, task, spec });
            }
            Job::Settle {
                task,
                id,
                mut attempt,
                message,
            } => {
                if let Some(m) = message {
                    attempt.message =
                        m.render(&layout::attempt_log(&cfg.output, &id, attempt.attempt));
                }
                let outputs = publish_outputs(cfg, &id, &mut attempt);
                let line = attempt_end(&shared.param_hash, &id, &attempt, outputs);
                let events = shared.events.clone();
                shared.journal.append_then(
                    &line,
                    Box::new(move |_| {
                        let _ = events.send(Event::Settled { task, attempt });
                    }),
                );
            }
        }
    }
}

/// The pool of threads doing the dispatcher's file operations.
pub struct FileOps {
    jobs: Sender<Job>,
    shared: Arc<Shared>,
}

impl FileOps {
    /// Starts `threads` threads that journal through `journal` (attempt ends,
    /// with `param_hash`) and send what they did to `events`.
    pub fn start(
        (cfg, param_hash): (&RunConfig, &str),
        journal: Appender,
        threads: usize,
        events: &Sender<Event>,
    ) -> io::Result<FileOps> {
        let (jobs, rx) = mpsc::channel();
        let rx = Arc::new(Mutex::new(rx));
        let shared = Arc::new(Shared {
            cfg: cfg.clone(),
            param_hash: param_hash.to_string(),
            journal,
            events: events.clone(),
        });
        for _ in 0..threads.max(1) {
            let (rx, shared) = (rx.clone(), shared.clone());
            thread::Builder::new()
                .name("file-ops".into())
                .spawn(move || serve(&rx, &shared))?;
        }
        Ok(FileOps { jobs, shared })
    }

    /// Queues `job`. Should every thread be gone, does it on the caller's
    /// thread instead: late beats never.
    pub fn submit(&self, job: Job) {
        if let Err(mpsc::SendError(job)) = self.jobs.send(job) {
            job.run(&self.shared);
        }
    }
}

/// One pool thread: jobs until the dispatcher drops the pool (a thread stuck
/// in a file system is never waited for; it ends with the process).
fn serve(rx: &Mutex<Receiver<Job>>, shared: &Shared) {
    loop {
        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(job) = job else {
            return;
        };
        job.run(shared);
    }
}
