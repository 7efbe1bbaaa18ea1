//! Strict validation of an untrusted `.npy` header before its data is viewed.
//!
//! `ndarray_npy` parses the header dict; this module bounds what reaches that parser and checks
//! what it returns. Bounds first, because the crate allocates the header length the file claims
//! (up to 4 GiB) before reading it, and its literal parser (`py_literal`) backtracks
//! exponentially in the nesting depth of brackets: 14 nested lists take 0.16 s, 16 take 1 s,
//! 30 would run for days. Then the dtype, C order, rank and size, and a file length equal to
//! header plus data exactly: a killed attempt leaves a short file, which must not pass as a
//! checkpoint. Every refusal says what is wrong in words a user can act on.

use std::path::Path;

use ndarray_npy::npy::header::{Header, Layout};

use super::{Dtype, ImageError, Shape, human_bytes};

/// Longest header accepted (numpy itself refuses more than 10000 bytes by default).
const MAX_HEADER: u64 = 65_536;
/// Deepest bracket nesting accepted in the header literal (a valid one has 2; the parser's
/// time grows about 2.5× per level: 10 levels take a few milliseconds).
const MAX_NESTING: usize = 8;
const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// A validated header: what the file holds and where its data starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NpyHeader {
    pub dtype: Dtype,
    pub shape: Shape,
    pub data_offset: u64,
}

fn dtype_of(descr: &str) -> Result<Dtype, String> {
    Ok(match descr {
        "|u1" | "u1" | "B" => Dtype::U8,
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

/// Where the data of `file` starts, once the header's claimed length is within bounds and
/// present, and its literal not nested deeply enough to stall the crate's parser.
fn bounded_data_offset(file: &[u8]) -> Result<u64, String> {
    let file_len = file.len() as u64;
    if file_len < 10 {
        return Err(format!("not a .npy file (only {file_len} bytes)"));
    }
    if !file.starts_with(MAGIC) {
        return Err("not a .npy file (no \\x93NUMPY magic)".to_string());
    }
    let le = |at: usize, n: usize| {
        file[at..at + n]
            .iter()
            .rev()
            .fold(0u64, |v, &b| v << 8 | u64::from(b))
    };
    let (prelude, header_len) = match (file[6], file[7]) {
        (1, 0) => (10, le(8, 2)),
        (2 | 3, 0) if file_len >= 12 => (12, le(8, 4)),
        (major, minor) => return Err(format!("unsupported .npy format version {major}.{minor}")),
    };
    if header_len > MAX_HEADER {
        return Err(format!(
            "header claims {header_len} bytes, above the limit of {MAX_HEADER}"
        ));
    }
    let data_offset = prelude + header_len;
    if data_offset > file_len {
        return Err(format!(
            "truncated: the header alone needs {data_offset} bytes, file has {file_len}"
        ));
    }
    // Bounded by MAX_HEADER above.
    if nesting(&file[prelude as usize..data_offset as usize]) > MAX_NESTING {
        return Err("malformed header (nested too deeply)".to_string());
    }
    Ok(data_offset)
}

/// Validates the header of `file` (the whole file's bytes, e.g. its memory map).
pub(crate) fn validate(path: &Path, file: &[u8]) -> Result<NpyHeader, ImageError> {
    let bad = |reason: String| ImageError::invalid(path, reason);
    let data_offset = bounded_data_offset(file).map_err(bad)?;
    let file_len = file.len() as u64;
    // Only the header's bytes: the crate's reader cannot run past them.
    let header = Header::from_reader(&mut &file[..data_offset as usize])
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
    let overflow = || {
        bad(format!(
            "header claims shape {shape} of {dtype}, which overflows"
        ))
    };
    let data_bytes = shape.byte_size(dtype).ok_or_else(overflow)?;
    let expected = data_offset.checked_add(data_bytes).ok_or_else(overflow)?;
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
    })
}
