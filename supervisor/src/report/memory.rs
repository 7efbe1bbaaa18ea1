//! `--memory-debug`: `.isobatch/memory.csv` (one row per attempt, the
//! worker's own figures) and the summary's Memory section, which flags a pool
//! worker whose RSS keeps growing task after task as a likely leak.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use isobatch_shared::atomic;
use isobatch_shared::units::format_bytes;

use crate::layout;
use crate::runner::batch::BatchResult;

/// Growth over a worker's life below this is noise, not a leak.
const LEAK_MIN_GROWTH: u64 = 8 << 20;
/// A worker needs this many tasks before a trend means anything.
const LEAK_MIN_TASKS: usize = 3;

/// One worker's RSS after each task, in order.
#[derive(Debug, Default)]
pub struct WorkerTrend {
    /// Tasks it ran.
    pub tasks: usize,
    /// RSS after each task (as the worker reported).
    pub rss_after: Vec<u64>,
}

impl WorkerTrend {
    /// Mean growth per task, bytes (0 with fewer than two tasks).
    pub fn growth_per_task(&self) -> i64 {
        match (self.rss_after.first(), self.rss_after.last()) {
            (Some(&a), Some(&b)) if self.rss_after.len() > 1 => {
                (b as i64 - a as i64) / (self.rss_after.len() as i64 - 1)
            }
            _ => 0,
        }
    }

    /// Grows after (nearly) every task, by a meaningful amount overall.
    pub fn likely_leak(&self) -> bool {
        let n = self.rss_after.len();
        if n < LEAK_MIN_TASKS {
            return false;
        }
        let rises = self.rss_after.windows(2).filter(|w| w[1] > w[0]).count();
        let total = self.rss_after[n - 1].saturating_sub(self.rss_after[0]);
        rises * 4 >= (n - 1) * 3 && total >= LEAK_MIN_GROWTH
    }
}

/// RSS trends per worker pid, from the batch's attempts.
pub fn trends(result: &BatchResult) -> BTreeMap<u32, WorkerTrend> {
    let mut rows: Vec<(u32, f64, u64)> = Vec::new();
    for t in &result.tasks {
        for a in &t.attempts {
            if let (Some(pid), true) = (a.worker_pid, a.rss_after > 0) {
                rows.push((pid, a.started_at, a.rss_after));
            }
        }
    }
    trends_of(rows)
}

/// RSS trends per worker pid from `(worker pid, attempt start, RSS after)` rows in any order.
pub fn trends_of(mut rows: Vec<(u32, f64, u64)>) -> BTreeMap<u32, WorkerTrend> {
    rows.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut out: BTreeMap<u32, WorkerTrend> = BTreeMap::new();
    for (pid, _, rss) in rows {
        let t = out.entry(pid).or_default();
        t.tasks += 1;
        t.rss_after.push(rss);
    }
    out
}

/// Writes `.isobatch/memory.csv`.
pub fn write_csv(result: &BatchResult, mode: &str, output: &Path) -> io::Result<()> {
    atomic::write_with(&layout::memory_csv(output), |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record([
            "task",
            "attempt",
            "worker_pid",
            "mode",
            "rss_before_bytes",
            "rss_after_bytes",
            "peak_rss_bytes",
            "duration_s",
        ])?;
        for t in &result.tasks {
            for a in &t.attempts {
                csv.write_record([
                    t.task.id.clone(),
                    a.attempt.to_string(),
                    a.worker_pid.map_or(String::new(), |p| p.to_string()),
                    mode.to_string(),
                    a.rss_before.to_string(),
                    a.rss_after.to_string(),
                    a.peak_rss.to_string(),
                    format!("{:.3}", a.duration.as_secs_f64()),
                ])?;
            }
        }
        csv.flush()
    })
}

/// Writes the summary's Memory section.
pub fn write_section(out: &mut dyn Write, result: &BatchResult) -> io::Result<()> {
    let trends = trends(result);
    if trends.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\nMemory (worker RSS after each task, as the worker reported it):"
    )?;
    for (pid, t) in &trends {
        let first = t.rss_after.first().copied().unwrap_or(0);
        let last = t.rss_after.last().copied().unwrap_or(0);
        let growth = t.growth_per_task();
        writeln!(
            out,
            "  worker {pid}: {} task(s), {} → {}, {}{} per task{}",
            t.tasks,
            format_bytes(first),
            format_bytes(last),
            if growth < 0 { "-" } else { "+" },
            format_bytes(growth.unsigned_abs()),
            if t.likely_leak() {
                "  ← likely leak"
            } else {
                ""
            }
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leak_needs_steady_meaningful_growth() {
        let mib = 1u64 << 20;
        let leak = WorkerTrend {
            tasks: 4,
            rss_after: vec![10 * mib, 30 * mib, 50 * mib, 70 * mib],
        };
        assert!(leak.likely_leak());
        assert_eq!(leak.growth_per_task(), 20 * mib as i64);
        let flat = WorkerTrend {
            tasks: 4,
            rss_after: vec![10 * mib, 11 * mib, 10 * mib, 11 * mib],
        };
        assert!(!flat.likely_leak());
        let short = WorkerTrend {
            tasks: 2,
            rss_after: vec![10 * mib, 90 * mib],
        };
        assert!(!short.likely_leak());
    }
}
