//! Checks a CZI file before the `czi` crate parses it, and maps every plane to
//! the one subblock that holds it.
//!
//! The crate allocates what the headers say (the subblock directory, the
//! attachment directory, the metadata XML, each subblock's data), sums
//! rectangle coordinates without overflow checks, and zero-fills a plane that
//! its subblocks do not cover or whose data is short. A hostile file would
//! abort the worker or end with made-up pixels. This walks the same structures
//! with every size checked against the file and [`Limits`], and accepts only
//! layouts the crate reads faithfully: one full-resolution subblock per (scene,
//! time, channel, z), covering its scene, gray 8/16-bit, uncompressed or zstd.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::Sizes;
use crate::image::tiff_in::Limits;
use crate::image::{Dtype, ImageError};

/// Segment header: 16-byte id, allocated size, used size.
const SEGMENT: u64 = 32;
/// Fixed part of a subblock segment before its data (at least).
const SUBBLOCK_FIXED: u64 = 256;
/// Fixed part of a directory entry, and of each of its dimension entries.
const ENTRY: usize = 32;
const DIM_ENTRY: usize = 20;
/// Largest subblock directory and metadata XML read.
const MAX_DIRECTORY: u64 = 256 << 20;
const MAX_XML: u64 = 16 << 20;
/// Largest coordinate accepted: keeps the crate's rectangle sums inside `i32`.
const MAX_COORD: i32 = 1 << 28;
/// The plane axes, in the order of [`Block`] indices: scene, time, channel, z.
const AXES: [&str; 4] = ["S", "T", "C", "Z"];
/// Dimensions the reader does not map (rotation, illumination, phase, view, block).
const UNMAPPED: [&str; 5] = ["R", "I", "H", "V", "B"];

/// Where one plane's pixels lie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// File offset of the subblock's data.
    pub at: u64,
    /// Bytes of data stored.
    pub len: u64,
    /// `true` for zstd (`5`, or `6` with its one- or three-byte prefix).
    pub zstd: Option<bool>,
}

/// What the checks found: sizes, sample type, the scenes' plane sizes, one block per plane.
#[derive(Debug)]
pub struct Layout {
    /// T, C, Z sizes (the same for every scene).
    pub sizes: Sizes,
    /// Width and height of each scene, in scene order.
    pub scenes: Vec<(usize, usize)>,
    /// Gray 8- or 16-bit.
    pub dtype: Dtype,
    /// Plane blocks, index `((s·T + t)·C + c)·Z + z`.
    pub blocks: Vec<Block>,
    /// The metadata XML, when the file has one.
    pub xml: Option<String>,
}

/// One directory entry, as the crate will see it.
struct Entry {
    pixel: i32,
    at: u64,
    part: i32,
    compression: i32,
    dims: BTreeMap<String, i32>,
    rect: [i32; 4],
    stored: (i32, i32),
    m: Option<i32>,
}

/// Walks `path`; every error names what in the file is wrong.
pub fn check(path: &Path, limits: &Limits) -> Result<Layout, ImageError> {
    let bad = |r: String| ImageError::invalid(path, format!("CZI: {r}"));
    let mut f = File::open(path).map_err(|e| ImageError::io(path, e))?;
    let len = f.metadata().map_err(|e| ImageError::io(path, e))?.len();
    let mut g = Guard { f: &mut f, len };
    let (_, head) = g.segment(0, b"ZISRAWFILE", 512).map_err(&bad)?;
    let dir_at = u64_at(&head, 52);
    let xml_at = u64_at(&head, 60);
    let att_at = u64_at(&head, 72);
    let entries = g.directory(dir_at, limits).map_err(&bad)?;
    if att_at != 0 {
        g.attachments(att_at).map_err(&bad)?;
    }
    let mut layout = plan(&entries, limits).map_err(&bad)?;
    layout.blocks = layout
        .blocks
        .iter()
        .map(|b| g.subblock(*b))
        .collect::<Result<_, _>>()
        .map_err(&bad)?;
    if xml_at != 0 {
        layout.xml = Some(g.xml(xml_at).map_err(&bad)?);
    }
    Ok(layout)
}

/// Bounded reads from the file.
struct Guard<'a> {
    f: &'a mut File,
    len: u64,
}

impl Guard<'_> {
    /// Reads `n` bytes at `at`, refusing what lies past the end of the file.
    fn read(&mut self, at: u64, n: u64, what: &str) -> Result<Vec<u8>, String> {
        if at.checked_add(n).is_none_or(|end| end > self.len) {
            return Err(format!(
                "{what} at offset {at} ({n} bytes) runs past the end of the {}-byte file",
                self.len
            ));
        }
        let mut buf = vec![0u8; n as usize];
        self.f
            .seek(SeekFrom::Start(at))
            .and_then(|_| self.f.read_exact(&mut buf))
            .map_err(|e| format!("cannot read {what} at offset {at}: {e}"))?;
        Ok(buf)
    }

    /// Checks the segment id at `at`; returns its used size and the `fixed` bytes
    /// after the header.
    fn segment(&mut self, at: u64, id: &[u8], fixed: u64) -> Result<(u64, Vec<u8>), String> {
        let what = String::from_utf8_lossy(id).into_owned();
        let mut h = self.read(at, SEGMENT + fixed, &format!("segment {what}"))?;
        if &h[..id.len()] != id || h[id.len()..16].iter().any(|&b| b != 0) {
            return Err(format!("no {what} segment at offset {at}"));
        }
        let used = match u64_at(&h, 24) {
            0 => u64_at(&h, 16),
            n => n,
        };
        Ok((used, h.split_off(SEGMENT as usize)))
    }

    /// The subblock directory's entries.
    fn directory(&mut self, at: u64, limits: &Limits) -> Result<Vec<Entry>, String> {
        let (used, fixed) = self.segment(at, b"ZISRAWDIRECTORY", 128)?;
        let count = i32::from_le_bytes([fixed[0], fixed[1], fixed[2], fixed[3]]);
        let payload = used.saturating_sub(128);
        if count < 1 || count as usize > limits.max_pages || count as u64 * ENTRY as u64 > payload {
            return Err(format!(
                "the subblock directory claims {count} entries in {payload} bytes"
            ));
        }
        if payload > MAX_DIRECTORY {
            return Err(format!("a subblock directory of {payload} bytes"));
        }
        let data = self.read(at + SEGMENT + 128, payload, "the subblock directory")?;
        let mut d = data.as_slice();
        (0..count).map(|i| entry(&mut d, i)).collect()
    }

    /// Bounds the attachment directory the crate reads at open.
    fn attachments(&mut self, at: u64) -> Result<(), String> {
        let (_, fixed) = self.segment(at, b"ZISRAWATTDIR", 256)?;
        let count = i32::from_le_bytes([fixed[0], fixed[1], fixed[2], fixed[3]]);
        let room = self.len.saturating_sub(at + SEGMENT + 256);
        if count > 0 && count as u64 * 128 > room {
            return Err(format!(
                "the attachment directory claims {count} entries, more than the file holds"
            ));
        }
        Ok(())
    }

    /// Checks the subblock segment at `b.at`; returns where its data lies.
    fn subblock(&mut self, b: Block) -> Result<Block, String> {
        let (used, p) = self.segment(b.at, b"ZISRAWSUBBLOCK", SUBBLOCK_FIXED)?;
        let meta = u64::from(u32_at(&p, 0));
        let att = u64::from(u32_at(&p, 4));
        let data = u64_at(&p, 8);
        if &p[16..18] != b"DV" {
            return Err(format!("the subblock at {} is not of schema DV", b.at));
        }
        let dims = u64::from(u32_at(&p, 44)).min(1025);
        let header = (16 + 32 + dims * DIM_ENTRY as u64).max(SUBBLOCK_FIXED);
        let start = b.at + SEGMENT + header + meta;
        let total = [header, meta, data, att]
            .iter()
            .try_fold(0u64, |s, v| s.checked_add(*v));
        match total {
            Some(t)
                if t <= used && b.at.checked_add(SEGMENT + t).is_some_and(|e| e <= self.len) => {}
            _ => {
                return Err(format!(
                    "the subblock at {} claims {data} data bytes past its segment or the end \
                     of the file",
                    b.at
                ));
            }
        }
        if b.zstd.is_none() && data != b.len {
            return Err(format!(
                "the uncompressed subblock at {} holds {data} bytes, its plane needs {}",
                b.at, b.len
            ));
        }
        Ok(Block {
            at: start,
            len: data,
            zstd: b.zstd,
        })
    }

    /// The metadata XML, bounded.
    fn xml(&mut self, at: u64) -> Result<String, String> {
        let (_, fixed) = self.segment(at, b"ZISRAWMETADATA", 256)?;
        let n = u64::from(u32_at(&fixed, 0));
        if n > MAX_XML {
            return Err(format!("metadata XML of {n} bytes (limit {MAX_XML})"));
        }
        let bytes = self.read(at + SEGMENT + 256, n, "the metadata XML")?;
        String::from_utf8(bytes).map_err(|e| format!("the metadata XML is not UTF-8: {e}"))
    }
}

/// Parses one DV directory entry as the crate does.
fn entry(d: &mut &[u8], index: i32) -> Result<Entry, String> {
    let short = || format!("the subblock directory ends inside entry {index}");
    let head = d.get(..ENTRY).ok_or_else(short)?;
    if &head[..2] != b"DV" {
        return Err(format!("directory entry {index} is not of schema DV"));
    }
    let ndims = i32_at(head, 28);
    if !(2..=64).contains(&ndims) {
        return Err(format!("directory entry {index} has {ndims} dimensions"));
    }
    let size = ENTRY + ndims as usize * DIM_ENTRY;
    let body = d.get(ENTRY..size).ok_or_else(short)?;
    let mut e = Entry {
        pixel: i32_at(head, 2),
        at: u64_at(head, 6),
        part: i32_at(head, 14),
        compression: i32_at(head, 18),
        dims: BTreeMap::new(),
        rect: [0, 0, -1, -1],
        stored: (-1, -1),
        m: None,
    };
    for dim in body.chunks_exact(DIM_ENTRY) {
        let code = String::from_utf8_lossy(&dim[..4])
            .trim_end_matches('\0')
            .trim()
            .to_string();
        let (start, len, stored) = (i32_at(dim, 4), i32_at(dim, 8), i32_at(dim, 16));
        if start.unsigned_abs() > MAX_COORD as u32 || !(0..=MAX_COORD).contains(&len) {
            return Err(format!(
                "directory entry {index}: dimension {code} starts at {start} with size {len}"
            ));
        }
        match code.as_str() {
            "X" => (e.rect[0], e.rect[2], e.stored.0) = (start, len, stored.max(0)),
            "Y" => (e.rect[1], e.rect[3], e.stored.1) = (start, len, stored.max(0)),
            "M" => e.m = Some(start),
            _ => {
                e.dims.insert(code, start);
            }
        }
    }
    if e.rect[2] < 0 || e.rect[3] < 0 {
        return Err(format!("directory entry {index} has no X/Y dimensions"));
    }
    *d = &d[size..];
    Ok(e)
}

/// Maps planes to entries; refuses every layout the crate would not read faithfully.
fn plan(entries: &[Entry], limits: &Limits) -> Result<Layout, String> {
    let mut bounds: BTreeMap<&str, (i32, i32)> = BTreeMap::new();
    for e in entries {
        for (k, v) in &e.dims {
            let b = bounds.entry(k.as_str()).or_insert((*v, *v));
            *b = (b.0.min(*v), b.1.max(*v));
        }
    }
    let size = |k: &str| bounds.get(k).map_or(1, |b| (b.1 - b.0) as usize + 1);
    if let Some(k) = UNMAPPED.iter().find(|k| size(k) > 1) {
        return Err(format!(
            "dimension {k} has {} values: only scenes, time, channels and z are read",
            size(k)
        ));
    }
    let n = AXES.map(size);
    let layer0: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.stored == (e.rect[2], e.rect[3]))
        .collect();
    let planes = n.iter().try_fold(1usize, |a, v| a.checked_mul(*v));
    let planes = match planes {
        Some(p) if p <= layer0.len() && p <= limits.max_pages => p,
        _ => {
            return Err(format!(
                "S={} T={} C={} Z={} planes but {} full-resolution subblocks",
                n[0],
                n[1],
                n[2],
                n[3],
                layer0.len()
            ));
        }
    };
    let first = layer0
        .first()
        .ok_or("no full-resolution subblocks (only a pyramid)")?;
    let dtype = match first.pixel {
        0 => Dtype::U8,
        1 => Dtype::U16,
        p => return Err(format!("pixel type {p}: only gray 8- and 16-bit are read")),
    };
    let mut slots: Vec<Option<(&Entry, Block)>> = vec![None; planes];
    let mut rects: Vec<Option<[i32; 4]>> = vec![None; n[0]];
    for e in &layer0 {
        if e.part != 0 {
            return Err(format!(
                "a subblock lies in file part {}: multi-file CZI is not read",
                e.part
            ));
        }
        if e.pixel != first.pixel {
            return Err("subblocks of mixed pixel types".into());
        }
        let zstd = match e.compression {
            0 => None,
            5 => Some(false),
            6 => Some(true),
            1 => return Err("JPEG-compressed subblocks are not read".into()),
            4 => return Err("JPEG-XR-compressed subblocks are not read".into()),
            c => return Err(format!("subblocks of unknown compression {c}")),
        };
        let mut at = [0usize; 4];
        for (i, k) in AXES.iter().enumerate() {
            at[i] = match (e.dims.get(*k), bounds.get(k)) {
                (Some(v), Some(b)) => (v - b.0) as usize,
                (None, _) if n[i] == 1 => 0,
                _ => return Err(format!("a subblock has no {k} coordinate")),
            };
        }
        let [s, t, c, z] = at;
        let slot = &mut slots[((s * n[1] + t) * n[2] + c) * n[3] + z];
        if let Some((other, _)) = slot {
            return Err(format!(
                "scene {s} holds several tiles of plane t={t} c={c} z={z} (M={:?} and M={:?}): \
                 a mosaic, whose tiles the reader does not stitch; export the stitched image",
                other.m, e.m
            ));
        }
        let rect = rects[s].get_or_insert(e.rect);
        if *rect != e.rect {
            return Err(format!(
                "the subblocks of scene {s} lie at different places or sizes ({rect:?} and \
                 {:?}): a mosaic or a moving scene is not read",
                e.rect
            ));
        }
        let (w, h) = (e.rect[2] as u64, e.rect[3] as u64);
        let bytes = w * h * dtype.bytes() as u64;
        if w == 0
            || h == 0
            || w.max(h) > u64::from(limits.max_side)
            || bytes > limits.max_frame_bytes
        {
            return Err(format!("a plane of {w}x{h} pixels is beyond the limits"));
        }
        *slot = Some((
            e,
            Block {
                at: e.at,
                len: bytes,
                zstd,
            },
        ));
    }
    let blocks = slots
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.map(|(_, b)| b)
                .ok_or_else(|| format!("plane {i} has no subblock"))
        })
        .collect::<Result<_, _>>()?;
    let scenes = rects
        .iter()
        .enumerate()
        .map(|(s, r)| {
            r.map(|r| (r[2] as usize, r[3] as usize))
                .ok_or_else(|| format!("scene {s} has no subblocks"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Layout {
        sizes: Sizes {
            t: n[1],
            c: n[2],
            z: n[3],
        },
        scenes,
        dtype,
        blocks,
        xml: None,
    })
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    u32_at(b, at) as i32
}
