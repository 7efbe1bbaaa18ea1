//! Before a run starts anything: end what a killed earlier run left running.
//!
//! A worker kills its task's processes when its supervisor dies (see the
//! worker's `parent_death`), but it cannot when it is stopped, stuck in
//! uninterruptible sleep, or was killed in the same instant. So every run
//! journals where its processes can be found (`run_scope`: boot and cgroup;
//! `worker`: pid and start time), and the next run, holding the lock, ends
//! those of runs that never wrote `run_end`: their cgroups are killed and
//! removed, and a recorded worker still alive with the same start time in the
//! same boot is killed with every descendant. A pid that now belongs to
//! another process has another start time and is never touched.

use isobatch_shared::procfs;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::cgroup;
use crate::journal::Record;

/// Ends the leftovers of every run since the last `run_end` in `records`;
/// returns lines for the run log saying what it did.
///
/// Cgroups are checked for every run in this boot (one that ended could not
/// remove its cgroup while a process in it could not die); workers only for
/// runs since the last `run_end` (a run that ended killed its own).
pub fn leftovers(records: &[Record]) -> Vec<String> {
    let boot = procfs::boot_id();
    let this_boot = |b: &str| boot.as_deref() == Some(b);
    let mut notes = Vec::new();
    for r in records {
        if let Record::RunScope {
            boot_id,
            cgroup: Some(cg),
            ..
        } = r
            && this_boot(boot_id)
            && cg.exists()
        {
            notes.push(match cgroup::kill_and_remove(cg) {
                Ok(()) => format!("killed and removed {}, an earlier run's", cg.display()),
                Err(e) => e,
            });
        }
    }
    let since = records
        .iter()
        .rposition(|r| matches!(r, Record::RunEnd { .. }))
        .map_or(0, |i| i + 1);
    // Workers are only trusted when their run's scope says they ran in this boot.
    let mut same_boot = false;
    for r in &records[since..] {
        match r {
            Record::RunStart { .. } => same_boot = false,
            Record::RunScope { boot_id, .. } => same_boot = this_boot(boot_id),
            Record::Worker {
                pid, start_ticks, ..
            } if same_boot && procfs::start_ticks(*pid) == Some(*start_ticks) => {
                let n = kill_tree(*pid);
                notes.push(format!(
                    "killed worker {pid} of a killed run and {} process(es) it had started",
                    n.saturating_sub(1)
                ));
            }
            _ => {}
        }
    }
    notes
}

/// SIGKILLs `pid`, every descendant and its process group; returns how many
/// processes it signalled.
fn kill_tree(pid: u32) -> usize {
    let raw = |p: u32| Pid::from_raw(p as i32);
    let mut n = procfs::descendants(pid)
        .into_iter()
        .filter(|&d| kill(raw(d), Signal::SIGKILL).is_ok())
        .count();
    let _ = killpg(raw(pid), Signal::SIGKILL);
    if kill(raw(pid), Signal::SIGKILL).is_ok() {
        n += 1;
    }
    n
}
