//! When the supervisor dies, take the whole task down with the worker: every
//! process the task started, `setsid` escapees included.
//!
//! At start-up the worker
//! - remembers the run's cgroup when the supervisor made one (`--cgroup`; the
//!   worker is born in it, as the supervisor moved itself there): nothing
//!   started inside it can leave it, so one write to its `cgroup.kill` ends
//!   them all. Optional: without one, the steps below do the whole job;
//! - becomes a child subreaper: a task's process whose parent exits (the
//!   classic double fork behind `setsid`) is re-parented to the worker, not to
//!   init, so everything a task started stays a descendant of the worker;
//! - arms SIGUSR2 (`isobatch_shared::protocol::PARENT_DEATH_SIGNAL`) as its
//!   parent-death signal. With a cgroup, the handler writes `1` to the
//!   `cgroup.kill` it opened at start-up, which ends the whole run at once.
//!   Without one (or should that write fail), the handler kills every
//!   descendant it finds in `/proc`, round after round until none is left
//!   ([`crate::tree_kill`], async-signal-safe), and last its own process
//!   group, itself included.
//!
//! Arming it here rather than between fork and exec lets the supervisor start workers with
//! `posix_spawn`, which does not copy its page tables: a measurable share of subprocess mode's
//! per-task cost.

use std::os::fd::{IntoRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

use isobatch_shared::protocol::PARENT_DEATH_SIGNAL;
use nix::sys::prctl;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, sigaction};
use nix::unistd::getppid;

/// The run cgroup's `cgroup.kill`, open for writing, or -1 without a cgroup.
static CGROUP_KILL: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_parent_death(_: nix::libc::c_int) {
    let fd = CGROUP_KILL.load(Ordering::Relaxed);
    // SAFETY: write(2) is async-signal-safe; the byte is a static.
    let cgroup_killed = fd >= 0 && unsafe { nix::libc::write(fd, b"1".as_ptr().cast(), 1) } == 1;
    // The cgroup kill ends this process too; the rest is for when there is none.
    if !cgroup_killed {
        crate::tree_kill::kill_descendants();
    }
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

/// True when this process is in the cgroup v2 folder `cgroup` (its
/// `/proc/self/cgroup` path is the folder's tail) and the folder is one the
/// supervisor makes (`isobatch-PID`): only such a cgroup is ever killed.
pub fn in_run_cgroup(cgroup: &Path) -> bool {
    let Ok(membership) = std::fs::read_to_string("/proc/self/cgroup") else {
        return false;
    };
    let made_by_isobatch = cgroup
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("isobatch-"))
        .is_some_and(|pid| pid.parse::<u32>().is_ok());
    made_by_isobatch
        && membership
            .lines()
            .filter_map(|l| l.strip_prefix("0::"))
            .any(|rel| rel.len() > 1 && cgroup.ends_with(rel.trim().trim_start_matches('/')))
}

/// Becomes a child subreaper, installs the handler, asks the kernel for
/// the signal when the parent dies, and checks the parent is still `supervisor` (the pid the
/// supervisor passed): one that died before `prctl` would never send the signal. `cgroup` is
/// the run's cgroup this worker is in, if any. Call once at worker start, before any task runs.
pub fn arm(supervisor: u32, cgroup: Option<PathBuf>) -> Result<(), ArmError> {
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
    prctl::set_child_subreaper(true)?;
    let kill_file = cgroup.and_then(|cg| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(cg.join("cgroup.kill"))
            .ok()
    });
    if let Some(f) = kill_file {
        CGROUP_KILL.store(OwnedFd::from(f).into_raw_fd(), Ordering::Relaxed);
    }
    let action = SigAction::new(
        SigHandler::Handler(on_parent_death),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only calls async-signal-safe functions.
    unsafe { sigaction(PARENT_DEATH_SIGNAL, &action) }?;
    prctl::set_pdeathsig(PARENT_DEATH_SIGNAL)?;
    check()
}
