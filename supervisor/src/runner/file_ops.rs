//! The dispatcher's file operations, off its thread: a file system can block
//! a call for as long as it likes (a hung NFS or FUSE mount), and the thread
//! that enforces timeouts and answers Ctrl-C must never be the one waiting.
//!
//! The dispatcher hands a [`Job`] to a small pool of threads and reacts to the
//! [`Event`] each one sends back when done, so every decision stays on the
//! dispatcher. Order within an attempt comes from that hand-off: `Run` goes
//! out only after [`Event::Prepared`], the attempt's end is journaled only
//! after [`Event::Settled`] (its folder published first). Attempts do not wait
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
use super::finish::publish_outputs;
use super::schedule::TaskIdx;
use crate::config::RunConfig;
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
    /// publishes or keeps its folder and measures its outputs; answered by
    /// [`Event::Settled`].
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

impl Job {
    /// Does the job here and now; returns the event that reports it.
    pub fn run(self, cfg: &RunConfig) -> Event {
        match self {
            Job::Prepare {
                worker,
                task,
                mut spec,
            } => {
                prepare(&mut spec);
                Event::Prepared { worker, task, spec }
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
                Event::Settled {
                    task,
                    attempt,
                    outputs,
                }
            }
        }
    }
}

/// The pool of threads doing the dispatcher's file operations.
pub struct FileOps {
    jobs: Sender<Job>,
    cfg: Arc<RunConfig>,
}

impl FileOps {
    /// Starts `threads` threads that send what they did to `events`.
    pub fn start(cfg: &RunConfig, threads: usize, events: &Sender<Event>) -> io::Result<FileOps> {
        let (jobs, rx) = mpsc::channel();
        let rx = Arc::new(Mutex::new(rx));
        let cfg = Arc::new(cfg.clone());
        for _ in 0..threads.max(1) {
            let (rx, cfg, events) = (rx.clone(), cfg.clone(), events.clone());
            thread::Builder::new()
                .name("file-ops".into())
                .spawn(move || serve(&rx, &cfg, &events))?;
        }
        Ok(FileOps { jobs, cfg })
    }

    /// Queues `job`. Should every thread be gone, does it on the caller's
    /// thread instead and returns its event: late beats never.
    pub fn submit(&self, job: Job) -> Option<Event> {
        match self.jobs.send(job) {
            Ok(()) => None,
            Err(mpsc::SendError(job)) => Some(job.run(&self.cfg)),
        }
    }
}

/// One pool thread: jobs until the dispatcher drops the pool (a thread stuck
/// in a file system is never waited for; it ends with the process).
fn serve(rx: &Mutex<Receiver<Job>>, cfg: &RunConfig, events: &Sender<Event>) {
    loop {
        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(job) = job else {
            return;
        };
        if events.send(job.run(cfg)).is_err() {
            return;
        }
    }
}
