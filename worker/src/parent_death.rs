//! When the supervisor dies, take the whole task down with the worker.
//!
//! The worker arms SIGUSR2 (`isobatch_shared::protocol::PARENT_DEATH_SIGNAL`) as its own
//! parent-death signal at start-up, and answers it by SIGKILLing its own process group — the
//! worker and every child a task started in it — so a supervisor killed with SIGKILL leaves no
//! task processes running unsupervised. (A process that left the group with `setsid` is beyond a
//! group kill; the supervisor finds those while it lives.)
//!
//! Arming it here rather than between fork and exec lets the supervisor start workers with
//! `posix_spawn`, which does not copy its page tables: a measurable share of subprocess mode's
//! per-task cost.

use isobatch_shared::protocol::PARENT_DEATH_SIGNAL;
use nix::sys::prctl;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, sigaction};
use nix::unistd::getppid;

extern "C" fn kill_own_group(_: nix::libc::c_int) {
    // SAFETY: kill(2) is async-signal-safe; pid 0 means "my process group".
    unsafe {
        nix::libc::kill(0, nix::libc::SIGKILL);
    }
}

/// Why the parent-death signal could not be armed.
#[derive(Debug, thiserror::Error)]
pub enum ArmError {
    /// A system call failed.
    #[error("cannot arm the parent-death signal: {0}")]
    Sys(#[from] nix::Error),
    /// The supervisor died before the signal was armed: nobody would ever send it.
    #[error("the supervisor (pid {expected}) is gone; the parent is now pid {actual}")]
    ParentGone {
        /// The supervisor's pid, as it passed it.
        expected: u32,
        /// Who adopted the worker.
        actual: i32,
    },
}

/// Installs the handler, asks the kernel for the signal when the parent dies, and checks the
/// parent is still `supervisor` (the pid the supervisor passed): one that died before `prctl`
/// would never send the signal. Call once at worker start, before any task runs.
pub fn arm(supervisor: u32) -> Result<(), ArmError> {
    let check = || {
        let actual = getppid().as_raw();
        if i64::from(actual) == i64::from(supervisor) {
            Ok(())
        } else {
            Err(ArmError::ParentGone {
                expected: supervisor,
                actual,
            })
        }
    };
    // Checked first too, so a worker started by someone else changes nothing before it exits.
    check()?;
    let action = SigAction::new(
        SigHandler::Handler(kill_own_group),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only calls an async-signal-safe function.
    unsafe { sigaction(PARENT_DEATH_SIGNAL, &action) }?;
    prctl::set_pdeathsig(PARENT_DEATH_SIGNAL)?;
    check()
}
