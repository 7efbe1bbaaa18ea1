//! A FOV's traces chart: the mean intensity of the cells tracked over the most
//! frames, from its traces.csv, read by column name so that both the file's
//! older form (a `# time:` comment line, `time`) and its newer one (`time_min`)
//! are read.

use std::path::Path;

use plotters::prelude::*;

use super::chart;

/// Cells drawn (those tracked over the most frames).
pub const TRACES: usize = 5;
/// Rows of a FOV's traces.csv read at most.
const MAX_ROWS: usize = 200_000;

/// `(cell, frame, value)`.
type Row = (String, f64, f64);

/// `(cell, frame, mean intensity)` rows of `dir/traces.csv`, found by column
/// name (`intensity_mean…`), whichever of the file's forms it is in.
fn rows(dir: &Path) -> Result<(String, Vec<Row>), String> {
    let path = isobatch_worker::fov::traces::path(dir);
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_path(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(cell), Some(frame), Some((value, value_name))) = (
        col("cell"),
        col("frame"),
        headers
            .iter()
            .enumerate()
            .find(|(_, h)| h.starts_with("intensity_mean")),
    ) else {
        return Err(format!(
            "{}: no cell, frame and intensity_mean columns",
            path.display()
        ));
    };
    let mut rows = Vec::new();
    for record in reader.records().take(MAX_ROWS) {
        let r = record.map_err(|e| format!("{}: {e}", path.display()))?;
        let num = |i: usize| r.get(i).and_then(|v| v.parse::<f64>().ok());
        if let (Some(c), Some(f), Some(v)) = (r.get(cell), num(frame), num(value)) {
            rows.push((c.to_string(), f, v));
        }
    }
    Ok((value_name.to_string(), rows))
}

/// The chart of `dir/traces.csv`: the [`TRACES`] cells tracked over the most frames.
pub fn chart(dir: &Path) -> Result<String, chart::ChartError> {
    let (name, rows) = rows(dir)?;
    let mut by_cell: std::collections::BTreeMap<&str, Vec<(f64, f64)>> = Default::default();
    for (c, f, v) in &rows {
        by_cell.entry(c).or_default().push((*f, *v));
    }
    let mut cells: Vec<_> = by_cell.into_iter().collect();
    cells.sort_by_key(|(_, pts)| std::cmp::Reverse(pts.len()));
    cells.truncate(TRACES);
    if cells.is_empty() {
        return Err("traces.csv has no rows".into());
    }
    let all = || cells.iter().flat_map(|(_, p)| p.iter());
    let xmax = all().map(|p| p.0).fold(1.0, f64::max);
    let (ymin, ymax) = all().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    let pad = ((ymax - ymin) * 0.05).max(1e-6);
    chart::svg(420, 220, |root| {
        let mut c = chart::small(
            root,
            &format!("{name}, {} cell(s)", cells.len()),
            0f64..xmax,
            (ymin - pad)..(ymax + pad),
        )?;
        for (i, (_, pts)) in cells.iter().enumerate() {
            c.draw_series(LineSeries::new(
                pts.iter().copied(),
                Palette99::pick(i).stroke_width(1),
            ))
            .map_err(chart::err)?;
        }
        Ok(())
    })
}
