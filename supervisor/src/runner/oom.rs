//! Evidence of out-of-memory kills: the kernel's OOM-kill counters, read when
//! an attempt starts and again when its worker dies of a SIGKILL isobatch did
//! not send. "Likely out of memory" is said only when a counter moved (or the
//! peak was near the memory available); otherwise the kill came from outside.

use std::fs;
use std::path::PathBuf;

/// The OOM-kill counters readable here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OomCounters {
    /// `oom_kill` of `/proc/vmstat`: every OOM kill on the machine, cgroup ones included.
    pub system: Option<u64>,
    /// `oom_kill` of this process's cgroup v2 `memory.events`.
    pub cgroup: Option<u64>,
}

impl OomCounters {
    /// Reads both counters now; one that cannot be read is None.
    pub fn read() -> OomCounters {
        OomCounters {
            system: field(&fs::read_to_string("/proc/vmstat").unwrap_or_default()),
            cgroup: cgroup_events().and_then(|p| field(&fs::read_to_string(p).ok()?)),
        }
    }

    /// OOM kills counted since `earlier` (None when no counter was readable both times).
    pub fn since(&self, earlier: &OomCounters) -> Option<u64> {
        let d = |now: Option<u64>, then: Option<u64>| Some(now?.saturating_sub(then?));
        match (
            d(self.system, earlier.system),
            d(self.cgroup, earlier.cgroup),
        ) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0).max(b.unwrap_or(0))),
        }
    }
}

/// The value of the `oom_kill` line of a `key value` file.
fn field(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
}

/// This process's cgroup v2 `memory.events`, from `/proc/self/cgroup`'s `0::PATH` line.
fn cgroup_events() -> Option<PathBuf> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let path = PathBuf::from("/sys/fs/cgroup")
        .join(rel.trim_start_matches('/'))
        .join("memory.events");
    path.exists().then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_parse_and_compare() {
        assert_eq!(field("pgfault 3\noom_kill 7\n"), Some(7));
        assert_eq!(field("oom 1\n"), None);
        let then = OomCounters {
            system: Some(2),
            cgroup: None,
        };
        let now = OomCounters {
            system: Some(3),
            cgroup: Some(9),
        };
        assert_eq!(now.since(&then), Some(1));
        assert_eq!(OomCounters::default().since(&then), None);
        // Readable here (Linux): the live counters do not go backwards.
        let a = OomCounters::read();
        assert!(a.system.is_some());
        assert_eq!(OomCounters::read().since(&a).map(|n| n < 1000), Some(true));
    }
}
