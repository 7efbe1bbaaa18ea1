//! Turn how a worker ended into a verdict and a message that says why.

use std::path::Path;
use std::process::ExitStatus;

use isobatch_shared::units::format_bytes;
use isobatch_shared::{Outcome, StageReport, Verdict, cause, qc_warnings};
use isobatch_worker::task_log;
use std::os::unix::process::ExitStatusExt;

use super::terminate::{StopReason, Termination};

/// The verdict for an attempt whose worker sent `Finished`.
pub fn classify_outcome(outcome: &Outcome) -> (Verdict, String) {
    match outcome {
        Outcome::Done => (Verdict::Done, String::new()),
        Outcome::Error(m) => (Verdict::FailedError, m.clone()),
        Outcome::InvalidInput(m) => (Verdict::FailedInvalidInput, m.clone()),
        Outcome::Crashed(m) => (Verdict::FailedCrashed, m.clone()),
    }
}

/// `--strict-qc`: a `done` attempt whose stages raised QC warnings becomes
/// `failed:error`, its message the warnings. Anything else is left as it is.
pub fn strict_qc(
    (verdict, message): (Verdict, String),
    stages: &[StageReport],
    strict: bool,
) -> (Verdict, String) {
    let warnings = qc_warnings(stages);
    if !strict || verdict != Verdict::Done || warnings.is_empty() {
        return (verdict, message);
    }
    let more = match warnings.len() {
        1 => String::new(),
        n => format!(" (+{} more)", n - 1),
    };
    (
        Verdict::FailedError,
        format!(
            "QC warning with --strict-qc: {}{more}\n{}",
            warnings[0],
            warnings.join("\n")
        ),
    )
}

fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {sig}"))
}

/// How much of the end of an attempt log is read for a failure message.
const LOG_WINDOW: u64 = 8 * 1024;

/// The last `n` non-empty lines of the attempt log, joined.
fn log_tail(log: &Path, n: usize) -> String {
    task_log::tail(log, 0, LOG_WINDOW, n).join("\n")
}

/// `msg` (the cause line) with the end of the attempt log below it.
fn with_log(mut msg: String, log: &Path) -> String {
    let tail = log_tail(log, 4);
    if !tail.is_empty() {
        msg.push_str("\nlast log lines:\n");
        msg.push_str(&tail);
    }
    msg
}

/// The panic's message as the cause line, then the panic's own lines from the
/// attempt log (the `panicked at` line and the message after it), not the
/// backtrace below.
fn panic_message(log: &Path) -> String {
    let tail = log_tail(log, 200);
    let lines: Vec<&str> = tail.lines().collect();
    match lines.iter().rposition(|l| l.contains("panicked at")) {
        Some(i) => {
            let own = &lines[i..lines.len().min(i + 2)];
            let why = cause::from_output(own).unwrap_or_else(|| "worker panicked".into());
            format!("{why}\nthe worker panicked:\n{}", own.join("\n"))
        }
        None => with_log("worker panicked".into(), log),
    }
}

/// The verdict for an attempt whose worker ended without `Finished`.
///
/// `stop` is set when isobatch itself stopped the worker; otherwise the exit
/// status decides. `peak` is the last sampled tree RSS, `available` the
/// machine's available memory now and `oom_kills` the OOM kills the kernel
/// counted during the attempt: a SIGKILL from outside is "likely out of
/// memory" only with that evidence ([`killed_by_sigkill`]).
pub fn classify_exit(
    status: &Result<ExitStatus, String>,
    stop: Option<&Termination>,
    peak: u64,
    (available, oom_kills): (Option<u64>, Option<u64>),
    log: &Path,
) -> (Verdict, String) {
    if let Some(stop) = stop {
        let verdict = match stop.reason {
            StopReason::Timeout(_) => Verdict::FailedTimeout,
            StopReason::MemoryLimit { .. } => Verdict::FailedMemoryLimit,
            StopReason::Cancelled => Verdict::Cancelled,
            StopReason::Unresponsive(_) | StopReason::Retire => Verdict::FailedCrashed,
        };
        let mut msg = stop.describe();
        if verdict == Verdict::FailedMemoryLimit {
            msg.push_str(&format!("; peak {}", format_bytes(peak)));
        }
        return (verdict, msg);
    }
    let status = match status {
        Ok(s) => s,
        Err(e) => return (Verdict::FailedCrashed, format!("worker vanished: {e}")),
    };
    if let Some(code) = status.code() {
        if code == 101 {
            return (Verdict::FailedCrashed, panic_message(log));
        }
        let msg = format!("worker exited with status {code} without a result");
        return (Verdict::FailedCrashed, with_log(msg, log));
    }
    let sig = status.signal().unwrap_or(0);
    let name = signal_name(sig);
    match sig {
        9 => (
            Verdict::FailedKilled,
            killed_by_sigkill(peak, available, oom_kills),
        ),
        4 | 6 | 7 | 8 | 11 | 31 => (
            Verdict::FailedCrashed,
            with_log(format!("worker crashed ({name})"), log),
        ),
        _ => (
            Verdict::FailedKilled,
            format!("worker killed by {name} from outside isobatch"),
        ),
    }
}

/// A peak at least this share of the memory available is evidence of running out of it.
const NEAR_AVAILABLE: f64 = 0.75;

/// The message for a SIGKILL isobatch did not send: "likely out of memory"
/// only when the kernel counted an OOM kill during the attempt or the peak was
/// near the memory available; otherwise a kill from outside, said plainly.
fn killed_by_sigkill(peak: u64, available: Option<u64>, oom_kills: Option<u64>) -> String {
    let avail = available
        .map(|a| format!(", {} available now", format_bytes(a)))
        .unwrap_or_default();
    let measured = format!("peak process-tree RSS {}{avail}", format_bytes(peak));
    let near = available.is_some_and(|a| peak as f64 >= NEAR_AVAILABLE * a as f64);
    match oom_kills {
        Some(n) if n > 0 => format!(
            "worker killed by SIGKILL that isobatch did not send — likely out of memory \
             (the kernel counted {n} OOM kill(s) during the attempt; {measured})"
        ),
        _ if near => format!(
            "worker killed by SIGKILL that isobatch did not send — likely out of memory \
             ({measured}: the peak was near the memory available)"
        ),
        Some(_) => format!(
            "worker killed by SIGKILL from outside isobatch (the kernel counted no OOM kill \
             during the attempt; {measured})"
        ),
        None => format!(
            "worker killed by SIGKILL from outside isobatch (no OOM-kill counter readable, \
             {measured}: no sign of memory exhaustion)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn raw(code: i32) -> Result<ExitStatus, String> {
        Ok(ExitStatus::from_raw(code))
    }

    #[test]
    fn exit_statuses() {
        let log = Path::new("/nonexistent");
        let none = (None, None);
        assert_eq!(
            classify_exit(&raw(101 << 8), None, 0, none, log).0,
            Verdict::FailedCrashed
        );
        assert_eq!(
            classify_exit(&raw(6), None, 0, none, log).0,
            Verdict::FailedCrashed
        );
        // The kernel counted an OOM kill: likely out of memory.
        let (v, m) = classify_exit(&raw(9), None, 300 << 20, (Some(1 << 30), Some(1)), log);
        assert_eq!(v, Verdict::FailedKilled);
        assert!(
            m.contains("likely out of memory") && m.contains("300.0 MiB"),
            "{m}"
        );
        // No OOM kill, a small peak and plenty free: a kill from outside.
        let (v, m) = classify_exit(&raw(9), None, 3 << 20, (Some(22 << 30), Some(0)), log);
        assert_eq!(v, Verdict::FailedKilled);
        assert!(
            !m.contains("out of memory") && m.contains("from outside") && m.contains("no OOM"),
            "{m}"
        );
        // No counter, but the peak was most of what was available.
        let (_, m) = classify_exit(&raw(9), None, 900 << 20, (Some(1 << 30), None), log);
        assert!(
            m.contains("likely out of memory") && m.contains("near"),
            "{m}"
        );
        let (_, m) = classify_exit(&raw(9), None, 3 << 20, (Some(1 << 30), None), log);
        assert!(!m.contains("out of memory"), "{m}");
        assert_eq!(
            classify_exit(&raw(15), None, 0, none, log).0,
            Verdict::FailedKilled
        );
        let t = Termination {
            reason: StopReason::Timeout(Duration::from_secs(2)),
            term_at: Instant::now(),
            killed: true,
            escapees: 1,
        };
        let (v, m) = classify_exit(&raw(9), Some(&t), 0, none, log);
        assert_eq!(v, Verdict::FailedTimeout);
        assert!(m.contains("SIGKILL") && m.contains("left the group"), "{m}");
    }
}
