//! Live progress: a bar on a terminal or one plain line per finished attempt,
//! and the same lines, always, in `.isobatch/run.log`.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use isobatch_shared::units::{format_bytes, format_duration};

use crate::cli::ProgressArg;
use crate::runner::batch::Attempt;

/// Progress display plus the run log.
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    log: Mutex<Option<BufWriter<File>>>,
    done: Mutex<usize>,
    total: usize,
}

impl Progress {
    /// A display for `total` tasks; `log` is `.isobatch/run.log` (None for dry runs).
    pub fn new(mode: ProgressArg, total: usize, log: Option<File>) -> Self {
        let tty = std::io::stderr().is_terminal();
        // A bar drawn to a file or pipe shows nothing, notes included: plain lines instead.
        let fallback = mode == ProgressArg::Bar && !tty;
        if fallback {
            eprintln!(
                "isobatch: --progress bar: stderr is not a terminal, so progress is shown as plain lines"
            );
        }
        let use_bar = matches!(mode, ProgressArg::Bar | ProgressArg::Auto) && tty;
        let bar = use_bar.then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            if let Ok(style) =
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {wide_msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Progress {
            bar,
            plain: matches!(mode, ProgressArg::Plain)
                || (mode == ProgressArg::Auto && !tty)
                || fallback,
            log: Mutex::new(log.map(BufWriter::new)),
            done: Mutex::new(0),
            total,
        }
    }

    /// A line for the run log only.
    pub fn log(&self, line: &str) {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = log.as_mut() {
            let _ = writeln!(w, "{:.3} {line}", crate::journal::now());
        }
    }

    /// Something the user should see now (and the log keeps).
    pub fn note(&self, msg: &str) {
        self.log(msg);
        match &self.bar {
            Some(bar) => bar.println(format!("isobatch: {msg}")),
            None => eprintln!("isobatch: {msg}"),
        }
    }

    /// A worker reported progress within a task.
    pub fn stage(&self, task: &str, stage: &str, _fraction: f32, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{task}: {stage} {message}"));
        }
    }

    /// An attempt ended.
    pub fn finished(&self, task: &str, a: &Attempt) {
        let first = a.message.lines().next().unwrap_or("");
        let line = format!(
            "{task} attempt {}: {} in {}, peak {}{}{}",
            a.attempt,
            a.verdict,
            format_duration(a.duration),
            format_bytes(a.peak_rss),
            if first.is_empty() { "" } else { " — " },
            first
        );
        self.log(&line);
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        *done += 1;
        if let Some(bar) = &self.bar {
            bar.inc(1);
        } else if self.plain {
            eprintln!("[{}/{}] {line}", *done, self.total);
        }
    }

    /// Clears the bar and flushes the log.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = log.as_mut() {
            let _ = w.flush();
        }
    }
}
