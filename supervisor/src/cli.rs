//! The command line (DESIGN.md, "Command line"). Every `run` option is optional
//! here so that `[run]` in a TOML config can supply it; [`crate::config`] merges
//! the two (the command line wins) and applies the defaults.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

/// isobatch: run image-analysis batches unattended, each task in an isolated,
/// supervised worker process, with timeouts, memory caps, a journal and resume.
#[derive(Debug, Parser)]
#[command(name = "isobatch", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a batch: discover tasks under --input and process them into --output.
    Run(Box<RunArgs>),
    /// Say whether a batch's last run is running, finished, interrupted or died, and what its tasks did.
    Status(StatusArgs),
    /// Print a task's attempt log (the latest by default), follow it while it runs, or show every failed task's log tail.
    Logs(LogsArgs),
    /// Write synthetic demo input (and ground truth) into DIR.
    Demo(DemoArgs),
    /// Write a self-contained HTML report for OUTPUT_DIR.
    Report(ReportArgs),
    /// Print the shell completion script for SHELL (see the README to install it).
    Completions(CompletionsArgs),
    /// Print the man page, or write one page per command into --out DIR.
    Man(ManArgs),
    /// One Slurm array element of `run --executor slurm` (started by sbatch, not by people).
    #[command(hide = true)]
    SlurmElement(crate::slurm::element::ElementArgs),
}

/// How tasks are isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A fresh worker process per task (or per --batch-size tasks).
    Subprocess,
    /// --workers long-lived worker processes, recycled.
    Pool,
    /// In the supervisor process, one at a time (debugging; no isolation).
    Serial,
}

/// How tasks are handed to workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// One task per dispatch.
    Individual,
    /// Fixed contiguous chunks of --batch-size assigned to workers up front.
    Batched,
    /// The next chunk of --batch-size goes to whichever worker is idle.
    Chunked,
}

/// Which pipeline runs each task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PipelineArg {
    /// Time-lapse field-of-view analysis.
    Fov,
    /// Pre/post-stain pairs.
    Pair,
    /// Scripted behaviour for testing the supervisor.
    Selftest,
    /// Any command, from --exec.
    Exec,
}

/// Checkpoint file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckpointFormat {
    /// numpy `.npy`.
    Npy,
    /// TIFF.
    Tiff,
    /// Both.
    Both,
}

/// Which stage checkpoints a built-in pipeline keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeepCheckpoints {
    /// Every stage's checkpoint (a rerun with new parameters starts from the changed stage).
    All,
    /// Only the final outputs; stage records stay (new parameters recompute from the input).
    Final,
}

/// Where tasks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorArg {
    /// On this machine.
    Local,
    /// As a Slurm job array.
    Slurm,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProgressArg {
    /// A bar on a terminal, plain lines otherwise.
    Auto,
    /// Always a bar: tasks by final verdict, ETA, each failure printed above it.
    Bar,
    /// One line per task that ends: counts, ETA, verdict and cause (for logs).
    Plain,
    /// Nothing but the summary.
    None,
}

/// `isobatch run` options; `None` means "not given on the command line".
#[derive(Debug, Default, Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RunArgs {
    /// TOML file whose [run] table supplies defaults for any option.
    #[arg(long, value_name = "FILE.toml")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Folder holding the input files [default: raw].
    #[arg(long, value_name = "DIR")]
    pub input: Option<PathBuf>,
    /// Folder for outputs, logs and the journal [default: processed].
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Pipeline to run [default: fov].
    #[arg(long, value_enum)]
    pub pipeline: Option<PipelineArg>,
    /// Input file pattern relative to --input, e.g. '{sample}/{sample}_{dye}_*.tif'.
    #[arg(long, value_name = "TEMPLATE")]
    pub pattern: Option<String>,
    /// Values a pattern field must take: FIELD=V1,V2,... (repeatable).
    #[arg(long, value_name = "FIELD=V1,V2,...")]
    #[serde(default)]
    pub grid: Vec<String>,
    /// Skip (and list) missing grid combinations instead of refusing the batch.
    #[arg(long)]
    #[serde(default)]
    pub lenient: bool,
    /// Only run tasks whose id matches GLOB (repeatable).
    #[arg(long, value_name = "GLOB")]
    #[serde(default)]
    pub select: Vec<String>,
    /// Run at most N tasks.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Stop starting tasks once N (or N% of the run's) tasks failed with retries used up; the rest are cancelled.
    #[arg(long, value_name = "N|N%")]
    #[serde(default, deserialize_with = "number_or_string")]
    pub max_fail: Option<String>,
    /// Run only the tasks whose last attempt failed (composes with --select).
    #[arg(long, conflicts_with = "skip_failed")]
    #[serde(default)]
    pub only_failed: bool,
    /// Run everything not yet done except the tasks whose last attempt failed (composes with --select).
    #[arg(long)]
    #[serde(default)]
    pub skip_failed: bool,
    /// fov: only these positions of multi-position files, e.g. 0-9,12.
    #[arg(long, value_name = "0-9,12")]
    pub positions: Option<String>,
    /// Isolation mode [default: subprocess].
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// Concurrent workers: a number or 'auto', what cores and RAM admit [default: auto].
    /// With --executor slurm: array elements at once; auto, what the partition's nodes hold.
    #[arg(long, value_name = "N|auto")]
    pub workers: Option<String>,
    /// Dispatch strategy [default: individual].
    #[arg(long, value_enum)]
    pub strategy: Option<Strategy>,
    /// Tasks per chunk (batched/chunked) or per fresh worker (subprocess).
    #[arg(long, value_name = "K")]
    pub batch_size: Option<usize>,
    /// Per-attempt time limit, e.g. 3600, 90m, 1h30m [default: none].
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Time between SIGTERM and SIGKILL when stopping a task [default: 10s].
    #[arg(long, value_name = "DURATION")]
    pub kill_grace: Option<String>,
    /// Extra attempts for a failed task, with backoff [default: 0].
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Declared memory need of one task (for exec tasks), e.g. 2G.
    #[arg(long, value_name = "SIZE")]
    pub task_memory: Option<String>,
    /// Kill a task whose process tree grows past SIZE.
    #[arg(long, value_name = "SIZE")]
    pub max_task_memory: Option<String>,
    /// Replace a pool worker after N tasks.
    #[arg(long, value_name = "N")]
    pub max_tasks_per_worker: Option<usize>,
    /// Replace a pool worker after a task if its RSS exceeds SIZE.
    #[arg(long, value_name = "SIZE")]
    pub max_worker_memory: Option<String>,
    /// Record per-attempt worker memory in .isobatch/memory.csv.
    #[arg(long)]
    #[serde(default)]
    pub memory_debug: bool,
    /// Turn pre-flight refusals into warnings.
    #[arg(long)]
    #[serde(default)]
    pub force_run: bool,
    /// Print the task list and plan; run nothing.
    #[arg(long)]
    #[serde(default)]
    pub dry_run: bool,
    /// First pipeline stage to (re)compute.
    #[arg(long, value_name = "STAGE")]
    pub from_stage: Option<String>,
    /// Last pipeline stage to compute.
    #[arg(long, value_name = "STAGE")]
    pub to_stage: Option<String>,
    /// Recompute everything, ignoring earlier results.
    #[arg(long)]
    #[serde(default)]
    pub force: bool,
    /// Stage checkpoint format [default: npy].
    #[arg(long, value_enum)]
    pub checkpoint_format: Option<CheckpointFormat>,
    /// Pipeline parameter KEY=VALUE (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    #[serde(default)]
    pub param: Vec<String>,
    /// Turn QC warnings (e.g. a frame whose cell count collapsed) into failed:error.
    #[arg(long)]
    #[serde(default)]
    pub strict_qc: bool,
    /// Command template for --pipeline exec, e.g. 'python3 seg.py {input} {task_dir}' ({param.KEY} for --param).
    #[arg(long, value_name = "TEMPLATE")]
    pub exec: Option<String>,
    /// Compare input content (xxh3 hash) instead of size/mtime/inode/ctime on rerun.
    #[arg(long)]
    #[serde(default)]
    pub checksum: bool,
    /// A file every task depends on (the lab's script, its config): a change reruns all (repeatable).
    #[arg(long, value_name = "FILE")]
    #[serde(default)]
    pub rerun_on: Vec<PathBuf>,
    /// Run each attempt in TASK/ itself instead of a fresh staging folder (scripts keeping their own checkpoints).
    #[arg(long)]
    #[serde(default)]
    pub reuse_task_dir: bool,
    /// Stage checkpoints kept after a task is done [default: all].
    #[arg(long, value_enum)]
    pub keep_checkpoints: Option<KeepCheckpoints>,
    /// Where tasks run [default: local].
    #[arg(long, value_enum)]
    pub executor: Option<ExecutorArg>,
    /// Extra sbatch argument (repeatable).
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    #[serde(default)]
    pub slurm_arg: Vec<String>,
    /// Progress display [default: auto].
    #[arg(long, value_enum)]
    pub progress: Option<ProgressArg>,
    /// Write OUTPUT/report.html at the end (as `isobatch report OUTPUT` does).
    #[arg(long, conflicts_with = "dry_run")]
    #[serde(default)]
    pub report: bool,
    /// Print the final summary as JSON on stdout.
    #[arg(long)]
    #[serde(default)]
    pub json: bool,
}

/// `isobatch status` options.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The batch's output folder.
    pub output_dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `isobatch logs` options.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The batch's output folder.
    pub output_dir: PathBuf,
    /// The task id (as in summary.csv).
    #[arg(required_unless_present = "failed", conflicts_with = "failed")]
    pub task: Option<String>,
    /// Which attempt [default: the latest].
    #[arg(long, value_name = "N")]
    pub attempt: Option<u32>,
    /// Keep printing while the attempt runs; end when it ends (waits for the task to start if it has not).
    #[arg(long)]
    pub follow: bool,
    /// The tail of every failed task's last attempt log, grouped by task.
    #[arg(long, conflicts_with_all = ["attempt", "follow"])]
    pub failed: bool,
    /// Lines per task shown with --failed.
    #[arg(long, value_name = "N", default_value_t = 20, requires = "failed")]
    pub lines: usize,
}

/// `isobatch demo` options.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder to write the demo into (DIR/raw gets the inputs).
    pub dir: PathBuf,
    /// Number of fields of view (tasks).
    #[arg(long, default_value_t = 8)]
    pub fovs: usize,
    /// Frames per field of view.
    #[arg(long, default_value_t = 20)]
    pub frames: usize,
    /// Frame size in pixels.
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Target fraction of each frame covered by cells, 0.01-0.65 (packs cells on a
    /// staggered lattice; without it, the sparse layout of about 8 %).
    #[arg(long, value_name = "F")]
    pub density: Option<f64>,
    /// Phase-contrast look: dark cells on a bright halo, or bright cells on a dark one.
    #[arg(long, value_enum, default_value_t = DemoPolarity::Dark)]
    pub polarity: DemoPolarity,
}

/// `isobatch demo --polarity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoPolarity {
    /// Dark cells, bright halo.
    Dark,
    /// Bright cells, dark halo.
    Bright,
}

/// `isobatch report` options.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The batch's output folder.
    pub output_dir: PathBuf,
}

/// `isobatch completions` options.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `isobatch man` options.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write isobatch.1 and one page per subcommand into DIR instead of printing isobatch.1.
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
}

/// Reads a config value written either as a number (`max-fail = 3`) or a string (`"10%"`).
fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Value {
        Number(u64),
        Text(String),
    }
    Ok(Some(match Value::deserialize(d)? {
        Value::Number(n) => n.to_string(),
        Value::Text(s) => s,
    }))
}
