//! CZI through the reader interface, on files written by Zeiss's pylibCZIrw
//! (`scripts/czi_fixtures.py --fixtures`; the copies in `czi/` were written by
//! it, `ISOBATCH_CZI_DIR` points the tests at freshly written ones): every
//! plane's pixels equal the writer's, scenes are positions, channels carry their
//! names, zstd0/zstd1 subblocks inflate exactly, and a mosaic and hostile files
//! are refused as invalid input naming the file, never a panic or a huge
//! allocation.

use std::path::{Path, PathBuf};

use super::TestDir;
use crate::image::source::{self, Order, PlaneFile, Sizes};
use crate::image::tiff_in::Limits;
use crate::image::{Dtype, ImageError};

const W: usize = 24;
const H: usize = 16;

fn fixture(name: &str) -> PathBuf {
    let dir = std::env::var_os("ISOBATCH_CZI_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("src/image/tests/czi"),
        PathBuf::from,
    );
    dir.join(name)
}

/// `value()` of scripts/czi_fixtures.py.
fn value(s: usize, t: usize, c: usize, z: usize, dtype: Dtype) -> Vec<u8> {
    let m = if dtype == Dtype::U8 { 251 } else { 65521 };
    (0..W * H)
        .flat_map(|i| {
            let v = (s * 7919 + t * 613 + c * 97 + z * 31 + i) % m;
            if dtype == Dtype::U8 {
                vec![v as u8]
            } else {
                (v as u16).to_le_bytes().to_vec()
            }
        })
        .collect()
}

fn open(path: &Path) -> Result<Box<dyn PlaneFile>, ImageError> {
    source::open(path, &Limits::default())
}

/// Reads every plane of `file` and compares it with the writer's.
fn check_planes(file: &mut dyn PlaneFile, dtype: Dtype) {
    for p in 0..file.positions().len() {
        let s = file.positions()[p].sizes.unwrap();
        for t in 0..s.t {
            for c in 0..s.c {
                for z in 0..s.z {
                    let i = Order::CZT.index(s, t, c, z).unwrap();
                    let mut out = vec![0u8; W * H * dtype.bytes()];
                    file.read_plane(p, i, &mut out).unwrap();
                    assert!(out == value(p, t, c, z, dtype), "s={p} t={t} c={c} z={z}");
                }
            }
        }
    }
}

#[test]
fn scenes_are_positions_with_named_channels_and_exact_pixels() {
    let mut f = open(&fixture("scenes.czi")).unwrap();
    assert_eq!(f.format(), "CZI");
    assert_eq!(f.positions().len(), 2);
    for s in f.positions() {
        assert_eq!((s.width, s.height, s.dtype), (W, H, Dtype::U16));
        assert_eq!(s.sizes, Some(Sizes { t: 3, c: 2, z: 1 }));
        assert_eq!(s.order, Some(Order::CZT));
        assert_eq!(
            s.channel_names,
            vec![Some("Phase".into()), Some("GFP".into())]
        );
        assert_eq!(s.interval, None);
        assert_eq!(s.pixel_size, Some((0.65, 0.65, "m".into())));
    }
    check_planes(f.as_mut(), Dtype::U16);
    assert_eq!(source::position_count(&fixture("scenes.czi")).unwrap(), 2);
}

#[test]
fn zstd_subblocks_and_8bit_z_stacks_read_exactly() {
    for name in ["zstd0.czi", "zstd1.czi"] {
        let mut f = open(&fixture(name)).unwrap();
        assert_eq!(f.positions()[0].sizes, Some(Sizes { t: 2, c: 2, z: 1 }));
        check_planes(f.as_mut(), Dtype::U16);
    }
    let mut f = open(&fixture("zstack8.czi")).unwrap();
    let s = &f.positions()[0];
    assert_eq!(
        (s.dtype, s.sizes),
        (Dtype::U8, Some(Sizes { t: 2, c: 1, z: 3 }))
    );
    assert_eq!(s.channel_names, vec![None]);
    check_planes(f.as_mut(), Dtype::U8);
    let mut f = open(&fixture("zstd1plain.czi")).unwrap();
    assert_eq!(f.positions()[0].sizes, Some(Sizes { t: 2, c: 1, z: 1 }));
    check_planes(f.as_mut(), Dtype::U16);
    for name in ["zstd0_8.czi", "zstd1_8.czi"] {
        let mut f = open(&fixture(name)).unwrap();
        assert_eq!(f.positions()[0].sizes, Some(Sizes { t: 1, c: 1, z: 2 }));
        check_planes(f.as_mut(), Dtype::U8);
    }
}

/// Every plane of every readable fixture equals the `czi` crate's
/// `read_frame_2d` bit for bit (the reference the direct reads replaced):
/// uncompressed, zstd0, zstd1 with and without hi/lo packing, 8- and 16-bit.
#[test]
fn every_plane_equals_the_czi_crates() {
    let names = [
        "scenes.czi",
        "zstd0.czi",
        "zstd1.czi",
        "zstd1plain.czi",
        "zstack8.czi",
        "zstd0_8.czi",
        "zstd1_8.czi",
    ];
    for name in names {
        let path = fixture(name);
        let mut ours = open(&path).unwrap();
        let mut crate_file = czi::CziFile::open(&path).unwrap();
        for p in 0..ours.positions().len() {
            let s = ours.positions()[p].clone();
            let sizes = s.sizes.unwrap();
            let mut out = vec![0u8; s.width * s.height * s.dtype.bytes()];
            for i in 0..s.planes {
                let (t, c, z) = sizes.czt(i).unwrap();
                ours.read_plane(p, i, &mut out).unwrap();
                let theirs: Vec<u8> = crate_file
                    .read_frame_2d(p, t, c, z)
                    .unwrap()
                    .iter()
                    .flat_map(|v| match s.dtype {
                        Dtype::U8 => vec![*v as u8],
                        _ => v.to_le_bytes().to_vec(),
                    })
                    .collect();
                assert!(out == theirs, "{name}: s={p} plane {i}");
            }
        }
    }
}

#[test]
fn a_mosaic_is_refused_not_stitched() {
    let err = open(&fixture("mosaic.czi")).err().unwrap();
    let msg = err.to_string();
    assert!(matches!(err, ImageError::Invalid { .. }), "{msg}");
    assert!(
        msg.contains("mosaic.czi") && msg.contains("mosaic"),
        "{msg}"
    );
}

/// Offsets of the structures a hostile edit targets.
struct Map {
    dir: usize,
    xml: usize,
    /// First directory entry, its subblock, and that subblock's data.
    entry: usize,
    block: usize,
    data: usize,
}

fn map(b: &[u8]) -> Map {
    let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize;
    let dir = u64_at(32 + 52);
    let entry = dir + 32 + 128;
    let block = u64_at(entry + 6);
    let meta = u32::from_le_bytes(b[block + 32..block + 36].try_into().unwrap()) as usize;
    Map {
        dir,
        xml: u64_at(32 + 60),
        entry,
        block,
        data: block + 32 + 256 + meta,
    }
}

/// Offset of dimension `code` in the directory entry at `entry`.
fn dim(b: &[u8], entry: usize, code: u8) -> usize {
    let n = u32::from_le_bytes(b[entry + 28..entry + 32].try_into().unwrap()) as usize;
    (0..n)
        .map(|i| entry + 32 + 20 * i)
        .find(|&at| b[at] == code && b[at + 1] == 0)
        .unwrap()
}

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

/// Opens `bytes` as `name` and reads every plane; returns the error.
fn refusal(dir: &TestDir, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let result = open(&path).and_then(|mut f| {
        for p in 0..f.positions().len() {
            let s = &f.positions()[p];
            let mut out = vec![0u8; s.width * s.height * s.dtype.bytes()];
            for i in 0..s.planes {
                f.read_plane(p, i, &mut out)?;
            }
        }
        Ok(())
    });
    let err = result.err().unwrap_or_else(|| panic!("{name}: accepted"));
    let msg = err.to_string();
    assert!(matches!(err, ImageError::Invalid { .. }), "{name}: {msg}");
    assert!(msg.contains(name), "{name}: {msg}");
    msg
}

#[test]
fn hostile_czi_files_are_refused_naming_file_and_reason() {
    let dir = TestDir::new("czi-hostile");
    let good = std::fs::read(fixture("scenes.czi")).unwrap();
    let z1 = std::fs::read(fixture("zstd1.czi")).unwrap();
    let m = map(&good);
    let zm = map(&z1);
    let edit = |src: &[u8], f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = src.to_vec();
        f(&mut b);
        b
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.czi", b"ZISRAWFILE".to_vec(), "past the end"),
        ("half.czi", good[..good.len() / 2].to_vec(), "past the end"),
        (
            "dir-past-eof.czi",
            edit(&good, &|b| put(b, 32 + 52, &(1u64 << 40).to_le_bytes())),
            "past the end",
        ),
        (
            "dir-magic.czi",
            edit(&good, &|b| put(b, m.dir, b"ZISRAWJUNK")),
            "no ZISRAWDIRECTORY segment",
        ),
        (
            "entries.czi",
            edit(&good, &|b| put(b, m.dir + 32, &i32::MAX.to_le_bytes())),
            "claims 2147483647 entries",
        ),
        (
            "huge-dim.czi",
            edit(&good, &|b| {
                let x = dim(b, m.entry, b'X');
                put(b, x + 8, &(1i32 << 30).to_le_bytes());
            }),
            "dimension X",
        ),
        (
            "far-t.czi",
            edit(&good, &|b| {
                let t = dim(b, m.entry, b'T');
                put(b, t + 4, &(1i32 << 27).to_le_bytes());
            }),
            "full-resolution subblocks",
        ),
        (
            "block-past-eof.czi",
            edit(&good, &|b| put(b, m.entry + 6, &(1u64 << 40).to_le_bytes())),
            "past the end",
        ),
        (
            "block-data.czi",
            edit(&good, &|b| {
                put(b, m.block + 40, &(u64::MAX / 2).to_le_bytes())
            }),
            "past its segment",
        ),
        (
            "block-short.czi",
            edit(&good, &|b| put(b, m.block + 40, &100u64.to_le_bytes())),
            "its plane needs 768",
        ),
        (
            "xml-size.czi",
            edit(&good, &|b| put(b, m.xml + 32, &u32::MAX.to_le_bytes())),
            "metadata XML of",
        ),
        (
            "bad-xml.czi",
            edit(&good, &|b| {
                let at = m.xml + 32 + 256;
                let xml = b[at..].iter().position(|&c| c == b'>').unwrap();
                b[at + xml] = b'!';
            }),
            "does not parse",
        ),
        (
            "size-c.czi",
            edit(&good, &|b| {
                let at = m.xml + 32 + 256;
                let s = b[at..]
                    .windows(10)
                    .position(|w| w == b"<SizeC>2</")
                    .unwrap();
                b[at + s + 7] = b'5';
            }),
            "SizeC=5",
        ),
        (
            "jpegxr.czi",
            edit(&good, &|b| put(b, m.entry + 18, &4i32.to_le_bytes())),
            "JPEG-XR",
        ),
        (
            "rgb.czi",
            edit(&good, &|b| put(b, m.entry + 2, &3i32.to_le_bytes())),
            "only gray",
        ),
        (
            "zstd-size.czi",
            edit(&z1, &|b| {
                // The frame header after zstd1's 3-byte prefix: magic, FHD, then its size.
                let data = zm.data + 3;
                let fhd = b[data + 4];
                assert_eq!(fhd >> 6, 1, "a 2-byte frame content size");
                put(b, data + 5, &0u16.to_le_bytes());
            }),
            "its plane needs 768",
        ),
        (
            "zstd-block.czi",
            edit(&z1, &|b| {
                // The first block header after the frame header: a reserved block type.
                let data = zm.data + 3;
                let fhd = b[data + 4];
                let single = usize::from(fhd & 0x20 != 0);
                let fcs = [single, 2, 4, 8][usize::from(fhd >> 6)];
                let dict = [0, 1, 2, 4][usize::from(fhd & 3)];
                b[data + 5 + (1 - single) + dict + fcs] |= 0b110;
            }),
            "reserved type",
        ),
    ];
    for (name, bytes, reason) in &cases {
        let msg = refusal(&dir, name, bytes);
        assert!(msg.contains(reason), "{name}: {msg}");
    }
}
