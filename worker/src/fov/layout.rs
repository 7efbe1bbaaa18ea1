//! How a FOV stack's pages map to channels and frames, which channel is phase
//! contrast and which are fluorescence, and what a frame's time is.
//!
//! Pages are time-major with channels interleaved (t0c0, t0c1, t1c0, …). The
//! channel count comes from ImageJ metadata (`channels=`, `frames=`) when
//! present, else from `--param channels=N`; a stack with neither is refused
//! rather than guessed, because guessing wrong silently mixes channels.
//! Roles: `--param pc=0` (phase contrast), `--param fl=1,2` (fluorescence;
//! default every other channel). Time: `--param frame_interval=10m`, else the
//! ImageJ `finterval=`, else the frame index.

use std::path::Path;

use crate::image::tiff_in::StackInfo;

/// The layout parameters a user can set (`channels`, `pc`, `fl`, `frame_interval`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayoutParams {
    /// `channels=N`: channel count when the TIFF has no ImageJ metadata.
    pub channels: Option<usize>,
    /// `pc=C`: the phase-contrast channel (default 0).
    pub pc: Option<usize>,
    /// `fl=C1,C2`: the fluorescence channels (default: all but `pc`).
    pub fl: Option<Vec<usize>>,
    /// `frame_interval=10m`: time between frames.
    pub interval: Option<Interval>,
}

impl LayoutParams {
    /// The keys this struct accepts.
    pub const KEYS: &'static [&'static str] = &["channels", "pc", "fl", "frame_interval"];

    /// Applies one `--param`; Ok(false) when the key is not a layout key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, String> {
        let index = |v: &str| {
            v.trim()
                .parse::<usize>()
                .map_err(|_| format!("--param {key}={value}: expected a channel number (0, 1, …)"))
        };
        match key {
            "channels" => {
                let n = index(value)?;
                if n == 0 {
                    return Err(format!("--param channels={value}: must be at least 1"));
                }
                self.channels = Some(n);
            }
            "pc" => self.pc = Some(index(value)?),
            "fl" => {
                let list: Result<Vec<usize>, String> = value
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(index)
                    .collect();
                self.fl = Some(list?);
            }
            "frame_interval" => self.interval = Some(Interval::parse(value)?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Time between two frames, in a unit the traces' time column keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// The amount, in `unit`.
    pub value: f64,
    /// `seconds`, `minutes`, `hours` or `milliseconds`.
    pub unit: &'static str,
    /// Where it came from, for the CSV comment (`frame_interval=10m`, `ImageJ finterval=…`).
    pub source: IntervalSource,
}

/// Where the frame interval came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalSource {
    /// `--param frame_interval`.
    Param,
    /// The TIFF's ImageJ `finterval=`.
    ImageJ,
}

impl Interval {
    /// Parses `10m`, `30s`, `1.5h`, `250ms`, `10min` (a bare number is seconds).
    pub fn parse(text: &str) -> Result<Interval, String> {
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let unit = match unit.trim() {
            "" | "s" | "sec" => "seconds",
            "m" | "min" => "minutes",
            "h" => "hours",
            "ms" => "milliseconds",
            _ => "",
        };
        match num.parse::<f64>() {
            Ok(value) if value > 0.0 && value.is_finite() && !unit.is_empty() => Ok(Interval {
                value,
                unit,
                source: IntervalSource::Param,
            }),
            _ => Err(format!(
                "--param frame_interval={text}: expected a positive duration such as 10m, 30s, 1.5h or 250ms"
            )),
        }
    }
}

/// The resolved layout of one FOV stack.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Channels per time point.
    pub channels: usize,
    /// Time points.
    pub frames: usize,
    /// Phase-contrast channel.
    pub pc: usize,
    /// Fluorescence channels.
    pub fl: Vec<usize>,
    /// Time between frames, if known.
    pub interval: Option<Interval>,
}

impl Layout {
    /// Resolves the layout of `path` from its header and the parameters;
    /// the error names the file and says what is wrong and how to fix it.
    pub fn resolve(path: &Path, info: &StackInfo, p: &LayoutParams) -> Result<Layout, String> {
        let name = path.display();
        let meta = info.imagej.as_ref();
        let channels = match (p.channels, meta.and_then(|m| m.channels)) {
            (Some(n), _) => n,
            (None, Some(n)) => n,
            (None, None) if info.pages == 1 => 1,
            (None, None) => {
                return Err(format!(
                    "{name}: {} pages and no ImageJ channels= metadata; pass --param channels=N",
                    info.pages
                ));
            }
        };
        if !info.pages.is_multiple_of(channels) {
            return Err(format!(
                "{name}: {} pages do not divide into {channels} channels",
                info.pages
            ));
        }
        let frames = info.pages / channels;
        if let Some(f) = meta
            .and_then(|m| m.frames)
            .filter(|&f| f != frames && p.channels.is_none())
        {
            return Err(format!(
                "{name}: ImageJ metadata says {f} frames × {channels} channels but the file has {} pages",
                info.pages
            ));
        }
        let pc = p.pc.unwrap_or(0);
        let fl =
            p.fl.clone()
                .unwrap_or_else(|| (0..channels).filter(|&c| c != pc).collect());
        if let Some(bad) = fl.iter().chain([&pc]).find(|&&c| c >= channels) {
            return Err(format!(
                "{name}: channel {bad} does not exist (the stack has {channels} channel(s), numbered from 0)"
            ));
        }
        if fl.contains(&pc) {
            return Err(format!(
                "--param fl lists channel {pc}, which is the phase-contrast channel"
            ));
        }
        let from_imagej = meta.and_then(|m| {
            let value = m.finterval.filter(|v| *v > 0.0 && v.is_finite())?;
            let unit = match m.tunit.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None | Some("s" | "sec" | "second" | "seconds") => "seconds",
                Some("ms" | "msec" | "millisecond" | "milliseconds") => "milliseconds",
                Some("min" | "minute" | "minutes") => "minutes",
                Some("h" | "hr" | "hour" | "hours") => "hours",
                Some(_) => return None,
            };
            Some(Interval {
                value,
                unit,
                source: IntervalSource::ImageJ,
            })
        });
        Ok(Layout {
            channels,
            frames,
            pc,
            fl,
            interval: p.interval.or(from_imagej),
        })
    }

    /// The page holding channel `c` of frame `t`.
    pub fn page(&self, t: usize, c: usize) -> usize {
        t * self.channels + c
    }

    /// The comment line that states the unit of the traces' `time` column.
    pub fn time_comment(&self) -> String {
        match self.interval {
            Some(i) => {
                let from = match i.source {
                    IntervalSource::Param => "--param frame_interval",
                    IntervalSource::ImageJ => "ImageJ finterval",
                };
                format!(
                    "# time: {} since the first frame ({} {} per frame, from {from})",
                    i.unit, i.value, i.unit
                )
            }
            None => {
                "# time: frame index (no frame interval known; pass --param frame_interval=10m)"
                    .into()
            }
        }
    }

    /// The time of frame `t` in the comment's unit.
    pub fn time(&self, t: usize) -> f64 {
        self.interval.map_or(t as f64, |i| t as f64 * i.value)
    }
}
