//! The exec pipeline: run one external program per task, directly (never via a shell).

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};

use isobatch_shared::{Outcome, TaskSpec};
use nix::sys::signal::Signal;

use crate::TaskResult;
use crate::task_log::{open_log, tail};

/// How many non-empty log lines a failure message quotes.
const TAIL_LINES: usize = 5;
/// How much of the end of the log is searched for them.
const TAIL_WINDOW: u64 = 64 * 1024;

/// Runs `spec.argv` (program, then arguments, placeholders already substituted)
/// with the task's environment, stdin from `/dev/null`, stdout and stderr appended
/// to the attempt log, and waits for it.
///
/// Exit 0 is [`Outcome::Done`]; a non-zero exit is [`Outcome::Error`] and a death
/// by signal [`Outcome::Crashed`], both quoting the end of the log. The program
/// stays in the caller's process group, so the supervisor's limits reach it.
pub fn run(spec: &TaskSpec, progress: &mut dyn FnMut(&str, f32, &str)) -> TaskResult {
    let fail = |msg: String| TaskResult::from_outcome(Outcome::Error(msg));
    let Some((program, args)) = spec.argv.split_first() else {
        return fail("the exec pipeline needs a command, but the task's argv is empty".into());
    };
    let mut log = match open_log(&spec.log_path) {
        Ok(log) => log,
        Err(err) => return fail(err.to_string()),
    };
    if let Err(err) = fs::create_dir_all(&spec.task_dir) {
        return fail(format!(
            "cannot create task folder {}: {err}",
            spec.task_dir.display()
        ));
    }
    // Best effort: the header only helps a reader of the log.
    let _ = writeln!(log, "isobatch: exec {:?}", spec.argv);
    let start = log.seek(SeekFrom::End(0)).unwrap_or(0);
    let (stdout, stderr) = match (log.try_clone(), log.try_clone()) {
        (Ok(out), Ok(err)) => (out, err),
        (Err(err), _) | (_, Err(err)) => {
            return fail(format!(
                "cannot share the attempt log with {program:?}: {err}"
            ));
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
    let child = cmd.spawn();
    let status = match child.and_then(|mut child| child.wait()) {
        Ok(status) => status,
        Err(err) => return fail(format!("cannot run {program:?}: {err}")),
    };
    progress("exec", 1.0, &format!("{program} finished: {status}"));
    let outcome = outcome_of(
        status,
        &tail(&spec.log_path, start, TAIL_WINDOW, TAIL_LINES),
    );
    TaskResult::from_outcome(outcome)
}

/// Turns a program's exit status and the end of its log into an outcome.
fn outcome_of(status: ExitStatus, tail: &[String]) -> Outcome {
    let with_tail = |head: String| {
        if tail.is_empty() {
            head
        } else {
            format!("{head}; last output:\n{}", tail.join("\n"))
        }
    };
    if status.success() {
        Outcome::Done
    } else if let Some(code) = status.code() {
        Outcome::Error(with_tail(format!("command exited with status {code}")))
    } else if let Some(sig) = status.signal() {
        let name =
            Signal::try_from(sig).map_or_else(|_| format!("signal {sig}"), |s| s.to_string());
        let core = if status.core_dumped() {
            " (core dumped)"
        } else {
            ""
        };
        Outcome::Crashed(with_tail(format!("command killed by {name}{core}")))
    } else {
        Outcome::Error(with_tail(format!("command ended with {status}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isobatch_shared::Pipeline;
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
