//! The state of a batch's last run for `isobatch status`: running (its
//! supervisor holds the run lock), finished, interrupted or died, from the
//! journal's last `run_start`/`run_end` and the lock's holder.

use std::collections::BTreeSet;
use std::path::Path;

use crate::lock;

/// How the last run of a batch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Its supervisor holds the run lock and is alive.
    Running,
    /// It ended on its own (`run_end`, not interrupted).
    Finished,
    /// Ctrl-C or SIGTERM ended it (`run_end` says interrupted).
    Interrupted,
    /// No `run_end` and nobody holds the lock: it was killed or its machine went down.
    Died,
    /// No `run_end`, and it ran on another host, where this one cannot look.
    Elsewhere,
    /// The journal has no run yet.
    NoRun,
}

impl RunState {
    /// The word `status` prints and `status --json` carries.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Finished => "finished",
            RunState::Interrupted => "interrupted",
            RunState::Died => "died",
            RunState::Elsewhere => "unknown",
            RunState::NoRun => "no run",
        }
    }
}

/// What the last run (since its `run_start`) did, from the journal.
#[derive(Default)]
pub(super) struct LastRun {
    pub(super) start: f64,
    pub(super) pid: u32,
    pub(super) host: String,
    pub(super) tasks: usize,
    pub(super) ended: Option<bool>,
    /// Tasks this run started (any attempt).
    pub(super) started: BTreeSet<String>,
    /// Tasks this run finished with `done` or a failure, for its pace.
    pub(super) finished: BTreeSet<String>,
    /// Tasks stopped while running (an attempt ended `cancelled`).
    pub(super) stopped: usize,
    /// Tasks journaled `cancelled` without an attempt in this run.
    pub(super) never_started: usize,
}

/// The state of the last run: from its `run_end`, else from the run lock.
pub(super) fn run_state(run: Option<&LastRun>, output: &Path) -> (RunState, Option<u32>) {
    let Some(run) = run else {
        return (RunState::NoRun, None);
    };
    state_of(run.ended, &run.host, output)
}

/// The state of `output`'s last run, which started on `host` and journaled
/// `ended` (its `run_end`'s `interrupted`, if it has one), and the pid holding
/// the run lock when it is running (also what `isobatch report` says).
pub fn state_of(ended: Option<bool>, host: &str, output: &Path) -> (RunState, Option<u32>) {
    match ended {
        Some(true) => (RunState::Interrupted, None),
        Some(false) => (RunState::Finished, None),
        None => match lock::holder(output) {
            Some(pid) => (RunState::Running, Some(pid)),
            None => {
                let here = nix::unistd::gethostname()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let host = lock::recorded_host(output).unwrap_or_else(|| host.to_string());
                if host.is_empty() || host == here {
                    (RunState::Died, None)
                } else {
                    (RunState::Elsewhere, None)
                }
            }
        },
    }
}

/// The first line: the state, and what it means for the tasks of the last run.
pub(super) fn state_line(v: &serde_json::Value) -> String {
    let out = v["output"].as_str().unwrap_or("");
    let run = &v["run"];
    let n = |k: &str| run[k].as_u64().unwrap_or(0);
    match v["state"].as_str().unwrap_or("") {
        "running" => format!("{out}: running (pid {})", v["pid"]),
        "interrupted" => format!(
            "{out}: interrupted — {} task(s) stopped while running and {} never started, \
             all journaled cancelled; run the same command again to do them",
            n("cancelled_running"),
            n("never_started")
        ),
        "died" => format!(
            "{out}: died — the run (pid {}) ended without a run_end record and holds no lock \
             (killed, or its machine went down); {} task(s) were running, {} never started; \
             run the same command again to do them",
            run["pid"],
            run["was_running"].as_array().map_or(0, Vec::len),
            n("not_started") + n("never_started")
        ),
        "unknown" => format!(
            "{out}: unknown — the last run (pid {} on {}) has not ended and ran on another \
             host, where this one cannot check whether it is alive",
            run["pid"],
            run["host"].as_str().unwrap_or("?")
        ),
        state => format!("{out}: {state}"),
    }
}
