//! Run parameters and provenance: whether a run is going, how the latest run
//! ended, who ran it where with which command and version, the verdict counts,
//! and the parameters `results.json` recorded.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use isobatch_shared::units::format_duration;

use super::batch::{Batch, Run};
use super::esc;
use crate::commands::run_state::RunState;

/// A time of the journal as `2026-12-07T17:04:34Z`.
pub fn utc(t: f64) -> String {
    let at = UNIX_EPOCH + Duration::from_secs_f64(t.max(0.0));
    humantime::format_rfc3339_seconds(at).to_string()
}

/// In words: is the latest run going, finished, interrupted, or did it die?
pub fn state(batch: &Batch) -> String {
    let host = batch.last_run().map_or("", |r| r.host.as_str());
    match batch.state {
        RunState::NoRun => "no run has started".into(),
        RunState::Running => format!(
            "the run is live (pid {} holds the output folder's lock): this report shows what \
             was known at {}; make it again for the rest",
            batch.live.unwrap_or(0),
            utc(batch.now)
        ),
        RunState::Interrupted => "the latest run was interrupted".into(),
        RunState::Finished => "the latest run finished".into(),
        RunState::Died => "the latest run died: it holds no lock and never journaled its end \
                           (the supervisor was killed); its unfinished tasks run again next time"
            .into(),
        RunState::Elsewhere => format!(
            "the latest run has not journaled its end and ran on host {host}: it may still be \
             running there (this host cannot see its lock)"
        ),
    }
}

/// The Run section.
pub fn render(batch: &Batch) -> String {
    let mut body = String::new();
    let class = match batch.state {
        RunState::Running => " class=\"live\"",
        RunState::Finished | RunState::NoRun => "",
        _ => " class=\"warn\"",
    };
    body.push_str(&format!("<p{class}>{}</p>", esc(&state(batch))));
    for note in batch.damaged.iter().chain(&batch.notes) {
        body.push_str(&format!("<p class=\"warn\">{}</p>", esc(note)));
    }
    if let Some(run) = batch.last_run() {
        body.push_str(&run_table(batch, run));
    }
    body.push_str(&counts(batch));
    if let Some(params) = &batch.parameters {
        body.push_str("<h3>Parameters (results.json of the last finished run)</h3><table>");
        for (k, v) in params {
            let shown = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            body.push_str(&format!(
                "<tr><th>{}</th><td class=\"msg\"><code>{}</code></td></tr>",
                esc(k),
                esc(&shown)
            ));
        }
        body.push_str("</table>");
    }
    super::section("run", "Run", &body)
}

fn run_table(batch: &Batch, run: &Run) -> String {
    let ended = match run.end {
        Some((t, interrupted)) => format!(
            "{} ({} after the start{})",
            utc(t),
            format_duration(Duration::from_secs_f64((t - run.start).max(0.0))),
            if interrupted { ", interrupted" } else { "" }
        ),
        None if batch.state == RunState::Running => "still running".into(),
        None => "never (no run_end in the journal)".into(),
    };
    let command = if run.command_line.is_empty() {
        "not recorded (journal written by an older isobatch)".into()
    } else {
        shell_words::join(&run.command_line)
    };
    let rows = [
        (
            "isobatch version",
            run.version.clone().unwrap_or_else(|| "not recorded".into()),
        ),
        ("host", run.host.clone()),
        ("supervisor pid", run.pid.to_string()),
        ("command line", command),
        ("started", utc(run.start)),
        ("ended", ended),
        ("pipeline", run.pipeline.clone()),
        ("mode", format!("{}, {} worker(s)", run.mode, run.workers)),
        ("tasks in this run", run.tasks.to_string()),
        ("runs in the journal", batch.runs.len().to_string()),
        ("output folder", batch.output.display().to_string()),
    ];
    let mut out = String::from("<table>");
    for (k, v) in rows {
        out.push_str(&format!(
            "<tr><th>{k}</th><td class=\"msg\">{}</td></tr>",
            esc(&v)
        ));
    }
    out.push_str("</table>");
    out
}

/// Tasks by latest verdict (running ones apart).
fn counts(batch: &Batch) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for t in batch.tasks.values() {
        let key = match t.verdict {
            Some(v) if !t.running => v.as_str(),
            _ => batch.running_label(),
        };
        *counts.entry(key).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    format!(
        "<p><b>{} task(s)</b>: {}</p>",
        batch.tasks.len(),
        esc(&parts.join(", "))
    )
}
