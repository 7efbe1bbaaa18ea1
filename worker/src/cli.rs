//! Command-line entry point shared by `isobatch-worker` and the supervisor's hidden
//! `isobatch __worker` subcommand.

/// How to start a worker (by hand this is only useful for debugging).
pub const USAGE: &str = "usage: isobatch-worker --connect SERVER_NAME";

/// Runs a worker with the given arguments (without the program or subcommand name)
/// and returns the process exit code: 0 after a clean shutdown, 1 when the IPC
/// loop failed, 2 for bad usage.
pub fn main_with_args(args: impl Iterator<Item = String>) -> i32 {
    let args: Vec<String> = args.collect();
    let name = match args.as_slice() {
        [flag, name] if flag == "--connect" && !name.is_empty() => name.clone(),
        [arg] if arg == "-h" || arg == "--help" => {
            println!("{USAGE}");
            return 0;
        }
        [arg] => match arg.strip_prefix("--connect=") {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => return usage_error(),
        },
        _ => return usage_error(),
    };
    match crate::ipc::serve(&name) {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("isobatch-worker: {err:#}");
            1
        }
    }
}

fn usage_error() -> i32 {
    eprintln!("isobatch-worker: expected --connect SERVER_NAME\n{USAGE}");
    2
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
        assert_eq!(run(&["--help"]), 0);
    }

    #[test]
    fn unreachable_server_exits_1() {
        assert_eq!(
            run(&["--connect", "/nonexistent/isobatch-no-such-server"]),
            1
        );
    }
}
