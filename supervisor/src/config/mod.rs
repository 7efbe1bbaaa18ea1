//! The resolved run configuration: command line merged over `[run]` of the
//! TOML config, defaults applied, every value parsed and checked once
//! ([`checks`] holds the refusals).

pub mod checks;
pub mod windows_path;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use isobatch_shared::Pipeline;
use isobatch_shared::units::{parse_duration, parse_size};
use serde::Deserialize;

use crate::cli::{
    CheckpointFormat, ExecutorArg, KeepCheckpoints, Mode, PipelineArg, ProgressArg, RunArgs,
    Strategy,
};
use crate::discovery::{GridSpec, PositionSet};
use crate::error::Error;
use crate::failed_filter::FailedFilter;
use crate::runner::max_fail::MaxFail;

/// How many workers run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workers {
    /// min(cores, what RAM admits).
    Auto,
    /// Exactly this many.
    Fixed(usize),
}

/// Everything `isobatch run` needs, validated.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Absolute input folder.
    pub input: PathBuf,
    /// Absolute output folder.
    pub output: PathBuf,
    /// The pipeline.
    pub pipeline: Pipeline,
    /// Input patterns (the pipeline default, or --pattern).
    pub patterns: Vec<String>,
    /// --grid specs.
    pub grid: Vec<GridSpec>,
    /// Skip missing grid combinations.
    pub lenient: bool,
    /// --select globs.
    pub select: Vec<String>,
    /// --limit.
    pub limit: Option<usize>,
    /// `--max-fail`: stop starting tasks after this many final failures.
    pub max_fail: Option<MaxFail>,
    /// Which tasks the journal's failures pick (`--only-failed`, `--skip-failed`).
    pub failed_filter: Option<FailedFilter>,
    /// --positions.
    pub positions: Option<PositionSet>,
    /// Isolation mode.
    pub mode: Mode,
    /// Concurrency.
    pub workers: Workers,
    /// Dispatch strategy.
    pub strategy: Strategy,
    /// Chunk size (None: the strategy's default).
    pub batch_size: Option<usize>,
    /// Per-attempt time limit.
    pub timeout: Option<Duration>,
    /// SIGTERM → SIGKILL grace.
    pub kill_grace: Duration,
    /// Extra attempts after a failure.
    pub retries: u32,
    /// Declared per-task memory.
    pub task_memory: Option<u64>,
    /// Per-task memory cap.
    pub max_task_memory: Option<u64>,
    /// Pool recycling after N tasks.
    pub max_tasks_per_worker: Option<usize>,
    /// Pool recycling above this RSS.
    pub max_worker_memory: Option<u64>,
    /// Write memory.csv and the Memory section.
    pub memory_debug: bool,
    /// Pre-flight refusals become warnings.
    pub force_run: bool,
    /// Plan only.
    pub dry_run: bool,
    /// Recompute everything.
    pub force: bool,
    /// --from-stage.
    pub from_stage: Option<String>,
    /// --to-stage.
    pub to_stage: Option<String>,
    /// Checkpoint format.
    pub checkpoint_format: isobatch_shared::CheckpointFormat,
    /// --param pairs.
    pub params: BTreeMap<String, String>,
    /// --exec template.
    pub exec: Option<String>,
    /// `--checksum`: inputs are compared by content hash on rerun.
    pub checksum: bool,
    /// `--rerun-on` files (absolute): inputs of every task.
    pub rerun_on: Vec<PathBuf>,
    /// `--reuse-task-dir`: attempts run in TASK/ itself, not a staging folder.
    pub reuse_task_dir: bool,
    /// `--keep-checkpoints final`: only final outputs are kept.
    pub final_only: bool,
    /// `--strict-qc`: QC warnings fail the task (`failed:error`).
    pub strict_qc: bool,
    /// Progress display.
    pub progress: ProgressArg,
    /// JSON summary on stdout.
    pub json: bool,
    /// Where tasks run.
    pub executor: Executor,
    /// `--report`: write report.html at the end.
    pub report: bool,
}

/// Where tasks run (`--executor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Executor {
    /// Worker processes on this machine.
    Local,
    /// Slurm job arrays whose elements run tasks under a local supervisor each.
    Slurm {
        /// `--slurm-arg` values, passed to every `sbatch`.
        args: Vec<String>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    run: Option<RunArgs>,
}

/// Reads `[run]` from a TOML config file.
fn load_file(path: &Path) -> Result<RunArgs, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let file: ConfigFile = toml::from_str(&text).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(file.run.unwrap_or_default())
}

/// Command-line values win; lists from the command line replace the file's.
fn merge(cli: RunArgs, file: RunArgs) -> RunArgs {
    fn list(a: Vec<String>, b: Vec<String>) -> Vec<String> {
        if a.is_empty() { b } else { a }
    }
    RunArgs {
        config: cli.config,
        input: cli.input.or(file.input),
        output: cli.output.or(file.output),
        pipeline: cli.pipeline.or(file.pipeline),
        pattern: cli.pattern.or(file.pattern),
        grid: list(cli.grid, file.grid),
        lenient: cli.lenient || file.lenient,
        select: list(cli.select, file.select),
        limit: cli.limit.or(file.limit),
        max_fail: cli.max_fail.or(file.max_fail),
        only_failed: cli.only_failed || file.only_failed,
        skip_failed: cli.skip_failed || file.skip_failed,
        positions: cli.positions.or(file.positions),
        mode: cli.mode.or(file.mode),
        workers: cli.workers.or(file.workers),
        strategy: cli.strategy.or(file.strategy),
        batch_size: cli.batch_size.or(file.batch_size),
        timeout: cli.timeout.or(file.timeout),
        kill_grace: cli.kill_grace.or(file.kill_grace),
        retries: cli.retries.or(file.retries),
        task_memory: cli.task_memory.or(file.task_memory),
        max_task_memory: cli.max_task_memory.or(file.max_task_memory),
        max_tasks_per_worker: cli.max_tasks_per_worker.or(file.max_tasks_per_worker),
        max_worker_memory: cli.max_worker_memory.or(file.max_worker_memory),
        memory_debug: cli.memory_debug || file.memory_debug,
        force_run: cli.force_run || file.force_run,
        dry_run: cli.dry_run || file.dry_run,
        from_stage: cli.from_stage.or(file.from_stage),
        to_stage: cli.to_stage.or(file.to_stage),
        force: cli.force || file.force,
        checkpoint_format: cli.checkpoint_format.or(file.checkpoint_format),
        param: list(cli.param, file.param),
        strict_qc: cli.strict_qc || file.strict_qc,
        exec: cli.exec.or(file.exec),
        checksum: cli.checksum || file.checksum,
        rerun_on: if cli.rerun_on.is_empty() {
            file.rerun_on
        } else {
            cli.rerun_on
        },
        reuse_task_dir: cli.reuse_task_dir || file.reuse_task_dir,
        keep_checkpoints: cli.keep_checkpoints.or(file.keep_checkpoints),
        executor: cli.executor.or(file.executor),
        slurm_arg: list(cli.slurm_arg, file.slurm_arg),
        progress: cli.progress.or(file.progress),
        json: cli.json || file.json,
        report: cli.report || file.report,
    }
}

pub(crate) fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

fn size(flag: &str, value: Option<String>) -> Result<Option<u64>, Error> {
    value
        .map(|v| parse_size(&v).map_err(|e| usage(format!("--{flag}: {e}"))))
        .transpose()
        .and_then(|v| checks::positive(flag, v))
}

fn duration(flag: &str, value: Option<String>) -> Result<Option<Duration>, Error> {
    value
        .map(|v| parse_duration(&v).map_err(|e| usage(format!("--{flag}: {e}"))))
        .transpose()
        .and_then(|v| checks::positive(flag, v))
}

fn absolute(path: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(path).map_err(|e| Error::io(path, e))
}

/// The default input patterns of each pipeline.
pub fn default_patterns(pipeline: Pipeline) -> Vec<String> {
    match pipeline {
        // `.ome.tif` first: the first pattern that matches a file wins, so ids never carry `.ome`.
        Pipeline::Fov | Pipeline::Pair => [
            "{fov}.ome.tif",
            "{fov}.ome.tiff",
            "{fov}.tif",
            "{fov}.tiff",
            "{fov}.nd2",
            "{fov}.czi",
        ]
        .map(String::from)
        .to_vec(),
        Pipeline::Selftest => vec!["{task}.txt".into()],
        Pipeline::Exec => vec!["{name}".into()],
    }
}

impl RunConfig {
    /// Merges the command line over the config file and validates everything.
    pub fn resolve(cli: RunArgs) -> Result<RunConfig, Error> {
        let file = match &cli.config {
            Some(path) => {
                windows_path::refuse_windows_path("--config", path)?;
                load_file(path)?
            }
            None => RunArgs::default(),
        };
        let a = merge(cli, file);
        let pipeline = match a.pipeline.unwrap_or(PipelineArg::Fov) {
            PipelineArg::Fov => Pipeline::Fov,
            PipelineArg::Pair => return Err(Error::NotAvailable("--pipeline pair".into())),
            PipelineArg::Selftest => Pipeline::Selftest,
            PipelineArg::Exec => Pipeline::Exec,
        };
        let executor = match a.executor.unwrap_or(ExecutorArg::Local) {
            ExecutorArg::Local if !a.slurm_arg.is_empty() => {
                return Err(usage(
                    "--slurm-arg passes arguments to sbatch, which only --executor slurm runs: \
                     add --executor slurm, or drop --slurm-arg",
                ));
            }
            ExecutorArg::Local => Executor::Local,
            ExecutorArg::Slurm if a.mode == Some(Mode::Serial) => {
                return Err(usage(
                    "--mode serial runs tasks inside the supervisor, which --executor slurm \
                     cannot: drop --mode serial (each array element isolates its tasks)",
                ));
            }
            ExecutorArg::Slurm if a.strategy.is_some_and(|s| s != Strategy::Individual) => {
                return Err(usage(
                    "--strategy groups tasks for this machine's workers; on Slurm each array \
                     element runs --batch-size tasks (default 1): use --batch-size K instead",
                ));
            }
            ExecutorArg::Slurm => Executor::Slurm {
                args: a.slurm_arg.clone(),
            },
        };
        if a.report && a.dry_run {
            return Err(usage(
                "--report writes report.html when the run ends, and --dry-run runs nothing: \
                 drop one (`isobatch report OUTPUT` reports on an earlier run)",
            ));
        }
        match (pipeline, &a.exec) {
            (Pipeline::Exec, None) => {
                return Err(usage(
                    "--pipeline exec is missing --exec: add the command to run per task, \
                     e.g. --exec 'python3 analyse.py {input} {task_dir}'",
                ));
            }
            (p, Some(_)) if p != Pipeline::Exec => {
                return Err(usage(format!(
                    "--exec runs a command per task, which only --pipeline exec does (this run's \
                     pipeline is {p}): add --pipeline exec, or drop --exec to run the {p} pipeline"
                )));
            }
            _ => {}
        }
        if a.strict_qc && pipeline != Pipeline::Fov {
            return Err(usage(format!(
                "--strict-qc only applies to --pipeline fov (the only one with QC checks), not {pipeline}"
            )));
        }
        let workers = match a.workers.as_deref() {
            None | Some("auto") => Workers::Auto,
            Some(n) => match n.parse::<usize>() {
                Ok(n) if n > 0 => Workers::Fixed(n),
                _ => {
                    return Err(usage(format!(
                        "--workers: expected a positive number or 'auto', got {n:?}"
                    )));
                }
            },
        };
        if a.batch_size == Some(0) {
            return Err(usage("--batch-size must be at least 1"));
        }
        if a.max_tasks_per_worker == Some(0) {
            return Err(usage("--max-tasks-per-worker must be at least 1"));
        }
        let grid = a
            .grid
            .iter()
            .map(|g| {
                g.parse::<GridSpec>()
                    .map_err(|e| usage(format!("--grid {g:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut params = BTreeMap::new();
        for p in &a.param {
            let Some((k, v)) = p.split_once('=') else {
                return Err(usage(format!("--param {p:?}: expected KEY=VALUE")));
            };
            if k.trim().is_empty() {
                return Err(usage(format!("--param {p:?}: empty key")));
            }
            params.insert(k.trim().to_string(), v.to_string());
        }
        checks::pipeline_options(
            pipeline,
            &params,
            checks::Given {
                from: a.from_stage.as_deref(),
                to: a.to_stage.as_deref(),
                checkpoint_format: a.checkpoint_format.is_some(),
                keep_checkpoints: a.keep_checkpoints.is_some(),
            },
        )?;
        // On Slurm, --workers is the array throttle: the cluster's cores, not this machine's.
        if let Workers::Fixed(n) = workers
            && executor == Executor::Local
        {
            checks::workers(n, a.force_run)?;
        }
        checks::retries(a.retries.unwrap_or(0))?;
        if a.limit == Some(0) {
            return Err(usage("--limit 0 leaves nothing to run; give at least 1"));
        }
        let max_fail = a
            .max_fail
            .as_deref()
            .map(|m| {
                m.parse::<MaxFail>()
                    .map_err(|e| usage(format!("--max-fail: {e}")))
            })
            .transpose()?;
        let failed_filter = match (a.only_failed, a.skip_failed) {
            (true, true) => {
                return Err(usage(
                    "--only-failed and --skip-failed exclude each other: the first runs just the \
                     failed tasks, the second everything but them; give one",
                ));
            }
            (true, false) => Some(FailedFilter::Only),
            (false, true) => Some(FailedFilter::Skip),
            (false, false) => None,
        };
        let input = a.input.unwrap_or_else(|| "raw".into());
        let output = a.output.unwrap_or_else(|| "processed".into());
        windows_path::refuse_windows_path("--input", &input)?;
        windows_path::refuse_windows_path("--output", &output)?;
        let (input, output) = (absolute(&input)?, absolute(&output)?);
        checks::output_outside_input(&input, &output)?;
        let rerun_on = checks::rerun_on(&a.rerun_on)?;
        let positions = a
            .positions
            .as_deref()
            .map(|p| p.parse::<PositionSet>().map_err(usage))
            .transpose()?;
        if positions.is_some() && pipeline != Pipeline::Fov {
            return Err(usage(format!(
                "--positions only applies to --pipeline fov, not {pipeline}"
            )));
        }
        let patterns = match &a.pattern {
            Some(p) => vec![p.clone()],
            None => default_patterns(pipeline),
        };
        Ok(RunConfig {
            input,
            output,
            pipeline,
            patterns,
            grid,
            lenient: a.lenient,
            select: a.select,
            limit: a.limit,
            max_fail,
            failed_filter,
            positions,
            mode: a.mode.unwrap_or(Mode::Subprocess),
            workers,
            strategy: a.strategy.unwrap_or(Strategy::Individual),
            batch_size: a.batch_size,
            timeout: duration("timeout", a.timeout)?,
            kill_grace: duration("kill-grace", a.kill_grace)?.unwrap_or(Duration::from_secs(10)),
            retries: a.retries.unwrap_or(0),
            task_memory: size("task-memory", a.task_memory)?,
            max_task_memory: size("max-task-memory", a.max_task_memory)?,
            max_tasks_per_worker: a.max_tasks_per_worker,
            max_worker_memory: size("max-worker-memory", a.max_worker_memory)?,
            memory_debug: a.memory_debug,
            force_run: a.force_run,
            dry_run: a.dry_run,
            force: a.force,
            from_stage: a.from_stage,
            to_stage: a.to_stage,
            checkpoint_format: match a.checkpoint_format.unwrap_or(CheckpointFormat::Npy) {
                CheckpointFormat::Npy => isobatch_shared::CheckpointFormat::Npy,
                CheckpointFormat::Tiff => isobatch_shared::CheckpointFormat::Tiff,
                CheckpointFormat::Both => isobatch_shared::CheckpointFormat::Both,
            },
            params,
            exec: a.exec,
            checksum: a.checksum,
            rerun_on,
            reuse_task_dir: a.reuse_task_dir,
            final_only: a.keep_checkpoints == Some(KeepCheckpoints::Final),
            strict_qc: a.strict_qc,
            progress: a.progress.unwrap_or(ProgressArg::Auto),
            json: a.json,
            executor,
            report: a.report,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pipeline: PipelineArg) -> RunArgs {
        RunArgs {
            pipeline: Some(pipeline),
            ..RunArgs::default()
        }
    }

    #[test]
    fn command_line_wins_over_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[run]\npipeline = \"exec\"\nexec = \"cat {input}\"\ntimeout = \"90m\"\nretries = 2\nparam = [\"a=1\"]\n",
        )
        .unwrap();
        let cli = RunArgs {
            config: Some(path),
            retries: Some(5),
            ..RunArgs::default()
        };
        let c = RunConfig::resolve(cli).unwrap();
        assert_eq!(c.pipeline, Pipeline::Exec);
        assert_eq!(c.timeout, Some(Duration::from_secs(5400)));
        assert_eq!(c.retries, 5);
        assert_eq!(c.params.get("a").map(String::as_str), Some("1"));
        assert_eq!(c.kill_grace, Duration::from_secs(10));
    }

    #[test]
    fn bad_config_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[run]\ntimeot = 3\n").unwrap();
        let err = RunConfig::resolve(RunArgs {
            config: Some(path.clone()),
            ..RunArgs::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains(&path.display().to_string()));
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn fov_params_and_stage_names_are_checked_before_anything_runs() {
        let with = |param: &[&str], from: Option<&str>, to: Option<&str>, p: PipelineArg| {
            RunConfig::resolve(RunArgs {
                param: param.iter().map(|s| s.to_string()).collect(),
                from_stage: from.map(Into::into),
                to_stage: to.map(Into::into),
                ..args(p)
            })
        };
        let fov = PipelineArg::Fov;
        assert!(
            with(
                &["max_gap=3", "frame_interval=10m"],
                Some("segment"),
                Some("track"),
                fov
            )
            .is_ok()
        );
        for (param, from, to, want) in [
            (&["max_gapp=3"][..], None, None, "no such parameter"),
            (&["max_gap=many"][..], None, None, "max_gap"),
            (&["frame_interval=soon"][..], None, None, "frame_interval"),
            (
                &[][..],
                Some("segmentation"),
                None,
                "copy, segment, background, track, extract",
            ),
            (&[][..], Some("track"), Some("segment"), "comes after"),
        ] {
            let err = with(param, from, to, fov).unwrap_err();
            assert!(
                err.to_string().contains(want),
                "{param:?} {from:?} {to:?}: {err}"
            );
            assert_eq!(err.exit_code(), 2);
        }
        let err = with(&[], Some("copy"), None, PipelineArg::Selftest).unwrap_err();
        assert!(err.to_string().contains("no stages"), "{err}");
    }

    #[test]
    fn later_features_are_refused_clearly() {
        let err = RunConfig::resolve(args(PipelineArg::Pair)).unwrap_err();
        assert!(err.to_string().contains("not available yet"), "{err}");
        let err = RunConfig::resolve(RunArgs {
            slurm_arg: vec!["--partition=x".into()],
            ..args(PipelineArg::Selftest)
        })
        .unwrap_err();
        assert!(err.to_string().contains("--executor slurm"), "{err}");
        let err = RunConfig::resolve(RunArgs {
            executor: Some(ExecutorArg::Slurm),
            strategy: Some(Strategy::Batched),
            ..args(PipelineArg::Selftest)
        })
        .unwrap_err();
        assert!(err.to_string().contains("--batch-size"), "{err}");
        assert!(RunConfig::resolve(args(PipelineArg::Exec)).is_err());
        let bad = RunArgs {
            timeout: Some("soon".into()),
            ..args(PipelineArg::Selftest)
        };
        assert!(
            RunConfig::resolve(bad)
                .unwrap_err()
                .to_string()
                .contains("--timeout")
        );
    }
}
