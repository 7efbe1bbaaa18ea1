//! The worker's side of the IPC protocol (DESIGN.md, "IPC").
//!
//! Connect to the supervisor's one-shot server, hand it one byte channel per
//! direction, say `Hello`, then run tasks until `Shutdown` or until the
//! supervisor goes away. Panics are deliberately not caught: a panicking task
//! crashes the worker, and the supervisor classifies it as `failed:crashed`.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ipc_channel::ipc::{self, IpcBytesSender, IpcSender};
use isobatch_shared::TaskSpec;
use isobatch_shared::procfs;
use isobatch_shared::protocol::{self, Bootstrap, FromWorker, PROTOCOL_VERSION, ToWorker};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::error::TaskError;
use crate::task_log::TaskLog;
use crate::{TaskResult, pipeline};

/// Serves the supervisor listening at `server_name` until it says `Shutdown` or disconnects.
///
/// `supervisor` is the pid the supervisor passed: the worker arms its parent-death signal, and
/// exits rather than run unsupervised when its parent is already someone else. `cgroup` is the
/// run's cgroup the worker was started in, if the supervisor made one (one the worker is not
/// in is never used, and said so on stderr). Errors when the parent-death signal cannot be
/// armed, the connection cannot be made, or a message cannot be encoded or decoded.
pub fn serve(server_name: &str, supervisor: Option<u32>, cgroup: Option<&Path>) -> Result<()> {
    let cgroup = cgroup.and_then(|cg| {
        if crate::parent_death::in_run_cgroup(cg) {
            return Some(cg.to_path_buf());
        }
        let _ = writeln!(
            std::io::stderr(),
            "isobatch-worker {}: not in the run's cgroup {}; running without it",
            std::process::id(),
            cg.display()
        );
        None
    });
    if let Some(pid) = supervisor {
        crate::parent_death::arm(pid, cgroup)?;
    }
    let bootstrap = IpcSender::<Bootstrap>::connect(server_name.to_string())
        .with_context(|| format!("cannot connect to the supervisor at {server_name:?}"))?;
    let (to_worker_tx, to_worker_rx) =
        ipc::bytes_channel().context("cannot create an IPC channel")?;
    let (from_worker_tx, from_worker_rx) =
        ipc::bytes_channel().context("cannot create an IPC channel")?;
    bootstrap
        .send((to_worker_tx, from_worker_rx))
        .context("cannot send the IPC channels to the supervisor")?;
    drop(bootstrap);
    send(
        &from_worker_tx,
        &FromWorker::Hello {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            protocol: PROTOCOL_VERSION,
        },
    )?;
    loop {
        // A receive error means the supervisor is gone: nobody is left to answer.
        let Ok(frame) = to_worker_rx.recv() else {
            return Ok(());
        };
        match protocol::decode::<ToWorker>(&frame).context("bad message from the supervisor")? {
            ToWorker::Run(spec) => run_task(&spec, &from_worker_tx)?,
            ToWorker::Shutdown => return Ok(()),
        }
    }
}

/// Minimum time between two `Progress` frames of one task.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// Runs one task with stdio on its attempt log and answers with `Finished`.
fn run_task(spec: &TaskSpec, tx: &IpcBytesSender) -> Result<()> {
    reap_stray_children();
    procfs::reset_self_peak();
    let rss_before = procfs::self_rss();
    let result = match TaskLog::redirect(&spec.log_path) {
        Ok(guard) => {
            let mut last_sent = Instant::now();
            let mut progress = |stage: &str, fraction: f32, message: &str| {
                // At most one frame per PROGRESS_INTERVAL, none in a task's first
                // one: short tasks cost no extra IPC round trips. Progress is
                // advisory; a lost frame must not fail the task.
                if last_sent.elapsed() >= PROGRESS_INTERVAL {
                    last_sent = Instant::now();
                    let _ = send(tx, &progress_msg(spec, stage, fraction, message));
                }
            };
            let result = pipeline::run(spec, &mut progress);
            drop(guard);
            result
        }
        Err(err) => TaskResult::failed(&TaskError::AttemptLog(err)),
    };
    let memory = procfs::self_memory();
    let rss_after = memory.rss;
    // Stages reset the high-water mark to measure each one; the task's peak is the largest.
    let stage_peak = result
        .stages
        .iter()
        .map(|s| s.peak_rss_bytes)
        .max()
        .unwrap_or(0);
    let rss_peak = memory.peak.max(rss_after).max(stage_peak);
    send(
        tx,
        &FromWorker::Finished {
            task: spec.task.clone(),
            outcome: result.outcome,
            outputs: result.outputs,
            rss_before,
            rss_after,
            rss_peak,
            stages: result.stages,
            inputs: result.inputs,
        },
    )
}

fn progress_msg(spec: &TaskSpec, stage: &str, fraction: f32, message: &str) -> FromWorker {
    FromWorker::Progress {
        task: spec.task.clone(),
        stage: stage.to_string(),
        fraction,
        message: message.to_string(),
    }
}

/// Encodes and sends one frame.
fn send(tx: &IpcBytesSender, msg: &FromWorker) -> Result<()> {
    let frame = protocol::encode(msg).context("cannot encode a message for the supervisor")?;
    tx.send(&frame)
        .context("cannot send a message to the supervisor")
}

/// Collects children that earlier tasks started and left behind (e.g. selftest `child=`).
fn reap_stray_children() {
    while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}
