//! How a position's planes map to channels, frames and focal planes, which
//! channel is phase contrast and which are fluorescence, and what a frame's time is.
//!
//! The layout comes from the file's metadata ([`Series`]: OME-XML, ImageJ, CZI,
//! ND2). A `--param` that contradicts it is refused, naming both values. Where
//! nothing fixes the layout (a plain multi-page TIFF), `--param channels=N` and,
//! for N > 1, `--param order=CT|TC` must say it: `CT` = channel varies fastest
//! (pages t0c0, t0c1, t1c0, …), `TC` = time fastest (t0c0, t1c0, …, t0c1, …).
//! Roles: `--param pc=0` or `pc=Phase`, `--param fl=1,2` or `fl=GFP,mCherry`
//! (names from the metadata, case-insensitive; default every other channel).
//! Z: `--param z=max|mean|INDEX`, required when a position has Z > 1.
//! Time: `--param frame_interval=10m`, else the metadata's interval, else none (the
//! traces then have `frame` only, no `time_<unit>` column).

use std::fmt;
use std::path::Path;

use super::error::{LayoutError, ParamError};
use super::time::{self, TimeUnit};
use crate::image::Dtype;
use crate::image::source::{Axis, Order, Series, Sizes};

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
fn metadata_interval(
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

/// Channel `r` among `names` (`n` channels), or why it is not there.
fn find_channel(
    path: &Path,
    r: &ChannelRef,
    names: &[Option<String>],
    n: usize,
) -> Result<usize, LayoutError> {
    match r {
        ChannelRef::Index(i) if *i < n => Ok(*i),
        ChannelRef::Index(i) => Err(LayoutError::NoSuchChannel {
            path: path.to_path_buf(),
            channel: *i,
            channels: n,
        }),
        ChannelRef::Name(want) => names
            .iter()
            .position(|c| c.as_deref().is_some_and(|c| c.eq_ignore_ascii_case(want)))
            .ok_or_else(|| {
                let known: Vec<String> = names
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{i}={}", c.as_deref().unwrap_or("(unnamed)")))
                    .collect();
                LayoutError::NoChannelNamed {
                    path: path.to_path_buf(),
                    name: want.clone(),
                    known: if names.iter().all(Option::is_none) {
                        format!("{n}, none named; give an index")
                    } else {
                        known.join(", ")
                    },
                }
            }),
    }
}

impl Layout {
    /// Resolves the layout of one position of `path` from its metadata and the
    /// parameters; the error names the file and says what is wrong and how to fix it.
    pub fn resolve(path: &Path, series: &Series, p: &LayoutParams) -> Result<Layout, LayoutError> {
        let path_buf = || path.to_path_buf();
        let (sizes, order, source) = match (series.sizes, series.order) {
            (Some(s), Some(o)) => {
                if let Some(n) = p.channels.filter(|&n| n != s.c) {
                    return Err(LayoutError::ChannelsContradict {
                        path: path_buf(),
                        given: n,
                        origin: series.source,
                        metadata: s.c,
                    });
                }
                if let Some(given) = p.order.filter(|_| s.c > 1) {
                    let stated = if given == PageOrder::CT { "CT" } else { "TC" };
                    let fast_c = given == PageOrder::CT;
                    let file_fast_c = c_before_t(o);
                    if fast_c != file_fast_c {
                        return Err(LayoutError::OrderContradicts {
                            path: path_buf(),
                            given: stated,
                            origin: series.source,
                            order: o.to_string(),
                            channel_first: file_fast_c,
                        });
                    }
                }
                (s, o, series.source.to_string())
            }
            _ => plain_layout(path, series, p)?,
        };
        if series.planes != sizes.planes().unwrap_or(usize::MAX) {
            return Err(LayoutError::PlaneCount {
                path: path_buf(),
                planes: series.planes,
                c: sizes.c,
                z: sizes.z,
                t: sizes.t,
            });
        }
        let z = match (sizes.z, p.z) {
            (_, Some(ZChoice::Index(i))) if i >= sizes.z => {
                return Err(LayoutError::NoSuchPlane {
                    path: path_buf(),
                    index: i,
                    planes: sizes.z,
                });
            }
            (_, Some(choice)) => choice,
            (1, None) => ZChoice::Index(0),
            (nz, None) => {
                return Err(LayoutError::ZChoiceNeeded {
                    path: path_buf(),
                    planes: nz,
                });
            }
        };
        let channels = sizes.c;
        let mut names = series.channel_names.clone();
        names.resize(channels, None);
        let pc = find_channel(
            path,
            p.pc.as_ref().unwrap_or(&ChannelRef::Index(0)),
            &names,
            channels,
        )?;
        let fl = match &p.fl {
            Some(list) => list
                .iter()
                .map(|r| find_channel(path, r, &names, channels))
                .collect::<Result<Vec<_>, _>>()?,
            None => (0..channels).filter(|&c| c != pc).collect(),
        };
        if fl.contains(&pc) {
            return Err(LayoutError::FluorescenceIsPhase { pc });
        }
        let from_meta = match p.interval {
            None => metadata_interval(path, series.source, series.interval.as_ref())?,
            Some(_) => None,
        };
        Ok(Layout {
            channels,
            frames: sizes.t,
            z_planes: sizes.z,
            z,
            pc,
            fl,
            names,
            interval: p.interval.or(from_meta),
            interval_note: series
                .interval_note
                .clone()
                .filter(|_| p.interval.is_none()),
            order,
            source,
        })
    }

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

/// True when channel varies faster than time in `order`.
fn c_before_t(order: Order) -> bool {
    let pos = |a: Axis| order.0.iter().position(|&x| x == a);
    pos(Axis::C) < pos(Axis::T)
}

/// The layout of a plain multi-page TIFF, from `channels=` and `order=`.
fn plain_layout(
    path: &Path,
    series: &Series,
    p: &LayoutParams,
) -> Result<(Sizes, Order, String), LayoutError> {
    let pages = series.planes;
    let Some(channels) = p.channels else {
        return Err(LayoutError::UnknownChannels {
            path: path.to_path_buf(),
            pages,
        });
    };
    if !pages.is_multiple_of(channels) {
        return Err(LayoutError::Indivisible {
            path: path.to_path_buf(),
            pages,
            channels,
        });
    }
    let sizes = Sizes {
        t: pages / channels,
        c: channels,
        z: 1,
    };
    if channels == 1 {
        return Ok((
            sizes,
            Order::CZT,
            "none (plain TIFF, --param channels=1)".into(),
        ));
    }
    let (order, text) = match p.order {
        Some(PageOrder::CT) => (Order::CZT, "CT: pages t0c0, t0c1, …, t1c0"),
        Some(PageOrder::TC) => (
            Order([Axis::T, Axis::Z, Axis::C]),
            "TC: pages t0c0, t1c0, …, t0c1",
        ),
        None => {
            return Err(LayoutError::UnknownOrder {
                path: path.to_path_buf(),
                pages,
                channels,
            });
        }
    };
    Ok((
        sizes,
        order,
        format!(
            "none (plain TIFF): order {text} assumed from --param order, {channels} channels from --param channels"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(planes: usize, sizes: Option<(usize, usize, usize)>, order: Option<Order>) -> Series {
        Series {
            source: if sizes.is_some() { "OME-XML" } else { "none" },
            width: 64,
            height: 64,
            dtype: Dtype::U16,
            planes,
            sizes: sizes.map(|(t, c, z)| Sizes { t, c, z }),
            order,
            channel_names: Vec::new(),
            interval: None,
            interval_note: None,
            pixel_size: None,
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

    fn resolve(s: &Series, kv: &[(&str, &str)]) -> Result<Layout, String> {
        Layout::resolve(Path::new("raw/f.tif"), s, &params(kv)?).map_err(|e| e.to_string())
    }

    #[test]
    fn metadata_fixes_the_layout_and_parameters_must_agree() {
        let ct = series(20, Some((10, 2, 1)), Some(Order::CZT));
        let l = resolve(&ct, &[]).unwrap();
        assert_eq!(
            (l.channels, l.frames, l.pc, l.fl.clone()),
            (2, 10, 0, vec![1])
        );
        assert_eq!(l.plane(3, 1, 0), 7);
        let tc = series(20, Some((10, 2, 1)), Order::from_ome("XYTZC"));
        assert_eq!(resolve(&tc, &[]).unwrap().plane(3, 1, 0), 13);
        let e = resolve(&ct, &[("channels", "4")]).unwrap_err();
        assert!(
            e.contains("channels=4") && e.contains("says 2 channel(s)"),
            "{e}"
        );
        let e = resolve(&ct, &[("order", "TC")]).unwrap_err();
        assert!(e.contains("order=TC") && e.contains("CZT"), "{e}");
        let e = resolve(&tc, &[("order", "CT")]).unwrap_err();
        assert!(e.contains("order=CT") && e.contains("TZC"), "{e}");
        resolve(&ct, &[("order", "ct"), ("channels", "2")]).unwrap();
    }

    #[test]
    fn a_plain_tiff_needs_channels_and_order_and_says_what_it_assumed() {
        let plain = series(20, None, None);
        assert!(
            resolve(&plain, &[])
                .unwrap_err()
                .contains("--param channels=N")
        );
        assert!(
            resolve(&plain, &[("channels", "2")])
                .unwrap_err()
                .contains("order=CT")
        );
        let l = resolve(&plain, &[("channels", "2"), ("order", "TC")]).unwrap();
        assert_eq!((l.frames, l.plane(3, 1, 0)), (10, 13));
        assert!(l.source.contains("order TC"), "{}", l.source);
        let l = resolve(&plain, &[("channels", "2"), ("order", "CT")]).unwrap();
        assert_eq!(l.plane(3, 1, 0), 7);
        assert_eq!(resolve(&plain, &[("channels", "1")]).unwrap().frames, 20);
        assert!(
            resolve(
                &series(21, None, None),
                &[("channels", "2"), ("order", "CT")]
            )
            .unwrap_err()
            .contains("do not divide")
        );
    }

    #[test]
    fn channels_by_name_or_index() {
        let mut s = series(30, Some((10, 3, 1)), Some(Order::CZT));
        s.channel_names = vec![
            Some("Phase".into()),
            Some("GFP".into()),
            Some("mCherry".into()),
        ];
        let l = resolve(&s, &[("pc", "phase"), ("fl", "mcherry,1")]).unwrap();
        assert_eq!((l.pc, l.fl.clone()), (0, vec![2, 1]));
        assert_eq!(
            (l.label(2), l.label(1)),
            ("mCherry".to_string(), "GFP".to_string())
        );
        let e = resolve(&s, &[("fl", "YFP")]).unwrap_err();
        assert!(e.contains("\"YFP\"") && e.contains("1=GFP"), "{e}");
        assert!(
            resolve(&s, &[("fl", "3")])
                .unwrap_err()
                .contains("channel 3 does not exist")
        );
        assert!(
            resolve(&s, &[("fl", "Phase")])
                .unwrap_err()
                .contains("phase-contrast")
        );
        assert!(params(&[("fl", "1,1")]).unwrap_err().contains("twice"));
        assert!(params(&[("channels", "0")]).is_err());
    }

    #[test]
    fn z_stacks_need_a_choice() {
        let s = series(60, Some((10, 2, 3)), Some(Order::CZT));
        assert!(resolve(&s, &[]).unwrap_err().contains("3 focal planes"));
        let l = resolve(&s, &[("z", "max")]).unwrap();
        assert_eq!((l.z_range(), l.copy_dtype(Dtype::U16)), (0..3, Dtype::U16));
        let l = resolve(&s, &[("z", "mean")]).unwrap();
        assert_eq!(l.copy_dtype(Dtype::U16), Dtype::F32);
        assert_eq!(resolve(&s, &[("z", "2")]).unwrap().z_range(), 2..3);
        assert!(resolve(&s, &[("z", "3")]).unwrap_err().contains("z=3"));
        assert!(params(&[("z", "median")]).is_err());
    }

    #[test]
    fn time_comes_from_the_parameter_then_the_metadata_then_the_frame_index() {
        let mut s = series(20, Some((10, 2, 1)), Some(Order::CZT));
        let l = resolve(&s, &[("frame_interval", "10m")]).unwrap();
        assert_eq!(
            (l.time(3), l.time_column()),
            (Some(30.0), Some("time_min".into()))
        );
        assert_eq!(
            l.time_description(),
            "time_min: 10 minutes per frame, from --param frame_interval"
        );
        s.interval = Some((90.0, "s".into()));
        let l = resolve(&s, &[]).unwrap();
        assert_eq!(
            (l.time(2), l.time_column()),
            (Some(180.0), Some("time_s".into()))
        );
        assert!(
            l.time_description().contains("from OME-XML"),
            "{}",
            l.time_description()
        );
        s.interval = Some((2.0, "fortnight".into()));
        assert!(resolve(&s, &[]).unwrap_err().contains("fortnight"));
        s.interval = None;
        let l = resolve(&s, &[]).unwrap();
        assert_eq!((l.time(4), l.time_column()), (None, None));
        assert!(l.time_description().contains("no frame interval"));
        assert_eq!(l.plan_line(), l.source);
        // A stated interval the file's own times contradict: the reason, in the
        // record and the plan; an interval given by parameter needs none.
        s.interval_note = Some("the frames are 15 min apart".into());
        let l = resolve(&s, &[]).unwrap();
        assert_eq!(
            l.time_description(),
            "no time column: the frames are 15 min apart (pass --param frame_interval=10m)"
        );
        assert_eq!(
            l.plan_line(),
            format!(
                "{}; no frame interval: the frames are 15 min apart (pass --param \
                 frame_interval=...)",
                l.source
            )
        );
        let l = resolve(&s, &[("frame_interval", "10m")]).unwrap();
        assert_eq!((l.interval_note.clone(), l.plan_line()), (None, l.source));
        for bad in ["0m", "-1s", "soon", "10 parsecs"] {
            assert!(Interval::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Interval::parse("250ms").unwrap().unit,
            TimeUnit::Milliseconds
        );
        assert_eq!(Interval::parse("90").unwrap().unit, TimeUnit::Seconds);
    }
}
