//! Memory-aware admission: start a task only when available memory, minus a
//! reserve, covers what the running tasks may still allocate plus this task's
//! estimate. Estimates start from pre-flight and are replaced by what the
//! batch measures (p95 of observed peaks, with a margin) once a few tasks have
//! finished, so concurrency adapts to the real workload during the batch.
//! One task is always admitted when nothing runs: waiting would not help it.

use std::time::{Duration, Instant};

use crate::sysmem::{MemoryReading, SystemMemory};

/// Finished attempts needed before measurements replace the static estimate.
const MIN_OBSERVED: usize = 3;
/// Margin over the observed p95.
const MARGIN: f64 = 1.25;
/// How long a memory reading is reused.
const READING_TTL: Duration = Duration::from_millis(50);

/// Admission state for one batch.
pub struct Admission {
    static_estimates: Vec<Option<u64>>,
    /// Observed peaks, kept sorted: the p95 is read at every admission, so it must not
    /// cost a sort of every finished attempt so far.
    observed: Vec<u64>,
    sysmem: SystemMemory,
    reading: Option<(Instant, Option<MemoryReading>)>,
}

/// Reserve kept free for the system: 5 % of RAM, at least 256 MiB.
pub fn reserve(total: u64) -> u64 {
    (total / 20).max(256 << 20)
}

/// p95 of `sorted` (nearest rank), which must be in ascending order; 0 when empty.
pub fn p95(sorted: &[u64]) -> u64 {
    match sorted.len() {
        0 => 0,
        n => sorted[((n as f64 * 0.95).ceil() as usize).clamp(1, n) - 1],
    }
}

impl Admission {
    /// `estimates[t]` is pre-flight's RAM estimate for task `t` (None: unknown).
    pub fn new(estimates: Vec<Option<u64>>) -> Self {
        Admission {
            static_estimates: estimates,
            observed: Vec::new(),
            sysmem: SystemMemory::new(),
            reading: None,
        }
    }

    /// Records a finished attempt's peak.
    pub fn observe(&mut self, peak: u64) {
        if peak > 0 {
            let at = self.observed.partition_point(|&p| p <= peak);
            self.observed.insert(at, peak);
        }
    }

    /// The current estimate for task `t`.
    pub fn estimate(&self, t: usize) -> Option<u64> {
        if self.observed.len() >= MIN_OBSERVED {
            Some((p95(&self.observed) as f64 * MARGIN) as u64)
        } else {
            self.static_estimates.get(t).copied().flatten()
        }
    }

    /// Available memory now (cached briefly), for admission and OOM hints.
    pub fn memory(&mut self, now: Instant) -> Option<MemoryReading> {
        match self.reading {
            Some((at, r)) if now.duration_since(at) < READING_TTL => r,
            _ => {
                let r = self.sysmem.read();
                self.reading = Some((now, r));
                r
            }
        }
    }

    /// Whether task `t` may start now. `running` holds, per running attempt,
    /// its task index and the peak measured so far.
    pub fn admits(&mut self, t: usize, running: &[(usize, u64)], now: Instant) -> bool {
        if running.is_empty() {
            return true;
        }
        let Some(need) = self.estimate(t) else {
            return true;
        };
        let Some(mem) = self.memory(now) else {
            return true;
        };
        let still_to_grow: u64 = running
            .iter()
            .map(|&(rt, peak)| self.estimate(rt).unwrap_or(0).saturating_sub(peak))
            .sum();
        need + still_to_grow <= mem.available.saturating_sub(reserve(mem.total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_and_adaptive_estimates() {
        assert_eq!(p95(&[]), 0);
        assert_eq!(p95(&[5]), 5);
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(p95(&v), 95);
        let mut a = Admission::new(vec![Some(1000), None]);
        assert_eq!(a.estimate(0), Some(1000));
        assert_eq!(a.estimate(1), None);
        for p in [400, 100, 200] {
            a.observe(p);
        }
        assert_eq!(a.estimate(1), Some(500));
        assert!(
            a.admits(0, &[], Instant::now()),
            "nothing running: always admitted"
        );
    }

    #[test]
    fn refuses_what_cannot_fit() {
        let mut a = Admission::new(vec![Some(u64::MAX / 4); 2]);
        assert!(!a.admits(0, &[(1, 0)], Instant::now()));
    }
}
