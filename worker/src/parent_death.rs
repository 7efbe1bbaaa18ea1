//! When the supervisor dies, take the whole task down with the worker: every
//! process the task started, `setsid` escapees included.
//!
//! At start-up the worker
//! - joins the run's cgroup when the supervisor made one (`--cgroup`): nothing
//!   started inside it can leave it, so one write to its `cgroup.kill` ends
//!   them all. Optional: without one, the steps below do the whole job;
//! - becomes a child subreaper: a task's process whose parent exits (the
//!   classic double fork behind `setsid`) is re-parented to the worker, not to
//!   init, so everything a task started stays a descendant of the worker;
//! - arms SIGUSR2 (`isobatch_shared::protocol::PARENT_DEATH_SIGNAL`) as its
//!   parent-death signal. Its handler only writes a byte to a pipe (the one
//!   async-signal-safe way to hand work over); a guardian thread blocked on
//!   that pipe then kills the cgroup, every descendant it finds in `/proc`
//!   (repeatedly, until none is left), and last its own process group,
//!   itself included.
//!
//! Arming it here rather than between fork and exec lets the supervisor start workers with
//! `posix_spawn`, which does not copy its page tables: a measurable share of subprocess mode's
//! per-task cost.

use std::os::fd::{IntoRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

use isobatch_shared::procfs;
use isobatch_shared::protocol::PARENT_DEATH_SIGNAL;
use nix::fcntl::OFlag;
use nix::sys::prctl;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, kill, sigaction};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getppid};

/// The guardian's wake-up pipe (write end), or -1 before it exists.
static WAKE: AtomicI32 = AtomicI32::new(-1);

/// Rounds of "find every descendant, SIGKILL it" before the worker gives up
/// and kills its group; each round also catches what the previous one's
/// victims re-parented to the worker.
const KILL_ROUNDS: usize = 50;

extern "C" fn on_parent_death(_: nix::libc::c_int) {
    let fd = WAKE.load(Ordering::Relaxed);
    // SAFETY: write(2) and kill(2) are async-signal-safe; the byte lives on this stack frame.
    unsafe {
        if fd < 0 || nix::libc::write(fd, [1u8].as_ptr().cast(), 1) != 1 {
            nix::libc::kill(0, nix::libc::SIGKILL);
        }
    }
}

/// Why the parent-death signal could not be armed.
#[derive(Debug, thiserror::Error)]
pub enum ArmError {
    /// A system call failed.
    #[error("cannot arm the parent-death signal: {0}")]
    Sys(#[from] nix::Error),
    /// The guardian thread could not be started.
    #[error("cannot start the guardian thread: {0}")]
    Thread(#[from] std::io::Error),
    /// The supervisor died before the signal was armed: nobody would ever send it.
    #[error("the supervisor (pid {expected}) is gone; the parent is now pid {actual}")]
    ParentGone {
        /// The supervisor's pid, as it passed it.
        expected: u32,
        /// Who adopted the worker.
        actual: i32,
    },
}

/// Moves this process into `cgroup` (a cgroup v2 folder); its future children follow.
pub fn join_cgroup(cgroup: &Path) -> std::io::Result<()> {
    std::fs::write(cgroup.join("cgroup.procs"), "0")
}

/// Becomes a child subreaper, starts the guardian, installs the handler, asks the kernel for
/// the signal when the parent dies, and checks the parent is still `supervisor` (the pid the
/// supervisor passed): one that died before `prctl` would never send the signal. `cgroup` is
/// the run's cgroup this worker joined, if any. Call once at worker start, before any task runs.
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
    let (wake_rx, wake_tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    std::thread::Builder::new()
        .name("guardian".into())
        .spawn(move || guard(&wake_rx, cgroup.as_deref()))?;
    WAKE.store(wake_tx.into_raw_fd(), Ordering::Relaxed);
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

/// The guardian thread: waits for the handler's byte, then kills everything.
fn guard(wake: &OwnedFd, cgroup: Option<&Path>) {
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(wake, &mut byte) {
            Ok(1) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            // The pipe cannot close while the write end is leaked into WAKE; still, never spin.
            _ => break,
        }
    }
    kill_everything(cgroup);
}

/// Kills the cgroup, every descendant (until none is left), then the worker's own group.
fn kill_everything(cgroup: Option<&Path>) {
    if let Some(cg) = cgroup {
        // Kills every process of the run, this one included; the rest is for when it cannot.
        let _ = std::fs::write(cg.join("cgroup.kill"), "1");
    }
    let me = std::process::id();
    for _ in 0..KILL_ROUNDS {
        let found = procfs::descendants(me);
        if found.is_empty() {
            break;
        }
        for pid in found {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        std::thread::yield_now();
        // Zombies stay listed as children until reaped.
        while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            if status == WaitStatus::StillAlive {
                break;
            }
        }
    }
    let _ = kill(Pid::from_raw(0), Signal::SIGKILL);
    let _ = kill(Pid::from_raw(me as i32), Signal::SIGKILL);
}
