//! What the charts share: one colour per verdict (and for a running attempt),
//! the HTML legend for them, and drawing a plotters chart into an SVG string.

use std::collections::BTreeSet;

use isobatch_shared::Verdict;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::RGBColor;

/// The colour of an attempt or task with this verdict (`None`: still running).
pub fn colour(verdict: Option<Verdict>) -> RGBColor {
    match verdict {
        None => RGBColor(70, 130, 220),
        Some(Verdict::Done) => RGBColor(46, 157, 79),
        Some(Verdict::Skipped) => RGBColor(160, 200, 170),
        Some(Verdict::Missing) => RGBColor(190, 190, 190),
        Some(Verdict::FailedError) => RGBColor(214, 39, 40),
        Some(Verdict::FailedInvalidInput) => RGBColor(140, 86, 75),
        Some(Verdict::FailedTimeout) => RGBColor(255, 127, 14),
        Some(Verdict::FailedMemoryLimit) => RGBColor(148, 103, 189),
        Some(Verdict::FailedKilled) => RGBColor(120, 20, 20),
        Some(Verdict::FailedCrashed) => RGBColor(227, 119, 194),
        Some(Verdict::Cancelled) => RGBColor(127, 127, 127),
    }
}

/// The name a legend gives `verdict`.
pub fn name(verdict: Option<Verdict>) -> &'static str {
    verdict.map_or("running", Verdict::as_str)
}

/// An HTML legend: a swatch and a name for each verdict in `used`.
pub fn legend(used: &BTreeSet<Option<Verdict>>) -> String {
    let mut out = String::from("<p>");
    for v in used {
        let RGBColor(r, g, b) = colour(*v);
        out.push_str(&format!(
            "<span class=\"sw\" style=\"background:rgb({r},{g},{b})\"></span>{}",
            name(*v)
        ));
    }
    out.push_str("</p>");
    out
}

/// The error a chart could not be drawn with, in words.
pub type ChartError = String;

/// Draws with `draw` on a `width` × `height` SVG and returns the SVG markup.
pub fn svg<F>(width: u32, height: u32, draw: F) -> Result<String, ChartError>
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<(), ChartError>,
{
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// `svg`'s markup, or a note saying why the chart is missing.
pub fn or_note(chart: Result<String, ChartError>) -> String {
    chart.unwrap_or_else(|e| format!("<p class=\"warn\">chart not drawn: {}</p>", super::esc(&e)))
}

/// The chart inside a FOV panel: `caption` on top, `x` in frames.
pub type Small<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A small chart of values over frames, its axes drawn.
pub fn small<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    caption: &str,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> Result<Small<'a, 'b>, ChartError> {
    let mut c = ChartBuilder::on(root)
        .margin(8)
        .caption(caption, ("sans-serif", 14))
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(x, y)
        .map_err(err)?;
    c.configure_mesh()
        .max_light_lines(0)
        .x_desc("frame")
        .draw()
        .map_err(err)?;
    Ok(c)
}

/// Turns any plotters error into [`ChartError`].
pub fn err<E: std::fmt::Display>(e: E) -> ChartError {
    e.to_string()
}
