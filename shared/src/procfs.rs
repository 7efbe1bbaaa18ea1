//! Memory and process-tree readings from Linux `/proc`.
//!
//! Used by the worker to report its own RSS and by the supervisor to sample the
//! RSS of a worker's whole process tree and to find every descendant of a process.

use std::collections::HashMap;
use std::fs;

/// Page size in bytes (RSS in `/proc/PID/statm` is counted in pages).
fn page_size() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE) {
        Ok(Some(size)) if size > 0 => size as u64,
        _ => 4096,
    }
}

/// Resident set size of one process in bytes, or `None` when it is gone.
pub fn rss_of(pid: u32) -> Option<u64> {
    let statm = fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

/// The calling process's own resident set size in bytes (0 if unreadable).
pub fn self_rss() -> u64 {
    rss_of(std::process::id()).unwrap_or(0)
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
    let line = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
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

/// Every live descendant of `root`, read now from `/proc`.
pub fn descendants(root: u32) -> Vec<u32> {
    descendants_in(&all_processes(), root)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
