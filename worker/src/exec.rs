//! The exec pipeline: run one external program per task, directly (never via a shell).

use std::fmt;
use std::fs;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};

use isobatch_shared::{TaskSpec, cause};
use nix::sys::signal::Signal;

use crate::TaskResult;
use crate::error::TaskError;
use crate::task_log::{open_log, tail};

/// How many non-empty log lines a failure message quotes.
const TAIL_LINES: usize = 5;
/// How much of the end of the log is searched for them.
const TAIL_WINDOW: u64 = 64 * 1024;

/// Why an exec task's program did not run or did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The task has no program to run.
    #[error("the exec pipeline needs a command, but the task's argv is empty")]
    NoCommand,
    /// The attempt log cannot be handed to the program as its stdout and stderr.
    #[error("cannot share the attempt log with {program:?}: {source}")]
    ShareLog {
        /// The program.
        program: String,
        /// The OS error.
        source: io::Error,
    },
    /// The program cannot be started or waited for.
    #[error("cannot run {program:?}: {source}")]
    Run {
        /// The program.
        program: String,
        /// The OS error.
        source: io::Error,
    },
    /// The program exited with a non-zero status. The message's first line is
    /// the cause its output states (a Python traceback's exception line), if any.
    #[error("{}command exited with status {code}{last}", last.cause_first())]
    Exited {
        /// Its exit status.
        code: i32,
        /// The end of its output.
        last: LastOutput,
    },
    /// A signal ended the program.
    #[error("command killed by {signal}{}{last}", if *.core_dumped { " (core dumped)" } else { "" })]
    Killed {
        /// The signal's name (`SIGSEGV`), or `signal N`.
        signal: String,
        /// Whether it left a core dump.
        core_dumped: bool,
        /// The end of its output.
        last: LastOutput,
    },
    /// The program ended some other way.
    #[error("command ended with {status}{last}")]
    Ended {
        /// How it ended.
        status: ExitStatus,
        /// The end of its output.
        last: LastOutput,
    },
}

/// The last lines a program wrote to the attempt log, quoted in a failure
/// message below its first line (the cause line, see [`isobatch_shared::cause`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastOutput(pub Vec<String>);

impl LastOutput {
    /// The cause these lines state, then a line break; empty when they state none.
    fn cause_first(&self) -> String {
        cause::from_output(&self.0)
            .map(|c| format!("{c}\n"))
            .unwrap_or_default()
    }
}

impl fmt::Display for LastOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, "\nlast output:\n{}", self.0.join("\n"))
        }
    }
}

/// Runs `spec.argv` (program, then arguments, placeholders already substituted)
/// with the task's environment, stdin from `/dev/null`, stdout and stderr appended
/// to the attempt log, and waits for it.
///
/// Exit 0 is done; a non-zero exit or a death by signal is an [`ExecError`] that
/// quotes the end of the log. The program stays in the caller's process group,
/// so the supervisor's limits reach it.
pub fn run(spec: &TaskSpec, progress: &mut dyn FnMut(&str, f32, &str)) -> TaskResult {
    match attempt(spec, progress) {
        Ok(()) => TaskResult::done(Vec::new(), Vec::new()),
        Err(e) => TaskResult::failed(&e),
    }
}

/// [`run`], with the failure as an error.
fn attempt(spec: &TaskSpec, progress: &mut dyn FnMut(&str, f32, &str)) -> Result<(), TaskError> {
    let Some((program, args)) = spec.argv.split_first() else {
        return Err(ExecError::NoCommand.into());
    };
    let mut log = open_log(&spec.log_path).map_err(TaskError::AttemptLog)?;
    fs::create_dir_all(&spec.task_dir)
        .map_err(|e| TaskError::io("create task folder", &spec.task_dir, e))?;
    // Best effort: the header only helps a reader of the log.
    let _ = writeln!(log, "isobatch: exec {:?}", spec.argv);
    let start = log.seek(SeekFrom::End(0)).unwrap_or(0);
    let (stdout, stderr) = match (log.try_clone(), log.try_clone()) {
        (Ok(out), Ok(err)) => (out, err),
        (Err(source), _) | (_, Err(source)) => {
            return Err(ExecError::ShareLog {
                program: program.clone(),
                source,
            }
            .into());
        }
    };
    progress("exec", 0.0, &format!("starting {program}"));
    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(spec.env())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    // SAFETY: prctl is async-signal-safe. If the worker dies (e.g. its
    // supervisor was SIGKILLed and took it along), the command dies too
    // instead of running on unsupervised.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
    let status = cmd
        .spawn()
        .and_then(|mut child| child.wait())
        .map_err(|source| ExecError::Run {
            program: program.clone(),
            source,
        })?;
    progress("exec", 1.0, &format!("{program} finished: {status}"));
    let last = LastOutput(tail(&spec.log_path, start, TAIL_WINDOW, TAIL_LINES));
    check(status, last).map_err(TaskError::Exec)
}

/// Turns a program's exit status and the end of its log into success or an error.
fn check(status: ExitStatus, last: LastOutput) -> Result<(), ExecError> {
    if status.success() {
        Ok(())
    } else if let Some(code) = status.code() {
        Err(ExecError::Exited { code, last })
    } else if let Some(sig) = status.signal() {
        let signal =
            Signal::try_from(sig).map_or_else(|_| format!("signal {sig}"), |s| s.to_string());
        Err(ExecError::Killed {
            signal,
            core_dumped: status.core_dumped(),
            last,
        })
    } else {
        Err(ExecError::Ended { status, last })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isobatch_shared::{Outcome, Pipeline};
    use std::path::Path;

    fn spec(dir: &Path, argv: &[&str]) -> TaskSpec {
        TaskSpec {
            position: None,
            task: "t1".into(),
            attempt: 1,
            pipeline: Pipeline::Exec,
            inputs: vec![],
            fields: vec![],
            task_dir: dir.join("t1"),
            log_path: dir.join(".isobatch/logs/t1/attempt-1.log"),
            params: Default::default(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            stages: Default::default(),
            tracked: Vec::new(),
            checksum: false,
            reuse_from: None,
        }
    }

    fn run_quiet(spec: &TaskSpec) -> TaskResult {
        run(spec, &mut |_, _, _| {})
    }

    #[test]
    fn exit_codes_and_signals() {
        let dir = tempfile::tempdir().unwrap();
        let ok = spec(
            dir.path(),
            &["sh", "-c", "echo \"$ISOBATCH_TASK $ISOBATCH_ATTEMPT\""],
        );
        assert_eq!(run_quiet(&ok).outcome, Outcome::Done);
        let log = fs::read_to_string(&ok.log_path).unwrap();
        assert!(log.contains("t1 1\n"), "{log}");

        let bad = spec(dir.path(), &["sh", "-c", "echo why >&2; exit 4"]);
        match run_quiet(&bad).outcome {
            Outcome::Error(m) => assert!(m.contains("status 4") && m.contains("why"), "{m}"),
            other => panic!("{other:?}"),
        }
        let killed = spec(dir.path(), &["sh", "-c", "kill -SEGV $$"]);
        match run_quiet(&killed).outcome {
            Outcome::Crashed(m) => assert!(m.contains("SIGSEGV"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_program_and_empty_argv() {
        let dir = tempfile::tempdir().unwrap();
        match run_quiet(&spec(dir.path(), &["/no/such/program-x"])).outcome {
            Outcome::Error(m) => assert!(m.contains("/no/such/program-x"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            run_quiet(&spec(dir.path(), &[])).outcome,
            Outcome::Error(_)
        ));
    }
}
