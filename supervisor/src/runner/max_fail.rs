//! `--max-fail N` / `N%`: stop starting tasks once that many have failed for
//! good (retries used up), like nextest's `--max-fail` or parallel's `--halt`.
//! The dispatcher (and serial mode) count final failures here; reaching the
//! limit drains the batch the way a first Ctrl-C does, and the summary says why.

use std::fmt;
use std::str::FromStr;

/// The limit as given: a count, or a percentage of the tasks this run starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxFail {
    /// Stop after this many failed tasks.
    Count(usize),
    /// Stop after this percentage (1–100) of the run's tasks failed.
    Percent(u32),
}

impl FromStr for MaxFail {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || format!("expected a number of tasks (3) or a percentage (10%), got {s:?}");
        if let Some(p) = s.strip_suffix('%') {
            match p.trim().parse::<u32>() {
                Ok(p) if (1..=100).contains(&p) => Ok(MaxFail::Percent(p)),
                Ok(_) => Err(format!("a percentage must be 1% to 100%, got {s:?}")),
                Err(_) => Err(bad()),
            }
        } else {
            match s.parse::<usize>() {
                Ok(0) => Err("0 would stop before anything runs; give at least 1".into()),
                Ok(n) => Ok(MaxFail::Count(n)),
                Err(_) => Err(bad()),
            }
        }
    }
}

impl fmt::Display for MaxFail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxFail::Count(n) => write!(f, "{n}"),
            MaxFail::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl MaxFail {
    /// The number of failed tasks that stops a run of `tasks` tasks (at least 1;
    /// a percentage rounds up, so 10% of 25 stops at the 3rd failure).
    pub fn limit(self, tasks: usize) -> usize {
        match self {
            MaxFail::Count(n) => n,
            MaxFail::Percent(p) => (tasks * p as usize).div_ceil(100).max(1),
        }
    }
}

/// Counts tasks that failed for good against the limit.
#[derive(Debug, Clone)]
pub struct FailCounter {
    given: Option<MaxFail>,
    limit: usize,
    failed: usize,
}

impl FailCounter {
    /// A counter for a run of `tasks` tasks under `given` (`None`: never stops).
    pub fn new(given: Option<MaxFail>, tasks: usize) -> Self {
        FailCounter {
            given,
            limit: given.map_or(usize::MAX, |g| g.limit(tasks)),
            failed: 0,
        }
    }

    /// Counts one task that ended failed for good; returns why the batch must
    /// stop when this failure reaches the limit (exactly once).
    pub fn failed(&mut self) -> Option<String> {
        self.failed += 1;
        let given = self.given?;
        (self.failed == self.limit).then(|| {
            let rule = match given {
                MaxFail::Count(_) => format!("--max-fail {given}"),
                MaxFail::Percent(_) => format!("--max-fail {given}, {} task(s)", self.limit),
            };
            format!("{} task(s) failed ({rule})", self.failed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counts_and_percentages() {
        assert_eq!("3".parse(), Ok(MaxFail::Count(3)));
        assert_eq!("10%".parse(), Ok(MaxFail::Percent(10)));
        for bad in ["0", "0%", "101%", "x", "-1", "3.5"] {
            assert!(bad.parse::<MaxFail>().is_err(), "{bad}");
        }
    }

    #[test]
    fn percentage_rounds_up_and_is_at_least_one() {
        assert_eq!(MaxFail::Percent(10).limit(25), 3);
        assert_eq!(MaxFail::Percent(10).limit(3), 1);
        assert_eq!(MaxFail::Percent(100).limit(7), 7);
        assert_eq!(MaxFail::Count(4).limit(2), 4);
    }

    #[test]
    fn stops_once_at_the_limit() {
        let mut c = FailCounter::new(Some(MaxFail::Count(2)), 10);
        assert_eq!(c.failed(), None);
        assert_eq!(
            c.failed().as_deref(),
            Some("2 task(s) failed (--max-fail 2)")
        );
        assert_eq!(c.failed(), None);
        let mut never = FailCounter::new(None, 10);
        assert!((0..20).all(|_| never.failed().is_none()));
    }
}
