//! Time and memory: each task's duration against its peak memory (latest
//! attempt, coloured by verdict) and, from `--memory-debug`'s memory.csv, each
//! worker's RSS growth per task with the summary's "likely leak" rule.

use std::collections::BTreeSet;

use isobatch_shared::units::format_bytes;
use plotters::prelude::*;

use super::batch::Batch;
use super::chart;

const MIB: f64 = (1u64 << 20) as f64;

/// The Time and memory section.
pub fn render(batch: &Batch) -> String {
    let points: Vec<_> = batch
        .tasks
        .values()
        .filter(|t| t.attempts > 0 && t.verdict.is_some() && !t.running)
        .map(|t| (t.duration_s, t.peak_rss_bytes as f64 / MIB, t.verdict))
        .collect();
    let mut body = String::new();
    if points.is_empty() {
        body.push_str("<p>No task has finished an attempt yet.</p>");
    } else {
        let used: BTreeSet<_> = points.iter().map(|p| p.2).collect();
        let xmax = points.iter().map(|p| p.0).fold(0.0, f64::max).max(1e-3) * 1.05;
        let ymax = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-3) * 1.05;
        let svg = chart::svg(700, 380, |root| {
            let mut c = ChartBuilder::on(root)
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(60)
                .build_cartesian_2d(0f64..xmax, 0f64..ymax)
                .map_err(chart::err)?;
            c.configure_mesh()
                .max_light_lines(0)
                .x_desc("duration of the latest attempt, s")
                .y_desc("peak memory, MiB")
                .draw()
                .map_err(chart::err)?;
            c.draw_series(
                points
                    .iter()
                    .map(|&(x, y, v)| Circle::new((x, y), 3, chart::colour(v).filled())),
            )
            .map_err(chart::err)?;
            Ok(())
        });
        body.push_str(&format!(
            "<p>Each point is a task's latest attempt ({} task(s)).</p>{}{}",
            points.len(),
            chart::legend(&used),
            chart::or_note(svg)
        ));
    }
    body.push_str(&leaks(batch));
    super::section("resources", "Time and memory", &body)
}

/// The per-worker RSS table from memory.csv.
fn leaks(batch: &Batch) -> String {
    if batch.memory.is_empty() {
        return "<p>No worker memory figures: run with <code>--memory-debug</code> to record \
                each worker's RSS after every task (.isobatch/memory.csv).</p>"
            .into();
    }
    let mut out = String::from(
        "<h3>Worker memory (RSS after each task, from .isobatch/memory.csv)</h3><table>\
         <tr><th>worker</th><th>tasks</th><th>first</th><th>last</th><th>growth per task</th><th></th></tr>",
    );
    for (pid, t) in &batch.memory {
        let growth = t.growth_per_task();
        out.push_str(&format!(
            "<tr><td>{pid}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td></tr>",
            t.tasks,
            format_bytes(t.rss_after.first().copied().unwrap_or(0)),
            format_bytes(t.rss_after.last().copied().unwrap_or(0)),
            if growth < 0 { "-" } else { "+" },
            format_bytes(growth.unsigned_abs()),
            if t.likely_leak() {
                "<b>likely leak</b>"
            } else {
                ""
            }
        ));
    }
    out.push_str("</table>");
    out
}
