//! How a position's planes map to channels, frames and focal planes, which
//! channel is phase contrast and which are fluorescence, and what a frame's time is.
//!
//! The layout comes from the file's metadata ([`Series`](crate::image::source::Series): OME-XML, ImageJ, CZI,
//! ND2). A `--param` that contradicts it is refused, naming both values. Where
//! nothing fixes the layout (a plain multi-page TIFF), `--param channels=N` and,
//! for N > 1, `--param order=CT|TC` must say it: `CT` = channel varies fastest
//! (pages t0c0, t0c1, t1c0, …), `TC` = time fastest (t0c0, t1c0, …, t0c1, …).
//! Roles: `--param pc=0` or `pc=Phase`, `--param fl=1,2` or `fl=GFP,mCherry`
//! (names from the metadata, case-insensitive; default every other channel).
//! Z: `--param z=max|mean|INDEX`, required when a position has Z > 1.
//! Time: `--param frame_interval=10m`, else the metadata's interval, else none (the
//! traces then have `frame` only, no `time_<unit>` column).
//!
//! The parameters are parsed in `params.rs`, the interval in `interval.rs`, and
//! the metadata and parameters resolved to a [`Layout`] in `resolve.rs`; this file
//! holds the resolved layout and what the stages ask of it.

mod interval;
mod params;
mod resolve;

use super::time;
use crate::image::Dtype;
use crate::image::source::{Order, Sizes};

pub use interval::{Interval, IntervalSource};
pub use params::{ChannelRef, LayoutParams, PageOrder, ZChoice};

/// The resolved layout of one position.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Channels per time point.
    pub channels: usize,
    /// Time points.
    pub frames: usize,
    /// Focal planes per (t, c).
    pub z_planes: usize,
    /// What to do with them (`Index(0)` when there is one).
    pub z: ZChoice,
    /// Phase-contrast channel.
    pub pc: usize,
    /// Fluorescence channels.
    pub fl: Vec<usize>,
    /// Channel names from the metadata, one per channel.
    pub names: Vec<Option<String>>,
    /// Time between frames, if known.
    pub interval: Option<Interval>,
    /// Why the file's own interval is not used when it states one that its
    /// frames contradict (no `--param frame_interval` given).
    pub interval_note: Option<String>,
    /// How planes are numbered.
    pub order: Order,
    /// Where the layout came from, for the plan (states an assumed order).
    pub source: String,
}

impl Layout {
    /// The plane index of channel `c`, focal plane `z`, frame `t`.
    pub fn plane(&self, t: usize, c: usize, z: usize) -> usize {
        let sizes = Sizes {
            t: self.frames,
            c: self.channels,
            z: self.z_planes,
        };
        self.order.index(sizes, t, c, z).unwrap_or(usize::MAX)
    }

    /// The focal planes to read per (t, c).
    pub fn z_range(&self) -> std::ops::Range<usize> {
        match self.z {
            ZChoice::Index(i) => i..i + 1,
            ZChoice::Max | ZChoice::Mean => 0..self.z_planes,
        }
    }

    /// The dtype the copy stage stores for `input` (a mean projection is float32).
    pub fn copy_dtype(&self, input: Dtype) -> Dtype {
        if self.z == ZChoice::Mean && self.z_planes > 1 {
            Dtype::F32
        } else {
            input
        }
    }

    /// The label of channel `c` in column names: its name (letters, digits, `_`, `-`)
    /// when the metadata names it, else `cN`.
    pub fn label(&self, c: usize) -> String {
        match self.names.get(c).and_then(|n| n.as_deref()) {
            Some(n) if !n.is_empty() => n
                .chars()
                .map(|ch| {
                    if ch.is_ascii_alphanumeric() || ch == '-' {
                        ch
                    } else {
                        '_'
                    }
                })
                .collect(),
            _ => format!("c{c}"),
        }
    }

    /// The traces' time column (`time_min`), or None when no frame interval is
    /// known (the traces then have `frame` only).
    pub fn time_column(&self) -> Option<String> {
        self.interval.map(|i| i.unit.column())
    }

    /// Where the time column comes from, for the extract stage's record:
    /// `time_min: 10 minutes per frame, from --param frame_interval`.
    pub fn time_description(&self) -> String {
        match self.interval {
            Some(i) => {
                let from = match i.source {
                    IntervalSource::Param => "--param frame_interval".to_string(),
                    IntervalSource::Metadata("ImageJ metadata") => "ImageJ finterval".to_string(),
                    IntervalSource::Metadata(s) => s.to_string(),
                };
                format!(
                    "{}: {} {} per frame, from {from}",
                    i.unit.column(),
                    time::format(i.value),
                    i.unit.name()
                )
            }
            None => format!(
                "no time column: {} (pass --param frame_interval=10m)",
                self.interval_note
                    .as_deref()
                    .unwrap_or("no frame interval known")
            ),
        }
    }

    /// The plan's line for this layout: where it came from and, when the
    /// file's frame interval is not used, why.
    pub fn plan_line(&self) -> String {
        match &self.interval_note {
            Some(note) => format!(
                "{}; no frame interval: {note} (pass --param frame_interval=...)",
                self.source
            ),
            None => self.source.clone(),
        }
    }

    /// The time of frame `t` in the interval's unit (None without an interval).
    pub fn time(&self, t: usize) -> Option<f64> {
        self.interval.map(|i| t as f64 * i.value)
    }
}

#[cfg(test)]
mod tests;
