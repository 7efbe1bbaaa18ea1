//! The plane map of a CZI file: parses the subblock directory's entries as the
//! `czi` crate does, and maps each (scene, time, channel, z) to the one
//! full-resolution subblock that holds it, refusing every layout the crate
//! would not read faithfully (mosaics, scenes whose subblocks move, missing
//! planes, colour samples, JPEG/JPEG-XR, unmapped dimensions, multi-file CZI).

use std::collections::BTreeMap;

use super::Sizes;
use super::czi_guard::{Block, Layout, i32_at, u64_at};
use crate::image::Dtype;
use crate::image::tiff_in::Limits;

/// Fixed part of a directory entry, and of each of its dimension entries.
pub(super) const ENTRY: usize = 32;
pub(super) const DIM_ENTRY: usize = 20;
/// Largest coordinate accepted: keeps the crate's rectangle sums inside `i32`.
const MAX_COORD: i32 = 1 << 28;
/// The plane axes, in the order of [`Block`] indices: scene, time, channel, z.
const AXES: [&str; 4] = ["S", "T", "C", "Z"];
/// Dimensions the reader does not map (rotation, illumination, phase, view, block).
const UNMAPPED: [&str; 5] = ["R", "I", "H", "V", "B"];

/// One directory entry, as the crate will see it.
pub(super) struct Entry {
    pub(super) pixel: i32,
    pub(super) at: u64,
    pub(super) part: i32,
    pub(super) compression: i32,
    pub(super) dims: BTreeMap<String, i32>,
    pub(super) rect: [i32; 4],
    pub(super) stored: (i32, i32),
    pub(super) m: Option<i32>,
}

/// Parses one DV directory entry as the crate does.
pub(super) fn entry(d: &mut &[u8], index: i32) -> Result<Entry, String> {
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
pub(super) fn plan(entries: &[Entry], limits: &Limits) -> Result<Layout, String> {
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
