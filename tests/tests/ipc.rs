//! Runs the real `isobatch-worker` binary over IPC, as the supervisor would.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ipc_channel::ipc::{IpcBytesSender, IpcOneShotServer};
use isobatch_shared::protocol::{self, Bootstrap, FromWorker, Outcome, PROTOCOL_VERSION, ToWorker};
use isobatch_shared::{Pipeline, TaskSpec};

const DEADLINE: Duration = Duration::from_secs(30);

/// A worker process and both ends of its conversation.
struct Worker {
    child: Child,
    tx: Option<IpcBytesSender>,
    rx: mpsc::Receiver<FromWorker>,
}

impl Worker {
    fn start() -> Worker {
        let (server, name) = IpcOneShotServer::<Bootstrap>::new().unwrap();
        let mut child = Command::new(common::bin("isobatch-worker"))
            .args(["--connect", &name])
            .spawn()
            .unwrap();
        // `accept` has no timeout: accept on a thread, watch the child meanwhile.
        let (boot_tx, boot_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = boot_tx.send(server.accept().map(|(_, boot)| boot));
        });
        let start = Instant::now();
        let (tx, bytes_rx) = loop {
            match boot_rx.recv_timeout(Duration::from_millis(50)) {
                Ok(boot) => break boot.unwrap(),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(status) = child.try_wait().unwrap() {
                        panic!("worker exited before connecting: {status}");
                    }
                    assert!(start.elapsed() < DEADLINE, "worker never connected");
                }
                Err(e) => panic!("accept thread died: {e}"),
            }
        };
        let (msg_tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            while let Ok(frame) = bytes_rx.recv() {
                let msg = protocol::decode::<FromWorker>(&frame).unwrap();
                if msg_tx.send(msg).is_err() {
                    break;
                }
            }
        });
        Worker {
            child,
            tx: Some(tx),
            rx,
        }
    }

    fn recv(&self) -> FromWorker {
        self.rx
            .recv_timeout(DEADLINE)
            .expect("no message from the worker")
    }

    fn send(&self, msg: &ToWorker) {
        let tx = self.tx.as_ref().expect("already hung up");
        tx.send(&protocol::encode(msg).unwrap()).unwrap();
    }

    /// Sends `Run` and returns the `Finished` answer (outcome, outputs), skipping progress.
    fn run(&self, spec: TaskSpec) -> (Outcome, Vec<PathBuf>) {
        let (outcome, outputs, _) = self.run_rss(spec);
        (outcome, outputs)
    }

    /// Like [`Worker::run`], also returning (rss_before, rss_after).
    fn run_rss(&self, spec: TaskSpec) -> (Outcome, Vec<PathBuf>, (u64, u64)) {
        let task = spec.task.clone();
        self.send(&ToWorker::Run(Box::new(spec)));
        loop {
            match self.recv() {
                FromWorker::Progress { task: t, .. } => assert_eq!(t, task),
                FromWorker::Finished {
                    task: t,
                    outcome,
                    outputs,
                    rss_before,
                    rss_after,
                    rss_peak,
                    ..
                } => {
                    assert_eq!(t, task);
                    assert!(rss_before > 0 && rss_after > 0);
                    assert!(rss_peak >= rss_after, "high-water mark below current RSS");
                    return (outcome, outputs, (rss_before, rss_after));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn wait(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(start.elapsed() < DEADLINE, "worker did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn spec(
    out: &Path,
    task: &str,
    pipeline: Pipeline,
    inputs: Vec<PathBuf>,
    argv: &[&str],
) -> TaskSpec {
    TaskSpec {
        position: None,
        task: task.into(),
        attempt: 1,
        pipeline,
        inputs,
        fields: vec![],
        task_dir: out.join(task),
        log_path: out.join(format!(".isobatch/logs/{task}/attempt-1.log")),
        params: Default::default(),
        argv: argv.iter().map(|s| s.to_string()).collect(),
        stages: Default::default(),
        tracked: Vec::new(),
        checksum: false,
        reuse_from: None,
    }
}

#[test]
fn selftest_tasks_over_ipc_then_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut worker = Worker::start();
    match worker.recv() {
        FromWorker::Hello {
            pid,
            version,
            protocol,
        } => {
            assert_eq!(pid, worker.child.id());
            assert_eq!(version, env!("CARGO_PKG_VERSION"));
            assert_eq!(protocol, PROTOCOL_VERSION);
        }
        other => panic!("expected Hello, got {other:?}"),
    }

    let good = dir.path().join("good.txt");
    fs::write(&good, "# writes a file\noutput=1000\n").unwrap();
    let task = spec(&out, "good", Pipeline::Selftest, vec![good], &[]);
    let log = task.log_path.clone();
    let (outcome, outputs) = worker.run(task);
    assert_eq!(outcome, Outcome::Done);
    assert_eq!(outputs, vec![out.join("good/output.bin")]);
    assert_eq!(fs::metadata(&outputs[0]).unwrap().len(), 1000);
    assert!(fs::read_to_string(&log).unwrap().contains("output.bin"));

    let bad = dir.path().join("bad.txt");
    fs::write(&bad, "output=lots\n").unwrap();
    let (outcome, outputs) = worker.run(spec(&out, "bad", Pipeline::Selftest, vec![bad], &[]));
    match outcome {
        Outcome::InvalidInput(m) => assert!(m.contains("bad.txt:1"), "{m}"),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    assert!(outputs.is_empty());
    assert!(out.join(".isobatch/logs/bad/attempt-1.log").exists());

    worker.send(&ToWorker::Shutdown);
    assert_eq!(worker.wait().code(), Some(0));
}

#[test]
fn exec_tasks_over_ipc() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut worker = Worker::start();
    assert!(matches!(worker.recv(), FromWorker::Hello { .. }));

    let task = spec(
        &out,
        "fails",
        Pipeline::Exec,
        vec![],
        &["sh", "-c", "echo hi; exit 3"],
    );
    match worker.run(task).0 {
        Outcome::Error(m) => assert!(m.contains("status 3") && m.contains("hi"), "{m}"),
        other => panic!("expected Error, got {other:?}"),
    }

    let tricky = "a b'\";c $(x) *";
    let task = spec(
        &out,
        "quotes",
        Pipeline::Exec,
        vec![],
        &["printf", "<%s>\\n", tricky],
    );
    let log = task.log_path.clone();
    assert_eq!(worker.run(task).0, Outcome::Done);
    let text = fs::read_to_string(&log).unwrap();
    assert!(text.contains(&format!("<{tricky}>\n")), "{text}");

    // Dropping the supervisor's end is a clean exit too.
    worker.tx = None;
    assert_eq!(worker.wait().code(), Some(0));
}

#[test]
fn leak_survives_the_task_and_alloc_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut worker = Worker::start();
    assert!(matches!(worker.recv(), FromWorker::Hello { .. }));
    let input = dir.path().join("leak.txt");
    fs::write(&input, "leak=16M\nalloc=32M\n").unwrap();
    let (outcome, _, (before, after)) =
        worker.run_rss(spec(&out, "leak", Pipeline::Selftest, vec![input], &[]));
    assert_eq!(outcome, Outcome::Done);
    let grew = after.saturating_sub(before);
    assert!(grew >= 15 << 20, "leak=16M grew RSS by only {grew} bytes");
    assert!(
        grew < 40 << 20,
        "alloc=32M was not released: grew {grew} bytes"
    );
    worker.send(&ToWorker::Shutdown);
    assert_eq!(worker.wait().code(), Some(0));
}

#[test]
fn panic_crashes_the_worker_with_the_message_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut worker = Worker::start();
    assert!(matches!(worker.recv(), FromWorker::Hello { .. }));
    let input = dir.path().join("panic.txt");
    fs::write(&input, "panic=1\n").unwrap();
    let task = spec(&out, "boom", Pipeline::Selftest, vec![input], &[]);
    let log = task.log_path.clone();
    worker.send(&ToWorker::Run(Box::new(task)));
    let status = worker.wait();
    assert_eq!(status.code(), Some(101), "{status}");
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("selftest task boom panics as asked"),
        "{text}"
    );
}

#[test]
fn exit_directive_ends_the_worker_with_that_status() {
    let dir = tempfile::tempdir().unwrap();
    let mut worker = Worker::start();
    assert!(matches!(worker.recv(), FromWorker::Hello { .. }));
    let input = dir.path().join("exit.txt");
    fs::write(&input, "exit=7\n").unwrap();
    let task = spec(
        &dir.path().join("out"),
        "exit",
        Pipeline::Selftest,
        vec![input],
        &[],
    );
    worker.send(&ToWorker::Run(Box::new(task)));
    assert_eq!(worker.wait().code(), Some(7));
}
