//! `isobatch run`: discover, plan, lock, resume, dispatch, report.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

use isobatch_shared::{Pipeline, Verdict, procfs};

use super::conclude::conclude;
use super::plan::{self, Shape};
use crate::cli::{Mode, RunArgs};
use crate::config::{Executor, RunConfig, Workers};
use crate::discovery::{DiscoveryOptions, PositionCounter, discover};
use crate::error::{EXIT_OK, Error};
use crate::exec_template::{ExecTemplate, resolve_program};
use crate::journal::{self, Journal, Record};
use crate::report::{files, progress::Progress, traces};
use crate::resume::Decision;
use crate::runner::batch::{BatchResult, TaskRecord};
use crate::runner::dispatcher::Dispatcher;
use crate::runner::events::Event;
use crate::runner::schedule::{Schedule, chunk_size};
use crate::runner::spawn::WorkerLauncher;
use crate::runner::{Context, serial};
use crate::runner::{admission, attempt_dir};
use crate::sysmem::{MemoryReading, SystemMemory};
use crate::unix::cgroup::RunCgroup;
use crate::unix::signals::{Catcher, Hangup};
use crate::unix::{subreaper, sweep};
use crate::{failed_filter, layout, lock, preflight, resume, slurm};

/// Memory assumed per task for `--workers auto` when nothing better is known
/// (an exec command without `--task-memory`).
const UNKNOWN_TASK_MEMORY: u64 = 512 << 20;

/// `--workers auto`: min(cores, what available memory minus the reserve admits
/// at the largest task estimate).
fn auto_workers(max_task: Option<u64>, memory: Option<MemoryReading>) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_task = max_task.unwrap_or(UNKNOWN_TASK_MEMORY).max(1);
    let admitted = memory.map_or(cores, |m| {
        (m.available.saturating_sub(admission::reserve(m.total)) / per_task) as usize
    });
    cores.min(admitted).max(1)
}

/// The positions of an fov input, from its headers (`None`: unreadable; the worker says why).
fn count_positions(path: &std::path::Path) -> Option<usize> {
    isobatch_worker::image::source::position_count(path).ok()
}

/// Runs the command; returns the exit code.
pub fn run(args: RunArgs) -> Result<i32, Error> {
    // First, so that a terminal closed during discovery does not end the run.
    let catcher = Catcher::install().map_err(|e| Error::Internal(e.into()))?;
    let cfg = RunConfig::resolve(args)?;
    let discovery = discover(&DiscoveryOptions {
        input: cfg.input.clone(),
        exclude: Some(cfg.output.clone()),
        patterns: cfg.patterns.clone(),
        grid: cfg.grid.clone(),
        lenient: cfg.lenient,
        select: cfg.select.clone(),
        // --limit counts the tasks a failed-filter keeps, so it applies after it.
        limit: cfg.limit.filter(|_| cfg.failed_filter.is_none()),
        positions: (cfg.pipeline == Pipeline::Fov).then_some(count_positions as PositionCounter),
        position_set: cfg.positions.clone(),
    })?;
    let mut tracked = Vec::new();
    let exec = match &cfg.exec {
        Some(t) => {
            let tpl = ExecTemplate::parse(t, &discovery.field_names)?;
            tpl.check_params(t, &cfg.params)?;
            tracked.push(resolve_program(tpl.program())?);
            Some(tpl)
        }
        None => None,
    };
    tracked.extend(cfg.rerun_on.iter().cloned());
    // The lock comes before the journal is read, so no other run can append
    // between what this run decides to skip and what it runs. A dry run only reads.
    let lock = if cfg.dry_run {
        None
    } else {
        let state = layout::state_dir(&cfg.output);
        fs::create_dir_all(state.join("logs")).map_err(|e| Error::io(&state, e))?;
        let held = lock::acquire(&layout::lock(&cfg.output), &cfg.output)?;
        let staging = layout::staging_root(&cfg.output);
        // On Slurm, elements of a killed run may still be running there; each
        // element clears its own tasks' folders instead.
        if cfg.executor == Executor::Local {
            attempt_dir::clear_staging(&cfg.output).map_err(|e| Error::io(&staging, e))?;
        }
        Some(held)
    };
    let param_hash = resume::param_hash(&cfg);
    let journal_path = layout::journal(&cfg.output);
    let (records, damaged) = if journal_path.exists() {
        journal::read(&journal_path).map_err(|e| Error::io(&journal_path, e))?
    } else {
        (Vec::new(), Vec::new())
    };
    let history = resume::history(&records);
    // Before pre-flight measures memory: a killed run's leftovers are not this run's to keep.
    let swept = if cfg.dry_run {
        Vec::new()
    } else {
        sweep::leftovers(&records)
    };
    let mut discovery = discovery;
    let filter_note = cfg
        .failed_filter
        .map(|f| failed_filter::apply(f, &mut discovery.tasks, &history));
    if let (Some(_), Some(n)) = (&filter_note, cfg.limit) {
        discovery.tasks.truncate(n);
    }
    if let Some(note) = &filter_note
        && discovery.tasks.is_empty()
    {
        eprintln!("isobatch: {note}: nothing to run");
        return Ok(EXIT_OK);
    }

    let mut tasks: Vec<TaskRecord> = Vec::new();
    let mut skipped = 0;
    for t in &discovery.tasks {
        let earlier = history.get(&t.id).cloned().unwrap_or_default();
        let mut rec = TaskRecord::new(t.clone(), earlier.attempts);
        let files: Vec<_> = t.inputs.iter().chain(&tracked).cloned().collect();
        let now = resume::Now {
            param_hash: &param_hash,
            output: &cfg.output,
            files: &files,
            checksum: cfg.checksum,
            strict_qc: cfg.strict_qc,
        };
        match resume::decide(&earlier, now) {
            Decision::Skip(_) if cfg.force => {
                rec.rerun_reason = Some("--force".into());
            }
            Decision::Skip(outputs) => {
                rec.verdict = Some(Verdict::Skipped);
                rec.earlier_outputs = outputs;
                rec.earlier_result = earlier
                    .last
                    .as_ref()
                    .map(|l| l.result.clone())
                    .unwrap_or_default();
                skipped += 1;
            }
            Decision::Run(reason) => rec.rerun_reason = reason,
        }
        tasks.push(rec);
    }
    let to_run = tasks.len() - skipped;
    let estimate = preflight::estimate(&cfg, &tasks);
    if !estimate.refusals.is_empty() {
        return Err(Error::Preflight(estimate.refusals.join("\n")));
    }
    // Tasks on Slurm run elsewhere: this machine's RAM says nothing about them.
    let memory = match cfg.executor {
        Executor::Local => SystemMemory::new().read(),
        Executor::Slurm { .. } => None,
    };
    let disk_free = preflight::free_space(&cfg.output);
    let warnings =
        preflight::check(&cfg, &estimate, memory, disk_free).map_err(Error::Preflight)?;
    let slurm_plan = match cfg.executor {
        Executor::Local => None,
        Executor::Slurm { .. } => Some(slurm::plan::Plan::prepare(&cfg, estimate.max_task())?),
    };
    for (rec, est) in tasks.iter_mut().zip(&estimate.per_task) {
        rec.estimated_rss = *est;
    }
    let workers = match (&slurm_plan, cfg.mode, cfg.workers) {
        (Some(plan), _, _) => plan.throttle(),
        (None, Mode::Serial, _) => 1,
        (None, _, Workers::Fixed(n)) => n,
        (None, _, Workers::Auto) => auto_workers(estimate.max_task(), memory),
    };
    let shape = Shape {
        workers: workers.min(to_run.max(1)),
        chunk: chunk_size(cfg.strategy, cfg.batch_size, to_run, workers),
        to_run,
        skipped,
        task_ram: estimate.max_task(),
        disk: estimate.disk,
        available: memory.map(|m| m.available),
        disk_free,
        slurm: slurm_plan.as_ref(),
    };
    if cfg.dry_run {
        // A closed stdout (`| head`) only shortens what is shown.
        let mut out = std::io::stdout().lock();
        let _ = plan::write(
            &mut out,
            &cfg,
            &discovery,
            &tasks,
            shape,
            &estimate.layouts,
            true,
        )
        .and_then(|()| match &filter_note {
            Some(note) => writeln!(out, "  {note}"),
            None => Ok(()),
        })
        .and_then(|()| writeln!(out, "\n(dry run: nothing was started)"));
        return Ok(EXIT_OK);
    }

    let open_append = |p: &std::path::Path| {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| Error::io(p, e))
    };
    let run_log = open_append(&layout::run_log(&cfg.output))?;
    let workers_log = open_append(&layout::workers_log(&cfg.output))?;
    let journal = Journal::open(&journal_path).map_err(|e| Error::io(&journal_path, e))?;
    let progress = Progress::new(cfg.progress, (to_run, skipped), Some(run_log)).map_err(|e| {
        Error::Internal(anyhow::Error::new(e).context("cannot start the output threads"))
    })?;
    for d in damaged.iter().chain(&warnings) {
        progress.note(d);
    }
    if let Some(why) = lock.as_ref().and_then(|l| l.folder_unlocked.as_ref()) {
        progress.log(&format!(
            "the output folder itself cannot be locked ({why}); only .isobatch/lock guards it, \
             so do not delete that file while this run goes on"
        ));
    }
    for line in &swept {
        progress.log(line);
    }
    for f in files::remove_leftovers(&cfg.output) {
        progress.log(&format!(
            "removed {}, left by a run killed while writing reports",
            f.display()
        ));
    }
    {
        let mut plan_text = Vec::new();
        let _ = plan::write(
            &mut plan_text,
            &cfg,
            &discovery,
            &tasks,
            shape,
            &estimate.layouts,
            false,
        );
        progress.stderr_text(String::from_utf8_lossy(&plan_text).into_owned());
    }
    let hangups = progress.hangup_handle();

    let started = SystemTime::now();
    let clock = Instant::now();
    journal.append(&Record::RunStart {
        time: journal::now(),
        pid: std::process::id(),
        host: nix::unistd::gethostname()
            .map_or_else(|_| "unknown".into(), |h| h.to_string_lossy().into_owned()),
        pipeline: cfg.pipeline.to_string(),
        tasks: to_run,
        param_hash: param_hash.clone(),
        mode: format!("{:?}", cfg.mode).to_lowercase(),
        workers: shape.workers,
        version: Some(env!("CARGO_PKG_VERSION").to_string()),
        command_line: std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
    });
    let cgroup = (cfg.mode != Mode::Serial)
        .then(|| open_scope(&journal, &progress))
        .flatten();
    for t in &tasks {
        if t.verdict == Some(Verdict::Skipped) {
            journal.append(&Record::Skipped {
                time: journal::now(),
                task: t.task.id.clone(),
            });
        } else if let Some(reason) = &t.rerun_reason {
            journal.append(&Record::Rerun {
                time: journal::now(),
                task: t.task.id.clone(),
                reason: reason.clone(),
            });
        }
    }

    let ctx = Context {
        cfg: &cfg,
        exec: exec.as_ref(),
        journal: &journal,
        progress: &progress,
        param_hash,
        tracked,
    };
    let mut notes: Vec<String> = filter_note.into_iter().collect();
    let (mut tasks, interrupted, stopped_early) = if cfg.mode == Mode::Serial {
        notes.push("--mode serial: tasks ran inside the supervisor; timeouts and memory caps were not enforced".into());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        log_hangup(&progress, catcher.hangup());
        catcher
            .forward(
                move |_| flag.store(true, Ordering::SeqCst),
                move || hangups.hang_up(),
            )
            .map_err(|e| Error::Internal(e.into()))?;
        let (interrupted, halt) = serial::run(&ctx, &mut tasks, &|| stop.load(Ordering::SeqCst));
        (tasks, interrupted, halt)
    } else if let Some(plan) = slurm_plan {
        let (tx, rx) = std::sync::mpsc::channel();
        log_hangup(&progress, catcher.hangup());
        catcher
            .forward(
                move |sig| {
                    let _ = tx.send(sig);
                },
                move || hangups.hang_up(),
            )
            .map_err(|e| Error::Internal(e.into()))?;
        let slurm_run =
            slurm::executor::SlurmRun::new(ctx, tasks, plan, discovery.field_names.clone());
        let (tasks, fatal, halt, interrupted) = slurm_run.run(&records, &rx);
        notes.extend(fatal);
        if let Some(Err(e)) = cgroup.map(RunCgroup::remove) {
            progress.note(&e);
        }
        (tasks, interrupted, halt)
    } else {
        if let Err(e) = subreaper::become_subreaper() {
            notes.push(format!(
                "could not become child subreaper ({e}); escaped grandchildren may survive"
            ));
        }
        let indices: Vec<usize> = (0..tasks.len())
            .filter(|&i| tasks[i].verdict.is_none())
            .collect();
        let schedule = Schedule::new(
            cfg.mode,
            cfg.strategy,
            cfg.batch_size,
            cfg.max_tasks_per_worker,
            indices,
            shape.workers,
        );
        let launcher =
            WorkerLauncher::new(workers_log, cgroup.as_ref().map(|c| c.path().to_path_buf()))
                .map_err(Error::Internal)?;
        progress.log(&launcher.describe());
        let (dispatcher, events) =
            Dispatcher::new(ctx, tasks, schedule, launcher, estimate.per_task.clone())
                .map_err(|e| Error::Internal(e.into()))?;
        log_hangup(&progress, catcher.hangup());
        catcher
            .forward(
                move |sig| {
                    let _ = events.send(Event::Signal(sig));
                },
                move || hangups.hang_up(),
            )
            .map_err(|e| Error::Internal(e.into()))?;
        let (tasks, fatal, halt, interrupted) = dispatcher.run();
        notes.extend(fatal);
        if let Some(Err(e)) = cgroup.map(RunCgroup::remove) {
            progress.note(&e);
        }
        (tasks, interrupted, halt)
    };
    progress.finish();

    for m in &discovery.missing {
        let mut rec = TaskRecord::new(m.clone(), 0);
        rec.verdict = Some(Verdict::Missing);
        rec.cancel_reason = Some(format!("no input for {}", m.describe_fields()));
        tasks.push(rec);
    }
    if cfg.pipeline == Pipeline::Fov {
        match traces::combine(&tasks, &cfg.output) {
            Ok(n) => notes.extend(n),
            Err(e) => notes.push(e),
        }
        if let Err(e) = crate::report::lineage::combine(&tasks, &cfg.output) {
            notes.push(e);
        }
    }
    let result = BatchResult {
        tasks,
        interrupted,
        stopped_early,
        started,
        elapsed: clock.elapsed(),
        notes,
    };
    Ok(conclude(&cfg, result, &journal, &progress))
}

/// Journals where this run's processes can be found should it be killed (see
/// `unix::sweep`), making the run's cgroup first where the machine allows one.
fn open_scope(journal: &Journal, progress: &Progress) -> Option<RunCgroup> {
    let cgroup = RunCgroup::create()
        .map_err(|why| progress.log(&format!("no cgroup for this run ({why}); /proc walks only")))
        .ok();
    if let Some(cg) = &cgroup {
        progress.log(&format!("workers run in cgroup {}", cg.path().display()));
    }
    journal.append(&Record::RunScope {
        time: journal::now(),
        boot_id: procfs::boot_id().unwrap_or_default(),
        cgroup: cgroup.as_ref().map(|c| c.path().to_path_buf()),
    });
    cgroup
}

/// Says in the run log what SIGHUP will do in this run.
fn log_hangup(progress: &Progress, hangup: Hangup) {
    progress.log(match hangup {
        Hangup::InheritedIgnore => "SIGHUP arrived ignored (nohup or similar) and stays ignored",
        Hangup::Caught => "SIGHUP will turn terminal output off; the batch goes on",
    });
}
