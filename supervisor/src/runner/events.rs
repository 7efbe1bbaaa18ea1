//! Everything the dispatcher reacts to. Threads that watch workers, signals
//! and memory, do its file operations and write the journal only ever send
//! one of these; the dispatcher owns all state.

use std::process::ExitStatus;

use ipc_channel::ipc::IpcBytesSender;
use isobatch_shared::{FromWorker, TaskSpec};

use super::batch::Attempt;
use super::schedule::TaskIdx;
use crate::unix::signals::StopSignal;

/// Identifies one worker process for its whole life (never reused in a run).
pub type WorkerId = u64;

/// An event for the dispatcher.
#[derive(Debug)]
pub enum Event {
    /// The spawner started a worker process (sent before any other event about it).
    Spawned {
        /// Which worker.
        worker: WorkerId,
        /// Its pid, which is also its process group id.
        pid: u32,
        /// Its start time in clock ticks since boot (None if it could not be read).
        start_ticks: Option<u64>,
        /// The one-shot server it connects to.
        server_name: String,
    },
    /// The spawner could not start a worker, or the threads to watch it.
    SpawnFailed {
        /// Which worker.
        worker: WorkerId,
        /// Why.
        error: String,
    },
    /// The worker connected; this is how to send it messages.
    Connected {
        /// Which worker.
        worker: WorkerId,
        /// Supervisor → worker channel.
        tx: IpcBytesSender,
    },
    /// The one-shot server failed before a worker connected.
    ConnectFailed {
        /// Which worker.
        worker: WorkerId,
        /// Why.
        error: String,
    },
    /// A message from a worker.
    Message {
        /// Which worker.
        worker: WorkerId,
        /// The message.
        msg: FromWorker,
    },
    /// The worker's channel closed (or carried garbage).
    Disconnected {
        /// Which worker.
        worker: WorkerId,
        /// A decode error, if that is why.
        error: Option<String>,
    },
    /// The worker process ended (already reaped).
    Exited {
        /// Which worker.
        worker: WorkerId,
        /// Its exit status, or why waiting failed.
        status: Result<ExitStatus, String>,
    },
    /// The worker's process tree went over --max-task-memory.
    OverMemory {
        /// Which worker.
        worker: WorkerId,
        /// The tree RSS that crossed the cap, bytes.
        rss: u64,
    },
    /// Ctrl-C, SIGTERM or SIGHUP.
    Signal(StopSignal),
    /// The attempt's folder is ready (a killed attempt's leftovers removed):
    /// `Run` may go to the worker reserved for it.
    Prepared {
        /// The worker reserved for the attempt.
        worker: WorkerId,
        /// Which task.
        task: TaskIdx,
        /// What to send it.
        spec: Box<TaskSpec>,
    },
    /// An ended attempt's folder is published (or kept as failed), its message
    /// complete, and its end journaled and on disk (or that commit failed).
    Settled {
        /// Which task.
        task: TaskIdx,
        /// The attempt, as settled (publishing can turn `done` into `failed:error`).
        attempt: Box<Attempt>,
    },
}
