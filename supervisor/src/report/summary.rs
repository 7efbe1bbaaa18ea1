//! The end-of-run summary: counts, a table (task, status, verdict, attempts,
//! duration, peak RSS, message), a Computed again section saying why each
//! earlier `done` result was recomputed, a Problems section grouping the tasks
//! that did not succeed by verdict and cause, and a Warnings section with the
//! QC warnings of tasks that did.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use isobatch_shared::units::{format_bytes, format_duration};
use isobatch_shared::{Verdict, qc_warnings};

use super::problems;
use crate::layout;
use crate::runner::batch::{BatchResult, TaskRecord};

/// Tables longer than this list only the tasks that did not succeed.
const FULL_TABLE_MAX: usize = 60;
/// Lines of an example's message shown below its Problems group line.
const EXAMPLE_LINES: usize = 12;
/// Message column width in the table.
const MESSAGE_WIDTH: usize = 60;

/// Final verdict counts, by verdict word.
pub fn counts(result: &BatchResult) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for t in &result.tasks {
        if let Some(v) = t.verdict {
            *counts.entry(v.to_string()).or_insert(0) += 1;
        }
    }
    counts
}

/// The cause line of `msg`, cut to the message column.
fn one_line(msg: &str) -> String {
    let line = problems::cause_line(msg);
    if line.chars().count() > MESSAGE_WIDTH {
        let cut: String = line.chars().take(MESSAGE_WIDTH - 1).collect();
        format!("{cut}…")
    } else {
        line
    }
}

fn verdict_of(t: &TaskRecord) -> Verdict {
    t.verdict.unwrap_or(Verdict::Cancelled)
}

/// The warnings of a task's last attempt: its QC warnings (e.g. a frame whose
/// cell count collapsed), then what was wrong with its `result.json`.
pub fn task_warnings(t: &TaskRecord) -> Vec<String> {
    t.attempts.last().map_or_else(Vec::new, |a| {
        let mut w = qc_warnings(&a.stages);
        w.extend(a.result_problem.clone());
        w
    })
}

/// The Warnings section: every QC warning of a task that ended `done`, so a
/// result that looks complete never hides a collapsed frame.
fn write_warnings(out: &mut dyn Write, result: &BatchResult) -> io::Result<()> {
    let warned: Vec<(&TaskRecord, Vec<String>)> = result
        .tasks
        .iter()
        .filter(|t| verdict_of(t) == Verdict::Done)
        .map(|t| (t, task_warnings(t)))
        .filter(|(_, w)| !w.is_empty())
        .collect();
    if warned.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nWarnings:")?;
    for (t, warnings) in warned {
        writeln!(out, "- {}", t.task.id)?;
        for w in warnings {
            writeln!(out, "    {w}")?;
        }
    }
    Ok(())
}

/// The Problems section: every task that did not succeed, grouped by verdict
/// and cause (one line per group), each group followed by the rest of one
/// example's message (the output that shows the cause) and its log.
fn write_problems(out: &mut dyn Write, result: &BatchResult, output: &Path) -> io::Result<()> {
    let failing: Vec<&TaskRecord> = result
        .tasks
        .iter()
        .filter(|t| !verdict_of(t).is_complete() && verdict_of(t) != Verdict::Missing)
        .collect();
    if failing.is_empty() {
        return Ok(());
    }
    let by_id: BTreeMap<&str, &TaskRecord> =
        failing.iter().map(|t| (t.task.id.as_str(), *t)).collect();
    let groups = problems::group(
        failing
            .iter()
            .map(|t| (t.task.id.as_str(), verdict_of(t), t.message())),
    );
    writeln!(out, "\nProblems:")?;
    for g in groups {
        writeln!(out, "{g}")?;
        let Some(example) = g.tasks.first().and_then(|id| by_id.get(id.as_str())) else {
            continue;
        };
        let Some(last) = example.attempts.last() else {
            continue;
        };
        let detail: Vec<&str> = last.message.lines().skip(1).collect();
        let log = layout::attempt_log(output, &example.task.id, last.attempt);
        if detail.is_empty() && !log.exists() {
            continue;
        }
        writeln!(out, "    {}, attempt {}:", example.task.id, last.attempt)?;
        for line in detail.iter().take(EXAMPLE_LINES) {
            writeln!(out, "      {line}")?;
        }
        if log.exists() {
            writeln!(out, "      log: {}", log.display())?;
        }
    }
    Ok(())
}

/// Writes the human summary.
pub fn write(out: &mut dyn Write, result: &BatchResult, output: &Path) -> io::Result<()> {
    let counts = counts(result);
    let parts: Vec<String> = Verdict::ALL
        .iter()
        .filter_map(|v| counts.get(v.as_str()).map(|n| format!("{n} {v}")))
        .collect();
    writeln!(out)?;
    writeln!(
        out,
        "isobatch: {} task(s) in {}: {}{}",
        result.tasks.len(),
        format_duration(result.elapsed),
        parts.join(", "),
        if result.interrupted {
            " (interrupted)"
        } else if result.stopped_early.is_some() {
            " (stopped early)"
        } else {
            ""
        }
    )?;
    if let Some(why) = &result.stopped_early {
        let cancelled = counts
            .get(Verdict::Cancelled.as_str())
            .copied()
            .unwrap_or(0);
        writeln!(
            out,
            "Stopped early: {why}, so no new task was started; {cancelled} task(s) not started \
             are cancelled. Run the same command again to run them (--skip-failed leaves out \
             the failed ones, --only-failed runs just those)."
        )?;
    }
    let rows: Vec<&TaskRecord> = if result.tasks.len() <= FULL_TABLE_MAX {
        result.tasks.iter().collect()
    } else {
        result
            .tasks
            .iter()
            .filter(|t| !verdict_of(t).is_complete())
            .collect()
    };
    if !rows.is_empty() {
        let w = rows
            .iter()
            .map(|t| t.task.id.len())
            .max()
            .unwrap_or(4)
            .max(4);
        writeln!(out)?;
        writeln!(
            out,
            "{:<w$}  {:<9}  {:<20}  {:>8}  {:>9}  {:>10}  message",
            "task", "status", "verdict", "attempts", "duration", "peak RSS"
        )?;
        for t in &rows {
            let v = verdict_of(t);
            writeln!(
                out,
                "{:<w$}  {:<9}  {:<20}  {:>8}  {:>9}  {:>10}  {}",
                t.task.id,
                v.status(),
                v.as_str(),
                t.attempts.len(),
                format_duration(t.duration()),
                format_bytes(t.peak_rss()),
                one_line(t.message())
            )?;
        }
        if rows.len() < result.tasks.len() {
            writeln!(
                out,
                "({} done or skipped task(s) not listed; see {})",
                result.tasks.len() - rows.len(),
                layout::summary_csv(output).display()
            )?;
        }
    }
    let reruns: Vec<&TaskRecord> = result
        .tasks
        .iter()
        .filter(|t| t.rerun_reason.is_some())
        .collect();
    if !reruns.is_empty() {
        writeln!(out, "\nComputed again (an earlier run had them done):")?;
        for t in reruns {
            let why = t.rerun_reason.as_deref().unwrap_or_default();
            writeln!(out, "- {}: {why}", t.task.id)?;
        }
    }
    write_problems(out, result, output)?;
    write_warnings(out, result)?;
    if !result.notes.is_empty() {
        writeln!(out, "\nNotes:")?;
        for n in &result.notes {
            writeln!(out, "- {n}")?;
        }
    }
    Ok(())
}
