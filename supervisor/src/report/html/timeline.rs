//! The batch timeline: the latest run's attempts per worker over time, one
//! bar per attempt, coloured by verdict (a running attempt reaches "now").

use std::collections::{BTreeMap, BTreeSet};

use plotters::prelude::*;

use super::batch::Batch;
use super::chart;

/// Height of one worker's lane, pixels (the chart is capped at 900).
const LANE_PX: u32 = 18;

/// The Timeline section.
pub fn render(batch: &Batch) -> String {
    let Some(run) = batch.last_run() else {
        return super::section("timeline", "Timeline", "<p>No run in the journal.</p>");
    };
    if batch.attempts.is_empty() {
        return super::section(
            "timeline",
            "Timeline",
            "<p>The latest run started no attempt (every task was up to date, or it was stopped first).</p>",
        );
    }
    let mut lanes: BTreeMap<Option<u32>, usize> = BTreeMap::new();
    for a in &batch.attempts {
        let n = lanes.len();
        lanes.entry(a.worker).or_insert(n);
    }
    let end_of = |a: &super::batch::Attempt| {
        a.end
            .unwrap_or(run.end.map_or(batch.now, |(t, _)| t))
            .max(a.start)
    };
    let span = batch
        .attempts
        .iter()
        .map(|a| end_of(a) - run.start)
        .fold(0.0f64, f64::max)
        .max(1e-3);
    let used: BTreeSet<_> = batch.attempts.iter().map(|a| a.verdict).collect();
    let names: Vec<String> = {
        let mut v = vec![String::new(); lanes.len()];
        for (w, i) in &lanes {
            v[*i] = w.map_or("supervisor".into(), |p| format!("worker {p}"));
        }
        v
    };
    let height = (lanes.len() as u32 * LANE_PX).clamp(120, 900) + 60;
    let n = lanes.len() as f64;
    let svg = chart::svg(1000, height, |root| {
        let mut c = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(110)
            .build_cartesian_2d(0f64..span * 1.02, -0.5f64..n - 0.5)
            .map_err(chart::err)?;
        c.configure_mesh()
            .max_light_lines(0)
            .disable_y_mesh()
            .x_desc("seconds since the run started")
            .y_labels(lanes.len().min(40))
            .y_label_formatter(&|y| {
                let i = y.round();
                match names.get(i.max(0.0) as usize) {
                    Some(name) if (y - i).abs() < 0.01 => name.clone(),
                    _ => String::new(),
                }
            })
            .draw()
            .map_err(chart::err)?;
        c.draw_series(batch.attempts.iter().map(|a| {
            let lane = lanes.get(&a.worker).copied().unwrap_or(0) as f64;
            Rectangle::new(
                [
                    (a.start - run.start, lane - 0.4),
                    (end_of(a) - run.start, lane + 0.4),
                ],
                chart::colour(a.verdict).filled(),
            )
        }))
        .map_err(chart::err)?;
        Ok(())
    });
    let body = format!(
        "<p>{} attempt(s) on {} worker(s) in the latest run.</p>{}{}",
        batch.attempts.len(),
        lanes.len(),
        chart::legend(&used),
        chart::or_note(svg)
    );
    super::section("timeline", "Timeline", &body)
}
