//! What memory the machine (or the cgroup we run in) has, via sysinfo.
//!
//! Inside Slurm jobs and containers the cgroup limit, not the host's RAM, is
//! what the OOM killer enforces, so both are read and the smaller one wins.

use sysinfo::{MemoryRefreshKind, System};

/// A reusable reader of system memory figures.
pub struct SystemMemory {
    sys: Option<System>,
}

/// One reading, bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryReading {
    /// Total RAM (or the cgroup limit, when lower).
    pub total: u64,
    /// Available RAM (or the cgroup's free memory, when lower).
    pub available: u64,
    /// True when a cgroup limit applied.
    pub cgroup: bool,
}

impl SystemMemory {
    /// Prepares a reader; readings are `None` where sysinfo cannot read memory.
    pub fn new() -> Self {
        SystemMemory {
            sys: System::new().ok(),
        }
    }

    /// Reads memory now.
    pub fn read(&mut self) -> Option<MemoryReading> {
        let sys = self.sys.as_mut()?;
        sys.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        let mut reading = MemoryReading {
            total: sys.total_memory(),
            available: sys.available_memory(),
            cgroup: false,
        };
        if let Some(limits) = sys.cgroup_limits()
            && limits.total_memory > 0
            && limits.total_memory < reading.total
        {
            reading.total = limits.total_memory;
            reading.available = reading.available.min(limits.free_memory);
            reading.cgroup = true;
        }
        (reading.total > 0).then_some(reading)
    }
}

impl Default for SystemMemory {
    fn default() -> Self {
        Self::new()
    }
}
