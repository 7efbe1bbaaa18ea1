//! Live progress: a bar on a terminal or one plain line per finished task,
//! counted by final verdict ([`Tally`]) with an ETA from this run's pace; a
//! failure is shown the moment a task fails for good (above the bar); and one
//! line per attempt, always, in `.isobatch/run.log`.
//!
//! Nothing here writes on the caller's thread: terminal output goes through
//! [`Terminal`] and the log through [`RunLog`], each a writer thread that
//! can fall behind, fail or hang without holding up the batch.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use isobatch_shared::Verdict;
use isobatch_shared::units::{format_bytes, format_duration};

use super::problems::cause_line;
use super::run_log::RunLog;
use super::tally::Tally;
use super::terminal::{BarOp, Stream, Terminal};
use crate::cli::ProgressArg;
use crate::runner::batch::Attempt;

/// Progress display plus the run log.
pub struct Progress {
    terminal: Terminal,
    log: RunLog,
    has_bar: bool,
    plain: bool,
    tally: Mutex<Tally>,
    started: Instant,
}

/// What the signal thread needs to act on SIGHUP: the terminal and the log.
#[derive(Clone)]
pub struct HangupHandle {
    terminal: Terminal,
}

impl HangupHandle {
    /// The terminal is gone: stop writing to it (and say so in the run log).
    pub fn hang_up(&self) {
        self.terminal.hang_up();
    }
}

impl Progress {
    /// A display for `total` tasks to run and `skipped` ones an earlier run
    /// did; `log` is `.isobatch/run.log` (None for dry runs).
    pub fn new(
        mode: ProgressArg,
        (total, skipped): (usize, usize),
        log: Option<File>,
    ) -> std::io::Result<Self> {
        let tty = std::io::stderr().is_terminal();
        // A bar drawn to a file or pipe shows nothing, notes included: plain lines instead.
        let fallback = mode == ProgressArg::Bar && !tty;
        if fallback {
            // Never eprintln!: a closed stderr must not panic the run.
            let _ = writeln!(
                std::io::stderr(),
                "isobatch: --progress bar: stderr is not a terminal, so progress is shown as plain lines"
            );
        }
        let use_bar = matches!(mode, ProgressArg::Bar | ProgressArg::Auto) && tty;
        let bar = use_bar.then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            if let Ok(style) =
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {prefix} {wide_msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        let tally = Tally {
            total,
            skipped,
            ..Tally::default()
        };
        if let Some(bar) = &bar {
            bar.set_prefix(tally.bar_text(std::time::Duration::ZERO));
        }
        let has_bar = bar.is_some();
        let log = RunLog::start(log)?;
        let terminal = Terminal::start(bar, log.clone())?;
        Ok(Progress {
            terminal,
            log,
            has_bar,
            plain: matches!(mode, ProgressArg::Plain)
                || (mode == ProgressArg::Auto && !tty)
                || fallback,
            tally: Mutex::new(tally),
            started: Instant::now(),
        })
    }

    /// The handle SIGHUP acts through.
    pub fn hangup_handle(&self) -> HangupHandle {
        HangupHandle {
            terminal: self.terminal.clone(),
        }
    }

    /// A line for the run log only.
    pub fn log(&self, line: &str) {
        self.log.line(line);
    }

    /// Something the user should see now (and the log keeps).
    pub fn note(&self, msg: &str) {
        self.log(msg);
        self.terminal
            .text(Stream::Err, format!("isobatch: {msg}\n"));
    }

    /// Text for standard error as it is (e.g. the plan), kept in the log too.
    pub fn stderr_text(&self, text: String) {
        for line in text.lines() {
            self.log(line);
        }
        self.terminal.text(Stream::Err, text);
    }

    /// Text for standard output as it is (the summary), kept in the log too.
    pub fn stdout_text(&self, text: String, log_it: bool) {
        if log_it {
            for line in text.lines() {
                self.log(line);
            }
        }
        self.terminal.text(Stream::Out, text);
    }

    /// A worker reported progress within a task.
    pub fn stage(&self, task: &str, stage: &str, _fraction: f32, message: &str) {
        if self.has_bar {
            self.terminal
                .bar(BarOp::Message(format!("{task}: {stage} {message}")));
        }
    }

    /// An attempt ended: one line in the run log (the terminal shows tasks, see
    /// [`Progress::task_ended`]).
    pub fn finished(&self, task: &str, a: &Attempt) {
        // The bar shows it with the task's verdict or its next attempt, never
        // in between (a task neither running nor ended).
        self.update(Tally::attempt_ended);
        let cause = cause_line(&a.message);
        self.log(&format!(
            "{task} attempt {}: {} in {}, peak {}{}{cause}",
            a.attempt,
            a.verdict,
            format_duration(a.duration),
            format_bytes(a.peak_rss),
            if cause.is_empty() { "" } else { " — " },
        ));
    }

    /// An attempt started; `first` when it is the task's first in this run.
    pub fn attempt_started(&self, first: bool) {
        let prefix = self.update(|t| t.start(first));
        if self.has_bar {
            self.terminal.bar(self.bar_tally(&prefix));
        }
    }

    /// A task got its final verdict, after `attempts` (empty for a task never
    /// started). Plain mode prints a line for each task that ran; a failure is
    /// printed at once either way, above the bar.
    pub fn task_ended(&self, task: &str, verdict: Verdict, attempts: &[Attempt]) {
        let tally = self.update(|t| t.end(verdict, !attempts.is_empty()));
        if self.has_bar {
            self.terminal.bar(self.bar_tally(&tally));
        }
        let Some(last) = attempts.last() else {
            return;
        };
        let cause = cause_line(&last.message);
        let cause = if cause.is_empty() {
            String::new()
        } else {
            format!(" — {cause}")
        };
        if self.plain {
            let spent: std::time::Duration = attempts.iter().map(|a| a.duration).sum();
            let peak = attempts.iter().map(|a| a.peak_rss).max().unwrap_or(0);
            let tries = match attempts.len() {
                1 => String::new(),
                n => format!("{n} attempts, "),
            };
            self.terminal.text(
                Stream::Err,
                format!(
                    "{} {task}: {verdict} ({tries}{}, peak {}){cause}\n",
                    tally.line_head(self.started.elapsed()),
                    format_duration(spent),
                    format_bytes(peak)
                ),
            );
        } else if self.has_bar && verdict.is_failure() {
            self.terminal
                .text(Stream::Err, format!("isobatch: {task}: {verdict}{cause}\n"));
        }
    }

    /// The bar's position and text for `tally`.
    fn bar_tally(&self, tally: &Tally) -> BarOp {
        BarOp::Tally(
            tally.finished() as u64,
            tally.bar_text(self.started.elapsed()),
        )
    }

    /// Applies `change` to the tally; returns the tally after it.
    fn update(&self, change: impl FnOnce(&mut Tally)) -> Tally {
        let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut tally);
        tally.clone()
    }

    /// Clears the bar (the summary follows).
    pub fn finish(&self) {
        if self.has_bar {
            self.terminal.bar(BarOp::Finish);
        }
    }

    /// Waits until the terminal and the log have written everything queued,
    /// giving up on one that is stuck (a terminal nobody reads must not keep
    /// the process alive; the log says what it missed).
    pub fn flush(&self) {
        if !self.terminal.flush() {
            self.log("the terminal did not take all of the output; this log has all of it");
        }
        self.log.flush();
    }
}
