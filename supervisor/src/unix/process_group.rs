//! Start a worker in its own process group, told who its supervisor is.
//!
//! Its own group means Ctrl-C in the terminal reaches only the supervisor, and
//! one `killpg` reaches the worker and every child it started. The worker arms
//! its own parent-death signal (`isobatch_worker::parent_death`) and checks its
//! parent is the pid given here, so a supervisor killed with SIGKILL takes its
//! workers and their tasks with it. Nothing runs between fork and exec, so std
//! starts the worker with `posix_spawn` rather than copying this process's page
//! tables with `fork`.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Configures `cmd` so the child leads a new process group and knows the supervisor's pid.
/// Must be spawned from a thread that lives as long as the child (the kernel sends
/// the parent-death signal when the spawning *thread* exits).
pub fn isolate(cmd: &mut Command) {
    cmd.process_group(0)
        .arg("--parent")
        .arg(std::process::id().to_string());
}
