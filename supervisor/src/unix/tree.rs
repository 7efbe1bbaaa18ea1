//! Find and signal whole process trees, and reap orphans re-parented to us.
//!
//! Everything here is safe on the dispatcher thread even when a process is
//! stuck in uninterruptible sleep (D state): it reads only `/proc/PID/stat`
//! and `/proc/PID/task/*/children`, which the kernel serves from its task
//! list without waiting on the process (unlike `cmdline`, `environ` or
//! `smaps`, which wait for its memory map lock and are never read here), and
//! it reaps with `WNOHANG`, never waiting for a process that cannot die.

use std::collections::HashSet;

use isobatch_shared::procfs;
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

fn pid(raw: u32) -> Pid {
    Pid::from_raw(raw as i32)
}

/// Sends `sig` to process group `pgid` and to every descendant of `root`,
/// including those that left the group with `setsid`. Returns how many
/// processes outside the group were signalled (escapees).
pub fn signal_tree(pgid: u32, root: u32, sig: Signal) -> usize {
    let descendants = procfs::descendants(root);
    match killpg(pid(pgid), sig) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(_) => {
            let _ = kill(pid(root), sig);
        }
    }
    descendants
        .into_iter()
        .filter(|&d| procfs::stat_of(d).is_some_and(|s| s.pgid != pgid))
        .filter(|&d| kill(pid(d), sig).is_ok())
        .count()
}

/// Sends `sig` to every descendant of `root` (not `root` itself); returns how many.
pub fn signal_descendants(root: u32, sig: Signal) -> usize {
    procfs::descendants(root)
        .into_iter()
        .filter(|&d| kill(pid(d), sig).is_ok())
        .count()
}

/// Kills (SIGKILL) every child of this process that is not in `keep` —
/// orphans re-parented to the subreaper — together with their descendants,
/// and reaps those that are already dead. One that has not died yet is
/// reaped by a later call. Returns how many orphans were found.
pub fn reap_orphans(keep: &HashSet<u32>) -> usize {
    let me = std::process::id();
    let orphans: Vec<u32> = procfs::children(me)
        .unwrap_or_else(|| {
            procfs::all_processes()
                .into_iter()
                .filter(|p| p.ppid == me)
                .map(|p| p.pid)
                .collect()
        })
        .into_iter()
        .filter(|p| !keep.contains(p))
        .collect();
    for &orphan in &orphans {
        for d in procfs::descendants(orphan) {
            let _ = kill(pid(d), Signal::SIGKILL);
        }
        let _ = kill(pid(orphan), Signal::SIGKILL);
        // Reaps exactly this pid: never waitpid(-1), which would steal the
        // exit status of a worker whose waiter thread is blocked in wait().
        // Never blocking: a process in uninterruptible sleep may not die for hours.
        let _ = waitpid(pid(orphan), Some(WaitPidFlag::WNOHANG));
    }
    orphans.len()
}
