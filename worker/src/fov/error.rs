//! Why the fov pipeline refuses a parameter, a stack's layout or a task's inputs.
//!
//! The supervisor shows [`ParamError`] before anything runs (`--param` is checked
//! up front); inside a task every error here becomes a verdict in one place,
//! [`crate::error::TaskError::outcome`].

use std::path::PathBuf;

use crate::image::ImageError;

/// A `--param` the fov pipeline does not have, or a value it cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// No stage and no layout setting takes this key.
    #[error("--param {key}: the fov pipeline has no such parameter (known: {known})")]
    Unknown {
        /// The key as given.
        key: String,
        /// Every key the pipeline accepts, comma-separated.
        known: String,
    },
    /// A stage parameter's value is not a number in its range.
    #[error("invalid value '{value}' for parameter {key}: expected {expected}")]
    OutOfRange {
        /// The parameter.
        key: String,
        /// The value as given.
        value: String,
        /// The accepted form, e.g. "an integer from 0 to 50".
        expected: String,
    },
    /// A layout parameter's value cannot be used (`channels`, `pc`, `fl`, `frame_interval`).
    #[error("--param {key}={value}: {problem}")]
    Malformed {
        /// The parameter.
        key: String,
        /// The value as given.
        value: String,
        /// What is wrong, e.g. "channel 1 is listed twice".
        problem: String,
    },
}

/// A position whose planes cannot be split into channels, frames and focal
/// planes as the metadata and parameters say: refused by name, never guessed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LayoutError {
    /// `--param channels` contradicts the metadata.
    #[error(
        "{}: --param channels={given} but the file's {origin} says {metadata} channel(s); \
         drop the parameter or fix the file",
        path.display()
    )]
    ChannelsContradict {
        /// The input file.
        path: PathBuf,
        /// `--param channels`.
        given: usize,
        /// Where the metadata came from (`OME-XML`, `ImageJ metadata`, ...).
        origin: &'static str,
        /// The metadata's channel count.
        metadata: usize,
    },
    /// `--param order` contradicts the metadata's dimension order.
    #[error(
        "{}: --param order={given} but the file's {origin} says dimension order {order} ({}); \
         drop the parameter",
        path.display(),
        if *.channel_first { "channel varies before time, i.e. CT" } else { "time varies before channel, i.e. TC" }
    )]
    OrderContradicts {
        /// The input file.
        path: PathBuf,
        /// `--param order`, as `CT` or `TC`.
        given: &'static str,
        /// Where the metadata came from.
        origin: &'static str,
        /// The metadata's order, fastest axis first (e.g. `CZT`).
        order: String,
        /// True when channel varies before time in the file.
        channel_first: bool,
    },
    /// Several pages and nothing that says how many are channels.
    #[error(
        "{}: {pages} pages and no metadata saying how they map to channels and frames; \
         pass --param channels=N and, for N > 1, --param order=CT (pages t0c0, t0c1, t1c0, …) \
         or order=TC (t0c0, t1c0, …, t0c1, …)",
        path.display()
    )]
    UnknownChannels {
        /// The input file.
        path: PathBuf,
        /// Its page count.
        pages: usize,
    },
    /// A plain TIFF with several channels and no stated page order.
    #[error(
        "{}: a plain TIFF of {pages} pages in {channels} channels; say how pages are ordered: \
         --param order=CT (t0c0, t0c1, t1c0, …) or order=TC (t0c0, t1c0, …, t0c1, …)",
        path.display()
    )]
    UnknownOrder {
        /// The input file.
        path: PathBuf,
        /// Its page count.
        pages: usize,
        /// `--param channels`.
        channels: usize,
    },
    /// The page count is not a multiple of the channel count.
    #[error("{}: {pages} pages do not divide into {channels} channels", path.display())]
    Indivisible {
        /// The input file.
        path: PathBuf,
        /// Its page count.
        pages: usize,
        /// The channel count.
        channels: usize,
    },
    /// The planes stored do not match the sizes the metadata states.
    #[error("{}: {planes} planes stored but C={c} × Z={z} × T={t} needed", path.display())]
    PlaneCount {
        /// The input file.
        path: PathBuf,
        /// Planes stored for the position.
        planes: usize,
        /// Channels.
        c: usize,
        /// Focal planes.
        z: usize,
        /// Time points.
        t: usize,
    },
    /// `--param z=INDEX` beyond the position's focal planes.
    #[error(
        "{}: --param z={index} but the position has {planes} focal plane(s), numbered from 0",
        path.display()
    )]
    NoSuchPlane {
        /// The input file.
        path: PathBuf,
        /// `--param z`.
        index: usize,
        /// Focal planes per (t, c).
        planes: usize,
    },
    /// A z stack and no `--param z` saying what to do with it.
    #[error(
        "{}: {planes} focal planes per frame; choose --param z=max (maximum projection), \
         z=mean or z=INDEX (one plane) — the fov pipeline segments one plane per frame",
        path.display()
    )]
    ZChoiceNeeded {
        /// The input file.
        path: PathBuf,
        /// Focal planes per (t, c).
        planes: usize,
    },
    /// `pc` or `fl` names a channel index the position does not have.
    #[error(
        "{}: channel {channel} does not exist (the stack has {channels} channel(s), numbered from 0)",
        path.display()
    )]
    NoSuchChannel {
        /// The input file.
        path: PathBuf,
        /// The channel asked for.
        channel: usize,
        /// The channel count.
        channels: usize,
    },
    /// `pc` or `fl` names a channel name the metadata does not have.
    #[error("{}: no channel is named {name:?} (channels: {known})", path.display())]
    NoChannelNamed {
        /// The input file.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// The channels, `0=Phase, 1=GFP`, or `none named`.
        known: String,
    },
    /// `fl` lists the phase-contrast channel.
    #[error("--param fl lists channel {pc}, which is the phase-contrast channel")]
    FluorescenceIsPhase {
        /// The phase-contrast channel.
        pc: usize,
    },
    /// The metadata's frame interval is in a unit that cannot be converted.
    #[error(
        "{}: the frame interval in the {origin} is in unit {unit:?}, which isobatch cannot \
         convert; pass --param frame_interval (e.g. 10m)",
        path.display()
    )]
    IntervalUnit {
        /// The input file.
        path: PathBuf,
        /// Where the metadata came from.
        origin: &'static str,
        /// The unit as the file states it.
        unit: String,
    },
}

/// Why a fov task cannot start: its parameters, its input's headers or its inputs.
#[derive(Debug, thiserror::Error)]
pub enum FovError {
    /// A parameter is unknown or malformed (the supervisor refuses these before a run).
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The input file cannot be opened or its headers read.
    #[error(transparent)]
    Input(ImageError),
    /// The task names a position the file does not have.
    #[error(
        "{}: position {position} does not exist ({count} position(s) in the file)",
        path.display()
    )]
    NoPosition {
        /// The input file.
        path: PathBuf,
        /// The position asked for.
        position: usize,
        /// Positions in the file.
        count: usize,
    },
    /// The position's planes cannot be split into channels, frames and focal planes
    /// (the supervisor refuses these before a run; `position` is named when the file
    /// has several).
    #[error("{source}{}", position.map_or_else(String::new, |p| format!(" (position {p})")))]
    Layout {
        /// What is wrong.
        source: LayoutError,
        /// The position, in a multi-position file.
        position: Option<usize>,
    },
    /// A task with other than one input file.
    #[error(
        "the fov pipeline takes one image file per task, got {}: {}",
        .0.len(),
        .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    InputCount(Vec<PathBuf>),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words users see, pinned: each refusal names the file (or the parameter),
    /// says what is wrong and how to fix it.
    #[test]
    fn messages_name_the_file_the_problem_and_the_fix() {
        let path = || PathBuf::from("raw/f.tif");
        let cases: Vec<(Box<dyn std::error::Error>, &str)> = vec![
            (
                Box::new(LayoutError::ChannelsContradict {
                    path: path(),
                    given: 4,
                    origin: "ImageJ metadata",
                    metadata: 2,
                }),
                "raw/f.tif: --param channels=4 but the file's ImageJ metadata says 2 channel(s); \
                 drop the parameter or fix the file",
            ),
            (
                Box::new(LayoutError::OrderContradicts {
                    path: path(),
                    given: "TC",
                    origin: "OME-XML",
                    order: "CZT".into(),
                    channel_first: true,
                }),
                "raw/f.tif: --param order=TC but the file's OME-XML says dimension order CZT \
                 (channel varies before time, i.e. CT); drop the parameter",
            ),
            (
                Box::new(LayoutError::UnknownChannels {
                    path: path(),
                    pages: 20,
                }),
                "raw/f.tif: 20 pages and no metadata saying how they map to channels and frames; \
                 pass --param channels=N and, for N > 1, --param order=CT (pages t0c0, t0c1, t1c0, …) \
                 or order=TC (t0c0, t1c0, …, t0c1, …)",
            ),
            (
                Box::new(LayoutError::UnknownOrder {
                    path: path(),
                    pages: 20,
                    channels: 2,
                }),
                "raw/f.tif: a plain TIFF of 20 pages in 2 channels; say how pages are ordered: \
                 --param order=CT (t0c0, t0c1, t1c0, …) or order=TC (t0c0, t1c0, …, t0c1, …)",
            ),
            (
                Box::new(LayoutError::Indivisible {
                    path: path(),
                    pages: 21,
                    channels: 2,
                }),
                "raw/f.tif: 21 pages do not divide into 2 channels",
            ),
            (
                Box::new(LayoutError::PlaneCount {
                    path: path(),
                    planes: 20,
                    c: 2,
                    z: 1,
                    t: 9,
                }),
                "raw/f.tif: 20 planes stored but C=2 × Z=1 × T=9 needed",
            ),
            (
                Box::new(LayoutError::NoSuchPlane {
                    path: path(),
                    index: 3,
                    planes: 3,
                }),
                "raw/f.tif: --param z=3 but the position has 3 focal plane(s), numbered from 0",
            ),
            (
                Box::new(LayoutError::ZChoiceNeeded {
                    path: path(),
                    planes: 3,
                }),
                "raw/f.tif: 3 focal planes per frame; choose --param z=max (maximum projection), \
                 z=mean or z=INDEX (one plane) — the fov pipeline segments one plane per frame",
            ),
            (
                Box::new(LayoutError::NoSuchChannel {
                    path: path(),
                    channel: 2,
                    channels: 2,
                }),
                "raw/f.tif: channel 2 does not exist (the stack has 2 channel(s), numbered from 0)",
            ),
            (
                Box::new(LayoutError::NoChannelNamed {
                    path: path(),
                    name: "YFP".into(),
                    known: "0=Phase, 1=GFP".into(),
                }),
                "raw/f.tif: no channel is named \"YFP\" (channels: 0=Phase, 1=GFP)",
            ),
            (
                Box::new(LayoutError::IntervalUnit {
                    path: path(),
                    origin: "OME-XML",
                    unit: "fortnight".into(),
                }),
                "raw/f.tif: the frame interval in the OME-XML is in unit \"fortnight\", which isobatch \
                 cannot convert; pass --param frame_interval (e.g. 10m)",
            ),
            (
                Box::new(FovError::Layout {
                    source: LayoutError::FluorescenceIsPhase { pc: 1 },
                    position: Some(3),
                }),
                "--param fl lists channel 1, which is the phase-contrast channel (position 3)",
            ),
            (
                Box::new(FovError::NoPosition {
                    path: path(),
                    position: 4,
                    count: 2,
                }),
                "raw/f.tif: position 4 does not exist (2 position(s) in the file)",
            ),
            (
                Box::new(ParamError::OutOfRange {
                    key: "threshold_k".into(),
                    value: "abc".into(),
                    expected: "a number from -10 to 100".into(),
                }),
                "invalid value 'abc' for parameter threshold_k: expected a number from -10 to 100",
            ),
            (
                Box::new(ParamError::Malformed {
                    key: "fl".into(),
                    value: "1,1".into(),
                    problem: "channel 1 is listed twice".into(),
                }),
                "--param fl=1,1: channel 1 is listed twice",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }
}
