//! Nikon ND2 (v3): one position per XY point, planes by (t, c, z).
//!
//! The `nd2` crate checks the version and turns the experiment loops into
//! sizes; [`super::nd2_guard`] bounds every size first and finds each frame
//! chunk, and [`super::nd2_meta`] reads what the crate does not (loop order,
//! channel names, frame interval, pixel size). Pixels are read here, not by
//! `Nd2File::read_frame_2d`, which re-reads the whole multi-channel frame for
//! every plane and de-interleaves it with checked arithmetic into fresh
//! vectors (~50× the TIFF read, docs/benchmarks.md): an uncompressed frame
//! chunk is an 8-byte timestamp then rows of channel-interleaved samples, so
//! the frame is read 256 KiB at a time and each piece split while still in
//! cache. [`PlaneFile::read_planes`] asked for every channel of one frame (as
//! the fov pipeline asks) splits it once, straight into the callers' planes;
//! [`PlaneFile::read_plane`] picks the one channel out. These are the very
//! samples the crate returns (checked against it in `image::tests::nd2_tests`).
//!
//! What cannot be read faithfully is refused, never converted: samples other
//! than unsigned 16-bit, compressed frames (the crate misreads the numeric
//! `eCompression` as "uncompressed"), several components per channel (RGB),
//! frames the experiment loops do not account for, loops over one axis twice.
//! A frame interval is kept only when the stated period agrees (within 10 %)
//! with the frames' own timestamps where they are recorded; otherwise time is
//! the frame index unless `--param frame_interval` says it.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use nd2::Nd2File;

use super::nd2_clx::Value;
use super::nd2_guard::{self, Layout};
use super::nd2_meta::{self, Experiment, LoopAxis};
use super::nd2_split::{pick, split_two};
use super::{Order, PlaneFile, Series, Sizes};
use crate::image::tiff_in::Limits;
use crate::image::{Dtype, ImageError};

/// `eCompression` of an uncompressed file (0 lossless, 1 lossy).
const UNCOMPRESSED: f64 = 2.0;
/// Bytes of frame rows read at once: small enough to stay in the L2 cache
/// until they are split into channels, large enough that the system calls
/// do not count (64 KiB cost ~5 % more CPU than 128–256 KiB, docs/benchmarks.md).
const STRIP_BYTES: usize = 256 << 10;
/// How far the frames' median time step may stray from the stated period.
const PERIOD_TOLERANCE: f64 = 0.1;

/// An opened ND2 file.
pub struct Nd2Source {
    path: PathBuf,
    raw: File,
    series: Vec<Series>,
    sizes: Sizes,
    /// The loops that number frame chunks, outermost first, with their sizes.
    loops: Vec<(LoopAxis, usize)>,
    /// Where each frame chunk's data (timestamp, then samples) starts.
    frames: Vec<u64>,
    row_bytes: usize,
    /// Rows of a frame as read from the file: a few at a time, so they are
    /// still in cache when split.
    strip: Vec<u8>,
}

impl Nd2Source {
    /// Opens `path`; the error names the file and what the reader cannot do.
    pub fn open(path: &Path, limits: &Limits) -> Result<Self, ImageError> {
        let layout = nd2_guard::check(path, limits)?;
        let bad = |r: String| ImageError::invalid(path, format!("ND2: {r}"));
        check_samples(&layout).map_err(bad)?;
        let mut file = Nd2File::open(path).map_err(|e| bad(e.to_string()))?;
        if file.version().0 != 3 {
            let (a, b) = file.version();
            return Err(bad(format!("version {a}.{b}: only ND2 v3 is read")));
        }
        let dims = file.sizes().map_err(|e| bad(e.to_string()))?;
        let sizes = read_sizes(&dims, layout.num("uiSequenceCount"), limits).map_err(bad)?;
        let get = |k: &str| dims.get(k).copied().unwrap_or(0);
        let (width, height) = (get("X"), get("Y"));
        if layout.row_bytes < width * sizes.c * 2 {
            return Err(bad(format!(
                "rows of {} bytes cannot hold {width} pixels of {} channel(s)",
                layout.row_bytes, sizes.c
            )));
        }
        let experiment = match &layout.experiment {
            Some(root) => Experiment::read(root).map_err(bad)?,
            None => Experiment::default(),
        };
        let loops = frame_loops(&experiment, &dims).map_err(bad)?;
        let picture = layout.picture.as_ref();
        let mut source = Nd2Source {
            path: path.to_path_buf(),
            raw: File::open(path).map_err(|e| ImageError::io(path, e))?,
            series: Vec::new(),
            sizes,
            loops,
            frames: layout.frames,
            row_bytes: layout.row_bytes,
            strip: Vec::new(),
        };
        let (interval, interval_note) = match experiment.interval() {
            Err(why) => (None, Some(why)),
            Ok(None) => (None, None),
            Ok(Some(stated)) => {
                match source.timestamps_disagree(&experiment, layout.acq_times.as_deref())? {
                    Some(why) => (None, Some(why)),
                    None => (Some(stated), None),
                }
            }
        };
        let series = Series {
            source: "ND2 metadata",
            width,
            height,
            dtype: Dtype::U16,
            planes: sizes.planes().unwrap_or(0),
            sizes: Some(sizes),
            order: Some(Order::CZT),
            channel_names: picture
                .and_then(|p| nd2_meta::channel_names(p, sizes.c))
                .unwrap_or_else(|| vec![None; sizes.c]),
            interval,
            interval_note,
            pixel_size: picture.and_then(|p| nd2_meta::pixel_size(p, layout.calibration.as_ref())),
        };
        source.series = vec![series; get("P")];
        Ok(source)
    }

    /// The frame chunk holding (position, t, z): the loops' coordinates with the
    /// innermost varying fastest, as the crate numbers them.
    fn frame(&self, position: usize, t: usize, z: usize) -> Option<usize> {
        self.loops.iter().try_fold(0usize, |seq, &(axis, n)| {
            let at = match axis {
                'P' => position,
                'T' => t,
                _ => z,
            };
            seq.checked_mul(n)?.checked_add(at)
        })
    }

    /// Why the frames' own times contradict the experiment's period (beyond
    /// 10 %), or `None` when they agree, are not recorded or T is 1. The times
    /// of position 0's frames: each frame chunk's first 8 bytes (ms), or where
    /// those are all zero (not recorded) `CustomData|AcqTimesCache!`; compared
    /// by the median step, which one late frame or a pause does not move.
    fn timestamps_disagree(
        &self,
        experiment: &Experiment,
        cache: Option<&[f64]>,
    ) -> Result<Option<String>, ImageError> {
        let (Some(period), true) = (experiment.periods.first(), self.sizes.t > 1) else {
            return Ok(None);
        };
        let period = period.ms;
        let seqs: Vec<usize> = (0..self.sizes.t)
            .filter_map(|t| self.frame(0, t, 0))
            .collect();
        let mut stamps = Vec::with_capacity(seqs.len());
        for &seq in &seqs {
            let mut b = [0u8; 8];
            if let Some(&at) = self.frames.get(seq) {
                self.raw.read_exact_at(&mut b, at).map_err(|e| {
                    ImageError::invalid(&self.path, format!("ND2: frame timestamp: {e}"))
                })?;
            }
            stamps.push(f64::from_le_bytes(b));
        }
        let mut from = "the frames' timestamps";
        if stamps.iter().all(|s| *s == 0.0) {
            let Some(cache) = cache else {
                return Ok(None);
            };
            stamps = seqs.iter().filter_map(|&s| cache.get(s).copied()).collect();
            from = "the frames' times in AcqTimesCache";
        }
        let mut steps: Vec<f64> = stamps.windows(2).map(|w| w[1] - w[0]).collect();
        steps.sort_by(f64::total_cmp);
        let Some(&median) = steps.get(steps.len() / 2) else {
            return Ok(None);
        };
        if median.is_finite() && (median - period).abs() <= period * PERIOD_TOLERANCE {
            return Ok(None);
        }
        Ok(Some(format!(
            "the ND2 time loop says {} but {from} are {} apart (median), so the stated \
             interval is not used",
            nd2_meta::show_ms(period),
            nd2_meta::show_in(median, &nd2_meta::ms_interval(period).1)
        )))
    }
}

/// Refuses what the reader cannot read faithfully: compressed frames, samples
/// other than unsigned 16-bit, several components per channel.
fn check_samples(layout: &Layout) -> Result<(), String> {
    match layout.attrs.get("eCompression") {
        Some(Value::Num(v)) if *v == UNCOMPRESSED => {}
        Some(Value::Num(v)) => {
            return Err(format!(
                "compressed frames (eCompression={v}) are not read: the nd2 crate would \
                 decode them as raw pixels"
            ));
        }
        Some(Value::Text(t)) => {
            return Err(format!(
                "eCompression={t:?}: only uncompressed ND2 frames are read"
            ));
        }
        Some(_) | None => {
            return Err(
                "the file does not state its compression (eCompression); refused rather \
                 than guessed"
                    .into(),
            );
        }
    }
    let bits = layout.num("uiBpcInMemory").unwrap_or(0.0);
    let float = layout.num("uiCompBPC") == Some(3.0);
    if bits != 16.0 || float {
        return Err(format!(
            "{}{bits}-bit samples: the nd2 crate reads every file as unsigned 16-bit, \
             so only those are read",
            if float { "float " } else { "" }
        ));
    }
    let comp = layout.num("uiComp").unwrap_or(0.0);
    let channels = layout.num("uiChannelCount").unwrap_or(comp);
    if comp != channels {
        return Err(format!(
            "{comp} components in {channels} channel(s) (RGB?): only one component per \
             channel is read"
        ));
    }
    Ok(())
}

/// The loops that number frame chunks, with the crate's sizes: every axis the
/// crate sizes above 1 must be a loop of the experiment read here, so both
/// number frames alike.
fn frame_loops(
    experiment: &Experiment,
    dims: &BTreeMap<String, usize>,
) -> Result<Vec<(LoopAxis, usize)>, String> {
    let size = |a: LoopAxis| dims.get(a.to_string().as_str()).copied().unwrap_or(1);
    for axis in ['P', 'T', 'Z'] {
        if size(axis) > 1 && !experiment.axes.contains(&axis) {
            return Err(format!(
                "{axis}={} but no experiment loop over {axis} states where its frames lie; \
                 refused rather than guessed",
                size(axis)
            ));
        }
    }
    Ok(experiment.axes.iter().map(|&a| (a, size(a))).collect())
}

/// Sizes of one position, checked against the stored frames and the limits.
fn read_sizes(
    dims: &BTreeMap<String, usize>,
    sequences: Option<f64>,
    limits: &Limits,
) -> Result<Sizes, String> {
    let get = |k: &str| dims.get(k).copied().unwrap_or(0);
    let (p, t, c, z) = (get("P"), get("T"), get("C"), get("Z"));
    let (w, h) = (get("X"), get("Y"));
    if [p, t, c, z, w, h].contains(&0) {
        return Err(format!(
            "a dimension is 0 (P={p} T={t} C={c} Z={z} X={w} Y={h})"
        ));
    }
    let frames = p.checked_mul(t).and_then(|n| n.checked_mul(z));
    let stored = sequences.unwrap_or(-1.0);
    match frames {
        Some(n) if n as f64 == stored && n <= limits.max_pages => {}
        _ => {
            return Err(format!(
                "the experiment loops give P={p} × T={t} × Z={z} frames but the file stores \
                 {stored}; refused rather than guessed"
            ));
        }
    }
    Ok(Sizes { t, c, z })
}

impl PlaneFile for Nd2Source {
    fn format(&self) -> &'static str {
        "ND2"
    }

    fn positions(&self) -> &[Series] {
        &self.series
    }

    fn read_plane(
        &mut self,
        position: usize,
        index: usize,
        out: &mut [u8],
    ) -> Result<(), ImageError> {
        let plane = self.locate(position, index, out.len())?;
        if self.sizes.c == 1 && self.row_bytes == self.series[0].width * 2 {
            return self
                .raw
                .read_exact_at(out, plane.at)
                .map_err(|e| self.unreadable(position, index, e));
        }
        let mut dst: Vec<Option<&mut [u8]>> = (0..self.sizes.c).map(|_| None).collect();
        dst[plane.channel] = Some(out);
        self.split_frame(plane.at, &mut dst)
            .map_err(|e| self.unreadable(position, index, e))
    }

    fn read_planes(
        &mut self,
        position: usize,
        planes: &mut [(usize, &mut [u8])],
    ) -> Result<(), ImageError> {
        let mut frame = None;
        let mut whole = planes.len() == self.sizes.c && self.sizes.c > 1;
        for (k, (index, out)) in planes.iter().enumerate() {
            let plane = self.locate(position, *index, out.len())?;
            whole &= plane.channel == k && frame.is_none_or(|at| at == plane.at);
            frame = Some(plane.at);
        }
        let (Some(at), true) = (frame, whole) else {
            for (index, out) in planes.iter_mut() {
                self.read_plane(position, *index, out)?;
            }
            return Ok(());
        };
        let first = planes.first().map_or(0, |p| p.0);
        let mut dst: Vec<Option<&mut [u8]>> =
            planes.iter_mut().map(|(_, out)| Some(&mut **out)).collect();
        self.split_frame(at, &mut dst)
            .map_err(|e| self.unreadable(position, first, e))
    }
}

/// Where one plane lies: its channel and where its frame's samples start.
struct PlaneAt {
    channel: usize,
    at: u64,
}

impl Nd2Source {
    /// Checks that plane `index` of `position` exists and `len` bytes hold it,
    /// and finds its frame chunk.
    fn locate(&self, position: usize, index: usize, len: usize) -> Result<PlaneAt, ImageError> {
        let coords = self.sizes.czt(index);
        let Some((t, c, z)) = coords.filter(|_| position < self.series.len()) else {
            return Err(ImageError::usage(
                &self.path,
                format!("plane {index} of position {position} does not exist"),
            ));
        };
        let (w, h) = (self.series[0].width, self.series[0].height);
        if len != w * h * 2 {
            return Err(ImageError::usage(
                &self.path,
                format!("a buffer of {len} bytes for a {w}x{h} 16-bit plane"),
            ));
        }
        match self.frame(position, t, z).and_then(|i| self.frames.get(i)) {
            Some(at) => Ok(PlaneAt {
                channel: c,
                at: at + 8,
            }),
            None => Err(ImageError::invalid(
                &self.path,
                format!(
                    "ND2: position {position}, frame t={t} c={c} z={z}: no frame chunk holds it"
                ),
            )),
        }
    }

    /// The error of a frame that could not be read, naming the plane.
    fn unreadable(&self, position: usize, index: usize, e: std::io::Error) -> ImageError {
        let (t, c, z) = self.sizes.czt(index).unwrap_or_default();
        ImageError::invalid(
            &self.path,
            format!("ND2: position {position}, frame t={t} c={c} z={z}: {e}"),
        )
    }

    /// Reads the frame whose samples start at `at`, a few rows at a time, and
    /// splits each strip into the channels whose plane `dst` holds (`None`: not asked).
    fn split_frame(&mut self, at: u64, dst: &mut [Option<&mut [u8]>]) -> std::io::Result<()> {
        let (w, h) = (self.series[0].width, self.series[0].height);
        let rows = (STRIP_BYTES / self.row_bytes).clamp(1, h);
        self.strip.resize(rows * self.row_bytes, 0);
        for first in (0..h).step_by(rows) {
            let strip = &mut self.strip[..rows.min(h - first) * self.row_bytes];
            self.raw
                .read_exact_at(strip, at + (first * self.row_bytes) as u64)?;
            let span = first * w * 2..(first + strip.len() / self.row_bytes) * w * 2;
            if let [Some(d0), Some(d1)] = dst {
                let (d0, d1) = (&mut d0[span.clone()], &mut d1[span]);
                split_two(strip, self.row_bytes, w * 2, d0, d1);
                continue;
            }
            for (y, src) in (first..).zip(strip.chunks_exact(self.row_bytes)) {
                for (k, d) in dst.iter_mut().enumerate() {
                    if let Some(d) = d {
                        pick(&mut d[y * w * 2..][..w * 2], src, self.sizes.c, k);
                    }
                }
            }
        }
        Ok(())
    }
}
