//! (T,H,W) C-order `.npy` stacks, written frame by frame and read as `ndarray` views of a
//! memory map.
//!
//! `numpy.load(path, mmap_mode='r')` reads what [`NpyWriter`] writes, and [`NpyStack`] reads
//! through `ndarray_npy`'s view of the map ([`ndarray_npy::ViewNpyExt`]) once the header has
//! passed the bounds of `npy_header`. Both sides keep resident memory flat however many
//! frames a stack has: nothing copies a whole stack.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use memmap2::{Advice, Mmap, UncheckedAdvice};
use ndarray::{ArrayView2, ArrayView3, ArrayViewMut2, Axis, Zip};
use ndarray_npy::{ViewNpyExt, write_zeroed_npy};

use super::npy_header::{self, NpyHeader};
use super::{Dtype, ImageError, Pixel, Shape};
use isobatch_shared::atomic::TempFile;

/// Largest single `pwrite` of a frame. A whole 1024² u16 frame (2 MiB) per call costs the
/// kernel 2–3× more time per byte than 512 KiB pieces on the benchmark machine, most so with two
/// workers writing at once (`scripts/probe-contention`, "new, pieces"): larger writes get larger
/// page-cache folios, which come from the free blocks a virtual machine's host has taken back.
const WRITE_PIECE: usize = 512 << 10;

/// Writes a stack frame by frame into a temp file; visible after [`Self::commit`].
///
/// The header and the file's length come from [`write_zeroed_npy`]. Frames are then written
/// with positioned writes (`pwrite`), not through a writable map and `ndarray_npy`'s mutable
/// view: a write through a shared map first faults every page in and has the kernel zero-fill
/// it (the blocks are reserved but unwritten), which measured a fifth of a fov worker's CPU time.
/// Each frame is started on its way to disk once written ([`crate::page_cache::start_writeback`]),
/// so the commit's fsync has little left to do.
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
        // With room for any header, so that `write_zeroed_npy` cannot overflow (it would panic).
        let room = data_bytes.checked_add(4096).ok_or_else(overflow)?;
        usize::try_from(room).map_err(|_| overflow())?;

        let (temp, file) = TempFile::create(path).map_err(|e| ImageError::io(path, e))?;
        let io = |e: std::io::Error| ImageError::io(path, e);
        write_zeroed_npy::<T, _>(&file, (shape.frames, shape.height, shape.width)).map_err(
            |e| match e {
                ndarray_npy::WriteNpyError::Io(e) => io(e),
                e => ImageError::usage(path, format!("cannot write the .npy header: {e}")),
            },
        )?;
        let total = file.metadata().map_err(io)?.len();
        reserve(&file, total).map_err(io)?;
        Ok(NpyWriter {
            temp,
            file,
            shape,
            data_offset: total - data_bytes,
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

/// Allocates the blocks of the first `len` bytes of `file` (`posix_fallocate`).
/// [`write_zeroed_npy`] leaves the data a hole, so without this a full disk would
/// only show when a frame is written, after minutes of computing frames.
fn reserve(file: &File, len: u64) -> std::io::Result<()> {
    let len = i64::try_from(len).map_err(|_| std::io::ErrorKind::FileTooLarge)?;
    match nix::fcntl::posix_fallocate(file, 0, len) {
        // The file system cannot reserve: the length is set, blocks come as frames are written.
        Ok(()) | Err(nix::errno::Errno::EOPNOTSUPP | nix::errno::Errno::EINVAL) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A read-only mapped `.npy` stack of any of the four dtypes, validated when opened.
#[derive(Debug)]
pub struct NpyStack {
    path: PathBuf,
    map: Mmap,
    header: NpyHeader,
}

impl NpyStack {
    /// Maps and validates `path`: magic, version, bounded header, dtype, C order, 3-D shape,
    /// and a length of header plus data exactly.
    pub fn open(path: &Path) -> Result<Self, ImageError> {
        let file = File::open(path).map_err(|e| ImageError::io(path, e))?;
        let file_len = file.metadata().map_err(|e| ImageError::io(path, e))?.len();
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
        let header = npy_header::validate(path, &map)?;
        let _ = map.advise(Advice::Sequential);
        Ok(NpyStack {
            path: path.to_path_buf(),
            map,
            header,
        })
    }

    /// The stack's (frames, height, width).
    pub fn shape(&self) -> Shape {
        self.header.shape
    }

    /// The stack's sample type.
    pub fn dtype(&self) -> Dtype {
        self.header.dtype
    }

    /// The mapped file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole stack as a (frames, height, width) view of the map: no copy, resident memory
    /// grows with what is touched. `T` must be the file's dtype. Each call parses the header
    /// again (tens of microseconds): take one view per pass, not one per frame.
    pub fn view<T: Pixel>(&self) -> Result<ArrayView3<'_, T>, ImageError> {
        if T::DTYPE != self.dtype() {
            return Err(ImageError::invalid(
                &self.path,
                format!("pixels are {} but {} was requested", self.dtype(), T::DTYPE),
            ));
        }
        ArrayView3::<T>::view_npy(&self.map)
            .map_err(|e| ImageError::invalid(&self.path, e.to_string()))
    }

    /// A pass over the frames, which keeps this process's share of the map to about one frame.
    pub fn frames<T: Pixel>(&self) -> Result<NpyFrames<'_, T>, ImageError> {
        Ok(NpyFrames {
            stack: self,
            view: self.view()?,
            last: None,
        })
    }

    /// Drops frame `t`'s pages from this process (`MADV_DONTNEED`). On a read-only file
    /// mapping that loses nothing: touched again, they refault from the page cache or the file,
    /// so views still borrowed from the map keep reading the same bytes.
    fn release(&self, t: usize) {
        // Validated when opened: the data fits in the map, so this does not overflow.
        let frame = self.shape().frame_len() * self.dtype().bytes();
        let offset = self.header.data_offset as usize + t * frame;
        // SAFETY: a read-only shared file mapping, see above.
        let _ = unsafe {
            self.map
                .unchecked_advise_range(UncheckedAdvice::DontNeed, offset, frame)
        };
    }
}

/// One pass over an [`NpyStack`]'s frames as views of its map.
///
/// When a frame other than the last one handed out is asked for, the last one's pages are
/// dropped from this process (`MADV_DONTNEED`): stages read each frame once, and a
/// 500-frame stack would otherwise stay resident for the whole pass.
#[derive(Debug)]
pub struct NpyFrames<'a, T> {
    stack: &'a NpyStack,
    view: ArrayView3<'a, T>,
    last: Option<usize>,
}

impl<'a, T: Pixel> NpyFrames<'a, T> {
    /// The stack being read.
    pub fn stack(&self) -> &'a NpyStack {
        self.stack
    }

    /// Frame `t` (height, width), without copying.
    pub fn frame(&mut self, t: usize) -> Result<ArrayView2<'a, T>, ImageError> {
        let frames = self.view.len_of(Axis(0));
        if t >= frames {
            return Err(ImageError::usage(
                self.stack.path(),
                format!("frame {t} does not exist ({frames} frames)"),
            ));
        }
        if let Some(previous) = self.last.replace(t).filter(|&p| p != t) {
            self.stack.release(previous);
        }
        Ok(self.view.index_axis_move(Axis(0), t))
    }

    /// Copies frame `t` into `out`, in its stored type (`U` must be `T`).
    pub fn read<U: Pixel>(&mut self, t: usize, out: &mut [U]) -> Result<(), ImageError> {
        let path = self.stack.path();
        if U::DTYPE != T::DTYPE {
            return Err(ImageError::invalid(
                path,
                format!("pixels are {} but {} was requested", T::DTYPE, U::DTYPE),
            ));
        }
        let frame = self.frame(t)?;
        // A frame of a C-order stack is contiguous, and `U` is `T`: neither can fail.
        let pixels: &[U] = frame
            .to_slice()
            .and_then(|s| bytemuck::try_cast_slice(s).ok())
            .ok_or_else(|| ImageError::usage(path, format!("frame {t} is not contiguous")))?;
        check_len(path, out.len(), pixels.len())?;
        out.copy_from_slice(pixels);
        Ok(())
    }

    /// Frame `t` converted to f32 into `out`.
    pub fn read_f32(&mut self, t: usize, out: &mut [f32]) -> Result<(), ImageError> {
        let path = self.stack.path();
        let frame = self.frame(t)?;
        check_len(path, out.len(), frame.len())?;
        let out = ArrayViewMut2::from_shape(frame.raw_dim(), out)
            .map_err(|e| ImageError::usage(path, e.to_string()))?;
        Zip::from(out).and(&frame).for_each(|o, &s| *o = s.to_f32());
        Ok(())
    }
}

fn check_len(path: &Path, len: usize, want: usize) -> Result<(), ImageError> {
    if len != want {
        return Err(ImageError::usage(
            path,
            format!("output holds {len} pixels but a frame has {want}"),
        ));
    }
    Ok(())
}
