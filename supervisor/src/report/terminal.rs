//! Everything isobatch prints during a run goes through here, and nothing
//! printed can stop or stall the batch.
//!
//! Writes happen on a thread of their own ([`Outlet`]); callers only queue. A
//! stream whose write fails (closed pipe: `EPIPE`; hung-up terminal: `EIO`) is
//! turned off for the rest of the run, and so is all terminal output once the
//! writer is stuck (a terminal or pipe nobody reads) or SIGHUP said the
//! terminal is gone. Each of those is said once in `run.log`, which keeps
//! every line either way.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget};

use super::outlet::{Outlet, Refused};
use super::run_log::RunLog;

/// Messages that may wait for the terminal.
const CAPACITY: usize = 1024;
/// A write stuck this long turns terminal output off (and ends the final flush).
const PATIENCE: Duration = Duration::from_secs(5);
/// How long the writer gathers messages before it shows them: unnoticeable
/// to a reader, and a fast batch does not wake the writer once per task.
const LINGER: Duration = Duration::from_millis(5);

/// Which standard stream a line goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output: the summary.
    Out,
    /// Standard error: notes and progress.
    Err,
}

/// What the progress bar should do.
pub enum BarOp {
    /// Tasks ended so far, and the counts beside the bar (which say it too,
    /// so the text never disagrees with itself between two draws).
    Tally(u64, String),
    /// The text beside the bar.
    Message(String),
    /// Clear the bar for good.
    Finish,
}

enum Msg {
    Text(Stream, String),
    Bar(BarOp),
    Hangup,
}

struct State {
    /// Per stream (out, err): false once writing to it failed.
    open: [AtomicBool; 2],
    /// SIGHUP arrived or the writer stalled: nothing more is written.
    gone: AtomicBool,
}

impl State {
    fn open(&self, s: Stream) -> bool {
        !self.gone.load(Ordering::Relaxed) && self.open[s as usize].load(Ordering::Relaxed)
    }
}

/// A handle to the terminal writer (clones share it).
#[derive(Clone)]
pub struct Terminal {
    outlet: Outlet<Msg>,
    state: Arc<State>,
    log: RunLog,
}

fn write_to(s: Stream, text: &str) -> std::io::Result<()> {
    match s {
        Stream::Out => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()
        }
        Stream::Err => std::io::stderr().lock().write_all(text.as_bytes()),
    }
}

impl Terminal {
    /// Starts the writer; `bar` (drawn on stderr) is owned by it from now on.
    /// Problems with the terminal are noted in `log`.
    pub fn start(bar: Option<ProgressBar>, log: RunLog) -> std::io::Result<Self> {
        let state = Arc::new(State {
            open: [AtomicBool::new(true), AtomicBool::new(true)],
            gone: AtomicBool::new(false),
        });
        let (st, lg) = (state.clone(), log.clone());
        let mut bar = bar;
        let mut show = move |msg: Msg| match msg {
            Msg::Text(s, text) if st.open(s) => {
                let written = match &bar {
                    Some(b) if s == Stream::Err => b.suspend(|| write_to(s, &text)),
                    _ => write_to(s, &text),
                };
                if let Err(e) = written {
                    st.open[s as usize].store(false, Ordering::Relaxed);
                    if s == Stream::Err
                        && let Some(b) = bar.take()
                    {
                        b.set_draw_target(ProgressDrawTarget::hidden());
                    }
                    lg.line(&format!(
                        "{}: {e}; output to it is off for the rest of the run (this log keeps everything)",
                        if s == Stream::Out { "stdout" } else { "stderr" }
                    ));
                }
            }
            Msg::Text(..) => {}
            Msg::Bar(op) => {
                if let Some(b) = &bar {
                    match op {
                        BarOp::Tally(pos, text) => {
                            b.set_prefix(text);
                            b.set_position(pos);
                        }
                        BarOp::Message(m) => b.set_message(m),
                        BarOp::Finish => b.finish_and_clear(),
                    }
                }
            }
            Msg::Hangup => {
                if let Some(b) = bar.take() {
                    b.set_draw_target(ProgressDrawTarget::hidden());
                }
            }
        };
        let outlet = Outlet::start(
            "terminal",
            CAPACITY,
            PATIENCE,
            LINGER,
            move |msgs: Vec<Msg>| msgs.into_iter().for_each(&mut show),
        )?;
        Ok(Terminal { outlet, state, log })
    }

    fn send(&self, msg: Msg) {
        if self.state.gone.load(Ordering::Relaxed) {
            return;
        }
        if let Err(why) = self.outlet.send(msg) {
            self.go_away(match why {
                Refused::Stalled => {
                    "the terminal does not take output (nobody reads it); terminal output is off for \
                     the rest of the run (this log keeps everything)"
                }
                Refused::Closed => "the terminal writer stopped; terminal output is off",
            });
        }
    }

    /// Stops all terminal output for good, saying why in the run log once.
    fn go_away(&self, why: &str) {
        if !self.state.gone.swap(true, Ordering::Relaxed) {
            self.log.line(why);
            let _ = self.outlet.send(Msg::Hangup);
        }
    }

    /// Queues `text` (complete lines) for `stream`.
    pub fn text(&self, stream: Stream, text: String) {
        if self.state.open(stream) {
            self.send(Msg::Text(stream, text));
        }
    }

    /// Queues a change to the progress bar.
    pub fn bar(&self, op: BarOp) {
        self.send(Msg::Bar(op));
    }

    /// SIGHUP: the terminal is gone; write nothing more to it.
    pub fn hang_up(&self) {
        self.go_away(
            "SIGHUP: the terminal is gone; the batch goes on without terminal output \
             (this log keeps everything)",
        );
    }

    /// Waits until everything queued is written, or the terminal is stuck.
    pub fn flush(&self) -> bool {
        self.outlet.flush()
    }
}
