//! Writing (T,H,W) stacks as multi-page grayscale TIFF that Fiji and tifffile open.
//!
//! Pages are streamed to a temp file in order, their pixel data contiguous
//! right after the 8/16-byte header, and all IFDs are appended by
//! [`TiffWriter::commit`]. For uncompressed classic files this is the layout
//! ImageJ's own reader expects for an `images=N` stack (it reads the pages as
//! one contiguous block from the first page's offset). The first IFD carries
//! an ImageJ description, so Fiji opens a checkpoint as a time series and a
//! `channels=2` stack as a 2-channel hyperstack.
//!
//! Compatibility (checked with ImageJ 1.53t and tifffile 2026.3): ImageJ's
//! native opener reads classic files in every compression and shows the
//! layout (time series or C x T hyperstack); BigTIFF needs Fiji's
//! Bio-Formats. uint32 pages are fine for tifffile and Bio-Formats; ImageJ has
//! no 32-bit integer type, its native opener converts them to float (values
//! of 2^31 and above come out negative), so view those via Bio-Formats.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::Path;

use tiff::encoder::compression::{CompressionAlgorithm, Deflate, Lzw, Packbits};

use super::imagej::ImageJLayout;
use super::tiff_ifd::{Entry, Value, align, block_len, encode};
use super::{Dtype, ImageError, Pixel, Shape};
use isobatch_shared::atomic::TempFile;

/// Compression of written pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// Uncompressed: fastest, and what ImageJ opens without Bio-Formats.
    #[default]
    None,
    /// LZW (TIFF code 5).
    Lzw,
    /// Deflate/zlib (TIFF code 8; tifffile's `zlib`).
    Deflate,
    /// PackBits (TIFF code 32773), each row packed separately.
    PackBits,
}

impl Compression {
    /// The TIFF Compression tag value.
    pub const fn code(self) -> u16 {
        match self {
            Compression::None => 1,
            Compression::Lzw => 5,
            Compression::Deflate => 8,
            Compression::PackBits => 32773,
        }
    }

    /// Upper bound of compressed/raw size, used to decide on BigTIFF up front.
    fn worst_case_ratio(self) -> f64 {
        match self {
            Compression::None => 1.0,
            Compression::Lzw => 1.51,
            Compression::Deflate => 1.01,
            Compression::PackBits => 1.02,
        }
    }
}

/// Whether to write BigTIFF (64-bit offsets).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum BigTiff {
    /// Classic TIFF unless the file could exceed ~3.9 GiB.
    #[default]
    Auto,
    /// Always BigTIFF (for tests and readers that want it).
    Always,
}

/// Everything about a TIFF stack's encoding besides its shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TiffOptions {
    /// The ImageJ dimensions written into the description.
    pub layout: ImageJLayout,
    /// Page compression.
    pub compression: Compression,
    /// Classic or BigTIFF.
    pub bigtiff: BigTiff,
}

/// Classic TIFF is used while the estimated file stays below this.
const CLASSIC_MAX: u64 = (39 << 30) / 10;
/// Target uncompressed strip size.
const STRIP_BYTES: usize = 1 << 20;

/// Streams pages of `T` into a TIFF, visible under its final name only after [`Self::commit`].
#[derive(Debug)]
pub struct TiffWriter<T: Pixel> {
    temp: TempFile,
    out: Counting<BufWriter<File>>,
    shape: Shape,
    options: TiffOptions,
    big: bool,
    rows_per_strip: usize,
    chunks: Vec<(u64, u64)>,
    next_page: usize,
    failed: bool,
    _pixel: PhantomData<T>,
}

impl<T: Pixel> TiffWriter<T> {
    /// Starts `path` for `shape.frames` pages with the given layout and compression.
    pub fn create(
        path: &Path,
        shape: Shape,
        layout: ImageJLayout,
        compression: Compression,
    ) -> Result<Self, ImageError> {
        let options = TiffOptions {
            layout,
            compression,
            bigtiff: BigTiff::Auto,
        };
        Self::create_with(path, shape, options)
    }

    /// Like [`Self::create`], with every option explicit.
    pub fn create_with(
        path: &Path,
        shape: Shape,
        options: TiffOptions,
    ) -> Result<Self, ImageError> {
        if !shape.is_non_empty() || u32::try_from(shape.width.max(shape.height)).is_err() {
            return Err(ImageError::usage(
                path,
                format!("cannot write a stack of shape {shape}"),
            ));
        }
        if options.layout.pages() != Some(shape.frames) {
            return Err(ImageError::usage(
                path,
                format!(
                    "ImageJ layout of {} channels x {} frames does not match {} pages",
                    options.layout.channels, options.layout.frames, shape.frames
                ),
            ));
        }
        let frame_bytes = shape
            .frame_bytes(T::DTYPE)
            .ok_or_else(|| ImageError::usage(path, format!("shape {shape} overflows")))?;
        let row_bytes = shape.width.saturating_mul(T::DTYPE.bytes());
        let rows_per_strip = (STRIP_BYTES / row_bytes).clamp(1, shape.height);
        let strips = shape.height.div_ceil(rows_per_strip) as u64;
        let big = options.bigtiff == BigTiff::Always
            || !classic_fits(frame_bytes, strips, shape.frames, options.compression);

        let (temp, file) = TempFile::create(path).map_err(|e| ImageError::io(path, e))?;
        let mut out = Counting {
            inner: BufWriter::with_capacity(1 << 20, file),
            pos: 0,
        };
        let header: &[u8] = if big {
            &[b'I', b'I', 43, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        } else {
            &[b'I', b'I', 42, 0, 0, 0, 0, 0]
        };
        out.write_all(header).map_err(|e| ImageError::io(path, e))?;
        Ok(TiffWriter {
            temp,
            out,
            shape,
            options,
            big,
            rows_per_strip,
            chunks: Vec::new(),
            next_page: 0,
            failed: false,
            _pixel: PhantomData,
        })
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        self.temp.dest()
    }

    /// The stack being written.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// True when the file is BigTIFF.
    pub fn is_bigtiff(&self) -> bool {
        self.big
    }

    /// Pages written so far.
    pub fn pages_written(&self) -> usize {
        self.next_page
    }

    /// Appends the next page (`width*height` samples, row-major).
    pub fn write_page(&mut self, page: &[T]) -> Result<(), ImageError> {
        self.check_not_failed()?;
        if self.next_page >= self.shape.frames {
            return Err(ImageError::usage(
                self.path(),
                format!("all {} pages are already written", self.shape.frames),
            ));
        }
        if page.len() != self.shape.frame_len() {
            return Err(ImageError::usage(
                self.path(),
                format!(
                    "page holds {} pixels but {} are needed ({}x{})",
                    page.len(),
                    self.shape.frame_len(),
                    self.shape.width,
                    self.shape.height
                ),
            ));
        }
        let bytes: &[u8] = bytemuck::cast_slice(page);
        let row_bytes = self.shape.width * T::DTYPE.bytes();
        for strip in bytes.chunks(row_bytes * self.rows_per_strip) {
            let start = self.out.pos;
            let written = match self.options.compression {
                Compression::None => self.out.write_all(strip),
                Compression::Lzw => Lzw.write_to(&mut self.out, strip).map(drop),
                Compression::Deflate => Deflate::default().write_to(&mut self.out, strip).map(drop),
                Compression::PackBits => strip
                    .chunks(row_bytes)
                    .try_for_each(|row| Packbits.write_to(&mut self.out, row).map(drop)),
            };
            if let Err(e) = written {
                self.failed = true;
                return Err(ImageError::io(self.temp.dest(), e));
            }
            self.chunks.push((start, self.out.pos - start));
        }
        if !self.big && self.out.pos > u64::from(u32::MAX) {
            self.failed = true;
            return Err(ImageError::io(
                self.temp.dest(),
                io::Error::other("classic TIFF exceeded 4 GiB; write it as BigTIFF"),
            ));
        }
        self.next_page += 1;
        Ok(())
    }

    /// Refuses to go on after a failed write left a page half written.
    fn check_not_failed(&self) -> Result<(), ImageError> {
        if self.failed {
            return Err(ImageError::usage(
                self.path(),
                "an earlier write failed; the file cannot be completed",
            ));
        }
        Ok(())
    }

    /// The tags of page `index`.
    fn entries(&self, index: usize) -> Vec<Entry> {
        let strips = self.shape.height.div_ceil(self.rows_per_strip);
        let chunks = &self.chunks[index * strips..(index + 1) * strips];
        let (offsets, counts): (Vec<u64>, Vec<u64>) = chunks.iter().copied().unzip();
        let wide = |v: Vec<u64>| {
            if self.big {
                Value::Long8(v)
            } else {
                // Guarded by the 4 GiB check in `write_page`.
                Value::Long(v.into_iter().map(|x| x as u32).collect())
            }
        };
        let bits = (T::DTYPE.bytes() * 8) as u16;
        let format = if T::DTYPE == Dtype::F32 { 3 } else { 1 };
        let long = |x: usize| Value::Long(vec![x as u32]);
        let short = |x: u16| Value::Short(vec![x]);
        let mut e = vec![
            Entry {
                tag: 256,
                value: long(self.shape.width),
            },
            Entry {
                tag: 257,
                value: long(self.shape.height),
            },
            Entry {
                tag: 258,
                value: short(bits),
            },
            Entry {
                tag: 259,
                value: short(self.options.compression.code()),
            },
            Entry {
                tag: 262,
                value: short(1),
            },
        ];
        if index == 0 {
            let text = self.options.layout.description();
            e.push(Entry {
                tag: 270,
                value: Value::Ascii(text),
            });
        }
        e.extend([
            Entry {
                tag: 273,
                value: wide(offsets),
            },
            Entry {
                tag: 277,
                value: short(1),
            },
            Entry {
                tag: 278,
                value: long(self.rows_per_strip),
            },
            Entry {
                tag: 279,
                value: wide(counts),
            },
            Entry {
                tag: 339,
                value: short(format),
            },
        ]);
        e
    }

    /// Writes the IFDs, fsyncs, renames to the final name and fsyncs the folder.
    pub fn commit(mut self) -> Result<(), ImageError> {
        let dest = self.temp.dest().to_path_buf();
        self.check_not_failed()?;
        if self.next_page != self.shape.frames {
            return Err(ImageError::usage(
                &dest,
                format!(
                    "only {} of {} pages were written",
                    self.next_page, self.shape.frames
                ),
            ));
        }
        let io_err = |e: io::Error| ImageError::io(&dest, e);
        let big = self.big;
        let mut pos = align(self.out.pos, big);
        let first_ifd = pos;
        for index in 0..self.shape.frames {
            let entries = self.entries(index);
            let next = if index + 1 < self.shape.frames {
                pos + block_len(&entries, big)
            } else {
                0
            };
            let block = encode(&entries, pos, next, big)
                .map_err(|r| ImageError::io(&dest, io::Error::other(r)))?;
            let padding = pos - self.out.pos;
            self.out
                .write_all(&[0u8; 8][..padding as usize])
                .map_err(io_err)?;
            self.out.write_all(&block).map_err(io_err)?;
            pos = self.out.pos;
        }
        let mut file = self
            .out
            .inner
            .into_inner()
            .map_err(|e| io_err(e.into_error()))?;
        let (at, link) = if big {
            (8, first_ifd.to_le_bytes().to_vec())
        } else {
            (4, (first_ifd as u32).to_le_bytes().to_vec())
        };
        file.seek(SeekFrom::Start(at)).map_err(io_err)?;
        file.write_all(&link).map_err(io_err)?;
        self.temp.commit(file).map_err(|e| ImageError::io(&dest, e))
    }
}

/// True when a classic TIFF of `frames` pages surely stays below ~3.9 GiB,
/// counting worst-case compression growth and per-page IFD overhead.
pub(crate) fn classic_fits(frame_bytes: u64, strips: u64, frames: usize, c: Compression) -> bool {
    let per_page = frame_bytes as f64 * c.worst_case_ratio() + 512.0 + 16.0 * strips as f64;
    16.0 + frames as f64 * per_page + 1024.0 <= CLASSIC_MAX as f64
}

/// A writer that knows its position (the file offset of the next byte).
#[derive(Debug)]
struct Counting<W> {
    inner: W,
    pos: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
