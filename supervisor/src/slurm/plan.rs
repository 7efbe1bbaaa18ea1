//! What a Slurm run will ask of the cluster, decided before anything is
//! submitted: the partition's limits, each element's `--time` and `--mem`, the
//! tasks per element, the array throttle. The printed plan says all of it.

use isobatch_shared::units::format_duration;

use super::SlurmError;
use super::preflight::{self, Limits};
use super::submit::{self, Resources};
use super::throttle::{self, Footprint, Throttle};
use super::tools::ClusterConfig;
use crate::config::{Executor, RunConfig};

/// What pre-flight learnt about the cluster, for submission and the plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub(super) cluster: ClusterConfig,
    pub(super) resources: Resources,
    pub(super) args: Vec<String>,
    pub(super) chunk: usize,
    pub(super) throttle: Throttle,
    limits: Limits,
}

impl Plan {
    /// Checks `--slurm-arg`, reads the cluster's settings and the partition's
    /// limits, and refuses what the partition cannot give (exit 2, nothing submitted).
    pub fn prepare(cfg: &RunConfig, max_estimate: Option<u64>) -> Result<Plan, SlurmError> {
        let Executor::Slurm { args } = &cfg.executor else {
            return Err(SlurmError::Element("not a Slurm run".into()));
        };
        submit::check_args(args)?;
        let chunk = cfg.batch_size.unwrap_or(1);
        let resources = submit::resources(cfg, chunk, max_estimate);
        let limits = preflight::limits(preflight::partition(args).as_deref())?;
        preflight::check(resources, &limits)?;
        let cluster = ClusterConfig::read()?;
        let cpus = throttle::cpus_per_task(args)?;
        let footprint = Footprint {
            cpus,
            mem_mib: resources
                .mem_mib
                .or(cluster.def_mem_per_cpu.map(|m| m * cpus)),
        };
        let throttle = Throttle::resolve(cfg.workers, &limits.partition, footprint)?;
        Ok(Plan {
            cluster,
            resources,
            args: args.clone(),
            chunk,
            throttle,
            limits,
        })
    }

    /// Elements at once: the array throttle.
    pub fn throttle(&self) -> usize {
        self.throttle.elements()
    }

    /// The plan's lines for a run of `to_run` tasks (each without its indent).
    pub fn describe(&self, cfg: &RunConfig, to_run: usize) -> Vec<String> {
        let elements = to_run.div_ceil(self.chunk);
        let arrays = submit::arrays(elements, self.cluster.max_array_size).len();
        let mut lines = vec![
            format!(
                "executor:  slurm: {elements} array element(s) of up to {} task(s) \
                 (--batch-size), {arrays} sbatch array(s) (MaxArraySize {}); each element \
                 runs its tasks one at a time, {} mode",
                self.chunk,
                self.cluster.max_array_size,
                format!("{:?}", cfg.mode).to_lowercase()
            ),
            format!(
                "throttle:  {}{}",
                self.throttle.describe(),
                if self.throttle() >= elements {
                    "; no more elements than that, so no %N"
                } else {
                    ""
                }
            ),
        ];
        let time = match (self.resources.minutes, cfg.timeout) {
            (Some(m), Some(t)) => format!(
                "--time={m} min (--timeout {} + kill grace, × {} tr(ies) × {} task(s), + {} start-up)",
                format_duration(t),
                cfg.retries + 1,
                self.chunk,
                format_duration(submit::START_MARGIN)
            ),
            _ => "no --time (no --timeout: the partition's default)".into(),
        };
        let margin = submit::MEMORY_MARGIN >> 20;
        let mem = match (self.resources.mem_mib, cfg.max_task_memory) {
            (Some(m), Some(_)) => format!("--mem={m}M (--max-task-memory + {margin} MiB)"),
            (Some(m), None) => format!("--mem={m}M (memory estimate + 25 % + {margin} MiB)"),
            (None, _) => match self.cluster.def_mem_per_cpu {
                Some(d) => format!("no --mem (the cluster's DefMemPerCPU, {d} MiB per CPU)"),
                None => "no --mem (the cluster's default)".into(),
            },
        };
        lines.push(format!("element:   {time}, {mem}"));
        lines.push(format!(
            "partition: {} (largest node {} MiB, time limit {})",
            self.limits.partition,
            self.limits.max_node_mib,
            self.limits
                .max_minutes
                .map_or("infinite".into(), |m| format!("{m} min"))
        ));
        if !self.args.is_empty() {
            lines.push(format!("sbatch:    {} (--slurm-arg)", self.args.join(" ")));
        }
        lines
    }
}
