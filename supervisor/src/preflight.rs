//! Pre-flight: before anything runs, estimate each task's RAM and the batch's
//! output size, and compare them with what the machine has — available memory
//! (or the cgroup limit inside Slurm or a container) and free space on the
//! output folder's filesystem (also when that folder does not exist yet).

use std::path::Path;

use isobatch_shared::Pipeline;
use isobatch_shared::units::{format_bytes, parse_size};
use isobatch_worker::fov::error::FovError;
use isobatch_worker::fov::{FovConfig, estimate};

use crate::config::RunConfig;
use crate::runner::batch::TaskRecord;
use crate::sysmem::MemoryReading;

/// A selftest worker's own footprint before a task allocates anything.
const SELFTEST_BASE: u64 = 16 << 20;

/// What the batch is expected to need.
#[derive(Debug, Clone, Default)]
pub struct Estimate {
    /// RAM per task to run, bytes (None where unknown).
    pub per_task: Vec<Option<u64>>,
    /// Output bytes for the whole batch (lower bound).
    pub disk: u64,
    /// fov: parameters that contradict an input's metadata or leave its layout open
    /// (the batch is refused, exit 2), one line per input.
    pub refusals: Vec<String>,
    /// fov: where each distinct input layout came from, for the plan (an assumed order
    /// is stated here).
    pub layouts: Vec<String>,
}

impl Estimate {
    /// The largest per-task estimate.
    pub fn max_task(&self) -> Option<u64> {
        self.per_task.iter().flatten().copied().max()
    }
}

/// Reads a selftest file's `alloc=`, `leak=` and `output=` (best effort: a
/// malformed file is the worker's to report as invalid input).
fn selftest_needs(path: &Path) -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return (0, 0);
    };
    let (mut ram, mut disk) = (0, 0);
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = parse_size(v.trim()).unwrap_or(0);
        match k.trim() {
            "alloc" | "leak" => ram += v,
            "output" => disk += v,
            _ => {}
        }
    }
    (ram, disk)
}

/// Estimates the needs of the tasks still to run (skipped ones get `None`).
pub fn estimate(cfg: &RunConfig, tasks: &[TaskRecord]) -> Estimate {
    let mut est = Estimate::default();
    let fov = (cfg.pipeline == Pipeline::Fov)
        .then(|| FovConfig::from_params(&cfg.params).ok())
        .flatten();
    for rec in tasks {
        let t = &rec.task;
        if rec.verdict.is_some() {
            est.per_task.push(None);
            continue;
        }
        let ram = match cfg.pipeline {
            Pipeline::Selftest => {
                let (ram, disk) = t
                    .inputs
                    .iter()
                    .map(|p| selftest_needs(p))
                    .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
                est.disk += disk;
                Some(cfg.task_memory.unwrap_or(SELFTEST_BASE + ram))
            }
            Pipeline::Fov => {
                let needs = fov.as_ref().and_then(|c| {
                    let input = t.inputs.first()?;
                    match estimate::estimate(input, t.position, c, cfg.checkpoint_format) {
                        Ok((needs, layout)) => {
                            if !est.layouts.contains(&layout) {
                                est.layouts.push(layout);
                            }
                            Some(needs)
                        }
                        // A layout the parameters contradict or leave open refuses the batch.
                        Err(e @ FovError::Layout { .. }) => {
                            est.refusals.push(e.to_string());
                            None
                        }
                        // The worker reports an unreadable input as that task's verdict.
                        Err(_) => None,
                    }
                });
                est.disk += needs.map_or(0, |n| n.disk);
                cfg.task_memory.or(needs.map(|n| n.ram))
            }
            _ => cfg.task_memory,
        };
        est.per_task.push(ram);
    }
    est
}

/// Free bytes on the filesystem that holds (or will hold) `path`.
pub fn free_space(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let st = nix::sys::statvfs::statvfs(existing).ok()?;
    Some(st.blocks_available() as u64 * st.fragment_size() as u64)
}

/// Checks the estimate; `Err` is a refusal, `Ok` carries warnings
/// (refusals become warnings with `--force-run`).
pub fn check(
    cfg: &RunConfig,
    est: &Estimate,
    mem: Option<MemoryReading>,
    disk_free: Option<u64>,
) -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    if let (Some(task), Some(mem)) = (est.max_task(), mem)
        && task > mem.available
    {
        problems.push(format!(
                "one task needs about {} of RAM but only {} is available{} — free memory, lower --task-memory if the \
                 estimate is wrong, or pass --force-run to try anyway",
                format_bytes(task),
                format_bytes(mem.available),
                if mem.cgroup { " (cgroup limit)" } else { "" }
            ));
    }
    if let Some(free) = disk_free
        && est.disk > free
    {
        problems.push(format!(
                "outputs need about {} but {} has only {} free — free space, choose another --output, or pass --force-run",
                format_bytes(est.disk),
                cfg.output.display(),
                format_bytes(free)
            ));
    }
    if problems.is_empty() || cfg.force_run {
        Ok(problems
            .into_iter()
            .map(|p| format!("--force-run: {p}"))
            .collect())
    } else {
        Err(problems.join("\n"))
    }
}
