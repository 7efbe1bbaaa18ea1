//! The end-of-run summary: counts, a table (task, status, verdict, attempts,
//! duration, peak RSS, message), a Computed again section saying why each
//! earlier `done` result was recomputed, and a Problems section with the full
//! error of every task that did not succeed.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use isobatch_shared::Verdict;
use isobatch_shared::units::{format_bytes, format_duration};

use crate::layout;
use crate::runner::batch::{BatchResult, TaskRecord};

/// Tables longer than this list only the tasks that did not succeed.
const FULL_TABLE_MAX: usize = 60;
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

fn one_line(msg: &str) -> String {
    let line = msg.lines().next().unwrap_or("");
    if line.chars().count() > MESSAGE_WIDTH {
        let cut: String = line.chars().take(MESSAGE_WIDTH - 1).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

fn verdict_of(t: &TaskRecord) -> Verdict {
    t.verdict.unwrap_or(Verdict::Cancelled)
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
        } else {
            ""
        }
    )?;
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
    let problems: Vec<&TaskRecord> = result
        .tasks
        .iter()
        .filter(|t| !verdict_of(t).is_complete() && verdict_of(t) != Verdict::Missing)
        .collect();
    if !problems.is_empty() {
        writeln!(out, "\nProblems:")?;
        for t in problems {
            let v = verdict_of(t);
            writeln!(out, "- {} [{}]", t.task.id, v)?;
            for a in &t.attempts {
                writeln!(out, "    attempt {} ({}):", a.attempt, a.verdict)?;
                for line in a.message.lines() {
                    writeln!(out, "      {line}")?;
                }
                let log = layout::attempt_log(output, &t.task.id, a.attempt);
                if log.exists() {
                    writeln!(out, "      log: {}", log.display())?;
                }
            }
            if t.attempts.is_empty() {
                writeln!(out, "    {}", t.message())?;
            }
        }
    }
    if !result.notes.is_empty() {
        writeln!(out, "\nNotes:")?;
        for n in &result.notes {
            writeln!(out, "- {n}")?;
        }
    }
    Ok(())
}
