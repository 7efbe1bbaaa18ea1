//! Start one worker process and the threads that watch it.
//!
//! Per worker: an accept thread (the one-shot server's `accept` has no timeout)
//! that then reads the worker's messages, and a waiter thread that owns the
//! `Child` and reports its exit. Both only send [`Event`]s; neither blocks the
//! dispatcher, so a worker that dies before connecting or mid-task is noticed
//! at once, never waited on forever.

use std::fs::File;
use std::process::{Command, Stdio};
use std::sync::mpsc::Sender;
use std::thread;

use anyhow::Context;
use ipc_channel::ipc::{IpcOneShotServer, IpcSender};
use isobatch_shared::protocol::{Bootstrap, decode};

use super::events::{Event, WorkerId};
use super::worker_program::WorkerProgram;
use crate::unix::process_group;

/// How to start a worker: which program ([`WorkerProgram`]) and where its output goes.
#[derive(Debug)]
pub struct WorkerLauncher {
    program: WorkerProgram,
    log: File,
}

/// A started worker process.
#[derive(Debug)]
pub struct SpawnedWorker {
    /// Its pid, which is also its process group id.
    pub pid: u32,
    /// The one-shot server it should connect to.
    pub server_name: String,
}

impl WorkerLauncher {
    /// Finds the worker program; `log` receives worker output outside tasks.
    pub fn new(log: File) -> anyhow::Result<Self> {
        crate::unix::ipc_dir::prefer_tmpfs();
        Ok(Self {
            program: WorkerProgram::locate()?,
            log,
        })
    }

    /// The program workers run, and why, for the run log.
    pub fn describe(&self) -> String {
        format!(
            "workers run {} ({})",
            self.program.program.display(),
            self.program.reason
        )
    }

    /// Starts worker `id`; its events go to `events`.
    pub fn spawn(&self, id: WorkerId, events: &Sender<Event>) -> anyhow::Result<SpawnedWorker> {
        let (server, server_name) =
            IpcOneShotServer::<Bootstrap>::new().context("cannot create an IPC server")?;
        let mut cmd = Command::new(&self.program.program);
        cmd.args(&self.program.prefix)
            .arg("--connect")
            .arg(&server_name)
            .stdin(Stdio::null())
            .stdout(self.log.try_clone()?)
            .stderr(self.log.try_clone()?);
        process_group::isolate(&mut cmd);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start worker {}", self.program.program.display()))?;
        let pid = child.id();

        let tx = events.clone();
        thread::Builder::new()
            .name(format!("worker-{id}-ipc"))
            .spawn(move || match server.accept() {
                Ok((_, (to_worker, from_worker))) => {
                    if tx
                        .send(Event::Connected {
                            worker: id,
                            tx: to_worker,
                        })
                        .is_err()
                    {
                        return;
                    }
                    loop {
                        let event = match from_worker.recv() {
                            Ok(frame) => match decode(&frame) {
                                Ok(msg) => Event::Message { worker: id, msg },
                                Err(e) => Event::Disconnected {
                                    worker: id,
                                    error: Some(e.to_string()),
                                },
                            },
                            Err(_) => Event::Disconnected {
                                worker: id,
                                error: None,
                            },
                        };
                        let last = matches!(event, Event::Disconnected { .. });
                        if tx.send(event).is_err() || last {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.send(Event::ConnectFailed {
                        worker: id,
                        error: e.to_string(),
                    });
                }
            })?;

        let tx = events.clone();
        thread::Builder::new()
            .name(format!("worker-{id}-wait"))
            .spawn(move || {
                let status = child.wait().map_err(|e| e.to_string());
                let _ = tx.send(Event::Exited { worker: id, status });
            })?;
        Ok(SpawnedWorker { pid, server_name })
    }
}

/// Unblocks the accept thread of a worker that died before connecting, by
/// connecting and hanging up; `accept` then fails and the thread ends.
pub fn abandon_accept(server_name: &str) {
    if let Ok(sender) = IpcSender::<Bootstrap>::connect(server_name.to_string()) {
        drop(sender);
    }
}
