//! Reading multi-page grayscale TIFF stacks (the pipeline inputs).
//!
//! [`InputStack::open`] walks every IFD once, validating each page's tags
//! (see `tiff_page`) without decoding pixels; the tiff crate's decoder keeps
//! the IFD offsets it visited, so later `seek_to_image(i)` calls jump straight
//! to page `i` and a sequential read costs O(1) per page.

use std::fs::File;
use std::io::{BufReader, ErrorKind, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use tiff::TiffError;
use tiff::decoder::Decoder;
use tiff::tags::Tag;

use super::imagej::ImageJMeta;
use super::tiff_page::{PageInfo, compression_name, inspect, read_signature};
use super::{Dtype, ImageError, Pixel, Shape, convert_to_f32};

/// Bounds on what an input may claim before anything is allocated for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest width or height in pixels.
    pub max_side: u32,
    /// Largest decoded page in bytes.
    pub max_frame_bytes: u64,
    /// Largest number of pages (IFDs) walked.
    pub max_pages: usize,
}

impl Default for Limits {
    /// 65536 px per side, 2 GiB per page, one million pages.
    fn default() -> Self {
        Limits {
            max_side: 65_536,
            max_frame_bytes: 2 << 30,
            max_pages: 1_000_000,
        }
    }
}

impl Limits {
    /// The tiff crate's own limits, so no tag or strip can make it allocate more.
    fn for_decoder(&self) -> tiff::decoder::Limits {
        let frame = usize::try_from(self.max_frame_bytes).unwrap_or(usize::MAX);
        let mut l = tiff::decoder::Limits::default();
        l.decoding_buffer_size = frame;
        l.intermediate_buffer_size = frame.saturating_mul(2);
        l.ifd_value_size = MAX_DESCRIPTION;
        l
    }
}

/// Largest ImageDescription read (an OME-XML of many positions and planes), and the
/// decoder's bound on any one tag's value.
const MAX_DESCRIPTION: usize = 64 << 20;

/// What [`probe`] learns from a stack's headers.
#[derive(Clone, Debug, PartialEq)]
pub struct StackInfo {
    /// Page width in pixels.
    pub width: usize,
    /// Page height in pixels.
    pub height: usize,
    /// Number of pages.
    pub pages: usize,
    /// Sample type, the same on every page.
    pub dtype: Dtype,
    /// True for BigTIFF (64-bit offsets).
    pub bigtiff: bool,
    /// Compression of the pages (`none`, `LZW`, ...; `mixed (...)` if they differ).
    pub compression: String,
    /// ImageJ hyperstack metadata, when the first page carries it.
    pub imagej: Option<ImageJMeta>,
}

impl StackInfo {
    /// The stack as (pages, height, width).
    pub fn shape(&self) -> Shape {
        Shape::new(self.pages, self.height, self.width)
    }
}

/// Reads the headers of every page of `path` and reports the stack, or why it cannot be read.
pub fn probe(path: &Path, limits: &Limits) -> Result<StackInfo, ImageError> {
    Ok(InputStack::open(path, limits)?.info)
}

/// An opened and validated TIFF stack, ready to decode pages in any order.
#[derive(Debug)]
pub struct InputStack {
    path: PathBuf,
    info: StackInfo,
    first: PageInfo,
    limits: Limits,
    file_len: u64,
    decoder: Decoder<BufReader<File>>,
    ifds: Vec<u64>,
    current: Option<usize>,
    scratch: Vec<u32>,
    poisoned: bool,
    description: Option<String>,
}

/// A panic inside the tiff crate, caught: the file is one it cannot decode.
#[derive(Debug, thiserror::Error)]
#[error("the TIFF decoder failed on this file ({0})")]
struct DecoderPanic(String);

impl DecoderPanic {
    /// The panic as invalid input of `path`.
    fn invalid(self, path: &Path) -> ImageError {
        ImageError::invalid(path, self.to_string())
    }
}

/// Runs code that calls into the tiff crate, turning a panic inside it into an error.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, DecoderPanic> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        DecoderPanic(msg)
    })
}

/// Maps a tiff-crate error: OS failures stay I/O errors, the rest is invalid input.
fn tiff_error(path: &Path, context: &str, e: TiffError) -> ImageError {
    match e {
        TiffError::IoError(io) if io.kind() == ErrorKind::UnexpectedEof => ImageError::invalid(
            path,
            format!("{context}: truncated (unexpected end of file)"),
        ),
        // Errors from the OS carry an errno; the decoders' own (corrupt data) do not.
        TiffError::IoError(io) if io.raw_os_error().is_some() => ImageError::io(path, io),
        TiffError::LimitsExceeded => ImageError::invalid(
            path,
            format!("{context}: a tag or strip is larger than the decoder's limits"),
        ),
        other => ImageError::invalid(path, format!("{context}: {other}")),
    }
}

impl InputStack {
    /// Opens `path` and validates every page against `limits`.
    pub fn open(path: &Path, limits: &Limits) -> Result<Self, ImageError> {
        let mut file = File::open(path).map_err(|e| ImageError::io(path, e))?;
        let file_len = file.metadata().map_err(|e| ImageError::io(path, e))?.len();
        let bigtiff = read_signature(path, &mut file, file_len)?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| ImageError::io(path, e))?;
        let reader = BufReader::new(file);
        let decoder = guarded(|| Decoder::new(reader))
            .map_err(|m| m.invalid(path))?
            .map_err(|e| tiff_error(path, "cannot read page 0", e))?
            .with_limits(limits.for_decoder());
        let mut stack = InputStack {
            path: path.to_path_buf(),
            info: StackInfo {
                width: 0,
                height: 0,
                pages: 0,
                dtype: Dtype::U8,
                bigtiff,
                compression: String::new(),
                imagej: None,
            },
            first: PageInfo {
                width: 0,
                height: 0,
                dtype: Dtype::U8,
                compression: 1,
            },
            limits: *limits,
            file_len,
            decoder,
            ifds: Vec::new(),
            current: None,
            scratch: Vec::new(),
            poisoned: false,
            description: None,
        };
        stack.walk()?;
        Ok(stack)
    }

    /// Visits every IFD once, validating it and recording its offset.
    fn walk(&mut self) -> Result<(), ImageError> {
        let mut compressions: Vec<u16> = Vec::new();
        let mut imagej = None;
        loop {
            let index = self.ifds.len();
            let page = self.inspect_current(index)?;
            if index == 0 {
                self.first = page;
                imagej = self.read_imagej()?;
            } else {
                self.check_same(index, &page)?;
            }
            if !compressions.contains(&page.compression) {
                compressions.push(page.compression);
            }
            self.ifds
                .push(self.decoder.ifd_pointer().map_or(0, |p| p.0));
            self.current = Some(index);
            if !self.decoder.more_images() {
                break;
            }
            if self.ifds.len() >= self.limits.max_pages {
                return Err(ImageError::invalid(
                    &self.path,
                    format!("more than {} pages (the limit)", self.limits.max_pages),
                ));
            }
            let next = guarded(|| self.decoder.next_image());
            let context = format!("cannot read page {}", index + 1);
            next.map_err(|m| m.invalid(&self.path))?
                .map_err(|e| tiff_error(&self.path, &context, e))?;
        }
        let pages = self.ifds.len();
        if let Some(meta) = &imagej {
            meta.check_pages(pages)
                .map_err(|r| ImageError::invalid(&self.path, r.to_string()))?;
        }
        let names: Vec<&str> = compressions.iter().map(|&c| compression_name(c)).collect();
        self.info = StackInfo {
            width: self.first.width as usize,
            height: self.first.height as usize,
            pages,
            dtype: self.first.dtype,
            bigtiff: self.info.bigtiff,
            compression: if names.len() == 1 {
                names[0].to_string()
            } else {
                format!("mixed ({})", names.join(", "))
            },
            imagej,
        };
        Ok(())
    }

    /// Validates the page the decoder is on (page `index`).
    fn inspect_current(&mut self, index: usize) -> Result<PageInfo, ImageError> {
        let (file_len, limits) = (self.file_len, self.limits);
        let r = guarded(|| inspect(&mut self.decoder, file_len, &limits));
        self.poisoned |= r.is_err();
        match r {
            Ok(Ok(page)) => Ok(page),
            Ok(Err(reason)) => Err(ImageError::invalid(
                &self.path,
                format!("page {index}: {reason}"),
            )),
            Err(panic) => Err(panic.invalid(&self.path)),
        }
    }

    /// Keeps the current page's ImageDescription (OME-XML is read from it) and parses
    /// it as ImageJ metadata, if it is.
    fn read_imagej(&mut self) -> Result<Option<ImageJMeta>, ImageError> {
        let fits = self
            .decoder
            .image_ifd()
            .find_entry(Tag::ImageDescription)
            .is_some_and(|e| e.count() <= MAX_DESCRIPTION as u64);
        if !fits {
            return Ok(None);
        }
        let text = match guarded(|| self.decoder.find_tag(Tag::ImageDescription)) {
            Ok(Ok(Some(v))) => v.into_string().unwrap_or_default(),
            _ => return Ok(None),
        };
        let meta =
            ImageJMeta::parse(&text).map_err(|r| ImageError::invalid(&self.path, r.to_string()))?;
        self.description = Some(text);
        Ok(meta)
    }

    /// The first page's ImageDescription text, when it has one.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    fn check_same(&self, index: usize, page: &PageInfo) -> Result<(), ImageError> {
        let first = &self.first;
        if (page.width, page.height) != (first.width, first.height) {
            return Err(ImageError::invalid(
                &self.path,
                format!(
                    "page {index} is {}x{} but page 0 is {}x{}",
                    page.width, page.height, first.width, first.height
                ),
            ));
        }
        if page.dtype != first.dtype {
            return Err(ImageError::invalid(
                &self.path,
                format!(
                    "page {index} is {} but page 0 is {}",
                    page.dtype, first.dtype
                ),
            ));
        }
        Ok(())
    }

    /// What the headers say about the stack.
    pub fn info(&self) -> &StackInfo {
        &self.info
    }

    /// The file this stack reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Decodes page `index` into `out` (w*h samples); `T` must be the file's dtype.
    pub fn read_page<T: Pixel>(&mut self, index: usize, out: &mut [T]) -> Result<(), ImageError> {
        if T::DTYPE != self.info.dtype {
            return Err(ImageError::invalid(
                &self.path,
                format!(
                    "pixels are {} but {} was requested",
                    self.info.dtype,
                    T::DTYPE
                ),
            ));
        }
        self.check_len(out.len())?;
        self.read_bytes(index, bytemuck::cast_slice_mut(out))
    }

    /// Decodes page `index` into `out`: raw little-endian samples of the file's dtype,
    /// exactly one page long.
    pub fn read_raw(&mut self, index: usize, out: &mut [u8]) -> Result<(), ImageError> {
        let want = self.info.shape().frame_len() * self.info.dtype.bytes();
        if out.len() != want {
            return Err(ImageError::usage(
                &self.path,
                format!("output holds {} bytes but a page has {want}", out.len()),
            ));
        }
        self.read_bytes(index, out)
    }

    /// Decodes page `index` into `out` as f32, whatever the file's dtype.
    pub fn read_page_f32(&mut self, index: usize, out: &mut [f32]) -> Result<(), ImageError> {
        if self.info.dtype == Dtype::F32 {
            return self.read_page(index, out);
        }
        self.check_len(out.len())?;
        let bytes = out.len() * self.info.dtype.bytes();
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.resize(bytes.div_ceil(4), 0);
        let buf = &mut bytemuck::cast_slice_mut::<u32, u8>(&mut scratch)[..bytes];
        let result = self.read_bytes(index, buf).and_then(|()| {
            convert_to_f32(self.info.dtype, buf, out)
                .map_err(|r| ImageError::usage(&self.path, format!("conversion: {r}")))
        });
        self.scratch = scratch;
        result
    }

    fn check_len(&self, len: usize) -> Result<(), ImageError> {
        let want = self.info.shape().frame_len();
        if len != want {
            return Err(ImageError::usage(
                &self.path,
                format!(
                    "output holds {len} pixels but a page has {want} ({}x{})",
                    self.info.width, self.info.height
                ),
            ));
        }
        Ok(())
    }

    /// Positions the decoder on page `index` (O(1): the walk cached every IFD offset).
    fn seek(&mut self, index: usize) -> Result<(), ImageError> {
        if self.current == Some(index) {
            return Ok(());
        }
        self.current = None;
        let context = format!("cannot read page {index}");
        let r = guarded(|| self.decoder.seek_to_image(index));
        self.poisoned |= r.is_err();
        r.map_err(|m| m.invalid(&self.path))?
            .map_err(|e| tiff_error(&self.path, &context, e))?;
        let at = self.decoder.ifd_pointer().map_or(0, |p| p.0);
        if self.ifds.get(index) != Some(&at) {
            return Err(ImageError::invalid(
                &self.path,
                format!("page {index}: the file changed while it was being read"),
            ));
        }
        let page = self.inspect_current(index)?;
        self.check_same(index, &page)?;
        self.current = Some(index);
        Ok(())
    }

    fn read_bytes(&mut self, index: usize, buf: &mut [u8]) -> Result<(), ImageError> {
        if self.poisoned {
            return Err(ImageError::invalid(
                &self.path,
                "an earlier read crashed inside the TIFF decoder",
            ));
        }
        if index >= self.info.pages {
            return Err(ImageError::usage(
                &self.path,
                format!("page {index} does not exist ({} pages)", self.info.pages),
            ));
        }
        self.seek(index)?;
        let r = guarded(|| self.decoder.read_image_bytes(buf));
        self.poisoned |= r.is_err();
        let context = format!("page {index}");
        r.map_err(|m| m.invalid(&self.path))?
            .map_err(|e| tiff_error(&self.path, &context, e))
    }
}
