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

/// A stack whose pages cannot be split into channels and frames as the
/// metadata and parameters say: refused by name, never guessed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LayoutError {
    /// `--param channels` contradicts the ImageJ metadata.
    #[error(
        "{}: --param channels={given} but the file's ImageJ metadata says channels={metadata}; \
         drop the parameter or fix the file",
        path.display()
    )]
    ChannelsContradict {
        /// The input stack.
        path: PathBuf,
        /// `--param channels`.
        given: usize,
        /// ImageJ `channels=`.
        metadata: usize,
    },
    /// Several pages and nothing that says how many are channels.
    #[error(
        "{}: {pages} pages and no ImageJ channels= metadata; pass --param channels=N",
        path.display()
    )]
    UnknownChannels {
        /// The input stack.
        path: PathBuf,
        /// Its page count.
        pages: usize,
    },
    /// The page count is not a multiple of the channel count.
    #[error("{}: {pages} pages do not divide into {channels} channels", path.display())]
    Indivisible {
        /// The input stack.
        path: PathBuf,
        /// Its page count.
        pages: usize,
        /// The channel count.
        channels: usize,
    },
    /// A time series of z-stacks, which the pipeline does not take.
    #[error(
        "{}: a time series of z-stacks ({frames} frames × {slices} slices); the fov pipeline \
         takes one plane per frame",
        path.display()
    )]
    ZStacks {
        /// The input stack.
        path: PathBuf,
        /// ImageJ `frames=`.
        frames: usize,
        /// ImageJ `slices=`.
        slices: usize,
    },
    /// ImageJ frames × slices disagree with the pages per channel.
    #[error(
        "{}: ImageJ metadata says {frames} frames × {channels} channels but the file has {pages} pages",
        path.display()
    )]
    FrameCount {
        /// The input stack.
        path: PathBuf,
        /// ImageJ frames × slices.
        frames: usize,
        /// The channel count.
        channels: usize,
        /// Its page count.
        pages: usize,
    },
    /// `pc` or `fl` names a channel the stack does not have.
    #[error(
        "{}: channel {channel} does not exist (the stack has {channels} channel(s), numbered from 0)",
        path.display()
    )]
    NoSuchChannel {
        /// The input stack.
        path: PathBuf,
        /// The channel asked for.
        channel: usize,
        /// The channel count.
        channels: usize,
    },
    /// `fl` lists the phase-contrast channel.
    #[error("--param fl lists channel {pc}, which is the phase-contrast channel")]
    FluorescenceIsPhase {
        /// The phase-contrast channel.
        pc: usize,
    },
    /// The ImageJ frame interval is in a unit that cannot be converted.
    #[error(
        "{}: the ImageJ frame interval is in unit {unit:?}, which isobatch cannot convert; \
         pass --param frame_interval (e.g. 10m)",
        path.display()
    )]
    IntervalUnit {
        /// The input stack.
        path: PathBuf,
        /// ImageJ `tunit=`.
        unit: String,
    },
}

/// Why a fov task cannot start: its parameters, its input's header or its inputs.
#[derive(Debug, thiserror::Error)]
pub enum FovError {
    /// A parameter is unknown or malformed (the supervisor refuses these before a run).
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The input TIFF cannot be opened or its headers read.
    #[error(transparent)]
    Input(ImageError),
    /// The input's pages cannot be split into channels and frames.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A task with other than one input file.
    #[error(
        "the fov pipeline takes one TIFF per task, got {}: {}",
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
                    metadata: 2,
                }),
                "raw/f.tif: --param channels=4 but the file's ImageJ metadata says channels=2; \
                 drop the parameter or fix the file",
            ),
            (
                Box::new(LayoutError::UnknownChannels {
                    path: path(),
                    pages: 20,
                }),
                "raw/f.tif: 20 pages and no ImageJ channels= metadata; pass --param channels=N",
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
                Box::new(LayoutError::ZStacks {
                    path: path(),
                    frames: 3,
                    slices: 5,
                }),
                "raw/f.tif: a time series of z-stacks (3 frames × 5 slices); the fov pipeline takes one plane per frame",
            ),
            (
                Box::new(LayoutError::FrameCount {
                    path: path(),
                    frames: 9,
                    channels: 2,
                    pages: 20,
                }),
                "raw/f.tif: ImageJ metadata says 9 frames × 2 channels but the file has 20 pages",
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
                Box::new(LayoutError::IntervalUnit {
                    path: path(),
                    unit: "fortnight".into(),
                }),
                "raw/f.tif: the ImageJ frame interval is in unit \"fortnight\", which isobatch cannot \
                 convert; pass --param frame_interval (e.g. 10m)",
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
