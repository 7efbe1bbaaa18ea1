//! When the supervisor dies, take the whole task down with the worker.
//!
//! The supervisor starts each worker with SIGUSR2 as its parent-death signal
//! (`isobatch_shared::protocol::PARENT_DEATH_SIGNAL`). This handler answers it by SIGKILLing the
//! worker's own process group — the worker and every child a task started in
//! it — so a supervisor killed with SIGKILL leaves no task processes running
//! unsupervised. (A process that left the group with `setsid` is beyond a
//! group kill; the supervisor finds those while it lives.)

use isobatch_shared::protocol::PARENT_DEATH_SIGNAL;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, sigaction};

extern "C" fn kill_own_group(_: nix::libc::c_int) {
    // SAFETY: kill(2) is async-signal-safe; pid 0 means "my process group".
    unsafe {
        nix::libc::kill(0, nix::libc::SIGKILL);
    }
}

/// Installs the handler; call once at worker start, before any task runs.
pub fn kill_group_on_parent_death() -> nix::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(kill_own_group),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only calls an async-signal-safe function.
    unsafe { sigaction(PARENT_DEATH_SIGNAL, &action) }.map(drop)
}
