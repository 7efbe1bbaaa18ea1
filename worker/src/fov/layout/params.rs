//! The layout parameters a user sets (`--param channels|order|pc|fl|z|frame_interval`),
//! parsed and checked on their own, before any file is read.

use std::fmt;

use super::Interval;
use crate::fov::error::ParamError;

/// A channel named by index or by the metadata's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelRef {
    /// `pc=0`.
    Index(usize),
    /// `pc=Phase` (case-insensitive).
    Name(String),
}

impl ChannelRef {
    fn parse(text: &str) -> ChannelRef {
        let t = text.trim();
        t.parse::<usize>()
            .map_or_else(|_| ChannelRef::Name(t.to_string()), ChannelRef::Index)
    }
}

impl fmt::Display for ChannelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelRef::Index(i) => write!(f, "{i}"),
            ChannelRef::Name(n) => f.write_str(n),
        }
    }
}

/// What to do with a position's focal planes (`--param z=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZChoice {
    /// Maximum-intensity projection.
    Max,
    /// Mean projection (stored as float32: a mean is not a whole count).
    Mean,
    /// One plane.
    Index(usize),
}

impl fmt::Display for ZChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZChoice::Max => f.write_str("max"),
            ZChoice::Mean => f.write_str("mean"),
            ZChoice::Index(i) => write!(f, "{i}"),
        }
    }
}

/// The page order a plain TIFF is declared to have (`--param order=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageOrder {
    /// Channel fastest: t0c0, t0c1, t1c0, ….
    CT,
    /// Time fastest: t0c0, t1c0, …, t0c1, ….
    TC,
}

/// The layout parameters a user can set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayoutParams {
    /// `channels=N`: channel count (required for a plain multi-page TIFF).
    pub channels: Option<usize>,
    /// `order=CT|TC`: page order of a plain multi-page TIFF.
    pub order: Option<PageOrder>,
    /// `pc=C`: the phase-contrast channel (default 0).
    pub pc: Option<ChannelRef>,
    /// `fl=C1,C2`: the fluorescence channels (default: all but `pc`).
    pub fl: Option<Vec<ChannelRef>>,
    /// `z=max|mean|INDEX`.
    pub z: Option<ZChoice>,
    /// `frame_interval=10m`: time between frames.
    pub interval: Option<Interval>,
}

impl LayoutParams {
    /// The keys this struct accepts.
    pub const KEYS: &'static [&'static str] =
        &["channels", "order", "pc", "fl", "z", "frame_interval"];

    /// Applies one `--param`; Ok(false) when the key is not a layout key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, ParamError> {
        let malformed = |problem: &str| ParamError::Malformed {
            key: key.to_string(),
            value: value.to_string(),
            problem: problem.to_string(),
        };
        match key {
            "channels" => match value.trim().parse::<usize>() {
                Ok(n) if n > 0 => self.channels = Some(n),
                _ => return Err(malformed("expected a channel count of at least 1")),
            },
            "order" => {
                self.order = Some(match value.trim().to_ascii_uppercase().as_str() {
                    "CT" => PageOrder::CT,
                    "TC" => PageOrder::TC,
                    _ => {
                        return Err(malformed(
                            "expected CT (channel varies fastest: t0c0, t0c1, t1c0, …) \
                             or TC (time varies fastest: t0c0, t1c0, …, t0c1, …)",
                        ));
                    }
                })
            }
            "pc" => {
                if value.trim().is_empty() || value.contains(',') {
                    return Err(malformed("expected one channel (index or name)"));
                }
                self.pc = Some(ChannelRef::parse(value));
            }
            "fl" => {
                let list: Vec<ChannelRef> = value
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(ChannelRef::parse)
                    .collect();
                if let Some(c) = list
                    .iter()
                    .enumerate()
                    .find_map(|(i, c)| list[..i].contains(c).then_some(c))
                {
                    return Err(malformed(&format!("channel {c} is listed twice")));
                }
                self.fl = Some(list);
            }
            "z" => {
                self.z =
                    Some(match value.trim().to_ascii_lowercase().as_str() {
                        "max" => ZChoice::Max,
                        "mean" => ZChoice::Mean,
                        v => ZChoice::Index(v.parse::<usize>().map_err(|_| {
                            malformed("expected max, mean or a plane index (0, 1, …)")
                        })?),
                    })
            }
            "frame_interval" => self.interval = Some(Interval::parse(value)?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}
