//! Start a worker in its own process group with a parent-death signal.
//!
//! Its own group means Ctrl-C in the terminal reaches only the supervisor, and
//! one `killpg` reaches the worker and every child it started. The parent-death
//! signal (SIGUSR2, which the worker answers by SIGKILLing its own group) means
//! a supervisor killed with SIGKILL takes its workers and their tasks with it.

use std::os::unix::process::CommandExt;
use std::process::Command;

use isobatch_shared::protocol::PARENT_DEATH_SIGNAL;
use nix::sys::prctl;
use nix::unistd::{Pid, getppid, setpgid};

/// Configures `cmd` so the child leads a new process group and gets the
/// parent-death signal when the supervisor dies. Must be spawned from a thread that lives as long
/// as the child (the kernel sends the parent-death signal when the spawning
/// *thread* exits).
pub fn isolate(cmd: &mut Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs between fork and exec and only makes
    // async-signal-safe system calls (setpgid, prctl, getppid, _exit).
    unsafe {
        cmd.pre_exec(move || {
            setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
            prctl::set_pdeathsig(PARENT_DEATH_SIGNAL)?;
            if getppid() != parent {
                // The supervisor died before the signal was armed.
                nix::libc::_exit(1);
            }
            Ok(())
        });
    }
}
