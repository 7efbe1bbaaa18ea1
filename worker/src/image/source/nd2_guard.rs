//! Checks an ND2 file before the `nd2` crate parses it, and reads the image
//! attributes the crate does not expose.
//!
//! The crate allocates what the headers say (the chunk map, byte arrays in the
//! CLX-lite metadata), inflates compressed metadata without a bound and
//! recurses once per metadata level: a hostile file would abort the worker,
//! not fail it. This walks the same structures with every size checked against
//! the file and [`Limits`], so what reaches the crate is bounded. It also reads
//! `eCompression`, `uiBpcInMemory` and `uiCompBPC`, which the crate either
//! hides or misreads (a numeric `eCompression` is taken as "uncompressed").

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::image::ImageError;
use crate::image::tiff_in::Limits;

/// Chunk magic.
const MAGIC: u32 = 0x0ABE_CEDA;
/// The last 40 bytes start with this, then the chunk map's offset.
const MAP_SIGNATURE: &[u8; 32] = b"ND2 CHUNK MAP SIGNATURE 0000001!";
/// Largest metadata chunk read (and largest inflated metadata).
const MAX_METADATA: u64 = 16 << 20;
/// Deepest metadata nesting accepted.
const MAX_DEPTH: usize = 64;
/// CLX-lite type codes the walk needs.
const LEVEL: u8 = 11;
const COMPRESS: u8 = 76;

/// A scalar attribute of `SLxImageAttributes`.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// A number.
    Num(f64),
    /// A string.
    Text(String),
}

/// Walks the file's chunk map and metadata chunks; returns the top-level
/// attributes of `SLxImageAttributes`. Every error is the file's fault.
pub fn check(path: &Path, limits: &Limits) -> Result<HashMap<String, Scalar>, ImageError> {
    let bad = |r: String| ImageError::invalid(path, format!("ND2: {r}"));
    let mut f = File::open(path).map_err(|e| ImageError::io(path, e))?;
    let len = f.metadata().map_err(|e| ImageError::io(path, e))?.len();
    if len < 112 + 40 {
        return Err(bad(format!("{len} bytes, too short for an ND2 file")));
    }
    let mut tail = [0u8; 40];
    read_at(&mut f, len - 40, &mut tail).map_err(|e| bad(format!("cannot read the tail: {e}")))?;
    if &tail[..32] != MAP_SIGNATURE {
        return Err(bad("no chunk map signature at the end of the file".into()));
    }
    let map_at = u64_at(&tail, 32);
    let (name_len, data_len) = chunk_header(&mut f, map_at, len).map_err(&bad)?;
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
    read_at(&mut f, map_data, &mut map)
        .map_err(|e| bad(format!("cannot read the chunk map: {e}")))?;
    let chunks = chunk_map(&map);
    let mut attributes = None;
    for name in ["ImageAttributesLV!", "ImageMetadataLV!"] {
        let Some(&at) = chunks.get(name.as_bytes()) else {
            if name == "ImageAttributesLV!" {
                return Err(bad(format!(
                    "the chunk map lists no {name} (only ND2 v3 is read)"
                )));
            }
            continue;
        };
        let (n, d) = chunk_header(&mut f, at, len).map_err(&bad)?;
        let start = at + 16 + u64::from(n);
        if start > len || d > len - start || d > MAX_METADATA {
            return Err(bad(format!(
                "chunk {name} claims {d} bytes past the end of the file"
            )));
        }
        let mut data = vec![0u8; d as usize];
        read_at(&mut f, start, &mut data).map_err(|e| bad(format!("cannot read {name}: {e}")))?;
        let mut top = HashMap::new();
        walk(&data, 1, 0, &mut top).map_err(|r| bad(format!("{name}: {}", r.text())))?;
        if name == "ImageAttributesLV!" {
            attributes = Some(top);
        }
    }
    let attrs = attributes.unwrap_or_default();
    let frame = check_frame(&attrs, limits).map_err(&bad)?;
    // The crate reads a frame's bytes without checking they lie inside its chunk:
    // a frame chunk shorter than the attributes say would be filled from the next.
    let mut frames = 0usize;
    for (name, &at) in &chunks {
        if !name.starts_with(b"ImageDataSeq|") {
            continue;
        }
        frames += 1;
        let (_, d) = chunk_header(&mut f, at, len).map_err(&bad)?;
        if d < 8 + frame {
            return Err(bad(format!(
                "chunk {} holds {d} bytes but a frame needs {}",
                String::from_utf8_lossy(name),
                8 + frame
            )));
        }
    }
    match attrs.get("uiSequenceCount") {
        Some(Scalar::Num(n)) if *n == frames as f64 => {}
        Some(Scalar::Num(n)) => {
            return Err(bad(format!(
                "uiSequenceCount is {n} but the chunk map lists {frames} frames"
            )));
        }
        _ => {
            return Err(bad(
                "SLxImageAttributes has no numeric uiSequenceCount".into()
            ));
        }
    }
    Ok(attrs)
}

/// The frame size in bytes the attributes claim, checked against the limits.
fn check_frame(a: &HashMap<String, Scalar>, limits: &Limits) -> Result<u64, String> {
    let num = |k: &str| match a.get(k) {
        Some(Scalar::Num(v)) if *v >= 0.0 => Ok(*v),
        _ => Err(format!("SLxImageAttributes has no numeric {k}")),
    };
    let (w, h) = (num("uiWidth")?, num("uiHeight")?);
    let side = f64::from(limits.max_side);
    if w < 1.0 || h < 1.0 || w > side || h > side {
        return Err(format!("frame of {w}x{h} pixels (limit {side} per side)"));
    }
    let row = a
        .get("uiWidthBytes")
        .and_then(|v| match v {
            Scalar::Num(n) => Some(*n),
            Scalar::Text(_) => None,
        })
        .unwrap_or(w * num("uiComp")? * 2.0);
    if row < 1.0 || row * h > limits.max_frame_bytes as f64 {
        return Err(format!(
            "frame of {} bytes (limit {})",
            row * h,
            limits.max_frame_bytes
        ));
    }
    Ok((row * h) as u64)
}

fn read_at(f: &mut File, at: u64, buf: &mut [u8]) -> std::io::Result<()> {
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(buf)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Reads a chunk header at `at`: (name length, data length).
fn chunk_header(f: &mut File, at: u64, len: u64) -> Result<(u32, u64), String> {
    if at.checked_add(16).is_none_or(|end| end > len) {
        return Err(format!(
            "a chunk at offset {at} lies past the end of the file"
        ));
    }
    let mut h = [0u8; 16];
    read_at(f, at, &mut h).map_err(|e| format!("cannot read the chunk at {at}: {e}"))?;
    let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    if magic != MAGIC {
        return Err(format!("no chunk magic at offset {at} (found {magic:#x})"));
    }
    Ok((u32::from_le_bytes([h[4], h[5], h[6], h[7]]), u64_at(&h, 8)))
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

/// Why the metadata walk stopped: a hazard (the crate would allocate or recurse
/// without bound) or plain malformation (the crate reports it itself).
enum Walk {
    Hazard(String),
    Malformed(String),
}

impl Walk {
    fn text(self) -> String {
        match self {
            Walk::Hazard(m) | Walk::Malformed(m) => m,
        }
    }
}

fn take<'a>(d: &mut &'a [u8], n: usize) -> Result<&'a [u8], Walk> {
    if d.len() < n {
        return Err(Walk::Malformed("metadata ends inside an entry".into()));
    }
    let (head, rest) = d.split_at(n);
    *d = rest;
    Ok(head)
}

fn fixed<const N: usize>(d: &mut &[u8]) -> Result<[u8; N], Walk> {
    let mut a = [0u8; N];
    a.copy_from_slice(take(d, N)?);
    Ok(a)
}

fn utf16(b: &[u8]) -> String {
    char::decode_utf16(b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])))
        .map(|c| c.unwrap_or('\u{fffd}'))
        .collect::<String>()
        .trim_end_matches('\0')
        .to_string()
}

/// Walks `count` CLX-lite entries of `d` the way the crate parses them, with
/// every size bounded; records the scalars of depth 1 in `top`. Returns the
/// bytes used.
fn walk(
    mut d: &[u8],
    count: usize,
    depth: usize,
    top: &mut HashMap<String, Scalar>,
) -> Result<usize, Walk> {
    if depth > MAX_DEPTH {
        return Err(Walk::Hazard(format!(
            "metadata nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let start = d.len();
    for _ in 0..count {
        let [kind, name_len] = fixed::<2>(&mut d)?;
        if kind == COMPRESS {
            take(&mut d, 10)?;
            let mut inflated = Vec::new();
            flate2::read::ZlibDecoder::new(d)
                .take(MAX_METADATA + 1)
                .read_to_end(&mut inflated)
                .map_err(|e| Walk::Malformed(format!("compressed metadata: {e}")))?;
            if inflated.len() as u64 > MAX_METADATA {
                return Err(Walk::Hazard(format!(
                    "compressed metadata inflates past {MAX_METADATA} bytes"
                )));
            }
            walk(&inflated, 1, depth, top)?;
            return Ok(start);
        }
        let name = utf16(take(&mut d, usize::from(name_len) * 2)?);
        let value = match kind {
            1 => Some(Scalar::Num(f64::from(fixed::<1>(&mut d)?[0]))),
            2 => Some(Scalar::Num(f64::from(i32::from_le_bytes(fixed(&mut d)?)))),
            3 => Some(Scalar::Num(f64::from(u32::from_le_bytes(fixed(&mut d)?)))),
            4 => Some(Scalar::Num(i64::from_le_bytes(fixed(&mut d)?) as f64)),
            5 | 7 => Some(Scalar::Num(u64::from_le_bytes(fixed(&mut d)?) as f64)),
            6 => Some(Scalar::Num(f64::from_le_bytes(fixed(&mut d)?))),
            8 => {
                let end = d.chunks_exact(2).position(|c| c == [0, 0]).ok_or_else(|| {
                    Walk::Malformed("a string runs to the end of the metadata".into())
                })?;
                Some(Scalar::Text(utf16(take(&mut d, end * 2 + 2)?)))
            }
            9 => {
                let size = u64::from_le_bytes(fixed(&mut d)?);
                if size > d.len() as u64 {
                    return Err(Walk::Hazard(format!(
                        "a byte array claims {size} bytes, more than remain"
                    )));
                }
                let bytes = take(&mut d, size as usize)?;
                // The crate parses a byte array that looks like metadata (and keeps
                // the bytes when that fails): only hazards matter inside.
                if let Err(Walk::Hazard(m)) = walk(bytes, 1, depth + 1, &mut HashMap::new()) {
                    return Err(Walk::Hazard(m));
                }
                None
            }
            LEVEL => {
                let items = u32::from_le_bytes(fixed(&mut d)?) as usize;
                take(&mut d, 8)?;
                if items > d.len() / 2 {
                    return Err(Walk::Malformed(format!(
                        "a metadata level claims {items} entries, more than fit"
                    )));
                }
                let used = walk(d, items, depth + 1, top)?;
                take(&mut d, used)?;
                let offsets = items.saturating_mul(8).min(d.len());
                take(&mut d, offsets)?;
                None
            }
            other => {
                return Err(Walk::Malformed(format!("unknown metadata type {other}")));
            }
        };
        if let (1, Some(v)) = (depth, value) {
            top.insert(name, v);
        }
    }
    Ok(start - d.len())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn header(out: &mut Vec<u8>, kind: u8, name: &str) {
        out.extend_from_slice(&[kind, name.len() as u8 + 1]);
        for u in name.encode_utf16().chain([0]) {
            out.extend_from_slice(&u.to_le_bytes());
        }
    }

    fn hazard(data: &[u8]) -> String {
        match walk(data, 1, 0, &mut HashMap::new()) {
            Err(Walk::Hazard(m)) => m,
            Err(Walk::Malformed(m)) => panic!("malformed, not a hazard: {m}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn hazards_the_crate_would_not_survive_are_caught_first() {
        // Levels nested deeper than the crate's recursion can bear.
        let mut deep = Vec::new();
        for _ in 0..200 {
            header(&mut deep, LEVEL, "a");
            deep.extend_from_slice(&1u32.to_le_bytes());
            deep.extend_from_slice(&0u64.to_le_bytes());
        }
        assert!(hazard(&deep).contains("nested deeper"));
        // A byte array claiming a terabyte (the crate would allocate it).
        let mut big = Vec::new();
        header(&mut big, 9, "b");
        big.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(hazard(&big).contains("byte array claims"));
        // The same inside a byte array the crate parses as nested metadata.
        let mut outer = Vec::new();
        header(&mut outer, 9, "outer");
        outer.extend_from_slice(&(big.len() as u64).to_le_bytes());
        outer.extend_from_slice(&big);
        assert!(hazard(&outer).contains("byte array claims"));
        // Compressed metadata that inflates past the limit (the crate inflates without bound).
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&vec![0u8; (MAX_METADATA + 1024) as usize])
            .unwrap();
        let mut bomb = vec![COMPRESS, 0];
        bomb.extend_from_slice(&[0; 10]);
        bomb.extend_from_slice(&z.finish().unwrap());
        assert!(hazard(&bomb).contains("inflates past"));
    }

    #[test]
    fn scalars_of_the_first_level_are_read() {
        let mut items = Vec::new();
        header(&mut items, 3, "uiWidth");
        items.extend_from_slice(&640u32.to_le_bytes());
        header(&mut items, 8, "wsName");
        for u in "GFP".encode_utf16().chain([0]) {
            items.extend_from_slice(&u.to_le_bytes());
        }
        let mut root = Vec::new();
        header(&mut root, LEVEL, "SLxImageAttributes");
        root.extend_from_slice(&2u32.to_le_bytes());
        root.extend_from_slice(&(items.len() as u64).to_le_bytes());
        root.extend_from_slice(&items);
        root.extend_from_slice(&[0; 16]);
        let mut top = HashMap::new();
        assert!(walk(&root, 1, 0, &mut top).is_ok());
        assert_eq!(top.get("uiWidth"), Some(&Scalar::Num(640.0)));
        assert_eq!(top.get("wsName"), Some(&Scalar::Text("GFP".into())));
    }
}
