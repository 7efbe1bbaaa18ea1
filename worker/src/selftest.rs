//! The selftest pipeline: scripted behaviour for testing the supervisor itself.
//!
//! Each input file holds `key=value` lines (blank lines and `#` comments allowed);
//! DESIGN.md, "selftest pipeline", lists the keys. Every input is parsed before
//! anything happens; a later line overrides an earlier one with the same key.
//! Actions then run in a fixed order: `ignore_term`, `child`, `escape`, `alloc`,
//! `leak`, `sleep`, `output`, `fail`, `panic`, `abort`, `exit`. Each action is
//! announced on a line of the attempt log.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use isobatch_shared::units::{parse_duration, parse_size};
use isobatch_shared::{TaskSpec, atomic};

use crate::TaskResult;
use crate::error::TaskError;
use crate::task_log::open_log;

/// Memory that `leak=SIZE` keeps for the rest of the process's life.
static LEAKED: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// The keys a selftest file may use.
const KEYS: &str =
    "sleep, alloc, leak, fail, panic, abort, ignore_term, child, escape, exit, output";

/// Why a selftest task failed: its input files, an action, or because it was asked to.
#[derive(Debug, thiserror::Error)]
pub enum SelftestError {
    /// A task without input files.
    #[error("the selftest pipeline needs at least one input file")]
    NoInput,
    /// An input file cannot be read.
    #[error("cannot read selftest file {}: {source}", path.display())]
    Read {
        /// The input file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A line of an input file is not a known `key=value`.
    #[error("{}:{line}: {problem}", path.display())]
    Directive {
        /// The input file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        problem: String,
    },
    /// `ignore_term=1` could not install SIG_IGN.
    #[error("cannot ignore SIGTERM: {0}")]
    IgnoreTerm(nix::Error),
    /// `child=` or `escape=` could not start `sleep`.
    #[error("cannot start sleep: {0}")]
    Sleep(io::Error),
    /// `alloc=` or `leak=` larger than the address space.
    #[error("cannot allocate {bytes} bytes")]
    TooLarge {
        /// The size asked for.
        bytes: u64,
    },
    /// `alloc=` or `leak=` the allocator refused.
    #[error("cannot allocate {bytes} bytes: {source}")]
    Alloc {
        /// The size asked for.
        bytes: u64,
        /// The allocator's refusal.
        source: std::collections::TryReserveError,
    },
    /// `fail=MESSAGE`: the task fails with that message, as asked.
    #[error("{0}")]
    Asked(String),
}

/// Everything the input files ask for (absent keys do nothing).
#[derive(Debug, Default, Clone, PartialEq)]
struct Directives {
    sleep: Option<Duration>,
    alloc: Option<u64>,
    leak: Option<u64>,
    fail: Option<String>,
    panic: bool,
    abort: bool,
    ignore_term: bool,
    child: Option<Duration>,
    escape: Option<Duration>,
    exit: Option<i32>,
    output: Option<u64>,
}

/// Parses every input file; the error names the file, the line and the problem.
fn parse_inputs(inputs: &[PathBuf]) -> Result<Directives, SelftestError> {
    if inputs.is_empty() {
        return Err(SelftestError::NoInput);
    }
    let mut d = Directives::default();
    for path in inputs {
        let text = fs::read_to_string(path).map_err(|source| SelftestError::Read {
            path: path.clone(),
            source,
        })?;
        parse_text(&mut d, &text).map_err(|(line, problem)| SelftestError::Directive {
            path: path.clone(),
            line,
            problem,
        })?;
    }
    Ok(d)
}

/// Applies the lines of one file to `d`; the error is (1-based line, problem).
fn parse_text(d: &mut Directives, text: &str) -> Result<(), (usize, String)> {
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |msg: String| (index + 1, msg);
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| bad(format!("expected key=value, found {line:?}")))?;
        let (key, value) = (key.trim(), value.trim());
        let invalid = |what: &str| {
            bad(format!(
                "invalid value {value:?} for {key}: expected {what}"
            ))
        };
        let secs = || parse_duration(value).map_err(|_| invalid("seconds, e.g. 1.5"));
        let size = || parse_size(value).map_err(|_| invalid("a size, e.g. 4096, 512M, 1.5GiB"));
        let flag = || match value {
            "1" | "true" => Ok(true),
            "0" | "false" => Ok(false),
            _ => Err(invalid("1 or 0")),
        };
        match key {
            "sleep" => d.sleep = Some(secs()?),
            "child" => d.child = Some(secs()?),
            "escape" => d.escape = Some(secs()?),
            "alloc" => d.alloc = Some(size()?),
            "leak" => d.leak = Some(size()?),
            "output" => d.output = Some(size()?),
            "panic" => d.panic = flag()?,
            "abort" => d.abort = flag()?,
            "ignore_term" => d.ignore_term = flag()?,
            "fail" if value.is_empty() => return Err(invalid("a message")),
            "fail" => d.fail = Some(value.to_string()),
            "exit" => {
                let code = value
                    .parse::<u8>()
                    .map_err(|_| invalid("an exit code 0-255"))?;
                d.exit = Some(i32::from(code));
            }
            _ => return Err(bad(format!("unknown key {key:?} (known keys: {KEYS})"))),
        }
    }
    Ok(())
}

/// Runs a selftest task: parse all inputs (any problem is invalid input),
/// then act as they say. Memory from `alloc` is released when this returns.
pub fn run(spec: &TaskSpec, progress: &mut dyn FnMut(&str, f32, &str)) -> TaskResult {
    let error = |e: TaskError| TaskResult::failed(&e);
    let d = match parse_inputs(&spec.inputs) {
        Ok(d) => d,
        Err(e) => return error(e.into()),
    };
    let mut log = match open_log(&spec.log_path) {
        Ok(log) => log,
        Err(err) => return error(TaskError::AttemptLog(err)),
    };
    // Announcements are best effort: a full disk must not change the outcome. One write per
    // line, so a line is never split by output of a child sharing the log.
    let mut say = |msg: String| {
        let _ = log.write_all(format!("selftest[{}]: {msg}\n", spec.task).as_bytes());
    };
    progress("selftest", 0.0, "directives parsed");
    if d.ignore_term {
        say("ignoring SIGTERM".into());
        // SAFETY: installs SIG_IGN, no handler code runs.
        let set = unsafe {
            nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGTERM,
                nix::sys::signal::SigHandler::SigIgn,
            )
        };
        if let Err(err) = set {
            return error(SelftestError::IgnoreTerm(err).into());
        }
    }
    for (secs, escape) in [(d.child, false), (d.escape, true)] {
        let Some(secs) = secs else { continue };
        match spawn_sleep(secs, escape, &spec.log_path) {
            Ok(pid) => say(format!(
                "started {} `sleep {}` (pid {pid})",
                if escape { "escaping" } else { "child" },
                secs.as_secs_f64()
            )),
            Err(err) => return error(SelftestError::Sleep(err).into()),
        }
    }
    let mut held = Vec::new();
    if let Some(bytes) = d.alloc {
        say(format!(
            "allocating and touching {bytes} bytes until the task ends"
        ));
        match allocate(bytes) {
            Ok(block) => held = block,
            Err(e) => return error(e.into()),
        }
    }
    if let Some(bytes) = d.leak {
        say(format!("leaking {bytes} bytes for the worker's lifetime"));
        match allocate(bytes) {
            Ok(block) => LEAKED.lock().unwrap_or_else(|e| e.into_inner()).push(block),
            Err(e) => return error(e.into()),
        }
    }
    if let Some(total) = d.sleep {
        say(format!("sleeping {}s", total.as_secs_f64()));
        sleep_with_progress(total, progress);
    }
    let mut outputs = Vec::new();
    if let Some(bytes) = d.output {
        let path = spec.task_dir.join("output.bin");
        say(format!("writing {bytes} bytes to {}", path.display()));
        if let Err(err) = write_output(&spec.task, bytes, &path) {
            return error(TaskError::io("write", &path, err));
        }
        outputs.push(path);
    }
    std::hint::black_box(&held);
    if let Some(msg) = d.fail {
        say(format!("failing: {msg}"));
        return error(SelftestError::Asked(msg).into());
    }
    if d.panic {
        say("panicking".into());
        panic!("selftest task {} panics as asked", spec.task);
    }
    if d.abort {
        say("aborting".into());
        std::process::abort();
    }
    if let Some(code) = d.exit {
        say(format!("exiting with status {code}"));
        std::process::exit(code);
    }
    progress("selftest", 1.0, "done");
    say("done".into());
    TaskResult::done(outputs, Vec::new())
}

/// Starts `sleep SECS` without waiting for it, with stdio on the attempt log.
/// With `escape` it first leaves the process group and session (setsid).
fn spawn_sleep(secs: Duration, escape: bool, log_path: &Path) -> io::Result<u32> {
    let log = open_log(log_path)?;
    let mut cmd = Command::new("sleep");
    // Microseconds, trailing zeros trimmed: `sleep=43.684311` runs `sleep 43.684311`,
    // never the f64 round-trip `43.684310999999996` (tests find processes by this argument).
    let arg = format!("{:.6}", secs.as_secs_f64());
    cmd.arg(arg.trim_end_matches('0').trim_end_matches('.'))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if escape {
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| nix::unistd::setsid().map(drop).map_err(io::Error::from));
        }
    }
    Ok(cmd.spawn()?.id())
}

/// Allocates `bytes` and writes to every page, so the memory is really resident.
fn allocate(bytes: u64) -> Result<Vec<u8>, SelftestError> {
    let len = usize::try_from(bytes).map_err(|_| SelftestError::TooLarge { bytes })?;
    let mut block = Vec::new();
    block
        .try_reserve_exact(len)
        .map_err(|source| SelftestError::Alloc { bytes, source })?;
    block.resize(len, 1u8);
    Ok(std::hint::black_box(block))
}

/// Sleeps `total`, reporting progress about once a second.
fn sleep_with_progress(total: Duration, progress: &mut dyn FnMut(&str, f32, &str)) {
    let start = Instant::now();
    while let Some(left) = total.checked_sub(start.elapsed()).filter(|d| !d.is_zero()) {
        std::thread::sleep(left.min(Duration::from_secs(1)));
        let done = (start.elapsed().as_secs_f32() / total.as_secs_f32()).min(1.0);
        progress("selftest", 0.05 + 0.9 * done, "sleeping");
    }
}

/// Writes `path` (creating its folder) atomically with [`write_output_content`].
fn write_output(task: &str, bytes: u64, path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    atomic::write_with(path, |w: &mut io::BufWriter<File>| {
        write_output_content(task, bytes, w)
    })
}

/// Streams the content of a selftest `output.bin` of `len` bytes: xorshift64
/// seeded with the FNV-1a hash of the task id, so it depends on the id only.
pub fn write_output_content(task: &str, len: u64, w: &mut dyn Write) -> io::Result<()> {
    let mut state = isobatch_shared::digest::fnv1a64(task.as_bytes());
    if state == 0 {
        state = 0x9e37_79b9_7f4a_7c15;
    }
    let mut buf = [0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        for word in buf[..n].chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
        }
        w.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
