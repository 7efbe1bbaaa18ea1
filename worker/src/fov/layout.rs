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

use super::error::{LayoutError, ParamError};
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
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, ParamError> {
        let malformed = |problem: String| ParamError::Malformed {
            key: key.to_string(),
            value: value.to_string(),
            problem,
        };
        let index = |v: &str| {
            v.trim()
                .parse::<usize>()
                .map_err(|_| malformed("expected a channel number (0, 1, …)".into()))
        };
        match key {
            "channels" => {
                let n = index(value)?;
                if n == 0 {
                    return Err(malformed("must be at least 1".into()));
                }
                self.channels = Some(n);
            }
            "pc" => self.pc = Some(index(value)?),
            "fl" => {
                let list: Vec<usize> = value
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(index)
                    .collect::<Result<_, _>>()?;
                if let Some(c) = list
                    .iter()
                    .enumerate()
                    .find_map(|(i, c)| list[..i].contains(c).then_some(c))
                {
                    return Err(malformed(format!("channel {c} is listed twice")));
                }
                self.fl = Some(list);
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
    pub fn parse(text: &str) -> Result<Interval, ParamError> {
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
            _ => Err(ParamError::Malformed {
                key: "frame_interval".into(),
                value: text.to_string(),
                problem: "expected a positive duration such as 10m, 30s, 1.5h or 250ms".into(),
            }),
        }
    }
}

/// The frame interval an ImageJ header states (`finterval=` in `tunit=`, seconds
/// when absent); a unit it cannot convert is an error, never a silent frame index.
fn imagej_interval(
    path: &Path,
    finterval: Option<f64>,
    tunit: Option<&str>,
) -> Result<Option<Interval>, LayoutError> {
    let Some(value) = finterval.filter(|v| *v > 0.0 && v.is_finite()) else {
        return Ok(None);
    };
    let unit = match tunit.map(str::to_ascii_lowercase).as_deref() {
        None | Some("s" | "sec" | "second" | "seconds") => "seconds",
        Some("ms" | "msec" | "millisecond" | "milliseconds") => "milliseconds",
        Some("min" | "minute" | "minutes") => "minutes",
        Some("h" | "hr" | "hour" | "hours") => "hours",
        Some(other) => {
            return Err(LayoutError::IntervalUnit {
                path: path.to_path_buf(),
                unit: other.to_string(),
            });
        }
    };
    Ok(Some(Interval {
        value,
        unit,
        source: IntervalSource::ImageJ,
    }))
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
    pub fn resolve(path: &Path, info: &StackInfo, p: &LayoutParams) -> Result<Layout, LayoutError> {
        let path_buf = || path.to_path_buf();
        let meta = info.imagej.as_ref();
        let channels = match (p.channels, meta.and_then(|m| m.channels)) {
            (Some(n), Some(m)) if n != m => {
                return Err(LayoutError::ChannelsContradict {
                    path: path_buf(),
                    given: n,
                    metadata: m,
                });
            }
            (Some(n), _) => n,
            (None, Some(n)) => n,
            (None, None) if info.pages == 1 => 1,
            (None, None) => {
                return Err(LayoutError::UnknownChannels {
                    path: path_buf(),
                    pages: info.pages,
                });
            }
        };
        if !info.pages.is_multiple_of(channels) {
            return Err(LayoutError::Indivisible {
                path: path_buf(),
                pages: info.pages,
                channels,
            });
        }
        let frames = info.pages / channels;
        if let Some(m) = meta {
            let (f, z) = (m.frames.unwrap_or(1), m.slices.unwrap_or(1));
            if f > 1 && z > 1 {
                return Err(LayoutError::ZStacks {
                    path: path_buf(),
                    frames: f,
                    slices: z,
                });
            }
            if (m.frames.is_some() || m.slices.is_some()) && f * z != frames {
                return Err(LayoutError::FrameCount {
                    path: path_buf(),
                    frames: f * z,
                    channels,
                    pages: info.pages,
                });
            }
        }
        let pc = p.pc.unwrap_or(0);
        let fl =
            p.fl.clone()
                .unwrap_or_else(|| (0..channels).filter(|&c| c != pc).collect());
        if let Some(&bad) = fl.iter().chain([&pc]).find(|&&c| c >= channels) {
            return Err(LayoutError::NoSuchChannel {
                path: path_buf(),
                channel: bad,
                channels,
            });
        }
        if fl.contains(&pc) {
            return Err(LayoutError::FluorescenceIsPhase { pc });
        }
        let from_imagej = match meta {
            Some(m) if p.interval.is_none() => {
                imagej_interval(path, m.finterval, m.tunit.as_deref())?
            }
            _ => None,
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{Dtype, ImageJMeta};

    fn info(pages: usize, meta: Option<ImageJMeta>) -> StackInfo {
        StackInfo {
            width: 64,
            height: 64,
            pages,
            dtype: Dtype::U16,
            bigtiff: false,
            compression: "none".into(),
            imagej: meta,
        }
    }

    fn meta(channels: usize, frames: usize) -> ImageJMeta {
        ImageJMeta {
            channels: Some(channels),
            frames: Some(frames),
            ..ImageJMeta::default()
        }
    }

    fn params(kv: &[(&str, &str)]) -> Result<LayoutParams, String> {
        let mut p = LayoutParams::default();
        for (k, v) in kv {
            assert!(
                p.set(k, v).map_err(|e| e.to_string())?,
                "{k} is a layout key"
            );
        }
        Ok(p)
    }

    fn resolve(pages: usize, m: Option<ImageJMeta>, kv: &[(&str, &str)]) -> Result<Layout, String> {
        Layout::resolve(Path::new("raw/f.tif"), &info(pages, m), &params(kv)?)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn channels_and_roles_come_from_metadata_or_parameters() {
        let l = resolve(20, Some(meta(2, 10)), &[]).unwrap();
        assert_eq!(
            (l.channels, l.frames, l.pc, l.fl.clone()),
            (2, 10, 0, vec![1])
        );
        assert_eq!(l.page(3, 1), 7);
        let l = resolve(30, None, &[("channels", "3"), ("pc", "2"), ("fl", "0")]).unwrap();
        assert_eq!((l.channels, l.frames, l.pc, l.fl), (3, 10, 2, vec![0]));
        assert_eq!(resolve(1, None, &[]).unwrap().channels, 1);
    }

    #[test]
    fn contradictions_are_refused_by_name_never_guessed() {
        for (pages, m, kv, want) in [
            (20, None, &[][..], "--param channels=N"),
            (21, None, &[("channels", "2")][..], "do not divide"),
            (
                20,
                Some(meta(2, 10)),
                &[("channels", "4")][..],
                "metadata says channels=2",
            ),
            (20, Some(meta(2, 9)), &[][..], "9 frames"),
            (
                20,
                Some(meta(2, 10)),
                &[("fl", "2")][..],
                "channel 2 does not exist",
            ),
            (
                20,
                Some(meta(2, 10)),
                &[("fl", "0,1")][..],
                "phase-contrast",
            ),
        ] {
            let err = resolve(pages, m, kv).unwrap_err();
            assert!(err.contains(want), "{kv:?}: {err}");
            assert!(
                err.contains("raw/f.tif") || err.contains("--param"),
                "{err}"
            );
        }
        assert!(params(&[("fl", "1,1")]).unwrap_err().contains("twice"));
        assert!(params(&[("channels", "0")]).is_err());
    }

    #[test]
    fn time_comes_from_the_parameter_then_imagej_then_the_frame_index() {
        let l = resolve(20, Some(meta(2, 10)), &[("frame_interval", "10m")]).unwrap();
        assert_eq!(
            (l.time(3), l.interval.map(|i| i.unit)),
            (30.0, Some("minutes"))
        );
        assert!(
            l.time_comment()
                .starts_with("# time: minutes since the first frame")
        );
        let mut m = meta(2, 10);
        m.finterval = Some(90.0);
        let l = resolve(20, Some(m.clone()), &[]).unwrap();
        assert_eq!(
            (l.time(2), l.interval.map(|i| i.unit)),
            (180.0, Some("seconds"))
        );
        m.tunit = Some("fortnight".into());
        assert!(resolve(20, Some(m), &[]).unwrap_err().contains("fortnight"));
        let l = resolve(20, Some(meta(2, 10)), &[]).unwrap();
        assert_eq!(l.time(4), 4.0);
        assert!(l.time_comment().contains("frame index"));
        for bad in ["0m", "-1s", "soon", "10 parsecs"] {
            assert!(Interval::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Interval::parse("250ms").unwrap().unit, "milliseconds");
        assert_eq!(Interval::parse("1.5h").unwrap().value, 1.5);
    }
}
