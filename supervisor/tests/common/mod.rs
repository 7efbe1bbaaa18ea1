//! Helpers for end-to-end tests: run the real `isobatch` binary, write
//! selftest task files, wait on conditions with deadlines, inspect `/proc`.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The supervisor binary under test.
pub fn isobatch() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_isobatch"));
    cmd.env_remove("ISOBATCH_WORKER").env("RUST_BACKTRACE", "0");
    cmd
}

/// A scratch batch: `dir/raw` for inputs, `dir/out` for outputs.
pub struct Batch {
    pub dir: tempfile::TempDir,
}

impl Batch {
    pub fn new() -> Self {
        Batch { dir: tempfile::tempdir().expect("tempdir") }
    }
    pub fn raw(&self) -> PathBuf {
        self.dir.path().join("raw")
    }
    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }
    /// Writes `raw/NAME.txt` with `body` (selftest directives).
    pub fn task(&self, name: &str, body: &str) -> &Self {
        fs::create_dir_all(self.raw()).expect("mkdir raw");
        fs::write(self.raw().join(format!("{name}.txt")), body).expect("write task");
        self
    }
    /// `isobatch run --pipeline selftest --input raw --output out --progress none` plus `extra`.
    pub fn run_cmd(&self, extra: &[&str]) -> Command {
        let mut cmd = isobatch();
        cmd.args(["run", "--pipeline", "selftest", "--progress", "none", "--input"])
            .arg(self.raw())
            .arg("--output")
            .arg(self.out())
            .args(extra);
        cmd
    }
    pub fn run(&self, extra: &[&str]) -> Output {
        self.run_cmd(extra).output().expect("run isobatch")
    }
    /// summary.csv as (task, verdict) pairs, sorted by task.
    pub fn verdicts(&self) -> Vec<(String, String)> {
        let text = fs::read_to_string(self.out().join("summary.csv")).expect("summary.csv");
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let mut v: Vec<(String, String)> = rdr
            .records()
            .map(|r| {
                let r = r.expect("csv row");
                (r[0].to_string(), r[2].to_string())
            })
            .collect();
        v.sort();
        v
    }
    pub fn verdict(&self, task: &str) -> String {
        self.verdicts()
            .into_iter()
            .find(|(t, _)| t == task)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no row for {task}"))
    }
    /// The summary.csv row for `task` as a map column → value.
    pub fn row(&self, task: &str) -> std::collections::HashMap<String, String> {
        let text = fs::read_to_string(self.out().join("summary.csv")).expect("summary.csv");
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let headers = rdr.headers().expect("headers").clone();
        for r in rdr.records() {
            let r = r.expect("row");
            if &r[0] == task {
                return headers.iter().map(String::from).zip(r.iter().map(String::from)).collect();
            }
        }
        panic!("no row for {task}");
    }
    pub fn journal(&self) -> Vec<serde_json::Value> {
        let text = fs::read_to_string(self.out().join(".isobatch/journal.jsonl")).unwrap_or_default();
        text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

/// Waits until `cond` holds, polling every 20 ms; panics with `what` after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for a child to exit within `limit`; kills it and panics otherwise.
pub fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let end = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return s;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Pids of live (non-zombie) processes whose command line contains `needle`.
pub fn processes_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmd) = fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let zombie = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit(')').next().map(|r| r.trim_start().starts_with('Z')))
            .unwrap_or(true);
        if cmd.contains(needle) && !zombie && pid != std::process::id() {
            out.push(pid);
        }
    }
    out
}

/// A sleep duration unique to this test process, so leftover checks never
/// confuse our processes with another test's: e.g. `"31.4159"`.
pub fn marker(base: u32) -> String {
    format!("{base}.{}", std::process::id() % 100_000)
}

/// Spawns isobatch with stdout/stderr captured.
pub fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn isobatch")
}

pub fn read_all(p: &Path) -> Vec<u8> {
    fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
