//! The batch timeline: the latest run's attempts per worker over time, one
//! bar per attempt, coloured by verdict (a running attempt reaches "now").
//! Workers share a lane when one starts after the other's last attempt ended
//! (a fresh worker per task, a recycled pool worker), so there are as many
//! lanes as workers ever ran at once, not one per process.

use std::collections::{BTreeMap, BTreeSet};

use plotters::prelude::*;

use super::batch::{Attempt, Batch};
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
    let end_of = |a: &Attempt| {
        a.end
            .unwrap_or(run.end.map_or(batch.now, |(t, _)| t))
            .max(a.start)
    };
    let (lanes, names) = lanes(&batch.attempts, end_of);
    let span = batch
        .attempts
        .iter()
        .map(|a| end_of(a) - run.start)
        .fold(0.0f64, f64::max)
        .max(1e-3);
    let used: BTreeSet<_> = batch.attempts.iter().map(|a| a.verdict).collect();
    let height = (names.len() as u32 * LANE_PX).clamp(120, 900) + 60;
    let n = names.len() as f64;
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
            .y_labels(names.len().min(40))
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
        "<p>{} attempt(s) on {} worker process(es) in the latest run, in {} lane(s) \
         (a lane holds workers that ran one after another).</p>{}{}",
        batch.attempts.len(),
        lanes.len(),
        names.len(),
        chart::legend(&used),
        chart::or_note(svg)
    );
    super::section("timeline", "Timeline", &body)
}

/// The lane of each worker (`None`: the supervisor itself, in serial mode) and
/// each lane's name: a worker takes the first lane whose workers all ended
/// before its first attempt started.
fn lanes(
    attempts: &[Attempt],
    end_of: impl Fn(&Attempt) -> f64,
) -> (BTreeMap<Option<u32>, usize>, Vec<String>) {
    let mut span: BTreeMap<Option<u32>, (f64, f64)> = BTreeMap::new();
    for a in attempts {
        let s = span.entry(a.worker).or_insert((a.start, end_of(a)));
        s.0 = s.0.min(a.start);
        s.1 = s.1.max(end_of(a));
    }
    let mut order: Vec<_> = span.into_iter().collect();
    order.sort_by(|a, b| a.1.0.total_cmp(&b.1.0));
    let mut lanes = BTreeMap::new();
    let mut free_at: Vec<f64> = Vec::new();
    let mut members: Vec<Vec<Option<u32>>> = Vec::new();
    for (worker, (start, end)) in order {
        let lane = match free_at.iter().position(|&f| f <= start) {
            Some(i) => i,
            None => {
                free_at.push(0.0);
                members.push(Vec::new());
                free_at.len() - 1
            }
        };
        free_at[lane] = end;
        members[lane].push(worker);
        lanes.insert(worker, lane);
    }
    let names = members
        .iter()
        .enumerate()
        .map(|(i, m)| match m.as_slice() {
            [None] => "supervisor".to_string(),
            [Some(pid)] => format!("worker {pid}"),
            _ => format!("slot {} ({} workers)", i + 1, m.len()),
        })
        .collect();
    (lanes, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(worker: u32, start: f64, end: f64) -> Attempt {
        Attempt {
            task: format!("t{start}"),
            attempt: 1,
            worker: Some(worker),
            start,
            end: Some(end),
            verdict: None,
        }
    }

    #[test]
    fn a_fresh_worker_per_task_reuses_the_lanes() {
        // Two at a time, a new worker for each of six tasks.
        let attempts: Vec<Attempt> = (0..6)
            .map(|i| at(100 + i, f64::from(i / 2), f64::from(i / 2) + 1.0))
            .collect();
        let (lanes, names) = lanes(&attempts, |a| a.end.unwrap_or(a.start));
        assert_eq!(names, ["slot 1 (3 workers)", "slot 2 (3 workers)"]);
        assert_eq!(lanes[&Some(100)], 0);
        assert_eq!(lanes[&Some(103)], 1);
        // A pool worker running tasks back to back keeps its lane and its name.
        let pool = [at(7, 0.0, 1.0), at(7, 1.0, 2.0), at(8, 0.0, 2.0)];
        assert_eq!(lanes_of(&pool), ["worker 7", "worker 8"]);
    }

    fn lanes_of(a: &[Attempt]) -> Vec<String> {
        lanes(a, |a| a.end.unwrap_or(a.start)).1
    }
}
