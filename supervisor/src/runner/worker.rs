//! The dispatcher's view of one worker process: where it is in its life, what
//! it is running, and how to talk to it.

use std::time::Instant;

use ipc_channel::ipc::IpcBytesSender;
use isobatch_shared::ToWorker;
use isobatch_shared::protocol::encode;

use super::events::WorkerId;
use super::schedule::TaskIdx;
use super::terminate::Termination;

/// The attempt a busy worker is running.
#[derive(Debug, Clone)]
pub struct Running {
    /// Which task.
    pub task: TaskIdx,
    /// Attempt number.
    pub attempt: u32,
    /// When the attempt began: its folder was handed to be prepared, `Run` follows.
    pub started: Instant,
    /// Whether `Run` went out (it waits for the attempt's folder to be prepared).
    pub sent: bool,
    /// When the attempt times out.
    pub deadline: Option<Instant>,
    /// The kernel's OOM-kill counters when it started (evidence for `failed:killed`).
    pub oom_at_start: super::oom::OomCounters,
}

/// Where a worker is in its life.
#[derive(Debug, Clone)]
pub enum WorkerState {
    /// Started; no `Hello` yet.
    Connecting {
        /// Give up (kill it) after this.
        deadline: Instant,
    },
    /// Waiting for a task.
    Idle,
    /// Reserved for a task (its folder being prepared), then running it.
    Busy(Running),
    /// Sent `Shutdown` (or being stopped); waiting for it to exit.
    Retiring {
        /// Kill it if it has not exited by then.
        deadline: Instant,
    },
}

/// One live worker process.
#[derive(Debug)]
pub struct Worker {
    /// Unique id within the run.
    pub id: WorkerId,
    /// The slot it fills.
    pub slot: usize,
    /// Pid (= process group id).
    pub pid: u32,
    /// Name of the one-shot server it connects to.
    pub server_name: String,
    /// Supervisor → worker channel, once connected.
    pub tx: Option<IpcBytesSender>,
    /// Life-cycle state.
    pub state: WorkerState,
    /// Tasks it has finished.
    pub tasks_done: usize,
    /// Set while isobatch is stopping it.
    pub stop: Option<Termination>,
    /// When its channel closed, if it has.
    pub hung_up_at: Option<Instant>,
    /// Its own RSS after each task, as it reported (for leak triage).
    pub rss_history: Vec<u64>,
}

impl Worker {
    /// Sends a message; false if the worker is not connected or has hung up.
    pub fn send(&self, msg: &ToWorker) -> bool {
        let (Some(tx), Ok(frame)) = (&self.tx, encode(msg)) else {
            return false;
        };
        tx.send(&frame).is_ok()
    }

    /// The attempt it is running, if busy.
    pub fn running(&self) -> Option<&Running> {
        match &self.state {
            WorkerState::Busy(r) => Some(r),
            _ => None,
        }
    }
}
