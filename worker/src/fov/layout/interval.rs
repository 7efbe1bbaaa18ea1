//! The frame interval: parsed from `--param frame_interval`, or taken from the
//! file's metadata when its unit is one the traces' time column can carry.

use std::path::Path;

use crate::fov::error::{LayoutError, ParamError};
use crate::fov::time::TimeUnit;

/// Time between two frames, in a unit the traces' time column keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// The amount, in `unit`.
    pub value: f64,
    /// The unit it was stated in (the traces' `time_<unit>` column keeps it).
    pub unit: TimeUnit,
    /// Where it came from (the extract stage records it).
    pub source: IntervalSource,
}

/// Where the frame interval came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalSource {
    /// `--param frame_interval`.
    Param,
    /// The file's metadata (`ImageJ metadata`, `OME-XML`, ...).
    Metadata(&'static str),
}

impl Interval {
    /// Parses `10m`, `30s`, `1.5h`, `250ms`, `10min` (a bare number is seconds).
    pub fn parse(text: &str) -> Result<Interval, ParamError> {
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        // A bare number is seconds.
        let unit = match unit.trim() {
            "" => Some(TimeUnit::Seconds),
            u => TimeUnit::parse(u),
        };
        match num.parse::<f64>() {
            Ok(value) if value > 0.0 && value.is_finite() && unit.is_some() => Ok(Interval {
                value,
                unit: unit.unwrap_or(TimeUnit::Seconds),
                source: IntervalSource::Param,
            }),
            _ => Err(ParamError::Malformed {
                key: "frame_interval".into(),
                value: text.to_string(),
                problem: "expected a positive duration such as 10m, 30s, 1.5h or 250ms".into(),
            }),
        }
    }
}

/// The frame interval a file states, in a unit the traces can carry; a unit that
/// cannot be converted is an error, never a silent frame index.
pub(super) fn metadata_interval(
    path: &Path,
    source: &'static str,
    stated: Option<&(f64, String)>,
) -> Result<Option<Interval>, LayoutError> {
    let Some((value, unit)) = stated.filter(|(v, _)| *v > 0.0 && v.is_finite()) else {
        return Ok(None);
    };
    let Some(unit) = TimeUnit::parse(unit) else {
        return Err(LayoutError::IntervalUnit {
            path: path.to_path_buf(),
            origin: source,
            unit: unit.to_string(),
        });
    };
    Ok(Some(Interval {
        value: *value,
        unit,
        source: IntervalSource::Metadata(source),
    }))
}
