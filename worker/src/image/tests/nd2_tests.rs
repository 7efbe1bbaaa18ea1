//! ND2 through the reader interface: every plane of every position reads back
//! exactly as written, and hostile or unsupported files are refused as invalid
//! input naming the file and the reason (never an abort, never guessed pixels).

use std::path::{Path, PathBuf};

use super::TestDir;
use super::nd2_writer::{Nd2Spec, nd2_bytes};
use crate::image::source::{self, Order, PlaneFile, Sizes};
use crate::image::tiff_in::Limits;
use crate::image::{Dtype, ImageError};

/// A sample that differs for every (p, t, c, z, y, x).
fn px(p: u32, t: u32, c: u32, z: u32, y: u32, x: u32) -> u16 {
    (p * 7919 + t * 401 + c * 97 + z * 31 + y * 11 + x) as u16
}

fn write(dir: &TestDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn open(path: &Path) -> Result<Box<dyn PlaneFile>, ImageError> {
    source::open(path, &Limits::default())
}

#[test]
fn every_plane_of_every_position_reads_back() {
    let dir = TestDir::new("nd2-read");
    let mut spec = Nd2Spec::new(7, 5, 2, 3, 4);
    spec.z = 2;
    let path = write(&dir, "a.nd2", &nd2_bytes(&spec, px));
    let mut f = open(&path).unwrap();
    assert_eq!(f.format(), "ND2");
    assert_eq!(f.positions().len(), 3);
    let s = f.positions()[1].clone();
    assert_eq!((s.width, s.height, s.dtype), (7, 5, Dtype::U16));
    assert_eq!(s.sizes, Some(Sizes { t: 4, c: 2, z: 2 }));
    assert_eq!(s.order, Some(Order::CZT));
    assert_eq!(s.channel_names, vec![None, None]);
    let sizes = s.sizes.unwrap();
    let mut out = vec![0u8; 7 * 5 * 2];
    for p in 0..3 {
        for t in 0..4 {
            for c in 0..2 {
                for z in 0..2 {
                    let index = Order::CZT.index(sizes, t, c, z).unwrap();
                    f.read_plane(p, index, &mut out).unwrap();
                    let want: Vec<u8> = (0..5)
                        .flat_map(|y| (0..7).map(move |x| (y, x)))
                        .flat_map(|(y, x)| {
                            px(p as u32, t as u32, c as u32, z as u32, y, x).to_le_bytes()
                        })
                        .collect();
                    assert_eq!(out, want, "p{p} t{t} c{c} z{z}");
                }
            }
        }
    }
    assert_eq!(source::position_count(&path).unwrap(), 3);
}

/// Asserts that opening (or reading plane 0 of position 0 of) `bytes` is
/// refused as invalid input naming the file and every `words`.
fn refused(dir: &TestDir, name: &str, bytes: &[u8], words: &[&str]) {
    let path = write(dir, name, bytes);
    let err = match open(&path) {
        Err(e) => e,
        Ok(mut f) => {
            let mut out = vec![0u8; 2 * f.positions()[0].width * f.positions()[0].height];
            f.read_plane(0, 0, &mut out)
                .expect_err("a hostile file must be refused")
        }
    };
    let msg = err.to_string();
    assert!(err.is_invalid_input(), "{name}: {msg}");
    assert!(msg.contains(name), "{name}: {msg}");
    for w in words {
        assert!(msg.contains(w), "{name}: {msg} lacks {w:?}");
    }
}

#[test]
fn unsupported_and_hostile_files_are_invalid_input() {
    let dir = TestDir::new("nd2-hostile");
    let spec = || Nd2Spec::new(8, 6, 2, 2, 3);
    let good = nd2_bytes(&spec(), px);

    let mut s = spec();
    s.compression = None;
    refused(
        &dir,
        "nocomp.nd2",
        &nd2_bytes(&s, px),
        &["does not state its compression"],
    );
    s.compression = Some(0);
    refused(
        &dir,
        "lossless.nd2",
        &nd2_bytes(&s, px),
        &["compressed frames", "eCompression=0"],
    );
    let mut s = spec();
    s.bits = 8;
    refused(
        &dir,
        "8bit.nd2",
        &nd2_bytes(&s, px),
        &["8-bit samples", "16-bit"],
    );
    let mut s = spec();
    s.channels = 1;
    s.components = Some(3);
    refused(
        &dir,
        "rgb.nd2",
        &nd2_bytes(&s, px),
        &["3 components in 1 channel"],
    );
    let mut s = spec();
    s.sequences = Some(5);
    refused(&dir, "loops.nd2", &nd2_bytes(&s, px), &["uiSequenceCount"]);

    // Cut anywhere: the chunk map at the end is gone.
    refused(
        &dir,
        "cut.nd2",
        &good[..good.len() / 2],
        &["no chunk map signature"],
    );
    refused(&dir, "tiny.nd2", &good[..60], &["too short"]);
    // A CZI goes to the CZI reader, not misread as a broken TIFF.
    let mut czi = b"ZISRAWFILE".to_vec();
    czi.resize(512, 0);
    refused(&dir, "plate.czi", &czi, &["CZI:", "past the end"]);
    // The chunk map's offset points past the end of the file.
    let mut b = good.clone();
    let n = b.len();
    b[n - 8..].copy_from_slice(&(n as u64 * 4).to_le_bytes());
    refused(&dir, "mapoff.nd2", &b, &["past the end of the file"]);
    // The chunk map claims a petabyte: refused before anything is allocated.
    let mut b = good.clone();
    let map_at = u64::from_le_bytes(b[n - 8..].try_into().unwrap()) as usize;
    b[map_at + 8..map_at + 16].copy_from_slice(&(1u64 << 50).to_le_bytes());
    refused(&dir, "maplen.nd2", &b, &["chunk map claims"]);
    // The attributes level claims four billion entries.
    let mut b = good.clone();
    let attrs = 112 + 16 + 18;
    assert_eq!(b[attrs], 11, "SLxImageAttributes is a level");
    let count = attrs + 2 + 19 * 2;
    b[count..count + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    refused(&dir, "level.nd2", &b, &["ImageAttributesLV!", "entries"]);
    // The attributes chunk claims more bytes than the file has.
    let mut b = good.clone();
    b[112 + 8..112 + 16].copy_from_slice(&(1u64 << 40).to_le_bytes());
    refused(
        &dir,
        "attrlen.nd2",
        &b,
        &["ImageAttributesLV!", "past the end"],
    );
    // A frame chunk shorter than a frame: never filled from the next chunk.
    let mut b = good.clone();
    let first = b
        .windows(15)
        .position(|w| w == &b"ImageDataSeq|0!"[..])
        .unwrap();
    let len_at = first - 8;
    let len = u64::from_le_bytes(b[len_at..len_at + 8].try_into().unwrap());
    b[len_at..len_at + 8].copy_from_slice(&(len - 2).to_le_bytes());
    refused(&dir, "short.nd2", &b, &["ImageDataSeq|0!", "a frame needs"]);
    // A frame side above the limit.
    let mut s = spec();
    s.width = 100_000;
    s.height = 1;
    s.frames = 1;
    s.positions = 1;
    refused(
        &dir,
        "wide.nd2",
        &nd2_bytes(&s, |_, _, _, _, _, _| 0),
        &["100000x1 pixels"],
    );
}
