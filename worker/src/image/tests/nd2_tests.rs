//! ND2 through the reader interface: every plane of every position reads back
//! exactly as written, and hostile or unsupported files are refused as invalid
//! input naming the file and the reason (never an abort, never guessed pixels).

use std::path::{Path, PathBuf};

use super::TestDir;
use super::nd2_writer::{Nd2Spec, entry, level, nd2_bytes, scalar, text_entry};
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

/// Every plane of `path` as the reader gives it and as `Nd2File::read_frame_2d`
/// gives it, planes visited in `order`.
fn against_the_crate(path: &Path, order: impl Iterator<Item = (usize, usize)>) {
    let mut f = open(path).unwrap();
    let mut crate_file = nd2::Nd2File::open(path).unwrap();
    let s = f.positions()[0].clone();
    let sizes = s.sizes.unwrap();
    let mut out = vec![0u8; s.width * s.height * 2];
    let mut planes = 0;
    for (p, i) in order {
        f.read_plane(p, i, &mut out).unwrap();
        let (t, c, z) = sizes.czt(i).unwrap();
        let want: Vec<u8> = crate_file
            .read_frame_2d(p, t, c, z)
            .unwrap()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(out, want, "{}: p{p} t{t} c{c} z{z}", path.display());
        f.read_plane(p, i, &mut out).unwrap();
        assert_eq!(out, want, "{}: p{p} t{t} c{c} z{z} again", path.display());
        planes += 1;
    }
    assert_eq!(planes, f.positions().len() * sizes.planes().unwrap());
    // Every channel of a frame in one call (as the fov pipeline reads), then in
    // reverse (one plane at a time underneath): the same pixels.
    let mut outs = vec![vec![0u8; s.width * s.height * 2]; sizes.c];
    for p in 0..f.positions().len() {
        for (t, z) in (0..sizes.t).flat_map(|t| (0..sizes.z).map(move |z| (t, z))) {
            for reversed in [false, true] {
                let mut asked: Vec<(usize, &mut [u8])> = outs
                    .iter_mut()
                    .enumerate()
                    .map(|(c, o)| (Order::CZT.index(sizes, t, c, z).unwrap(), &mut o[..]))
                    .collect();
                if reversed {
                    asked.reverse();
                }
                f.read_planes(p, &mut asked).unwrap();
                for (c, out) in outs.iter().enumerate() {
                    let want = crate_file.read_frame_2d(p, t, c, z).unwrap();
                    let want: Vec<u8> = want.iter().flat_map(|v| v.to_le_bytes()).collect();
                    assert_eq!(*out, want, "{}: p{p} t{t} c{c} z{z}", path.display());
                }
            }
        }
    }
}

#[test]
fn planes_equal_the_crates_bit_for_bit_in_every_loop_order_and_access_order() {
    let dir = TestDir::new("nd2-crate");
    for (loops, channels) in [
        ("TPZ", 3),
        ("PTZ", 2),
        ("ZPT", 1),
        ("TZP", 2),
        ("TPZ", 4),
        ("PZT", 5),
    ] {
        let mut spec = Nd2Spec::new(9, 4, channels, 3, 4);
        spec.z = 2;
        spec.loops = loops;
        let path = write(&dir, &format!("{loops}.nd2"), &nd2_bytes(&spec, px));
        let all: Vec<(usize, usize)> = (0..3)
            .flat_map(|p| (0..4 * channels as usize * 2).map(move |i| (p, i)))
            .collect();
        against_the_crate(&path, all.iter().copied());
        against_the_crate(&path, all.iter().rev().copied());
    }
    // Frames larger than one 256 KiB read, the last read partial, odd widths.
    for channels in [2, 3] {
        let spec = Nd2Spec::new(97, 701, channels, 1, 2);
        let path = write(&dir, &format!("big{channels}.nd2"), &nd2_bytes(&spec, px));
        let all: Vec<(usize, usize)> = (0..2 * channels as usize).map(|i| (0, i)).collect();
        against_the_crate(&path, all.iter().copied());
        against_the_crate(&path, all.iter().rev().copied());
    }
}

#[test]
fn metadata_states_names_interval_and_pixel_size() {
    let dir = TestDir::new("nd2-meta");
    let mut spec = Nd2Spec::new(6, 4, 2, 2, 3);
    spec.names = Some(vec!["Phase".into(), "GFP".into()]);
    spec.period_ms = Some(600_000.0);
    spec.stamp_ms = Some(600_400.0);
    spec.calibration_um = Some(0.65);
    spec.calibration_chunk = Some(0.65);
    let path = write(&dir, "meta.nd2", &nd2_bytes(&spec, px));
    let f = open(&path).unwrap();
    let s = &f.positions()[1];
    assert_eq!(
        s.channel_names,
        vec![Some("Phase".into()), Some("GFP".into())]
    );
    assert_eq!(s.interval, Some((10.0, "min".into())));
    assert_eq!(s.pixel_size, Some((0.65, 0.65, "µm".into())));
    // Timestamps not recorded: the stated period stands.
    spec.stamp_ms = None;
    spec.period_ms = Some(90_000.0);
    let f = open(&write(&dir, "nostamps.nd2", &nd2_bytes(&spec, px))).unwrap();
    assert_eq!(f.positions()[0].interval, Some((90.0, "s".into())));
    // Frames taken 15 min apart under a stated 10 min period: no interval, not a guess.
    spec.period_ms = Some(600_000.0);
    spec.stamp_ms = Some(900_000.0);
    // The calibration chunk contradicts the picture metadata: no pixel size.
    spec.calibration_chunk = Some(0.325);
    // Names that do not match the channel count are not used.
    spec.names = Some(vec!["Phase".into()]);
    let f = open(&write(&dir, "inconsistent.nd2", &nd2_bytes(&spec, px))).unwrap();
    let s = &f.positions()[0];
    assert_eq!(s.interval, None);
    assert_eq!(s.pixel_size, None);
    assert_eq!(s.channel_names, vec![None, None]);
    // Nothing stated: as before.
    let f = open(&write(
        &dir,
        "bare.nd2",
        &nd2_bytes(&Nd2Spec::new(6, 4, 2, 1, 3), px),
    ))
    .unwrap();
    let s = &f.positions()[0];
    assert_eq!((s.interval.clone(), s.pixel_size.clone()), (None, None));
    assert_eq!(s.channel_names, vec![None, None]);
}

#[test]
fn time_loops_of_several_periods_and_acquisition_times_decide_the_interval() {
    let dir = TestDir::new("nd2-time");
    let open_one = |name: &str, spec: &Nd2Spec| {
        let f = open(&write(&dir, name, &nd2_bytes(spec, px))).unwrap();
        let s = f.positions()[0].clone();
        (s.interval, s.interval_note)
    };
    // An NETimeLoop of one period: its interval.
    let mut spec = Nd2Spec::new(6, 4, 2, 2, 5);
    spec.ne_periods = vec![(5, 30_000.0, true)];
    assert_eq!(open_one("one.nd2", &spec), (Some((30.0, "s".into())), None));
    // Two periods of one interval.
    spec.ne_periods = vec![(3, 30_000.0, true), (2, 30_000.0, true)];
    assert_eq!(open_one("same.nd2", &spec).0, Some((30.0, "s".into())));
    // Periods of different intervals: none, and the plan is told why.
    spec.ne_periods = vec![(3, 5_000.0, true), (2, 60_000.0, true)];
    let (interval, note) = open_one("two.nd2", &spec);
    assert_eq!(interval, None);
    let note = note.unwrap();
    for words in ["2 periods of different intervals", "3 × 5 s", "2 × 1 min"] {
        assert!(note.contains(words), "{note}");
    }
    // A period flagged invalid: the nd2 crate counts its frames all the same
    // (it ignores a byte-array pPeriodValid), so T disagrees with the frames
    // stored: refused, not guessed.
    spec.ne_periods = vec![(3, 5_000.0, true), (2, 60_000.0, false)];
    spec.frames = 3;
    let err = open(&write(&dir, "invalid.nd2", &nd2_bytes(&spec, px)))
        .err()
        .unwrap();
    assert!(matches!(err, ImageError::Invalid { .. }), "{err}");
    assert!(
        err.to_string().contains("refused rather than guessed"),
        "{err}"
    );

    // AcqTimesCache stands in for frame timestamps that are not recorded.
    let mut spec = Nd2Spec::new(6, 4, 2, 2, 4);
    spec.loops = "PTZ";
    spec.period_ms = Some(600_000.0);
    spec.acq_ms = Some(600_500.0);
    assert_eq!(
        open_one("cache.nd2", &spec),
        (Some((10.0, "min".into())), None)
    );
    spec.acq_ms = Some(900_000.0);
    let (interval, note) = open_one("cache-off.nd2", &spec);
    assert_eq!(interval, None);
    assert_eq!(
        note.as_deref(),
        Some(
            "the ND2 time loop says 10 min but the frames' times in AcqTimesCache are 15 min \
             apart (median), so the stated interval is not used"
        )
    );
    // Recorded frame timestamps come first: these agree, the cache is not read.
    spec.stamp_ms = Some(599_000.0);
    assert_eq!(open_one("both.nd2", &spec).0, Some((10.0, "min".into())));
    spec.stamp_ms = Some(427_000.0);
    spec.acq_ms = Some(600_000.0);
    let note = open_one("stamps-off.nd2", &spec).1.unwrap();
    assert!(
        note.contains("the frames' timestamps are 7.12 min apart"),
        "{note}"
    );
}

/// `SLxPictureMetadata` whose planes' `sDescription` entries are `planes`.
fn picture(count: u32, planes: &[Vec<u8>]) -> Vec<u8> {
    let named: Vec<Vec<u8>> = planes
        .iter()
        .enumerate()
        .map(|(i, p)| scalar(|o| level(o, &format!("a{i}"), std::slice::from_ref(p))))
        .collect();
    let list = scalar(|o| {
        level(
            o,
            "sPicturePlanes",
            &[
                scalar(|o| {
                    entry(o, 3, "uiCount");
                    o.extend_from_slice(&count.to_le_bytes());
                }),
                scalar(|o| level(o, "sPlaneNew", &named)),
            ],
        )
    });
    scalar(|o| level(o, "SLxPictureMetadata", &[list]))
}

#[test]
fn hostile_or_wrong_metadata_is_refused_or_ignored_never_guessed() {
    let dir = TestDir::new("nd2-meta-hostile");
    let with = |chunk: &str, data: Vec<u8>| {
        let mut s = Nd2Spec::new(5, 3, 2, 1, 2);
        s.raw_chunks = vec![(chunk.to_string(), data)];
        nd2_bytes(&s, px)
    };
    let name = |n: &str| scalar(|o| text_entry(o, "sDescription", n));
    // Hazards and malformed metadata are refused, naming the chunk.
    let mut surrogate = name("Phase");
    let n = surrogate.len();
    surrogate[n - 4..n - 2].copy_from_slice(&0xd800u16.to_le_bytes());
    let bad = picture(2, &[surrogate, name("GFP")]);
    refused(
        &dir,
        "surrogate.nd2",
        &with("ImageMetadataSeqLV|0!", bad),
        &["ImageMetadataSeqLV|0!", "UTF-16"],
    );
    let mut open_string = name("Phase");
    open_string.truncate(open_string.len() - 2);
    let bad = scalar(|o| level(o, "SLxPictureMetadata", &[open_string.clone()]));
    let mut cut = bad.clone();
    cut.truncate(bad.len() - 8);
    refused(
        &dir,
        "unterminated.nd2",
        &with("ImageMetadataSeqLV|0!", cut),
        &["ImageMetadataSeqLV|0!"],
    );
    let mut huge = picture(2, &[name("a"), name("b")]);
    let at = 2 + 2 * "SLxPictureMetadata".len() + 2;
    huge[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    refused(
        &dir,
        "hugelevel.nd2",
        &with("ImageMetadataSeqLV|0!", huge),
        &["ImageMetadataSeqLV|0!", "entries"],
    );
    let mut array = vec![9, 2, b'b', 0, 0, 0];
    array.extend_from_slice(&(1u64 << 50).to_le_bytes());
    refused(
        &dir,
        "hugearray.nd2",
        &with("ImageCalibrationLV|0!", array),
        &["ImageCalibrationLV|0!", "byte array claims"],
    );
    let mut deep = Vec::new();
    for _ in 0..100 {
        deep.extend_from_slice(&[11, 2, b'd', 0, 0, 0]);
        deep.extend_from_slice(&1u32.to_le_bytes());
        deep.extend_from_slice(&0u64.to_le_bytes());
    }
    refused(
        &dir,
        "deep.nd2",
        &with("ImageMetadataSeqLV|0!", deep),
        &["nested deeper"],
    );
    // A huge stated count or values of the wrong type: the names are not used.
    for (file, data) in [
        ("hugecount.nd2", picture(u32::MAX, &[name("a"), name("b")])),
        (
            "wrongtype.nd2",
            picture(
                2,
                &[
                    name("a"),
                    scalar(|o| {
                        entry(o, 6, "sDescription");
                        o.extend_from_slice(&1.0f64.to_le_bytes());
                    }),
                ],
            ),
        ),
    ] {
        let f = open(&write(&dir, file, &with("ImageMetadataSeqLV|0!", data))).unwrap();
        assert_eq!(f.positions()[0].channel_names, vec![None, None], "{file}");
    }
    // A calibration and a period of the wrong type state nothing.
    let text_cal = scalar(|o| {
        level(
            o,
            "SLxPictureMetadata",
            &[
                scalar(|o| {
                    entry(o, 1, "bCalibrated");
                    o.push(1);
                }),
                scalar(|o| text_entry(o, "dCalibration", "0.65")),
            ],
        )
    });
    let f = open(&write(
        &dir,
        "textcal.nd2",
        &with("ImageMetadataSeqLV|0!", text_cal),
    ))
    .unwrap();
    assert_eq!(f.positions()[0].pixel_size, None);
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
    // The last frame cut short, the chunk map moved up to follow it: never read
    // from the map's bytes.
    let mut b = good.clone();
    let n = b.len();
    let map_at = u64::from_le_bytes(b[n - 8..].try_into().unwrap()) as usize;
    b.drain(map_at - 10..map_at);
    let n = b.len();
    b[n - 8..].copy_from_slice(&(map_at as u64 - 10).to_le_bytes());
    refused(&dir, "truncated.nd2", &b, &["ImageDataSeq|5!", "truncated"]);
    // Frame chunks numbered past uiSequenceCount.
    let mut b = good.clone();
    let at = b
        .windows(15)
        .rposition(|w| w == &b"ImageDataSeq|5!"[..])
        .unwrap();
    b[at + 13] = b'9';
    refused(&dir, "renumbered.nd2", &b, &["uiSequenceCount", "numbered"]);
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
