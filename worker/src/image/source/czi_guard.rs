//! Checks a CZI file before the `czi` crate parses it, and maps every plane to
//! the one subblock that holds it (the map and its refusals: [`super::czi_plan`]).
//!
//! The crate allocates what the headers say (the subblock directory, the
//! attachment directory, the metadata XML, each subblock's data), sums
//! rectangle coordinates without overflow checks, and zero-fills a plane that
//! its subblocks do not cover or whose data is short. A hostile file would
//! abort the worker or end with made-up pixels. This walks the same structures
//! with every size checked against the file and [`Limits`], and accepts only
//! layouts the crate reads faithfully: one full-resolution subblock per (scene,
//! time, channel, z), covering its scene, gray 8/16-bit, uncompressed or zstd.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::Sizes;
use super::czi_plan::{self, DIM_ENTRY, ENTRY, Entry};
use crate::image::tiff_in::Limits;
use crate::image::{Dtype, ImageError};

/// Segment header: 16-byte id, allocated size, used size.
const SEGMENT: u64 = 32;
/// Fixed part of a subblock segment before its data (at least).
const SUBBLOCK_FIXED: u64 = 256;
/// Largest subblock directory and metadata XML read.
const MAX_DIRECTORY: u64 = 256 << 20;
const MAX_XML: u64 = 16 << 20;

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
    let mut layout = czi_plan::plan(&entries, limits).map_err(&bad)?;
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
        (0..count).map(|i| czi_plan::entry(&mut d, i)).collect()
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

pub(super) fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub(super) fn i32_at(b: &[u8], at: usize) -> i32 {
    u32_at(b, at) as i32
}
