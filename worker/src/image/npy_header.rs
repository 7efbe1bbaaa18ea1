//! The `.npy` header of a (T,H,W) stack: formatting, and strict validation
//! of untrusted headers before anything is mapped or allocated.
//!
//! Formatting and dict parsing use `ndarray_npy::npy::header`; this module
//! bounds the header length, the literal's nesting, the dtype, the rank and
//! the data size first, and requires the file length to match exactly (a
//! killed attempt leaves a short file, which must not pass as a checkpoint).

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::Path;

use ndarray_npy::WritableElement;
use ndarray_npy::npy::header::{Header, Layout};

use super::{Dtype, ImageError, Shape, human_bytes};

/// Longest header accepted (numpy itself refuses more than 10000 bytes by default).
const MAX_HEADER: u64 = 65_536;
/// Deepest bracket nesting accepted in the header literal (a valid one has 2).
const MAX_NESTING: usize = 8;
const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// A validated header: where the data starts and what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NpyHeader {
    pub dtype: Dtype,
    pub shape: Shape,
    pub data_offset: u64,
    pub data_bytes: u64,
}

/// The serialized header for a C-order stack (padded to a multiple of 64 bytes).
pub(crate) fn format(path: &Path, dtype: Dtype, shape: Shape) -> Result<Vec<u8>, ImageError> {
    let type_descriptor = match dtype {
        Dtype::U8 => u8::type_descriptor(),
        Dtype::U16 => u16::type_descriptor(),
        Dtype::U32 => u32::type_descriptor(),
        Dtype::F32 => f32::type_descriptor(),
    };
    Header {
        type_descriptor,
        layout: Layout::Standard,
        shape: vec![shape.frames, shape.height, shape.width],
    }
    .to_bytes()
    .map_err(|e| ImageError::usage(path, format!("cannot format .npy header: {e}")))
}

fn dtype_of(descr: &str) -> Result<Dtype, String> {
    Ok(match descr {
        "|u1" | "<u1" | "u1" | "B" => Dtype::U8,
        "<u2" => Dtype::U16,
        "<u4" => Dtype::U32,
        "<f4" => Dtype::F32,
        d if d.starts_with('>') => {
            return Err(format!(
                "dtype {d:?} is big-endian; save it little-endian (arr.astype(arr.dtype.newbyteorder('<')))"
            ));
        }
        d => {
            return Err(format!(
                "dtype {d:?} is not supported; expected uint8 (|u1), uint16 (<u2), uint32 (<u4) \
                 or float32 (<f4)"
            ));
        }
    })
}

fn nesting(text: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for &b in text {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Reads and validates the header of `file` (of length `file_len`).
pub(crate) fn read(path: &Path, file: &mut File, file_len: u64) -> Result<NpyHeader, ImageError> {
    let bad = |reason: String| ImageError::invalid(path, reason);
    let io = |e: std::io::Error| ImageError::io(path, e);
    if file_len < 10 {
        return Err(bad(format!("not a .npy file (only {file_len} bytes)")));
    }
    let mut prelude = [0u8; 12];
    let n = usize::try_from(file_len.min(12)).unwrap_or(12);
    file.read_exact(&mut prelude[..n]).map_err(io)?;
    if &prelude[..6] != MAGIC {
        return Err(bad("not a .npy file (no \\x93NUMPY magic)".to_string()));
    }
    let (prelude_len, header_len) = match (prelude[6], prelude[7]) {
        (1, 0) => (
            10u64,
            u64::from(u16::from_le_bytes([prelude[8], prelude[9]])),
        ),
        (2 | 3, 0) if n == 12 => (
            12u64,
            u64::from(u32::from_le_bytes([
                prelude[8],
                prelude[9],
                prelude[10],
                prelude[11],
            ])),
        ),
        (major, minor) => {
            return Err(bad(format!(
                "unsupported .npy format version {major}.{minor}"
            )));
        }
    };
    if header_len > MAX_HEADER {
        return Err(bad(format!(
            "header claims {header_len} bytes, above the limit of {MAX_HEADER}"
        )));
    }
    let data_offset = prelude_len + header_len;
    if data_offset > file_len {
        return Err(bad(format!(
            "truncated: the header alone needs {data_offset} bytes, file has {file_len}"
        )));
    }
    // Bounded by MAX_HEADER above; the first `n` bytes are already in `prelude`.
    let mut raw = vec![0u8; data_offset as usize];
    let have = n.min(raw.len());
    raw[..have].copy_from_slice(&prelude[..have]);
    file.read_exact(&mut raw[have..]).map_err(io)?;
    if nesting(&raw[prelude_len as usize..]) > MAX_NESTING {
        return Err(bad("malformed header (nested too deeply)".to_string()));
    }
    let header = Header::from_reader(&mut Cursor::new(&raw))
        .map_err(|e| bad(format!("malformed header: {e}")))?;

    let descr = header.type_descriptor.as_string().ok_or_else(|| {
        bad(format!(
            "structured dtype {} is not supported",
            header.type_descriptor
        ))
    })?;
    let dtype = dtype_of(descr).map_err(bad)?;
    if header.layout == Layout::Fortran {
        return Err(bad(
            "array is in Fortran order; expected C order".to_string()
        ));
    }
    let [frames, height, width] = header.shape[..] else {
        return Err(bad(format!(
            "array is {}-D with shape {:?}; expected a 3-D (frames, height, width) stack",
            header.shape.len(),
            header.shape
        )));
    };
    let shape = Shape::new(frames, height, width);
    if !shape.is_non_empty() {
        return Err(bad(format!("stack of shape {shape} is empty")));
    }
    let data_bytes = shape.byte_size(dtype).ok_or_else(|| {
        bad(format!(
            "header claims shape {shape} of {dtype}, which overflows"
        ))
    })?;
    let expected = data_offset.checked_add(data_bytes).ok_or_else(|| {
        bad(format!(
            "header claims shape {shape} of {dtype}, which overflows"
        ))
    })?;
    if file_len < expected {
        return Err(bad(format!(
            "truncated: header says {expected} bytes ({shape} {dtype}, {}), file has {file_len}",
            human_bytes(data_bytes)
        )));
    }
    if file_len > expected {
        return Err(bad(format!(
            "header says {expected} bytes ({shape} {dtype}), file has {file_len} (trailing data)"
        )));
    }
    if data_offset % dtype.bytes() as u64 != 0 {
        return Err(bad(format!(
            "data offset {data_offset} is not aligned for {dtype}"
        )));
    }
    Ok(NpyHeader {
        dtype,
        shape,
        data_offset,
        data_bytes,
    })
}
