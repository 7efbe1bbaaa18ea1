//! Validation of TIFF headers before any pixel data is decoded: the file
//! signature, and each page (IFD) from its tags alone: dimensions against
//! [`Limits`], sample type, compression, and that every strip or tile lies
//! inside the file.
//!
//! Everything the tiff crate would later trip over (unsupported layouts,
//! truncated strips) is refused here with a reason a user can act on.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use tiff::decoder::Decoder;
use tiff::tags::Tag;

use super::tiff_in::Limits;
use super::{Dtype, ImageError, human_bytes};

/// What a valid page looks like; pages of one stack must agree on size and dtype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PageInfo {
    pub width: u32,
    pub height: u32,
    pub dtype: Dtype,
    pub compression: u16,
}

/// Compression codes the reader accepts.
const SUPPORTED_COMPRESSION: [u16; 5] = [1, 5, 8, 32773, 32946];

/// Human name of a TIFF compression code.
pub(crate) fn compression_name(code: u16) -> &'static str {
    match code {
        1 => "none",
        2 => "CCITT RLE",
        3 => "CCITT Group 3 fax",
        4 => "CCITT Group 4 fax",
        5 => "LZW",
        6 => "old-style JPEG",
        7 => "JPEG",
        8 | 32946 => "Deflate",
        32773 => "PackBits",
        34712 => "JPEG 2000",
        34887 => "LERC",
        34925 => "LZMA",
        50000 => "Zstandard",
        50001 => "WebP",
        50002 => "JPEG XL",
        _ => "unknown",
    }
}

fn photometric_name(code: u16) -> &'static str {
    match code {
        0 => "WhiteIsZero (inverted grayscale)",
        1 => "BlackIsZero (grayscale)",
        2 => "RGB color",
        3 => "palette (indexed color)",
        4 => "transparency mask",
        5 => "CMYK",
        6 => "YCbCr",
        8..=10 => "CIE Lab",
        _ => "unknown",
    }
}

fn sample_type_name(format: u16, bits: u16) -> String {
    let kind = match format {
        1 => "uint",
        2 => "int",
        3 => "float",
        5 => "complex int",
        6 => "complex float",
        _ => "untyped ",
    };
    match (format, bits) {
        (1, 1) => "1-bit (bilevel)".to_string(),
        _ => format!("{kind}{bits}"),
    }
}

fn vec_tag<R: Read + Seek>(dec: &mut Decoder<R>, tag: Tag) -> Result<Option<Vec<u64>>, String> {
    dec.find_tag_unsigned_vec::<u64>(tag)
        .map_err(|e| format!("cannot read tag {tag:?}: {e}"))
}

fn short_tag<R: Read + Seek>(dec: &mut Decoder<R>, tag: Tag) -> Result<Option<u16>, String> {
    Ok(match vec_tag(dec, tag)? {
        None => None,
        Some(v) => match v.first() {
            Some(&x) => {
                Some(u16::try_from(x).map_err(|_| format!("tag {tag:?} = {x} is out of range"))?)
            }
            None => return Err(format!("tag {tag:?} has no value")),
        },
    })
}

/// Checks the decoder's current page; `Err` is the reason it cannot be read.
pub(crate) fn inspect<R: Read + Seek>(
    dec: &mut Decoder<R>,
    file_len: u64,
    limits: &Limits,
) -> Result<PageInfo, String> {
    let (width, height) = dec.dimensions().map_err(|e| e.to_string())?;
    let spp = short_tag(dec, Tag::SamplesPerPixel)?.unwrap_or(1);
    let bits = vec_tag(dec, Tag::BitsPerSample)?.unwrap_or_else(|| vec![1]);
    let max_bits = bits.iter().copied().max().unwrap_or(1);

    // Size first: a hostile header must not get further than this.
    let bytes_pp = max_bits.saturating_mul(u64::from(spp)).div_ceil(8).max(1);
    let frame_bytes = u64::from(width)
        .saturating_mul(u64::from(height))
        .saturating_mul(bytes_pp);
    if width > limits.max_side || height > limits.max_side || frame_bytes > limits.max_frame_bytes {
        return Err(format!(
            "header claims {width}x{height} pixels ({} per frame), above the limit of \
             {} pixels per side and {} per frame",
            human_bytes(frame_bytes),
            limits.max_side,
            human_bytes(limits.max_frame_bytes)
        ));
    }

    let photometric = short_tag(dec, Tag::PhotometricInterpretation)?.unwrap_or(1);
    if photometric == 3 || photometric == 2 || spp != 1 {
        return Err(format!(
            "{} with {spp} sample(s) per pixel is not supported; only single-channel grayscale \
             pages are (store channels as separate pages, e.g. an ImageJ hyperstack)",
            photometric_name(photometric)
        ));
    }
    if photometric != 1 {
        return Err(format!(
            "photometric interpretation {} ({photometric}) is not supported; expected grayscale \
             (BlackIsZero)",
            photometric_name(photometric)
        ));
    }

    let format = short_tag(dec, Tag::SampleFormat)?.unwrap_or(1);
    let bits = u16::try_from(max_bits).unwrap_or(u16::MAX);
    let dtype = match (format, bits) {
        (1, 8) => Dtype::U8,
        (1, 16) => Dtype::U16,
        (1, 32) => Dtype::U32,
        (3, 32) => Dtype::F32,
        (f, b) => {
            return Err(format!(
                "{} samples are not supported; use uint8, uint16, uint32 or float32",
                sample_type_name(f, b)
            ));
        }
    };

    let compression = short_tag(dec, Tag::Compression)?.unwrap_or(1);
    if !SUPPORTED_COMPRESSION.contains(&compression) {
        return Err(format!(
            "compression {} ({compression}) is not supported; use uncompressed, LZW, Deflate or \
             PackBits",
            compression_name(compression)
        ));
    }
    let predictor = short_tag(dec, Tag::Predictor)?.unwrap_or(1);
    match (predictor, dtype) {
        (1 | 2, _) | (3, Dtype::F32) => {}
        (p, d) => return Err(format!("predictor {p} is not supported for {d} samples")),
    }

    check_chunks(dec, file_len, width, height, dtype, compression == 1)?;
    Ok(PageInfo {
        width,
        height,
        dtype,
        compression,
    })
}

/// Checks that each strip or tile lies inside the file (and, uncompressed,
/// holds as many bytes as its pixels need).
fn check_chunks<R: Read + Seek>(
    dec: &mut Decoder<R>,
    file_len: u64,
    width: u32,
    height: u32,
    dtype: Dtype,
    uncompressed: bool,
) -> Result<(), String> {
    let bpp = dtype.bytes() as u64;
    let tiled = dec.image_ifd().find_entry(Tag::TileOffsets).is_some();
    let (kind, offsets, counts) = if tiled {
        let off = vec_tag(dec, Tag::TileOffsets)?.unwrap_or_default();
        let cnt = vec_tag(dec, Tag::TileByteCounts)?.unwrap_or_default();
        ("tile", off, cnt)
    } else {
        let off = vec_tag(dec, Tag::StripOffsets)?.unwrap_or_default();
        let cnt = vec_tag(dec, Tag::StripByteCounts)?.unwrap_or_default();
        ("strip", off, cnt)
    };
    if offsets.is_empty() || offsets.len() != counts.len() {
        return Err(format!(
            "{} {kind} offsets but {} {kind} byte counts",
            offsets.len(),
            counts.len()
        ));
    }
    // Bytes each chunk must decode to (used for uncompressed chunks).
    let row_bytes = u64::from(width) * bpp;
    let (chunk_rows, full_chunk_bytes) = if tiled {
        let tw = vec_tag(dec, Tag::TileWidth)?
            .and_then(|v| v.first().copied())
            .unwrap_or(0);
        let tl = vec_tag(dec, Tag::TileLength)?
            .and_then(|v| v.first().copied())
            .unwrap_or(0);
        if tw == 0 || tl == 0 || tw > u64::from(u32::MAX) || tl > u64::from(u32::MAX) {
            return Err(format!("tile size {tw}x{tl} is invalid"));
        }
        (tl, tw.saturating_mul(tl).saturating_mul(bpp))
    } else {
        let rps = vec_tag(dec, Tag::RowsPerStrip)?
            .and_then(|v| v.first().copied())
            .unwrap_or(u64::from(height))
            .clamp(1, u64::from(height));
        (rps, rps.saturating_mul(row_bytes))
    };
    for (i, (&off, &cnt)) in offsets.iter().zip(&counts).enumerate() {
        let needed = if !uncompressed {
            cnt
        } else if tiled {
            full_chunk_bytes
        } else {
            let first_row = (i as u64).saturating_mul(chunk_rows);
            let rows = chunk_rows.min(u64::from(height).saturating_sub(first_row));
            rows * row_bytes
        };
        if uncompressed && cnt < needed {
            return Err(format!(
                "{kind} {i} holds {cnt} bytes but its pixels need {needed} (corrupt or truncated)"
            ));
        }
        let end = off.saturating_add(needed);
        if end > file_len {
            return Err(format!(
                "truncated: {kind} {i} needs bytes {off}..{end} but the file has {file_len} bytes"
            ));
        }
        // A byte count running past the end means the file was cut or its tags are corrupt;
        // the decoder would zero-fill what is missing.
        let claimed = off.saturating_add(cnt);
        if claimed > file_len {
            return Err(format!(
                "truncated: {kind} {i} claims bytes {off}..{claimed} but the file has {file_len} bytes"
            ));
        }
    }
    Ok(())
}

/// Checks the 8-byte TIFF signature; returns true for BigTIFF.
pub(crate) fn read_signature(
    path: &Path,
    file: &mut File,
    file_len: u64,
) -> Result<bool, ImageError> {
    let mut head = [0u8; 8];
    let n = usize::try_from(file_len.min(8)).unwrap_or(8);
    file.read_exact(&mut head[..n])
        .map_err(|e| ImageError::io(path, e))?;
    let magic = match &head[..4] {
        [b'I', b'I', a, b] => u16::from_le_bytes([*a, *b]),
        [b'M', b'M', a, b] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    if n < 8 || !(magic == 42 || magic == 43) {
        let shown: Vec<String> = head[..n.min(4)]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        return Err(ImageError::invalid(
            path,
            format!(
                "not a TIFF file ({file_len} bytes, starting with [{}])",
                shown.join(" ")
            ),
        ));
    }
    Ok(magic == 43)
}
