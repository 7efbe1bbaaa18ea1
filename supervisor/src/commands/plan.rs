//! The plan printed before a batch (and alone with `--dry-run`): tasks, mode,
//! concurrency, limits.

use std::io::{self, Write};

use isobatch_shared::units::{format_bytes, format_duration};

use crate::config::RunConfig;
use crate::discovery::Discovery;
use crate::runner::batch::TaskRecord;
use crate::slurm::plan::Plan as SlurmPlan;

/// How many "computed again" lines the plan shows before it counts the rest.
const SHOWN_RERUNS: usize = 20;

/// Concurrency and chunking chosen for this batch.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    /// Workers at once (on Slurm, array elements at once).
    pub workers: usize,
    /// Tasks per chunk.
    pub chunk: usize,
    /// Tasks to run (not skipped).
    pub to_run: usize,
    /// Tasks skipped as up to date.
    pub skipped: usize,
    /// Largest per-task RAM estimate (None: unknown, e.g. exec without --task-memory).
    pub task_ram: Option<u64>,
    /// Expected output bytes.
    pub disk: u64,
    /// Available memory at planning time.
    pub available: Option<u64>,
    /// Free space for the outputs.
    pub disk_free: Option<u64>,
    /// What a Slurm run asks of the cluster (None: local).
    pub slurm: Option<&'a SlurmPlan>,
}

/// Writes the plan; with `list_tasks`, every task and its inputs. Tasks whose
/// earlier `done` result is computed again are listed with what changed.
pub fn write(
    out: &mut dyn Write,
    cfg: &RunConfig,
    d: &Discovery,
    tasks: &[TaskRecord],
    shape: Shape<'_>,
    layouts: &[String],
    list_tasks: bool,
) -> io::Result<()> {
    writeln!(out, "isobatch plan")?;
    writeln!(
        out,
        "  input:     {} (pattern {})",
        cfg.input.display(),
        cfg.patterns.join(" | ")
    )?;
    writeln!(out, "  output:    {}", cfg.output.display())?;
    writeln!(out, "  pipeline:  {}", cfg.pipeline)?;
    writeln!(
        out,
        "  tasks:     {} found, {} to run, {} up to date{}",
        d.tasks.len(),
        shape.to_run,
        shape.skipped,
        if d.missing.is_empty() {
            String::new()
        } else {
            format!(", {} missing (--lenient)", d.missing.len())
        }
    )?;
    match shape.slurm {
        Some(slurm) => {
            for line in slurm.describe(cfg, shape.to_run) {
                writeln!(out, "  {line}")?;
            }
        }
        None => writeln!(
            out,
            "  mode:      {:?}, {} worker(s), strategy {:?}, chunk {}",
            cfg.mode, shape.workers, cfg.strategy, shape.chunk
        )?,
    }
    writeln!(
        out,
        "  limits:    timeout {}, kill grace {}, retries {}, max task memory {}",
        cfg.timeout.map_or("none".into(), format_duration),
        format_duration(cfg.kill_grace),
        cfg.retries,
        cfg.max_task_memory.map_or("none".into(), format_bytes)
    )?;
    if let Some(m) = cfg.max_fail {
        writeln!(
            out,
            "  max fail:  {m}: stop starting tasks after {} failed task(s)",
            m.limit(shape.to_run)
        )?;
    }
    let opt = |v: Option<u64>| v.map_or("unknown".to_string(), format_bytes);
    // On Slurm this machine's free memory says nothing: the partition's nodes run the tasks.
    let available = match shape.slurm {
        Some(_) => String::new(),
        None => format!(", {} available", opt(shape.available)),
    };
    writeln!(
        out,
        "  memory:    about {} per task{available}; disk: about {} of outputs, {} free",
        opt(shape.task_ram),
        format_bytes(shape.disk),
        opt(shape.disk_free)
    )?;
    for l in layouts {
        writeln!(out, "  layout:    {l}")?;
    }
    if let Some(p) = &cfg.positions {
        writeln!(out, "  positions: {p} (--positions)")?;
    }
    if let Some(exec) = &cfg.exec {
        writeln!(out, "  exec:      {exec}")?;
    }
    let reruns: Vec<&TaskRecord> = tasks.iter().filter(|t| t.rerun_reason.is_some()).collect();
    if !reruns.is_empty() {
        writeln!(out, "  computed again ({}):", reruns.len())?;
        for t in reruns.iter().take(SHOWN_RERUNS) {
            let why = t.rerun_reason.as_deref().unwrap_or_default();
            writeln!(out, "    {}: {why}", t.task.id)?;
        }
        if reruns.len() > SHOWN_RERUNS {
            writeln!(out, "    ... and {} more", reruns.len() - SHOWN_RERUNS)?;
        }
    }
    if list_tasks {
        writeln!(out, "\ntasks:")?;
        for t in &d.tasks {
            let inputs: Vec<String> = t
                .inputs
                .iter()
                .map(|p| {
                    p.strip_prefix(&cfg.input)
                        .unwrap_or(p)
                        .display()
                        .to_string()
                })
                .collect();
            let at = t
                .position
                .map_or_else(String::new, |p| format!(" position {p}"));
            writeln!(
                out,
                "  {}  [{}]  {}{at}",
                t.id,
                t.describe_fields(),
                inputs.join(", ")
            )?;
        }
        for t in &d.missing {
            writeln!(out, "  {}  [{}]  (missing)", t.id, t.describe_fields())?;
        }
    }
    Ok(())
}
