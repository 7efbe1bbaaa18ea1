//! `isobatch slurm-element DIR OFFSET` (hidden): one array element. It runs
//! its tasks through the same local dispatcher as a local batch — a worker
//! process per task, timeout, memory cap, process-tree kill, clean attempt
//! folder — with a journal of its own as its result record, renamed into
//! place only once complete. SIGTERM (scancel) stops the running task at once,
//! so the record still says `cancelled` for it.

use std::fs::{self, OpenOptions};
use std::path::PathBuf;

use clap::Parser;
use isobatch_shared::atomic::sync_dir;

use super::SlurmError;
use super::tasklist::{self, TaskList};
use crate::cli::{Cli, Command, ProgressArg, Strategy};
use crate::config::{Executor, RunConfig, Workers};
use crate::error::{EXIT_OK, Error};
use crate::exec_template::ExecTemplate;
use crate::journal::Journal;
use crate::report::progress::Progress;
use crate::runner::Context;
use crate::runner::batch::TaskRecord;
use crate::runner::dispatcher::Dispatcher;
use crate::runner::events::Event;
use crate::runner::schedule::Schedule;
use crate::runner::spawn::WorkerLauncher;
use crate::unix::signals::Catcher;
use crate::unix::subreaper;

/// `slurm-element` arguments.
#[derive(Debug, clap::Args)]
pub struct ElementArgs {
    /// The submission folder (holds tasks.json).
    pub dir: PathBuf,
    /// The element index of this array's index 0.
    pub offset: usize,
}

/// The run configuration an element runs its tasks with: the supervisor's,
/// one task at a time, locally, nothing shown.
fn element_config(list: &TaskList) -> Result<RunConfig, Error> {
    let argv = std::iter::once("isobatch".to_string()).chain(list.run_args.iter().cloned());
    let cli = Cli::try_parse_from(argv)
        .map_err(|e| SlurmError::Element(format!("cannot read the run's command line: {e}")))?;
    let Command::Run(args) = cli.command else {
        return Err(SlurmError::Element("the task list holds no `run` command line".into()).into());
    };
    let mut cfg = RunConfig::resolve(*args)?;
    cfg.workers = Workers::Fixed(1);
    cfg.strategy = Strategy::Individual;
    cfg.batch_size = None;
    cfg.max_fail = None;
    cfg.progress = ProgressArg::None;
    cfg.executor = Executor::Local;
    Ok(cfg)
}

/// Runs the element; exits 0 once its record is in place, whatever the verdicts.
pub fn run(args: ElementArgs) -> Result<i32, Error> {
    let catcher = Catcher::install().map_err(|e| Error::Internal(e.into()))?;
    let array_index: usize = std::env::var("SLURM_ARRAY_TASK_ID")
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            SlurmError::Element(
                "SLURM_ARRAY_TASK_ID is not set: run it as a Slurm array element".into(),
            )
        })?;
    let index = args.offset + array_index;
    let dir = std::path::absolute(&args.dir).map_err(|e| Error::io(&args.dir, e))?;
    let list = TaskList::read(&dir)?;
    std::env::set_current_dir(&list.cwd).map_err(|e| Error::io(&list.cwd, e))?;
    let cfg = element_config(&list)?;
    let listed = list
        .elements
        .get(index)
        .ok_or_else(|| SlurmError::Element(format!("{} has no element {index}", dir.display())))?;
    // This element alone runs these tasks now: what a killed element staged for them is stale.
    for l in listed {
        let _ = fs::remove_dir_all(crate::layout::staging_root(&cfg.output).join(&l.task.id));
    }
    let tmp = tasklist::record_tmp(&dir, index);
    let _ = fs::remove_file(&tmp);
    let journal = Journal::open(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let progress = Progress::new(ProgressArg::None, (listed.len(), 0), None)
        .map_err(|e| Error::Internal(e.into()))?;
    let exec = match &cfg.exec {
        Some(t) => Some(ExecTemplate::parse(t, &list.field_names)?),
        None => None,
    };
    let tasks: Vec<TaskRecord> = listed
        .iter()
        .map(|l| TaskRecord::new(l.task.clone(), l.attempt.saturating_sub(1)))
        .collect();
    let ctx = Context {
        cfg: &cfg,
        exec: exec.as_ref(),
        journal: &journal,
        progress: &progress,
        param_hash: list.param_hash.clone(),
        tracked: list.tracked.clone(),
    };
    let _ = subreaper::become_subreaper();
    let schedule = Schedule::new(
        cfg.mode,
        Strategy::Individual,
        None,
        cfg.max_tasks_per_worker,
        (0..tasks.len()).collect(),
        1,
    );
    let log_path = crate::layout::workers_log(&cfg.output);
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| Error::io(&log_path, e))?;
    let launcher = WorkerLauncher::new(log, None).map_err(Error::Internal)?;
    let estimates = vec![None; tasks.len()];
    let (dispatcher, events) = Dispatcher::new(ctx, tasks, schedule, launcher, estimates)
        .map_err(|e| Error::Internal(e.into()))?;
    catcher
        .forward(
            // The first signal drains, the second stops the running task: scancel means stop now.
            move |sig| {
                let _ = events.send(Event::Signal(sig));
                let _ = events.send(Event::Signal(sig));
            },
            || {},
        )
        .map_err(|e| Error::Internal(e.into()))?;
    let _ = dispatcher.run();
    progress.finish();
    journal.flush();
    if let Some(e) = journal.error() {
        return Err(Error::io(&tmp, std::io::Error::other(e)));
    }
    drop(journal);
    let done = tasklist::record_file(&dir, index);
    fs::rename(&tmp, &done).map_err(|e| Error::io(&done, e))?;
    if let Some(parent) = done.parent() {
        sync_dir(parent).map_err(|e| Error::io(parent, e))?;
    }
    Ok(EXIT_OK)
}
