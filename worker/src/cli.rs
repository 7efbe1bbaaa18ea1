//! Command-line entry point shared by `isobatch-worker` and the supervisor's hidden
//! `isobatch __worker` subcommand.

use std::io::Write;

/// How to start a worker (by hand this is only useful for debugging).
pub const USAGE: &str = "usage: isobatch-worker --connect SERVER_NAME [--parent SUPERVISOR_PID] [--cgroup DIR] | --build-id";

/// Prints [`crate::BUILD_ID`] and exits: how the supervisor checks a sibling worker binary.
pub const BUILD_ID_FLAG: &str = "--build-id";

/// What the supervisor tells a worker on its command line.
#[derive(Debug, PartialEq, Eq)]
struct Args {
    /// The supervisor's one-shot IPC server.
    connect: String,
    /// The supervisor's pid: the worker exits at once if its parent is already someone else.
    parent: Option<u32>,
    /// The run's cgroup (v2) folder, which the worker is in, if the supervisor made one.
    cgroup: Option<String>,
}

/// A command line the worker cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// An argument that is not a known flag.
    #[error("unexpected argument {0:?}")]
    Unexpected(String),
    /// A flag without its value.
    #[error("{0} needs a value")]
    NoValue(String),
    /// A flag given more than once.
    #[error("{0} given twice")]
    Twice(String),
    /// No `--connect`.
    #[error("expected --connect SERVER_NAME")]
    NoConnect,
    /// A `--parent` that is not a pid.
    #[error("--parent {0:?} is not a process id")]
    BadParent(String),
}

/// Runs a worker with the given arguments (without the program or subcommand name)
/// and returns the process exit code: 0 after a clean shutdown, 1 when the IPC
/// loop failed, 2 for bad usage.
pub fn main_with_args(args: impl Iterator<Item = String>) -> i32 {
    let args: Vec<String> = args.collect();
    match args.as_slice() {
        [a] if a == "-h" || a == "--help" => {
            let _ = writeln!(std::io::stdout(), "{USAGE}");
            return 0;
        }
        [a] if a == BUILD_ID_FLAG => {
            let _ = writeln!(std::io::stdout(), "{}", crate::BUILD_ID);
            return 0;
        }
        _ => {}
    }
    let args = match parse(&args) {
        Ok(args) => args,
        Err(msg) => {
            let _ = writeln!(std::io::stderr(), "isobatch-worker: {msg}\n{USAGE}");
            return 2;
        }
    };
    let cgroup = args.cgroup.as_deref().map(std::path::Path::new);
    match crate::ipc::serve(&args.connect, args.parent, cgroup) {
        Ok(()) => 0,
        Err(err) => {
            // Stderr is a log file that may sit on a full disk: never panic over it.
            let _ = writeln!(std::io::stderr(), "isobatch-worker: {err:#}");
            1
        }
    }
}

/// `--connect NAME` (required), `--parent PID` and `--cgroup DIR`, each also as `--flag=value`.
fn parse(args: &[String]) -> Result<Args, UsageError> {
    let mut connect = None;
    let mut parent = None;
    let mut cgroup = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_string())),
            None => (arg.as_str(), None),
        };
        let slot = match flag {
            "--connect" => &mut connect,
            "--parent" => &mut parent,
            "--cgroup" => &mut cgroup,
            _ => return Err(UsageError::Unexpected(arg.clone())),
        };
        let value = match inline.or_else(|| rest.next().cloned()) {
            Some(v) if !v.is_empty() => v,
            _ => return Err(UsageError::NoValue(flag.to_string())),
        };
        if slot.replace(value).is_some() {
            return Err(UsageError::Twice(flag.to_string()));
        }
    }
    let connect = connect.ok_or(UsageError::NoConnect)?;
    let parent = parent
        .map(|p| p.parse::<u32>().map_err(|_| UsageError::BadParent(p)))
        .transpose()?;
    Ok(Args {
        connect,
        parent,
        cgroup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> i32 {
        main_with_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn bad_usage_exits_2() {
        assert_eq!(run(&[]), 2);
        assert_eq!(run(&["--connect"]), 2);
        assert_eq!(run(&["--connect="]), 2);
        assert_eq!(run(&["--bogus", "x"]), 2);
        assert_eq!(run(&["--connect", "a", "b"]), 2);
        assert_eq!(run(&["--connect", "a", "--connect", "b"]), 2);
        assert_eq!(run(&["--connect", "a", "--parent", "x"]), 2);
        assert_eq!(run(&["--help"]), 0);
    }

    #[test]
    fn flags_parse_in_either_form_and_order() {
        let args = |v: &[&str]| parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let want = Args {
            connect: "srv".into(),
            parent: Some(42),
            cgroup: None,
        };
        assert_eq!(args(&["--connect", "srv", "--parent", "42"]), Ok(want));
        assert_eq!(
            args(&["--parent=42", "--connect=srv"]).map(|a| a.parent),
            Ok(Some(42))
        );
        assert_eq!(args(&["--connect", "srv"]).map(|a| a.parent), Ok(None));
        assert_eq!(
            args(&["--connect", "srv", "--cgroup=/sys/fs/cgroup/x"]).map(|a| a.cgroup),
            Ok(Some("/sys/fs/cgroup/x".into()))
        );
    }

    #[test]
    fn a_parent_that_is_not_ours_exits_1() {
        // pid 1 is never this test process's parent.
        assert_eq!(run(&["--connect", "/nonexistent/x", "--parent", "1"]), 1);
    }

    #[test]
    fn unreachable_server_exits_1() {
        assert_eq!(
            run(&["--connect", "/nonexistent/isobatch-no-such-server"]),
            1
        );
    }
}
