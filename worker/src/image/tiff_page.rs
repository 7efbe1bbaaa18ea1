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

use tiff::TiffError;
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

/// Why a page cannot be read; [`super::tiff_in`] adds the file and page number.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PageError {
    /// The decoder cannot tell the page's size.
    #[error("{0}")]
    Dimensions(TiffError),
    /// A tag cannot be read.
    #[error("cannot read tag {tag:?}: {source}")]
    Tag { tag: Tag, source: TiffError },
    /// A tag whose value does not fit 16 bits.
    #[error("tag {tag:?} = {value} is out of range")]
    TagRange { tag: Tag, value: u64 },
    /// A tag with no value.
    #[error("tag {tag:?} has no value")]
    TagEmpty { tag: Tag },
    /// A page larger than [`Limits`] allow.
    #[error(
        "header claims {width}x{height} pixels ({} per frame), above the limit of \
         {} pixels per side and {} per frame",
        human_bytes(*.frame_bytes),
        .limits.max_side,
        human_bytes(.limits.max_frame_bytes)
    )]
    TooLarge {
        width: u32,
        height: u32,
        frame_bytes: u64,
        limits: Limits,
    },
    /// Colour, palette or several samples per pixel.
    #[error(
        "{} with {samples} sample(s) per pixel is not supported; only single-channel grayscale \
         pages are (store channels as separate pages, e.g. an ImageJ hyperstack)",
        photometric_name(*.photometric)
    )]
    NotGrayscale { photometric: u16, samples: u16 },
    /// A single-sample page that is not BlackIsZero grayscale.
    #[error(
        "photometric interpretation {} ({photometric}) is not supported; expected grayscale \
         (BlackIsZero)",
        photometric_name(*.photometric)
    )]
    Photometric { photometric: u16 },
    /// A sample type other than uint8/16/32 or float32.
    #[error(
        "{} samples are not supported; use uint8, uint16, uint32 or float32",
        sample_type_name(*.format, *.bits)
    )]
    SampleType { format: u16, bits: u16 },
    /// A compression the reader does not decode.
    #[error(
        "compression {} ({code}) is not supported; use uncompressed, LZW, Deflate or \
         PackBits",
        compression_name(*.code)
    )]
    Compression { code: u16 },
    /// A predictor that does not fit the sample type.
    #[error("predictor {predictor} is not supported for {dtype} samples")]
    Predictor { predictor: u16, dtype: Dtype },
    /// Offset and byte-count tables of different lengths (or none).
    #[error("{offsets} {kind} offsets but {counts} {kind} byte counts")]
    ChunkTables {
        kind: &'static str,
        offsets: usize,
        counts: usize,
    },
    /// A zero or oversized tile.
    #[error("tile size {width}x{length} is invalid")]
    TileSize { width: u64, length: u64 },
    /// An uncompressed strip or tile smaller than its pixels.
    #[error(
        "{kind} {index} holds {bytes} bytes but its pixels need {needed} (corrupt or truncated)"
    )]
    ChunkShort {
        kind: &'static str,
        index: usize,
        bytes: u64,
        needed: u64,
    },
    /// A strip or tile that runs past the end of the file.
    #[error(
        "truncated: {kind} {index} needs bytes {start}..{end} but the file has {file_len} bytes"
    )]
    Truncated {
        kind: &'static str,
        index: usize,
        start: u64,
        end: u64,
        file_len: u64,
    },
    /// A strip or tile whose stated byte count runs past the end of the file (the
    /// decoder would zero-fill what is missing).
    #[error(
        "truncated: {kind} {index} claims bytes {start}..{end} but the file has {file_len} bytes"
    )]
    Overrun {
        kind: &'static str,
        index: usize,
        start: u64,
        end: u64,
        file_len: u64,
    },
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

fn vec_tag<R: Read + Seek>(dec: &mut Decoder<R>, tag: Tag) -> Result<Option<Vec<u64>>, PageError> {
    dec.find_tag_unsigned_vec::<u64>(tag)
        .map_err(|source| PageError::Tag { tag, source })
}

fn short_tag<R: Read + Seek>(dec: &mut Decoder<R>, tag: Tag) -> Result<Option<u16>, PageError> {
    Ok(match vec_tag(dec, tag)? {
        None => None,
        Some(v) => match v.first() {
            Some(&value) => {
                Some(u16::try_from(value).map_err(|_| PageError::TagRange { tag, value })?)
            }
            None => return Err(PageError::TagEmpty { tag }),
        },
    })
}

/// Checks the decoder's current page; `Err` is the reason it cannot be read.
pub(crate) fn inspect<R: Read + Seek>(
    dec: &mut Decoder<R>,
    file_len: u64,
    limits: &Limits,
) -> Result<PageInfo, PageError> {
    let (width, height) = dec.dimensions().map_err(PageError::Dimensions)?;
    let spp = short_tag(dec, Tag::SamplesPerPixel)?.unwrap_or(1);
    let bits = vec_tag(dec, Tag::BitsPerSample)?.unwrap_or_else(|| vec![1]);
    let max_bits = bits.iter().copied().max().unwrap_or(1);

    // Size first: a hostile header must not get further than this.
    let bytes_pp = max_bits.saturating_mul(u64::from(spp)).div_ceil(8).max(1);
    let frame_bytes = u64::from(width)
        .saturating_mul(u64::from(height))
        .saturating_mul(bytes_pp);
    if width > limits.max_side || height > limits.max_side || frame_bytes > limits.max_frame_bytes {
        return Err(PageError::TooLarge {
            width,
            height,
            frame_bytes,
            limits: *limits,
        });
    }

    let photometric = short_tag(dec, Tag::PhotometricInterpretation)?.unwrap_or(1);
    if photometric == 3 || photometric == 2 || spp != 1 {
        return Err(PageError::NotGrayscale {
            photometric,
            samples: spp,
        });
    }
    if photometric != 1 {
        return Err(PageError::Photometric { photometric });
    }

    let format = short_tag(dec, Tag::SampleFormat)?.unwrap_or(1);
    let bits = u16::try_from(max_bits).unwrap_or(u16::MAX);
    let dtype = match (format, bits) {
        (1, 8) => Dtype::U8,
        (1, 16) => Dtype::U16,
        (1, 32) => Dtype::U32,
        (3, 32) => Dtype::F32,
        (format, bits) => return Err(PageError::SampleType { format, bits }),
    };

    let compression = short_tag(dec, Tag::Compression)?.unwrap_or(1);
    if !SUPPORTED_COMPRESSION.contains(&compression) {
        return Err(PageError::Compression { code: compression });
    }
    let predictor = short_tag(dec, Tag::Predictor)?.unwrap_or(1);
    match (predictor, dtype) {
        (1 | 2, _) | (3, Dtype::F32) => {}
        (predictor, dtype) => return Err(PageError::Predictor { predictor, dtype }),
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
) -> Result<(), PageError> {
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
        return Err(PageError::ChunkTables {
            kind,
            offsets: offsets.len(),
            counts: counts.len(),
        });
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
            return Err(PageError::TileSize {
                width: tw,
                length: tl,
            });
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
            return Err(PageError::ChunkShort {
                kind,
                index: i,
                bytes: cnt,
                needed,
            });
        }
        let end = off.saturating_add(needed);
        if end > file_len {
            return Err(PageError::Truncated {
                kind,
                index: i,
                start: off,
                end,
                file_len,
            });
        }
        // A byte count running past the end means the file was cut or its tags are corrupt;
        // the decoder would zero-fill what is missing.
        let claimed = off.saturating_add(cnt);
        if claimed > file_len {
            return Err(PageError::Overrun {
                kind,
                index: i,
                start: off,
                end: claimed,
                file_len,
            });
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
