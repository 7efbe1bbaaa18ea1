//! Stage checkpoints: a (T,H,W) stack in the chosen [`Format`], so stage code
//! writes and rereads frames without caring whether they live in `.npy`,
//! `.tif` or both.
//!
//! TIFF checkpoints are uncompressed ImageJ time series (Fiji opens them
//! natively). With [`Format::Both`] the `.npy` is committed first; a reader
//! prefers `STEM.npy` and never falls back to the `.tif` when the `.npy` is
//! present but invalid (e.g. truncated by a killed attempt): that is reported
//! as [`ImageError::Invalid`] so the stage gets recomputed.

use std::path::{Path, PathBuf};

use super::imagej::ImageJLayout;
use super::npy::{NpyFrames, NpyStack, NpyWriter};
use super::tiff_in::{InputStack, Limits};
use super::tiff_out::{Compression, TiffWriter};
use super::{Dtype, Format, ImageError, Pixel, Shape};

fn checked_stem(dir: &Path, stem: &str) -> Result<(), ImageError> {
    if stem.is_empty() || stem.contains(['/', '\\']) || stem == "." || stem == ".." {
        return Err(ImageError::usage(
            dir,
            format!("invalid checkpoint stem {stem:?}"),
        ));
    }
    Ok(())
}

/// Writes one stack checkpoint frame by frame in one or both formats.
#[derive(Debug)]
pub struct StackSink<T: Pixel> {
    npy: Option<NpyWriter<T>>,
    tif: Option<TiffWriter<T>>,
    outputs: Vec<PathBuf>,
    shape: Shape,
    next: usize,
}

/// The files a checkpoint `stem` in `format` consists of, in commit order.
pub fn checkpoint_paths(dir: &Path, stem: &str, format: Format) -> Vec<PathBuf> {
    format
        .extensions()
        .iter()
        .map(|ext| dir.join(format!("{stem}.{ext}")))
        .collect()
}

impl<T: Pixel> StackSink<T> {
    /// Starts `dir/stem.npy` and/or `dir/stem.tif` (temp files until [`Self::commit`]).
    pub fn create(
        dir: &Path,
        stem: &str,
        shape: Shape,
        format: Format,
    ) -> Result<Self, ImageError> {
        checked_stem(dir, stem)?;
        let mut sink = StackSink {
            npy: None,
            tif: None,
            outputs: Vec::new(),
            shape,
            next: 0,
        };
        for path in checkpoint_paths(dir, stem, format) {
            if path.extension().is_some_and(|e| e == "npy") {
                sink.npy = Some(NpyWriter::create(&path, shape)?);
            } else {
                let layout = ImageJLayout::time_series(shape.frames);
                sink.tif = Some(TiffWriter::create(&path, shape, layout, Compression::None)?);
            }
            sink.outputs.push(path);
        }
        Ok(sink)
    }

    /// The final paths, in the order they are committed.
    pub fn outputs(&self) -> &[PathBuf] {
        &self.outputs
    }

    /// The stack being written.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Writes frame `t`; frames must come in order 0, 1, 2, ...
    pub fn write_frame(&mut self, t: usize, frame: &[T]) -> Result<(), ImageError> {
        if t != self.next {
            let at = self.outputs.first().map_or(Path::new(""), |p| p.as_path());
            return Err(ImageError::usage(
                at,
                format!(
                    "frame {t} written out of order (expected frame {})",
                    self.next
                ),
            ));
        }
        if let Some(npy) = &mut self.npy {
            npy.write_frame(t, frame)?;
        }
        if let Some(tif) = &mut self.tif {
            tif.write_page(frame)?;
        }
        self.next += 1;
        Ok(())
    }

    /// Commits every file and removes the same checkpoint in a format no
    /// longer written (so no stale `.npy` sits beside a fresh `.tif`);
    /// returns the final paths.
    pub fn commit(self) -> Result<Vec<PathBuf>, ImageError> {
        let stale: Vec<PathBuf> = match (&self.npy, &self.tif, self.outputs.first()) {
            (None, Some(_), Some(p)) => vec![p.with_extension("npy")],
            (Some(_), None, Some(p)) => vec![p.with_extension("tif")],
            _ => Vec::new(),
        };
        if let Some(npy) = self.npy {
            npy.commit()?;
        }
        if let Some(tif) = self.tif {
            tif.commit()?;
        }
        for p in stale {
            match std::fs::remove_file(&p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(ImageError::io(&p, e));
                }
                _ => {}
            }
        }
        Ok(self.outputs)
    }
}

#[derive(Debug)]
enum Source {
    Npy(NpyStack),
    Tiff(Box<InputStack>),
}

/// Reads a checkpoint written by [`StackSink`]: `stem.npy` if present, else `stem.tif`.
/// Its frames are read through [`Self::frames`].
#[derive(Debug)]
pub struct StackSource {
    source: Source,
    shape: Shape,
    dtype: Dtype,
}

impl StackSource {
    /// The file of checkpoint `stem` that [`Self::open`] reads in `format`
    /// (the `.npy` when the format has one), if it exists. Files of another
    /// format are never read: they may be left from an earlier run.
    pub fn find(dir: &Path, stem: &str, format: Format) -> Result<Option<PathBuf>, ImageError> {
        checked_stem(dir, stem)?;
        let path = dir.join(format!("{stem}.{}", format.extensions()[0]));
        if path.try_exists().map_err(|e| ImageError::io(&path, e))? {
            return Ok(Some(path));
        }
        Ok(None)
    }

    /// Opens and validates the checkpoint `dir/stem` written in `format`.
    pub fn open(dir: &Path, stem: &str, format: Format) -> Result<Self, ImageError> {
        let Some(path) = Self::find(dir, stem, format)? else {
            let missing = dir.join(format!("{stem}.{}", format.extensions()[0]));
            return Err(ImageError::io(
                &missing,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such checkpoint"),
            ));
        };
        if path.extension().is_some_and(|e| e == "npy") {
            let npy = NpyStack::open(&path)?;
            let (shape, dtype) = (npy.shape(), npy.dtype());
            return Ok(StackSource {
                source: Source::Npy(npy),
                shape,
                dtype,
            });
        }
        let tif = InputStack::open(&path, &Limits::default())?;
        let info = tif.info();
        let channels = info.imagej.as_ref().map_or(1, |m| m.channel_count());
        if channels != 1 {
            return Err(ImageError::invalid(
                &path,
                format!("checkpoint has {channels} channels; expected a single-channel stack"),
            ));
        }
        let (shape, dtype) = (info.shape(), info.dtype);
        Ok(StackSource {
            source: Source::Tiff(Box::new(tif)),
            shape,
            dtype,
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        match &self.source {
            Source::Npy(n) => n.path(),
            Source::Tiff(t) => t.path(),
        }
    }

    /// The stack's (frames, height, width).
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The stack's sample type.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// Starts a pass over the frames (for `.npy`, a typed view of the whole map).
    pub fn frames(&mut self) -> Result<Frames<'_>, ImageError> {
        let pass = match &mut self.source {
            Source::Npy(n) => match n.dtype() {
                Dtype::U8 => Pass::U8(n.frames()?),
                Dtype::U16 => Pass::U16(n.frames()?),
                Dtype::U32 => Pass::U32(n.frames()?),
                Dtype::F32 => Pass::F32(n.frames()?),
            },
            Source::Tiff(t) => Pass::Tiff(t),
        };
        Ok(Frames {
            pass,
            dtype: self.dtype,
            scratch: Vec::new(),
        })
    }
}

#[derive(Debug)]
enum Pass<'a> {
    U8(NpyFrames<'a, u8>),
    U16(NpyFrames<'a, u16>),
    U32(NpyFrames<'a, u32>),
    F32(NpyFrames<'a, f32>),
    Tiff(&'a mut InputStack),
}

/// One pass over a [`StackSource`]'s frames, in whatever type the caller needs.
#[derive(Debug)]
pub struct Frames<'a> {
    pass: Pass<'a>,
    dtype: Dtype,
    /// Frame buffer for [`Self::read_labels`] when the stored type is narrower than u32.
    scratch: Vec<u32>,
}

impl Frames<'_> {
    /// The file being read.
    pub fn path(&self) -> &Path {
        match &self.pass {
            Pass::U8(f) => f.stack().path(),
            Pass::U16(f) => f.stack().path(),
            Pass::U32(f) => f.stack().path(),
            Pass::F32(f) => f.stack().path(),
            Pass::Tiff(t) => t.path(),
        }
    }

    /// Frame `t` as f32, whatever the stored dtype.
    pub fn read_f32(&mut self, t: usize, out: &mut [f32]) -> Result<(), ImageError> {
        match &mut self.pass {
            Pass::U8(f) => f.read_f32(t, out),
            Pass::U16(f) => f.read_f32(t, out),
            Pass::U32(f) => f.read_f32(t, out),
            Pass::F32(f) => f.read_f32(t, out),
            Pass::Tiff(s) => s.read_page_f32(t, out),
        }
    }

    /// Frame `t` in its stored type `T` (an error if the checkpoint holds another dtype).
    pub fn read<T: Pixel>(&mut self, t: usize, out: &mut [T]) -> Result<(), ImageError> {
        match &mut self.pass {
            Pass::U8(f) => f.read(t, out),
            Pass::U16(f) => f.read(t, out),
            Pass::U32(f) => f.read(t, out),
            Pass::F32(f) => f.read(t, out),
            Pass::Tiff(s) => s.read_page(t, out),
        }
    }

    /// Frame `t` of a label stack as u32, whichever unsigned type stores it (the track
    /// stage writes u16 when the ids fit); float labels are an error.
    pub fn read_labels(&mut self, t: usize, out: &mut [u32]) -> Result<(), ImageError> {
        match self.dtype {
            Dtype::U32 => self.read(t, out),
            Dtype::U16 => self.read_widened::<u16>(t, out),
            Dtype::U8 => self.read_widened::<u8>(t, out),
            Dtype::F32 => Err(ImageError::invalid(
                self.path(),
                "labels are float32; expected an unsigned integer type",
            )),
        }
    }

    fn read_widened<T: Pixel + Into<u32>>(
        &mut self,
        t: usize,
        out: &mut [u32],
    ) -> Result<(), ImageError> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.resize(out.len(), 0);
        let narrow = &mut bytemuck::cast_slice_mut::<u32, T>(&mut scratch)[..out.len()];
        let read = self.read(t, narrow);
        if read.is_ok() {
            for (o, &v) in out.iter_mut().zip(narrow.iter()) {
                *o = v.into();
            }
        }
        self.scratch = scratch;
        read
    }
}
