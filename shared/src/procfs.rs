//! Memory and process-tree readings from Linux `/proc`.
//!
//! Used by the worker to report its own RSS and by the supervisor to sample the
//! RSS of a worker's whole process tree and to find every descendant of a process.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::Path;

/// Reads a small `/proc` file with plain `read` calls into a buffer sized for
/// it: `read_to_string` would first `statx` and `lseek` the file (procfs
/// reports size 0), two more system calls per file, and the supervisor and
/// every worker read several of these files per task.
fn read_proc(path: impl AsRef<Path>) -> Option<String> {
    let mut file = fs::File::open(path).ok()?;
    let mut bytes = vec![0u8; 4096];
    let mut len = 0;
    loop {
        if len == bytes.len() {
            bytes.resize(len * 2, 0);
        }
        match file.read(&mut bytes[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    bytes.truncate(len);
    String::from_utf8(bytes).ok()
}

/// Page size in bytes (RSS in `/proc/PID/statm` is counted in pages).
fn page_size() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE) {
        Ok(Some(size)) if size > 0 => size as u64,
        _ => 4096,
    }
}

/// Resident set size of one process in bytes, or `None` when it is gone.
pub fn rss_of(pid: u32) -> Option<u64> {
    statm_rss(format!("/proc/{pid}/statm"))
}

/// The calling process's own resident set size in bytes (0 if unreadable).
pub fn self_rss() -> u64 {
    statm_rss("/proc/self/statm").unwrap_or(0)
}

/// The resident size in a `statm` file (its second field, in pages), in bytes.
fn statm_rss(path: impl AsRef<Path>) -> Option<u64> {
    let statm = read_proc(path)?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

/// Resets this process's RSS high-water mark (`echo 5 > /proc/self/clear_refs`),
/// so [`self_peak_rss`] measures from now. False where the kernel refuses.
pub fn reset_self_peak() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// This process's RSS high-water mark (`VmHWM`) in bytes, 0 if unreadable.
/// Catches allocations too short-lived for any sampler to see.
pub fn self_peak_rss() -> u64 {
    self_memory().peak
}

/// This process's resident set size and its high-water mark, from one read of
/// `/proc/self/status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SelfMemory {
    /// `VmRSS` in bytes (0 if unreadable).
    pub rss: u64,
    /// `VmHWM` in bytes (0 if unreadable).
    pub peak: u64,
}

/// Reads [`SelfMemory`] now.
pub fn self_memory() -> SelfMemory {
    read_proc("/proc/self/status").map_or_else(SelfMemory::default, |s| parse_status(&s))
}

/// Parses the `VmRSS` and `VmHWM` lines of a `/proc/PID/status` text.
fn parse_status(status: &str) -> SelfMemory {
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    SelfMemory {
        rss: kb("VmRSS:"),
        peak: kb("VmHWM:"),
    }
}

/// One line of `/proc/PID/stat`, the fields the supervisor needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Process group id.
    pub pgid: u32,
    /// Single-letter state (`R`, `S`, `Z`, …).
    pub state: char,
}

/// Reads `/proc/PID/stat`; `None` when the process is gone or the line is odd.
pub fn stat_of(pid: u32) -> Option<ProcStat> {
    let line = read_proc(format!("/proc/{pid}/stat"))?;
    parse_stat(&line)
}

/// Parses a `/proc/PID/stat` line; the command name may contain spaces and parentheses.
pub fn parse_stat(line: &str) -> Option<ProcStat> {
    let close = line.rfind(')')?;
    let pid = line[..line.find('(')?].trim().parse().ok()?;
    let mut rest = line[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    let pgid = rest.next()?.parse().ok()?;
    Some(ProcStat {
        pid,
        ppid,
        pgid,
        state,
    })
}

/// When `pid` started, in clock ticks since boot (field 22 of `/proc/PID/stat`):
/// with the pid and the boot id it names one process for good, so a recorded
/// pid that was reused by another process is never mistaken for it.
pub fn start_ticks(pid: u32) -> Option<u64> {
    stat_number(pid, 22)
}

/// Field `n` (1-based, as `man 5 proc` numbers them) of `/proc/PID/stat`, a
/// number; counted after the command name, which may contain spaces.
fn stat_number(pid: u32, n: usize) -> Option<u64> {
    let line = read_proc(format!("/proc/{pid}/stat"))?;
    line[line.rfind(')')? + 1..]
        .split_whitespace()
        .nth(n.checked_sub(3)?)?
        .parse()
        .ok()
}

/// This boot's random id (`/proc/sys/kernel/random/boot_id`).
pub fn boot_id() -> Option<String> {
    read_proc("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_string())
}

/// A snapshot of every process's parent, for descendant walks.
pub fn all_processes() -> Vec<ProcStat> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(stat_of)
        .collect()
}

/// Every descendant of `root` (not `root` itself) in the given snapshot.
pub fn descendants_in(snapshot: &[ProcStat], root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in snapshot {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        if let Some(kids) = children.get(&pid) {
            for &kid in kids {
                out.push(kid);
                stack.push(kid);
            }
        }
    }
    out
}

/// Direct children of `pid` from `/proc/PID/task/*/children`; `None` when the
/// kernel does not offer that file or the threads could not be listed reliably
/// (then callers fall back to a full scan).
///
/// Listing `/proc/PID/task` while threads exit can skip a live thread (the kernel walks it
/// by position), and with it that thread's children. So the listing is checked against the
/// thread counts read before and after it and retried when short. A thread that exits between the
/// listing and the read of its file is skipped: it has no children left to report.
pub fn children(pid: u32) -> Option<Vec<u32>> {
    for _ in 0..3 {
        let before = thread_count(pid);
        let tasks = fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        let mut out = Vec::new();
        let (mut listed, mut read) = (0usize, 0usize);
        for task in tasks.flatten() {
            listed += 1;
            if let Some(text) = read_proc(task.path().join("children")) {
                read += 1;
                out.extend(
                    text.split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok()),
                );
            }
        }
        if listed > 0 && read == 0 {
            return None;
        }
        // Short of the fewer of the counts before and after: a live thread was skipped. (A
        // thread created meanwhile may be missing too, but it cannot have older children.)
        // Listing as many as before settles it without reading the count again.
        if before.is_some_and(|b| listed >= b) {
            return Some(out);
        }
        let expected = match (before, thread_count(pid)) {
            (Some(a), Some(b)) => a.min(b),
            _ => 0,
        };
        if listed >= expected {
            return Some(out);
        }
    }
    None
}

/// The number of threads of `pid` (`num_threads`, field 20 of `/proc/PID/stat`).
fn thread_count(pid: u32) -> Option<usize> {
    usize::try_from(stat_number(pid, 20)?).ok()
}

/// Every live descendant of `root`, read now from `/proc`. Walks the
/// per-process children lists (cheap: a few small files) and falls back to
/// scanning every process when those lists are not available.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        match children(pid) {
            Some(kids) => {
                out.extend(&kids);
                stack.extend(kids);
            }
            None if pid == root => return descendants_in(&all_processes(), root),
            None => {}
        }
    }
    out
}

/// Resident set size of `root` plus all its descendants, bytes.
pub fn tree_rss(root: u32) -> u64 {
    rss_of(root).unwrap_or(0)
        + descendants(root)
            .into_iter()
            .filter_map(rss_of)
            .sum::<u64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_gives_rss_and_high_water_mark() {
        let text = "Name:\tw\nVmPeak:\t  99 kB\nVmHWM:\t    3000 kB\nVmRSS:\t    2048 kB\n";
        let m = parse_status(text);
        assert_eq!((m.rss, m.peak), (2048 * 1024, 3000 * 1024));
        assert_eq!(parse_status("Name:\tw\n"), SelfMemory::default());
        let me = self_memory();
        assert!(me.rss > 0 && me.peak >= me.rss, "{me:?}");
    }

    #[test]
    fn reads_proc_files_longer_than_one_buffer() {
        // /proc/self/smaps has ~20 lines per mapping: always well over 4 KiB.
        let maps = read_proc("/proc/self/smaps").unwrap();
        assert!(maps.len() > 4096 && maps.ends_with('\n'), "{}", maps.len());
        assert!(read_proc("/proc/no-such-file").is_none());
    }

    #[test]
    fn parses_stat_with_odd_names() {
        let s = parse_stat("42 (a) b (c)) S 7 42 42 0 -1").unwrap();
        assert_eq!(
            s,
            ProcStat {
                pid: 42,
                ppid: 7,
                pgid: 42,
                state: 'S'
            }
        );
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn own_rss_is_positive_and_tree_walks() {
        assert!(self_rss() > 0);
        assert!(self_peak_rss() >= self_rss() / 2);
        let snap = vec![
            ProcStat {
                pid: 2,
                ppid: 1,
                pgid: 2,
                state: 'S',
            },
            ProcStat {
                pid: 3,
                ppid: 2,
                pgid: 2,
                state: 'S',
            },
            ProcStat {
                pid: 4,
                ppid: 3,
                pgid: 4,
                state: 'S',
            },
            ProcStat {
                pid: 5,
                ppid: 1,
                pgid: 5,
                state: 'S',
            },
        ];
        let mut d = descendants_in(&snap, 2);
        d.sort();
        assert_eq!(d, vec![3, 4]);
    }

    #[test]
    fn start_ticks_tell_processes_apart() {
        let me = start_ticks(std::process::id()).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let theirs = start_ticks(child.id()).unwrap();
        assert!(theirs >= me, "{theirs} < {me}");
        assert_eq!(start_ticks(child.id()), Some(theirs));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(start_ticks(child.id()), None);
        assert_eq!(boot_id().map(|b| b.len()), Some(36));
    }

    #[test]
    fn live_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let me = std::process::id();
        assert!(thread_count(me).is_some_and(|n| n >= 1));
        assert!(descendants(me).contains(&child.id()));
        // Other test threads allocate and free concurrently, so compare with the child alone:
        // the tree is this process (never 0) plus the child.
        let child_rss = rss_of(child.id()).unwrap_or(0);
        assert!(child_rss > 0 && tree_rss(me) > child_rss);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
