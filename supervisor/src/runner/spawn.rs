//! Start one worker process and the threads that watch it.
//!
//! Workers are started on the [`Spawner`] thread, never the dispatcher's:
//! `posix_spawn` suspends its caller until the child has exec'd the worker
//! program (vfork semantics), and with short tasks that wait was most of the
//! dispatcher's time. The spawner reports each start as an [`Event::Spawned`]
//! (or [`Event::SpawnFailed`]) sent before the worker's own threads exist, so
//! the dispatcher always learns of a worker before hearing from it.
//!
//! Per worker: an accept thread (the one-shot server's `accept` has no timeout)
//! that then reads the worker's messages, and a waiter thread that owns the
//! `Child` and reports its exit. Both only send [`Event`]s; neither blocks the
//! dispatcher, so a worker that dies before connecting or mid-task is noticed
//! at once, never waited on forever.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Sender};
use std::thread;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use anyhow::Context;
use ipc_channel::ipc::{IpcOneShotServer, IpcSender};
use isobatch_shared::procfs;
use isobatch_shared::protocol::{Bootstrap, decode};

use super::events::{Event, WorkerId};
use super::worker_program::WorkerProgram;
use crate::unix::process_group;

/// How to start a worker: which program ([`WorkerProgram`]) and where its output goes.
#[derive(Debug)]
pub struct WorkerLauncher {
    program: WorkerProgram,
    log: File,
    /// The run's cgroup each worker is born in and kills should the supervisor die (if any).
    cgroup: Option<PathBuf>,
}

/// The thread that starts workers; dropping it stops the thread once the
/// request in hand, if any, is done.
#[derive(Debug)]
pub struct Spawner {
    requests: Sender<WorkerId>,
}

impl Spawner {
    /// Starts the spawner thread; each worker's events go to `events`.
    pub fn start(launcher: WorkerLauncher, events: Sender<Event>) -> std::io::Result<Spawner> {
        let (requests, rx) = mpsc::channel::<WorkerId>();
        thread::Builder::new()
            .name("spawner".into())
            .spawn(move || {
                for worker in rx {
                    if let Err(e) = launcher.spawn(worker, &events) {
                        let error = format!("{e:#}");
                        if events.send(Event::SpawnFailed { worker, error }).is_err() {
                            return;
                        }
                    }
                }
            })?;
        Ok(Spawner { requests })
    }

    /// Asks for worker `id`; false if the spawner thread is gone.
    pub fn request(&self, id: WorkerId) -> bool {
        self.requests.send(id).is_ok()
    }
}

impl WorkerLauncher {
    /// Finds the worker program; `log` receives worker output outside tasks;
    /// workers are told `cgroup`, the run's cgroup they are born in, if given.
    pub fn new(log: File, cgroup: Option<PathBuf>) -> anyhow::Result<Self> {
        crate::unix::ipc_dir::prefer_tmpfs();
        Ok(Self {
            program: WorkerProgram::locate()?,
            log,
            cgroup,
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

    /// Starts worker `id`: sends [`Event::Spawned`], then starts the threads
    /// that report its messages and its exit. On an error after `Spawned` the
    /// process is killed and reaped here; no `Exited` follows.
    fn spawn(&self, id: WorkerId, events: &Sender<Event>) -> anyhow::Result<()> {
        let (server, server_name) =
            IpcOneShotServer::<Bootstrap>::new().context("cannot create an IPC server")?;
        let mut cmd = Command::new(&self.program.program);
        cmd.args(&self.program.prefix)
            .arg("--connect")
            .arg(&server_name)
            .stdin(Stdio::null())
            .stdout(self.log.try_clone()?)
            .stderr(self.log.try_clone()?);
        if let Some(cg) = &self.cgroup {
            cmd.arg("--cgroup").arg(cg);
        }
        process_group::isolate(&mut cmd);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start worker {}", self.program.program.display()))?;
        let pid = child.id();
        // Read before anyone can reap it: until then the pid is this child's.
        let start_ticks = procfs::start_ticks(pid);
        if events
            .send(Event::Spawned {
                worker: id,
                pid,
                start_ticks,
                server_name: server_name.clone(),
            })
            .is_err()
        {
            abandon(pid, None);
            return Ok(());
        }
        watch(id, server, server_name, child, events)
    }
}

/// Starts worker `id`'s accept-and-read thread and its waiter thread.
fn watch(
    id: WorkerId,
    server: IpcOneShotServer<Bootstrap>,
    server_name: String,
    mut child: Child,
    events: &Sender<Event>,
) -> anyhow::Result<()> {
    let tx = events.clone();
    let reader = thread::Builder::new()
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
        });
    if let Err(e) = reader {
        abandon(child.id(), None);
        return Err(e).context("cannot start a thread to read from a worker");
    }
    let pid = child.id();
    let tx = events.clone();
    let waiter = thread::Builder::new()
        .name(format!("worker-{id}-wait"))
        .spawn(move || {
            let status = child.wait().map_err(|e| e.to_string());
            let _ = tx.send(Event::Exited { worker: id, status });
        });
    if let Err(e) = waiter {
        abandon(pid, Some(&server_name));
        return Err(e).context("cannot start a thread to wait for a worker");
    }
    Ok(())
}

/// Kills and reaps a worker nobody will watch, and unblocks its accept thread if one runs.
fn abandon(pid: u32, server_name: Option<&str>) {
    let pid = Pid::from_raw(pid as i32);
    let _ = kill(pid, Signal::SIGKILL);
    let _ = waitpid(pid, None);
    if let Some(name) = server_name {
        abandon_accept(name);
    }
}

/// Unblocks the accept thread of a worker that died before connecting, by
/// connecting and hanging up; `accept` then fails and the thread ends.
pub fn abandon_accept(server_name: &str) {
    if let Ok(sender) = IpcSender::<Bootstrap>::connect(server_name.to_string()) {
        drop(sender);
    }
}
