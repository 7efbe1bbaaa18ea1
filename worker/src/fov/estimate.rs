//! What one fov task needs, from its TIFF header alone: the pre-flight check
//! and the admission control use this before any task has been measured.
//!
//! Every stage streams frame by frame, so RAM depends on the frame size, not
//! on the frame count: a fixed base (the worker itself) plus a number of
//! bytes per pixel of one frame that covers the largest stage's buffers
//! (float frames, integral images, morphology scratch) and the pages of the
//! memory-mapped checkpoints in flight. Disk is every checkpoint's size.

use std::path::Path;

use isobatch_shared::CheckpointFormat;

use super::error::FovError;
use super::{FovConfig, inspect};
use crate::image::Dtype;

/// The worker's own footprint before a task touches any image: about 4.5 MiB for the
/// `isobatch-worker` binary, 6.4 MiB when the supervisor binary re-executes itself (more
/// in a debug build, and growing with the supervisor binary: the Slurm executor added
/// about 0.5 MiB there).
pub const BASE: u64 = 7168 << 10;
/// Bytes of working memory per pixel of one frame, in the hungriest stage.
/// Measured peaks at 20 frames (release build): 6.2 / 8.1 MiB at 256² and 33.6 / 35.3 MiB
/// at 1024² (sibling worker / self-exec), i.e. ~29 B/px; with [`BASE`] the estimate is
/// 1.0–1.4× either worker's peak. Plus 4 B/px since extract keeps a ring-pixel owner
/// per pixel (u32): 256² peaks measured 9.5–9.6 MiB (debug build, self-exec) after it.
const PER_PIXEL: u64 = 36;

/// RAM and disk one fov task needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// Peak RSS of the worker, bytes.
    pub ram: u64,
    /// Bytes of checkpoints and traces written to the task folder.
    pub disk: u64,
}

/// Estimates from the headers of `path` at `position`; the error is why they cannot be read
/// or why the parameters do not fit them.
pub fn estimate(
    path: &Path,
    position: Option<usize>,
    config: &FovConfig,
    format: CheckpointFormat,
) -> Result<(Needs, String), FovError> {
    let (info, layout) = inspect(path, position, config)?;
    let pixels = (info.width as u64).saturating_mul(info.height as u64);
    let stack = pixels.saturating_mul(layout.frames as u64);
    let input_bytes = match layout.copy_dtype(info.dtype) {
        Dtype::U8 => 1,
        Dtype::U16 => 2,
        Dtype::U32 | Dtype::F32 => 4,
    };
    let copies = match format {
        CheckpointFormat::Both => 2,
        CheckpointFormat::Npy | CheckpointFormat::Tiff => 1,
    };
    // copy (every channel) + mask (u8) + background (per fl channel: the input's type for
    // u8/u16, else f32, so always as wide as the input) + labels (u32 at most; u16 when the
    // ids fit).
    let per_pixel =
        layout.channels as u64 * input_bytes + 1 + input_bytes * layout.fl.len() as u64 + 4;
    Ok((
        Needs {
            ram: BASE + PER_PIXEL * pixels,
            disk: stack * per_pixel * copies,
        },
        layout.plan_line(),
    ))
}
