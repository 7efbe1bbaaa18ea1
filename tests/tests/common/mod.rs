//! Helpers for end-to-end tests: run the real `isobatch` binary, write
//! selftest task files, wait on conditions with deadlines, inspect `/proc`.
#![allow(dead_code)]

pub mod fuse;
pub mod slurm;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Path of the workspace binary `name` (`isobatch`, `isobatch-worker`) of the profile these
/// tests were built with.
///
/// The binaries belong to other packages, so cargo neither builds them for this one nor sets
/// `CARGO_BIN_EXE_*`: the first call in each test process runs `cargo build` for both (a no-op
/// when they are up to date; cargo holds no lock on the target folder while tests run), so a
/// test never runs a stale binary.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT
        .get_or_init(build_binaries)
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"));
    dir.join(name)
}

/// Builds both binaries into the profile folder holding this test executable; returns it.
fn build_binaries() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    // target/PROFILE/deps/TEST-HASH
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("{} is not in a cargo target folder", exe.display()))?;
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(other) => other,
        None => return Err(format!("no profile folder above {}", exe.display())),
    };
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("the tests package has no parent folder")?;
    let out = Command::new(env!("CARGO"))
        .current_dir(workspace)
        .args(["build", "--quiet", "--bins", "--profile", profile])
        .args(["-p", "isobatch", "-p", "isobatch-worker"])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build of the binaries failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(dir.to_path_buf())
}

/// The supervisor binary under test.
pub fn isobatch() -> Command {
    let mut cmd = Command::new(bin("isobatch"));
    cmd.env_remove("ISOBATCH_WORKER").env("RUST_BACKTRACE", "0");
    cmd
}

/// A hard link to (or copy of) the supervisor binary in `dir/bin`, with no `isobatch-worker`
/// beside it: its workers re-execute the supervisor binary, and a test may place a sibling.
pub fn supervisor_alone(dir: &Path) -> PathBuf {
    let bin_dir = dir.join("bin");
    fs::create_dir_all(&bin_dir).expect("mkdir bin");
    let exe = bin_dir.join("isobatch");
    let original = bin("isobatch");
    if fs::hard_link(&original, &exe).is_err() {
        // Copied by `cp`, not by this process: while a test thread holds a new executable open
        // for writing, any other test thread's fork inherits that descriptor until its exec,
        // and executing the copy then fails with ETXTBSY (on another file system than
        // target/, e.g. TMPDIR=/dev/shm, where no hard link can be made).
        let status = Command::new("cp")
            .arg(&original)
            .arg(&exe)
            .status()
            .expect("run cp");
        assert!(
            status.success(),
            "cp {} {}: {status}",
            original.display(),
            exe.display()
        );
    }
    exe
}

/// A scratch batch: `dir/raw` for inputs, `dir/out` for outputs.
pub struct Batch {
    pub dir: tempfile::TempDir,
}

impl Batch {
    pub fn new() -> Self {
        Batch {
            dir: tempfile::tempdir().expect("tempdir"),
        }
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
        self.pipeline_cmd("selftest", extra)
    }
    /// `isobatch run --pipeline PIPELINE --input raw --output out --progress none` plus `extra`.
    pub fn pipeline_cmd(&self, pipeline: &str, extra: &[&str]) -> Command {
        self.progress_cmd(pipeline, "none", extra)
    }
    /// `isobatch run --pipeline PIPELINE --input raw --output out --progress PROGRESS` plus `extra`.
    pub fn progress_cmd(&self, pipeline: &str, progress: &str, extra: &[&str]) -> Command {
        let mut cmd = isobatch();
        cmd.args([
            "run",
            "--pipeline",
            pipeline,
            "--progress",
            progress,
            "--input",
        ])
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
                return headers
                    .iter()
                    .map(String::from)
                    .zip(r.iter().map(String::from))
                    .collect();
            }
        }
        panic!("no row for {task}");
    }
    pub fn journal(&self) -> Vec<serde_json::Value> {
        let text =
            fs::read_to_string(self.out().join(".isobatch/journal.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
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

/// Pids of live (non-zombie) processes other than this one for which `keep` holds.
fn live_pids_where(mut keep: impl FnMut(u32) -> bool) -> Vec<u32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let zombie = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()
                    .map(|r| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if !zombie && pid != std::process::id() && keep(pid) {
            out.push(pid);
        }
    }
    out
}

/// Pids of live (non-zombie) processes whose command line contains `needle`.
pub fn processes_with(needle: &str) -> Vec<u32> {
    live_pids_where(|pid| {
        fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
            String::from_utf8_lossy(&c)
                .replace('\0', " ")
                .contains(needle)
        })
    })
}

/// A sleep duration unique to this test process, so leftover checks never
/// confuse our processes with another test's: e.g. `"31.4159"`.
pub fn marker(base: u32) -> String {
    format!("{base}.{}", std::process::id() % 100_000)
}

/// Spawns isobatch with stdout/stderr captured.
pub fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn isobatch")
}

pub fn read_all(p: &Path) -> Vec<u8> {
    fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Pids of live (non-zombie) processes whose environment contains `needle`
/// (e.g. `ISOBATCH_TEST_TAG=...` set on the supervisor: workers, their
/// children and setsid escapees all inherit it).
pub fn processes_with_env(needle: &str) -> Vec<u32> {
    live_pids_where(|pid| {
        fs::read(format!("/proc/{pid}/environ"))
            .is_ok_and(|env| env.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()))
    })
}

/// A spawned isobatch whose stdout and stderr are read continuously by
/// threads (no pipe can fill up), so a test can wait on what it has printed.
pub struct Captured {
    pub child: Child,
    stdout: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Captured {
    pub fn spawn(mut cmd: Command) -> Captured {
        use std::io::Read;
        use std::sync::{Arc, Mutex};
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn isobatch");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        let pipes: [(Box<dyn Read + Send>, _); 2] = [
            (
                Box::new(child.stdout.take().expect("stdout")),
                stdout.clone(),
            ),
            (
                Box::new(child.stderr.take().expect("stderr")),
                stderr.clone(),
            ),
        ];
        for (mut pipe, buf) in pipes {
            readers.push(std::thread::spawn(move || {
                let mut chunk = [0u8; 8192];
                loop {
                    match pipe.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.lock().unwrap().extend_from_slice(&chunk[..n]),
                    }
                }
            }));
        }
        Captured {
            child,
            stdout,
            stderr,
            readers,
        }
    }
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    /// What it has written to stderr so far.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }
    /// What it has written to stdout so far.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }
    /// Waits for exit within `limit` (kills it and panics otherwise), then
    /// for the pipes to close; returns the full output.
    pub fn finish(mut self, limit: Duration) -> Output {
        let status = wait_exit(&mut self.child, limit);
        // A process that outlived isobatch and inherited its stdout/stderr
        // would keep the pipes open; do not hang on it.
        wait_until(
            Duration::from_secs(5),
            "isobatch's stdout/stderr to close",
            || self.readers.iter().all(|r| r.is_finished()),
        );
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let stdout = std::mem::take(&mut *self.stdout.lock().unwrap());
        let stderr = std::mem::take(&mut *self.stderr.lock().unwrap());
        Output {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for Captured {
    /// A test that fails half-way does not leave its isobatch running.
    /// SIGTERM, repeated (the second one stops running tasks), so that isobatch
    /// stops its own process tree; SIGKILL only if it has not exited within 10 s.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let end = Instant::now() + Duration::from_secs(10);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < end {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(self.child.id() as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `cmd` to completion within `limit` (never hangs the test suite).
pub fn run_within(cmd: Command, limit: Duration) -> Output {
    Captured::spawn(cmd).finish(limit)
}

/// Like [`marker`], but safe to pass to selftest `child=`/`escape=`: the
/// worker prints the seconds as an `f64`, so `marker`'s `"41.1230"` (a pid
/// ending in 0) becomes `sleep 41.123` and would never be found. This one
/// never ends in 0; find it with [`processes_with_arg`] (whole arguments, so
/// `41.1231` does not match another process's `41.12311`).
pub fn sleep_marker(base: u32) -> String {
    format!("{base}.{}1", std::process::id() % 100_000)
}

/// Pids of live (non-zombie) processes with an argument exactly equal to `arg`.
pub fn processes_with_arg(arg: &str) -> Vec<u32> {
    live_pids_where(|pid| {
        fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.split(|&b| b == 0).any(|a| a == arg.as_bytes()))
    })
}

/// A tmpfs mounted at a folder for the life of the guard (needs root).
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`mount -o size=`, e.g. `20m`) at `dir`; None
    /// when this process may not mount (not root, or a container without the right).
    pub fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(dir).expect("mkdir mount point");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system holding `dir` with a file `dir/NAME` until a write
/// fails: after this, any write that needs a new block fails with ENOSPC.
pub fn fill_up(dir: &Path, name: &str) {
    use std::io::Write;
    let mut f = fs::File::create(dir.join(name)).expect("create filler");
    let chunk = vec![0x5a_u8; 1 << 16];
    let mut size = chunk.len();
    while size > 0 {
        match f.write(&chunk[..size]) {
            Ok(0) | Err(_) => size /= 2,
            Ok(_) => {}
        }
    }
    let _ = f.sync_all();
}

/// The single-letter state of `pid` (`R`, `S`, `D`, `Z`, `T`…), None once it is gone.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim_start().chars().next()
}

/// Whether `sig` is ignored and whether it is caught by `pid`, from the
/// `SigIgn` and `SigCgt` masks of `/proc/PID/status`.
pub fn signal_disposition(pid: u32, sig: i32) -> (bool, bool) {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let mask = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .is_some_and(|m| m & (1 << (sig - 1)) != 0)
    };
    (mask("SigIgn:"), mask("SigCgt:"))
}

/// `isobatch run --pipeline exec` over `raw/*.txt` where every task waits
/// until the file `gate` exists, then succeeds: tests decide when tasks end.
pub fn gated_cmd(b: &Batch, gate: &Path, extra: &[&str]) -> Command {
    let script = format!("while [ ! -e '{}' ]; do sleep 0.01; done", gate.display());
    exec_cmd(b, &script, extra)
}

/// `isobatch run --pipeline exec` over `raw/{name}.txt` into `out`, each task
/// running `sh -c "SCRIPT"`, plus `extra`.
pub fn exec_cmd(b: &Batch, script: &str, extra: &[&str]) -> Command {
    let mut cmd = isobatch();
    cmd.args(["run", "--pipeline", "exec", "--input"])
        .arg(b.raw())
        .arg("--output")
        .arg(b.out())
        .args(["--pattern", "{name}.txt", "--exec"])
        .arg(format!("sh -c \"{script}\""))
        .args(extra);
    cmd
}

/// The run log, `.isobatch/run.log`, as text (empty while it does not exist).
pub fn run_log(b: &Batch) -> String {
    fs::read_to_string(b.out().join(".isobatch/run.log")).unwrap_or_default()
}

/// How many journal lines have `event` == `name`.
pub fn journal_count(b: &Batch, name: &str) -> usize {
    b.journal().iter().filter(|e| e["event"] == name).count()
}

/// `isobatch demo` into the batch folder (writes `raw/` and `truth/`).
pub fn demo(b: &Batch, args: &[&str]) {
    let out = isobatch()
        .arg("demo")
        .arg(b.dir.path())
        .args(args)
        .output()
        .expect("run isobatch demo");
    assert!(
        out.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Escapes a literal text (a temp path) for use as an insta filter, which is a regex.
pub fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escape = !c.is_ascii_alphanumeric() && c != '/' && c != '_' && c != '-';
            escape.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect()
}

/// Asserts a run exited 0, showing both of its streams when it did not.
pub fn ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
