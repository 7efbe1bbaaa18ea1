//! Cross-module tests of image I/O, and the helpers they share: scratch
//! folders, deterministic pixel patterns, and a builder for hand-made TIFFs.

mod checkpoint_tests;
mod czi_tests;
mod interop;
mod nd2_tests;
#[path = "../../../../tests/tests/common/nd2_writer.rs"]
mod nd2_writer;
mod npy_tests;
mod ome_tests;
mod read_bench;
mod rss;
mod tiff_hostile;
mod tiff_roundtrip;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Pixel;
use super::tiff_ifd::{Entry, Value, block_len, encode};

/// A scratch folder removed when dropped.
pub(super) struct TestDir(PathBuf);

impl TestDir {
    pub(super) fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "isobatch-imageio-{}-{n}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TestDir(dir)
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }

    pub(super) fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Names of the files in the folder, sorted.
    pub(super) fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Pixel types the tests can synthesise deterministic values for.
pub(super) trait TestPixel: Pixel {
    fn from_index(i: u64) -> Self;
}

impl TestPixel for u8 {
    fn from_index(i: u64) -> Self {
        (i.wrapping_mul(31) >> 3) as u8
    }
}
impl TestPixel for u16 {
    fn from_index(i: u64) -> Self {
        i.wrapping_mul(2_654_435_761) as u16
    }
}
impl TestPixel for u32 {
    fn from_index(i: u64) -> Self {
        i.wrapping_mul(2_654_435_761) as u32
    }
}
impl TestPixel for f32 {
    fn from_index(i: u64) -> Self {
        (i as f32) * 0.25 - 1000.5
    }
}

/// Frame `t` of a test stack: distinct values per frame and pixel, with runs
/// (so PackBits and LZW see both repeats and noise).
pub(super) fn pattern<T: TestPixel>(t: usize, len: usize) -> Vec<T> {
    (0..len)
        .map(|i| {
            let k = if i % 64 < 16 { 7 } else { i as u64 };
            T::from_index(k.wrapping_add((t as u64).wrapping_mul(1_000_003)))
        })
        .collect()
}

/// One page of a hand-made TIFF: its tags (without strip tags) and data.
pub(super) struct CraftPage {
    pub width: u32,
    pub height: u32,
    pub tags: Vec<Entry>,
    pub data: Vec<u8>,
    /// StripByteCounts to claim instead of `data.len()`.
    pub claimed_bytes: Option<u32>,
}

impl CraftPage {
    /// A grayscale page with the given bits, sample format and compression code.
    pub(super) fn gray(width: u32, height: u32, bits: u16, format: u16, data: Vec<u8>) -> Self {
        CraftPage {
            width,
            height,
            tags: vec![
                short(258, bits),
                short(259, 1),
                short(262, 1),
                short(277, 1),
                short(339, format),
            ],
            data,
            claimed_bytes: None,
        }
    }

    /// Replaces (or adds) a SHORT tag.
    pub(super) fn set(mut self, tag: u16, value: Value) -> Self {
        self.tags.retain(|e| e.tag != tag);
        self.tags.push(Entry { tag, value });
        self
    }
}

pub(super) fn short(tag: u16, v: u16) -> Entry {
    Entry {
        tag,
        value: Value::Short(vec![v]),
    }
}

/// Builds a little-endian classic TIFF: header, all IFDs, then all page data
/// (one strip per page), so cutting the file cuts pixel data, not IFDs.
pub(super) fn craft(pages: &[CraftPage]) -> Vec<u8> {
    let entries = |p: &CraftPage, offset: u32| {
        let mut e = p.tags.clone();
        e.push(Entry {
            tag: 256,
            value: Value::Long(vec![p.width]),
        });
        e.push(Entry {
            tag: 257,
            value: Value::Long(vec![p.height]),
        });
        e.push(Entry {
            tag: 273,
            value: Value::Long(vec![offset]),
        });
        e.push(Entry {
            tag: 278,
            value: Value::Long(vec![p.height]),
        });
        let count = p.claimed_bytes.unwrap_or(p.data.len() as u32);
        e.push(Entry {
            tag: 279,
            value: Value::Long(vec![count]),
        });
        e.sort_by_key(|e| e.tag);
        e
    };
    let lens: Vec<u64> = pages
        .iter()
        .map(|p| block_len(&entries(p, 0), false))
        .collect();
    let mut pos = 8 + lens.iter().sum::<u64>();
    let mut offsets = Vec::new();
    for p in pages {
        offsets.push(pos as u32);
        pos += p.data.len() as u64;
    }
    let mut out = vec![b'I', b'I', 42, 0, 8, 0, 0, 0];
    let mut at = 8u64;
    for (i, p) in pages.iter().enumerate() {
        let next = if i + 1 < pages.len() { at + lens[i] } else { 0 };
        out.extend(encode(&entries(p, offsets[i]), at, next, false).unwrap());
        at += lens[i];
    }
    for p in pages {
        out.extend_from_slice(&p.data);
    }
    out
}
