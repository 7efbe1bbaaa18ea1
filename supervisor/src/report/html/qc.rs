//! The fov QC panels, one per FOV: the segmentation's outlines over the
//! phase-contrast image at the first, middle and last frame, the cell count
//! per frame (the segment stage's QC, from the journal) and a few traces from
//! the FOV's traces.csv. Other pipelines have no such panel.

use std::path::Path;

use isobatch_shared::{StageQc, qc_warnings};
use plotters::prelude::*;

use super::batch::{Batch, Task};
use super::{chart, esc, frames, traces};

/// FOVs that get a full panel (about 200 KB each, most of it the images); every
/// FOV has a row in the table above them, so a report of a thousand FOVs stays
/// a few megabytes.
const MAX_PANELS: usize = 12;
/// Shown width of a frame, CSS pixels.
const FRAME_PX: usize = 256;

/// The QC section (empty for batches without segmented FOVs).
pub fn render(batch: &Batch) -> String {
    let mut fovs: Vec<(&String, &Task, &StageQc)> = batch
        .tasks
        .iter()
        .filter_map(|(id, t)| {
            let qc = t.stages.iter().find(|s| s.name == "segment")?.qc.as_ref()?;
            Some((id, t, qc))
        })
        .collect();
    if fovs.is_empty() {
        return String::new();
    }
    // FOVs with warnings first: they are the ones to look at.
    fovs.sort_by_key(|(id, t, _)| (qc_warnings(&t.stages).is_empty(), (*id).clone()));
    let mut body = format!(
        "<p>{} FOV(s) segmented{}. Outlines of the segmentation mask over the phase-contrast \
         checkpoint; cell count per frame; the mean intensity of the {} longest-tracked cells.</p>",
        fovs.len(),
        if fovs.len() > MAX_PANELS {
            format!("; panels for {MAX_PANELS} of them (those with QC warnings first)")
        } else {
            String::new()
        },
        traces::TRACES
    );
    body.push_str(&table(&fovs));
    for (id, t, qc) in fovs.iter().take(MAX_PANELS) {
        body.push_str(&panel(&batch.output, id, t, qc));
    }
    super::section("qc", "FOV quality control", &body)
}

/// One row per FOV: frames, cells at the first, middle and last frame, the
/// fewest in any frame, mean coverage and QC warnings.
fn table(fovs: &[(&String, &Task, &StageQc)]) -> String {
    let mut out = String::from(
        "<table><tr><th>FOV</th><th>frames</th><th>cells: first</th><th>middle</th><th>last</th>\
         <th>fewest</th><th>mean coverage</th><th>QC warnings</th></tr>",
    );
    for (id, t, qc) in fovs {
        let cells = |i: usize| qc.frames.get(i).map_or(0, |f| f.cells);
        let n = qc.frames.len();
        let coverage =
            qc.frames.iter().map(|f| f64::from(f.covered)).sum::<f64>() / n.max(1) as f64;
        out.push_str(&format!(
            "<tr><td>{}</td><td>{n}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{:.1} %</td><td class=\"msg\">{}</td></tr>",
            esc(id),
            cells(0),
            cells(n / 2),
            cells(n.saturating_sub(1)),
            qc.frames.iter().map(|f| f.cells).min().unwrap_or(0),
            coverage * 100.0,
            esc(&qc_warnings(&t.stages).join("; "))
        ));
    }
    out.push_str("</table>");
    out
}

fn panel(output: &Path, id: &str, task: &Task, qc: &StageQc) -> String {
    let dir = output.join(id);
    let mut out = format!("<div class=\"fov\"><h3>{}</h3>", esc(id));
    for w in qc_warnings(&task.stages) {
        out.push_str(&format!("<p class=\"warn\">{}</p>", esc(&w)));
    }
    if !qc.decisions.is_empty() {
        let d: Vec<String> = qc
            .decisions
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        out.push_str(&format!("<p>{}</p>", esc(&d.join(", "))));
    }
    match phase_stem(&dir).and_then(|stem| frames::first_middle_last(&dir, &stem, "segment_mask")) {
        Ok(shown) => {
            out.push_str("<div class=\"frames\">");
            for s in shown {
                out.push_str(&frame(&s));
            }
            out.push_str("</div>");
        }
        Err(e) => out.push_str(&format!("<p class=\"warn\">no images: {}</p>", esc(&e))),
    }
    out.push_str("<div class=\"frames\">");
    out.push_str(&chart::or_note(cell_counts(qc)));
    out.push_str(&chart::or_note(traces::chart(&dir)));
    out.push_str("</div></div>");
    out
}

fn frame(s: &frames::Shown) -> String {
    let (w, h) = s.size;
    let (pw, ph) = (FRAME_PX, (FRAME_PX * h).div_ceil(w.max(1)));
    let mut out = format!(
        "<figure><div class=\"frame\" style=\"width:{pw}px;height:{ph}px\">\
         <img alt=\"frame {}\" width=\"{pw}\" height=\"{ph}\" src=\"{}\">",
        s.frame, s.png
    );
    if !s.outline.is_empty() {
        out.push_str(&format!(
            "<svg class=\"outline\" width=\"{pw}\" height=\"{ph}\" viewBox=\"0 0 {w} {h}\">\
             <path d=\"{}\" fill=\"none\" stroke=\"#ffd400\" stroke-width=\"1\" \
             vector-effect=\"non-scaling-stroke\"/></svg>",
            s.outline
        ));
    }
    out.push_str(&format!("</div><figcaption>frame {}", s.frame));
    if let Some(note) = &s.note {
        out.push_str(&format!(" (no outlines: {})", esc(note)));
    }
    out.push_str("</figcaption></figure>");
    out
}

/// The phase-contrast checkpoint the segment stage read (its record's first input).
fn phase_stem(dir: &Path) -> Result<String, String> {
    let path = isobatch_worker::stage::record::StageRecord::path(dir, "segment");
    let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let record: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let input = record
        .pointer("/inputs/0/path")
        .and_then(|p| p.as_str())
        .ok_or_else(|| format!("{}: names no input", path.display()))?;
    Path::new(input)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{}: input {input} has no file name", path.display()))
}

fn cell_counts(qc: &StageQc) -> Result<String, chart::ChartError> {
    let n = qc.frames.len();
    let ymax = qc.frames.iter().map(|f| f.cells).max().unwrap_or(0).max(1) as f64 * 1.1;
    chart::svg(420, 220, |root| {
        let mut c = chart::small(
            root,
            "cells per frame",
            0f64..(n.max(2) - 1) as f64,
            0f64..ymax,
        )?;
        let points = qc
            .frames
            .iter()
            .enumerate()
            .map(|(t, f)| (t as f64, f64::from(f.cells)));
        c.draw_series(LineSeries::new(points.clone(), &BLUE))
            .map_err(chart::err)?;
        c.draw_series(points.map(|p| Circle::new(p, 2, BLUE.filled())))
            .map_err(chart::err)?;
        Ok(())
    })
}
