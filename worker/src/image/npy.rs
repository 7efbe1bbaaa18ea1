//! (T,H,W) C-order `.npy` stacks, written frame by frame and read through memory maps.
//!
//! `numpy.load(path, mmap_mode='r')` reads what [`NpyWriter`] writes. Both sides keep resident
//! memory flat however many frames a stack has. The writer uses positioned writes (`pwrite`):
//! a write through a shared map first faults every page in and has the kernel zero-fill it
//! (the file's blocks are reserved but unwritten), which measured a fifth of a fov worker's CPU
//! time. Each frame is started on its way to disk once written
//! ([`crate::page_cache::start_writeback`]), so the commit's fsync has little left to do.
//! The reader maps the file; after a frame has been handed out and the caller moved on to
//! another, its pages are dropped from this process with `MADV_DONTNEED`, which on a read-only
//! file mapping loses nothing: they refault from the page cache or the file if touched again.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use memmap2::{Advice, Mmap, UncheckedAdvice};
use ndarray::ArrayView3;

use super::{Dtype, ImageError, Pixel, Shape, convert_to_f32, npy_header};
use isobatch_shared::atomic::TempFile;

const NONE: usize = usize::MAX;

/// Largest single `pwrite` of a frame. A whole 1024² u16 frame (2 MiB) per call costs the
/// kernel 2–3× more time per byte than 512 KiB pieces on the benchmark machine, most so with two
/// workers writing at once (`scripts/probe-contention`, "new, pieces"): larger writes get larger
/// page-cache folios, which come from the free blocks a virtual machine's host has taken back.
const WRITE_PIECE: usize = 512 << 10;

/// Byte range of frame `t` in a file whose data starts at `data_offset`.
fn frame_range(data_offset: u64, frame_bytes: u64, t: usize) -> (usize, usize) {
    // Callers validated that the whole file fits in memory (usize) and t < frames.
    let start = data_offset as usize + t * frame_bytes as usize;
    (start, start + frame_bytes as usize)
}

/// Writes a stack frame by frame into a temp file; visible after [`Self::commit`].
#[derive(Debug)]
pub struct NpyWriter<T: Pixel> {
    temp: TempFile,
    file: File,
    shape: Shape,
    data_offset: u64,
    frame_bytes: u64,
    written: Vec<bool>,
    _pixel: std::marker::PhantomData<T>,
}

impl<T: Pixel> NpyWriter<T> {
    /// Creates the temp file for `path` with its header and full length reserved on disk.
    ///
    /// The space is allocated up front (`posix_fallocate`), so a full disk is
    /// an error here rather than after minutes of computing frames.
    pub fn create(path: &Path, shape: Shape) -> Result<Self, ImageError> {
        if !shape.is_non_empty() {
            return Err(ImageError::usage(
                path,
                format!("cannot write an empty stack {shape}"),
            ));
        }
        let overflow = || ImageError::usage(path, format!("shape {shape} overflows"));
        let frame_bytes = shape.frame_bytes(T::DTYPE).ok_or_else(overflow)?;
        let data_bytes = shape.byte_size(T::DTYPE).ok_or_else(overflow)?;
        let header = npy_header::format(path, T::DTYPE, shape)?;
        let total = (header.len() as u64)
            .checked_add(data_bytes)
            .ok_or_else(overflow)?;
        usize::try_from(total).map_err(|_| overflow())?;

        let (temp, file) = TempFile::create(path).map_err(|e| ImageError::io(path, e))?;
        let io = |e: std::io::Error| ImageError::io(path, e);
        let len = i64::try_from(total).map_err(|_| overflow())?;
        match nix::fcntl::posix_fallocate(&file, 0, len) {
            Ok(()) => {}
            Err(nix::errno::Errno::EOPNOTSUPP | nix::errno::Errno::EINVAL) => {
                file.set_len(total).map_err(io)?
            }
            Err(e) => return Err(io(e.into())),
        }
        file.write_all_at(&header, 0).map_err(io)?;
        Ok(NpyWriter {
            temp,
            file,
            shape,
            data_offset: header.len() as u64,
            frame_bytes,
            written: vec![false; shape.frames],
            _pixel: std::marker::PhantomData,
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

    /// Writes `data` as frame `t`; frames may be written in any order.
    pub fn write_frame(&mut self, t: usize, data: &[T]) -> Result<(), ImageError> {
        if t >= self.shape.frames {
            return Err(ImageError::usage(
                self.temp.dest(),
                format!("frame {t} does not exist ({} frames)", self.shape.frames),
            ));
        }
        let want = self.shape.frame_len();
        if data.len() != want {
            return Err(ImageError::usage(
                self.temp.dest(),
                format!(
                    "frame {t} holds {} pixels but {want} are needed",
                    data.len()
                ),
            ));
        }
        let offset = self.data_offset + t as u64 * self.frame_bytes;
        let mut at = offset;
        for piece in bytemuck::cast_slice::<T, u8>(data).chunks(WRITE_PIECE) {
            self.file
                .write_all_at(piece, at)
                .map_err(|e| ImageError::io(self.temp.dest(), e))?;
            at += piece.len() as u64;
        }
        crate::page_cache::start_writeback(&self.file, offset, self.frame_bytes);
        self.written[t] = true;
        Ok(())
    }

    /// Fsyncs, renames to the final name and fsyncs the folder.
    pub fn commit(self) -> Result<(), ImageError> {
        if let Some(t) = self.written.iter().position(|w| !w) {
            return Err(ImageError::usage(
                self.temp.dest(),
                format!("frame {t} of {} was never written", self.shape.frames),
            ));
        }
        let dest = self.temp.dest().to_path_buf();
        self.temp
            .commit(self.file)
            .map_err(|e| ImageError::io(&dest, e))
    }
}

/// A read-only mapped `.npy` stack of any of the four dtypes.
#[derive(Debug)]
pub struct NpyStack {
    path: PathBuf,
    map: Mmap,
    dtype: Dtype,
    shape: Shape,
    data_offset: u64,
    frame_bytes: u64,
    last: AtomicUsize,
}

impl NpyStack {
    /// Opens and validates `path`: magic, version, dtype, C order, 3-D shape,
    /// and a file length equal to header plus data exactly.
    pub fn open(path: &Path) -> Result<Self, ImageError> {
        let mut file = File::open(path).map_err(|e| ImageError::io(path, e))?;
        let file_len = file.metadata().map_err(|e| ImageError::io(path, e))?.len();
        let header = npy_header::read(path, &mut file, file_len)?;
        if usize::try_from(file_len).is_err() {
            return Err(ImageError::invalid(
                path,
                "file is too large to map on this machine",
            ));
        }
        // SAFETY: checkpoints are renamed into place complete and never
        // modified afterwards; a concurrent truncation by another program
        // would fault, as with any mapped file.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| ImageError::io(path, e))?;
        if map.len() as u64 != file_len {
            return Err(ImageError::invalid(
                path,
                "the file changed while it was being opened",
            ));
        }
        let _ = map.advise(Advice::Sequential);
        Ok(NpyStack {
            path: path.to_path_buf(),
            map,
            dtype: header.dtype,
            shape: header.shape,
            data_offset: header.data_offset,
            frame_bytes: header.data_bytes / header.shape.frames as u64,
            last: AtomicUsize::new(NONE),
        })
    }

    /// The stack's (frames, height, width).
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The stack's sample type.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// The mapped file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Raw bytes of frame `t`, releasing the previously accessed frame's pages.
    fn frame_bytes_of(&self, t: usize) -> Result<&[u8], ImageError> {
        if t >= self.shape.frames {
            return Err(ImageError::usage(
                &self.path,
                format!("frame {t} does not exist ({} frames)", self.shape.frames),
            ));
        }
        let previous = self.last.swap(t, Ordering::Relaxed);
        if previous != t && previous != NONE {
            let (start, end) = frame_range(self.data_offset, self.frame_bytes, previous);
            // SAFETY: a read-only shared file mapping: dropped pages refault
            // with the same file contents, so slices still borrowed from it
            // keep reading the same bytes.
            let _ = unsafe {
                self.map
                    .unchecked_advise_range(UncheckedAdvice::DontNeed, start, end - start)
            };
        }
        let (start, end) = frame_range(self.data_offset, self.frame_bytes, t);
        Ok(&self.map[start..end])
    }

    /// Frame `t` without copying; `T` must be the file's dtype.
    pub fn frame<T: Pixel>(&self, t: usize) -> Result<&[T], ImageError> {
        self.check_dtype::<T>()?;
        let bytes = self.frame_bytes_of(t)?;
        bytemuck::try_cast_slice(bytes)
            .map_err(|e| ImageError::invalid(&self.path, format!("frame {t}: {e:?}")))
    }

    /// Frame `t` converted to f32, whatever the file's dtype.
    pub fn read_f32(&self, t: usize, out: &mut [f32]) -> Result<(), ImageError> {
        self.check_len(out.len())?;
        let bytes = self.frame_bytes_of(t)?;
        convert_to_f32(self.dtype, bytes, out)
            .map_err(|r| ImageError::invalid(&self.path, format!("frame {t}: {r}")))
    }

    /// The whole stack as an ndarray view (no copy; RSS grows with what is touched).
    pub fn view<T: Pixel>(&self) -> Result<ArrayView3<'_, T>, ImageError> {
        self.check_dtype::<T>()?;
        let start = self.data_offset as usize;
        let data: &[T] = bytemuck::try_cast_slice(&self.map[start..])
            .map_err(|e| ImageError::invalid(&self.path, format!("{e:?}")))?;
        let s = self.shape;
        ArrayView3::from_shape((s.frames, s.height, s.width), data)
            .map_err(|e| ImageError::invalid(&self.path, e.to_string()))
    }

    fn check_dtype<T: Pixel>(&self) -> Result<(), ImageError> {
        if T::DTYPE != self.dtype {
            return Err(ImageError::invalid(
                &self.path,
                format!("pixels are {} but {} was requested", self.dtype, T::DTYPE),
            ));
        }
        Ok(())
    }

    fn check_len(&self, len: usize) -> Result<(), ImageError> {
        let want = self.shape.frame_len();
        if len != want {
            return Err(ImageError::usage(
                &self.path,
                format!("output holds {len} pixels but a frame has {want}"),
            ));
        }
        Ok(())
    }
}
