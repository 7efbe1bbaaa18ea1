//! Checks an ND2 file before the `nd2` crate parses it, and finds what the
//! crate does not expose: the image attributes it hides or misreads
//! (`eCompression`, `uiBpcInMemory`, `uiCompBPC`), the experiment, picture and
//! calibration metadata, and where each frame's bytes lie.
//!
//! The crate allocates what the headers say (the chunk map, byte arrays in the
//! CLX-lite metadata), inflates compressed metadata without a bound and
//! recurses once per metadata level: a hostile file would abort the worker,
//! not fail it. This walks the same structures with every size checked against
//! the file and [`Limits`] ([`super::nd2_clx`]), so what reaches the crate is
//! bounded, and every frame chunk is checked to hold a whole frame inside the
//! file.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::nd2_clx::{self, MAX_METADATA, Value};
use crate::image::ImageError;
use crate::image::tiff_in::Limits;

/// Chunk magic.
const MAGIC: u32 = 0x0ABE_CEDA;
/// The last 40 bytes start with this, then the chunk map's offset.
const MAP_SIGNATURE: &[u8; 32] = b"ND2 CHUNK MAP SIGNATURE 0000001!";
/// Per-frame acquisition times, one f64 (ms) per frame chunk.
const ACQ_TIMES: &[u8] = b"CustomData|AcqTimesCache!";
/// The name of frame chunk `N` is this, `N`, `!`.
const FRAME_CHUNK: &[u8] = b"ImageDataSeq|";

/// What the checks found.
#[derive(Debug)]
pub struct Layout {
    /// `SLxImageAttributes` (`ImageAttributesLV!`).
    pub attrs: Value,
    /// `SLxExperiment` (`ImageMetadataLV!`), when the file has one.
    pub experiment: Option<Value>,
    /// `SLxPictureMetadata` (`ImageMetadataSeqLV|0!`), when present.
    pub picture: Option<Value>,
    /// `SLxCalibration` (`ImageCalibrationLV|0!`), when present.
    pub calibration: Option<Value>,
    /// Where frame `N`'s data starts (its 8-byte timestamp, then the samples).
    pub frames: Vec<u64>,
    /// Bytes of one row of a frame (all channels interleaved, with padding).
    pub row_bytes: usize,
    /// `CustomData|AcqTimesCache!`: each frame chunk's acquisition time (ms),
    /// when the file has one entry per frame chunk (more are cut, fewer: none).
    pub acq_times: Option<Vec<f64>>,
}

impl Layout {
    /// The attribute `name` when it is a number.
    pub fn num(&self, name: &str) -> Option<f64> {
        self.attrs.get(name).and_then(Value::num)
    }
}

/// Walks the file's chunk map, metadata chunks and frame chunks. Every error
/// is the file's fault.
pub fn check(path: &Path, limits: &Limits) -> Result<Layout, ImageError> {
    let bad = |r: String| ImageError::invalid(path, format!("ND2: {r}"));
    let f = File::open(path).map_err(|e| ImageError::io(path, e))?;
    let len = f.metadata().map_err(|e| ImageError::io(path, e))?.len();
    if len < 112 + 40 {
        return Err(bad(format!("{len} bytes, too short for an ND2 file")));
    }
    let mut tail = [0u8; 40];
    f.read_exact_at(&mut tail, len - 40)
        .map_err(|e| bad(format!("cannot read the tail: {e}")))?;
    if &tail[..32] != MAP_SIGNATURE {
        return Err(bad("no chunk map signature at the end of the file".into()));
    }
    let map_at = u64_at(&tail, 32);
    let (name_len, data_len) = chunk_header(&f, map_at, len).map_err(&bad)?;
    if !(32..=256).contains(&name_len) {
        return Err(bad(format!("chunk map name is {name_len} bytes long")));
    }
    let map_data = map_at + 16 + u64::from(name_len);
    if data_len > len - map_data || data_len > MAX_METADATA {
        return Err(bad(format!(
            "chunk map claims {data_len} bytes at offset {map_data} of a {len}-byte file"
        )));
    }
    let mut map = vec![0u8; data_len as usize];
    f.read_exact_at(&mut map, map_data)
        .map_err(|e| bad(format!("cannot read the chunk map: {e}")))?;
    let chunks = chunk_map(&map);
    let read = |name: &str, root: &str| -> Result<Option<Value>, ImageError> {
        let Some(&at) = chunks.get(name.as_bytes()) else {
            return Ok(None);
        };
        let data =
            chunk_data(&f, at, len, MAX_METADATA).map_err(|r| bad(format!("chunk {name}: {r}")))?;
        let top = nd2_clx::parse(&data).map_err(|r| bad(format!("{name}: {}", r.text())))?;
        Ok(Some(
            Value::Level(top)
                .get(root)
                .cloned()
                .unwrap_or(Value::Level(Vec::new())),
        ))
    };
    let attrs = read("ImageAttributesLV!", "SLxImageAttributes")?.ok_or_else(|| {
        bad("the chunk map lists no ImageAttributesLV! (only ND2 v3 is read)".into())
    })?;
    let experiment = read("ImageMetadataLV!", "SLxExperiment")?;
    let picture = read("ImageMetadataSeqLV|0!", "SLxPictureMetadata")?;
    let calibration = read("ImageCalibrationLV|0!", "SLxCalibration")?;
    let (row_bytes, height) = check_frame(&attrs, limits).map_err(&bad)?;
    let frame = row_bytes as u64 * height;
    let count = match attrs.get("uiSequenceCount").and_then(Value::num) {
        Some(n) if n >= 0.0 && n <= limits.max_pages as f64 => n as usize,
        Some(n) => {
            return Err(bad(format!(
                "uiSequenceCount is {n} (limit {})",
                limits.max_pages
            )));
        }
        None => {
            return Err(bad(
                "SLxImageAttributes has no numeric uiSequenceCount".into()
            ));
        }
    };
    // The crate reads a frame's bytes without checking they lie inside its chunk:
    // a frame chunk shorter than the attributes say would be filled from the next.
    // Where each chunk starts: a frame must end before the next chunk does.
    let mut starts: Vec<u64> = chunks.values().copied().chain([map_at]).collect();
    starts.sort_unstable();
    let mut frames = vec![None; count];
    let mut listed = 0usize;
    for (name, &at) in &chunks {
        let Some(number) = name.strip_prefix(FRAME_CHUNK) else {
            continue;
        };
        listed += 1;
        let shown = String::from_utf8_lossy(name);
        let slot = std::str::from_utf8(&number[..number.len() - 1])
            .ok()
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| frames.get_mut(n));
        let Some(slot) = slot else {
            continue;
        };
        let (n, d) = chunk_header(&f, at, len).map_err(&bad)?;
        if d < 8 + frame {
            return Err(bad(format!(
                "chunk {shown} holds {d} bytes but a frame needs {}",
                8 + frame
            )));
        }
        let start = at + 16 + u64::from(n);
        let next = starts[starts.partition_point(|&s| s <= at)..]
            .first()
            .map_or(len, |&s| s.min(len));
        if start.checked_add(8 + frame).is_none_or(|end| end > next) {
            return Err(bad(format!(
                "chunk {shown} is truncated: its frame of {} bytes runs into the next chunk \
                 or past the end of the file",
                8 + frame
            )));
        }
        *slot = Some(start);
    }
    let frames: Vec<u64> = frames.into_iter().flatten().collect();
    if frames.len() != count || listed != count {
        return Err(bad(format!(
            "uiSequenceCount is {count} but the chunk map lists {listed} frames \
             ({} of them numbered 0..{count})",
            frames.len()
        )));
    }
    // Optional: a cache that cannot be read only leaves the times unknown.
    let acq_times = chunks
        .get(ACQ_TIMES)
        .and_then(|&at| chunk_data(&f, at, len, MAX_METADATA).ok())
        .filter(|data| data.len() >= count * 8)
        .map(|data| {
            let (times, _) = data[..count * 8].as_chunks::<8>();
            times.iter().map(|b| f64::from_le_bytes(*b)).collect()
        });
    Ok(Layout {
        attrs,
        experiment,
        picture,
        calibration,
        frames,
        row_bytes,
        acq_times,
    })
}

/// The row bytes and height the attributes claim, checked against the limits.
fn check_frame(a: &Value, limits: &Limits) -> Result<(usize, u64), String> {
    let num = |k: &str| match a.get(k).and_then(Value::num) {
        Some(v) if v >= 0.0 => Ok(v),
        _ => Err(format!("SLxImageAttributes has no numeric {k}")),
    };
    let (w, h) = (num("uiWidth")?, num("uiHeight")?);
    let side = f64::from(limits.max_side);
    if w < 1.0 || h < 1.0 || w > side || h > side {
        return Err(format!("frame of {w}x{h} pixels (limit {side} per side)"));
    }
    let row = match a.get("uiWidthBytes").and_then(Value::num) {
        Some(n) => n,
        None => w * num("uiComp")? * 2.0,
    };
    if row < 1.0 || row.fract() != 0.0 || row * h > limits.max_frame_bytes as f64 {
        return Err(format!(
            "frame of {} bytes (limit {})",
            row * h,
            limits.max_frame_bytes
        ));
    }
    Ok((row as usize, h as u64))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Reads a chunk header at `at`: (name length, data length).
fn chunk_header(f: &File, at: u64, len: u64) -> Result<(u32, u64), String> {
    if at.checked_add(16).is_none_or(|end| end > len) {
        return Err(format!(
            "a chunk at offset {at} lies past the end of the file"
        ));
    }
    let mut h = [0u8; 16];
    f.read_exact_at(&mut h, at)
        .map_err(|e| format!("cannot read the chunk at {at}: {e}"))?;
    let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    if magic != MAGIC {
        return Err(format!("no chunk magic at offset {at} (found {magic:#x})"));
    }
    Ok((u32::from_le_bytes([h[4], h[5], h[6], h[7]]), u64_at(&h, 8)))
}

/// Reads the data of the chunk at `at`, at most `limit` bytes.
fn chunk_data(f: &File, at: u64, len: u64, limit: u64) -> Result<Vec<u8>, String> {
    let (n, d) = chunk_header(f, at, len)?;
    let start = at + 16 + u64::from(n);
    if start > len || d > len - start || d > limit {
        return Err(format!("claims {d} bytes past the end of the file"));
    }
    let mut data = vec![0u8; d as usize];
    f.read_exact_at(&mut data, start)
        .map_err(|e| format!("cannot read it: {e}"))?;
    Ok(data)
}

/// The chunk map: name (ending `!`) → offset.
fn chunk_map(data: &[u8]) -> HashMap<Vec<u8>, u64> {
    let mut out = HashMap::new();
    let mut pos = 0;
    while let Some(end) = data[pos..].iter().position(|&b| b == b'!') {
        let name = &data[pos..=pos + end];
        if name.ends_with(MAP_SIGNATURE) || pos + end + 17 > data.len() {
            break;
        }
        out.insert(name.to_vec(), u64_at(data, pos + end + 1));
        pos += end + 17;
    }
    out
}
