//! Hand-made and mutated TIFFs: every refusal is `Invalid` with a precise
//! reason, nothing panics, nothing is allocated from an unchecked header.

use std::path::Path;

use super::{CraftPage, TestDir, craft, pattern};
use crate::image::tiff_ifd::Value;
use crate::image::{
    Compression, ImageError, ImageJLayout, InputStack, Limits, Shape, TiffWriter, probe,
};

fn gray16(width: u32, height: u32, t: usize) -> CraftPage {
    let v: Vec<u16> = pattern(t, (width * height) as usize);
    CraftPage::gray(width, height, 16, 1, bytemuck::cast_slice(&v).to_vec())
}

/// Probes `bytes` written to a file and returns the Invalid reason.
fn refusal(dir: &TestDir, bytes: &[u8]) -> String {
    let path = dir.join("bad.tif");
    std::fs::write(&path, bytes).unwrap();
    match probe(&path, &Limits::default()) {
        Err(ImageError::Invalid { path: p, reason }) => {
            assert_eq!(p, path);
            reason
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn expect(reason: &str, parts: &[&str]) {
    for p in parts {
        assert!(reason.contains(p), "{reason:?} lacks {p:?}");
    }
}

#[test]
fn huge_header_is_refused_before_allocating() {
    let dir = TestDir::new("huge");
    let page = CraftPage::gray(1_000_000, 1_000_000, 8, 1, vec![0; 16]);
    let r = refusal(&dir, &craft(&[page]));
    expect(
        &r,
        &[
            "page 0",
            "1000000x1000000 pixels",
            "931.3 GiB per frame",
            "limit of 65536",
        ],
    );
    let limits = Limits {
        max_frame_bytes: 1 << 20,
        ..Limits::default()
    };
    let path = dir.join("big.tif");
    std::fs::write(&path, craft(&[gray16(1024, 1024, 0)])).unwrap();
    let e = probe(&path, &limits).unwrap_err().to_string();
    expect(
        &e,
        &["big.tif", "1024x1024", "2 MiB per frame", "1 MiB per frame"],
    );
}

#[test]
fn unsupported_pixel_types_are_named() {
    let dir = TestDir::new("types");
    let rgb = CraftPage::gray(4, 4, 8, 1, vec![0; 48])
        .set(258, Value::Short(vec![8, 8, 8]))
        .set(262, Value::Short(vec![2]))
        .set(277, Value::Short(vec![3]));
    expect(
        &refusal(&dir, &craft(&[rgb])),
        &["RGB color", "3 sample(s)"],
    );
    let palette = CraftPage::gray(4, 4, 8, 1, vec![0; 16]).set(262, Value::Short(vec![3]));
    expect(&refusal(&dir, &craft(&[palette])), &["palette"]);
    let cases = [
        (16, 2, "int16 samples are not supported"),
        (64, 3, "float64 samples"),
        (16, 3, "float16"),
        (1, 1, "1-bit"),
        (12, 1, "uint12"),
    ];
    for (bits, format, want) in cases {
        let bytes = (16 * u32::from(bits)).div_ceil(8) as usize;
        let page = CraftPage::gray(4, 4, bits, format, vec![0; bytes]);
        expect(&refusal(&dir, &craft(&[page])), &[want]);
    }
    let inverted = gray16(4, 4, 0).set(262, Value::Short(vec![0]));
    expect(&refusal(&dir, &craft(&[inverted])), &["WhiteIsZero"]);
}

#[test]
fn unsupported_compression_is_named() {
    let dir = TestDir::new("jpeg");
    let jpeg = gray16(4, 4, 0).set(259, Value::Short(vec![7]));
    expect(
        &refusal(&dir, &craft(&[jpeg])),
        &["compression JPEG (7) is not supported; use uncompressed, LZW, Deflate or PackBits"],
    );
    let zstd = gray16(4, 4, 0).set(259, Value::Short(vec![50000]));
    expect(&refusal(&dir, &craft(&[zstd])), &["Zstandard (50000)"]);
}

#[test]
fn not_a_tiff() {
    let dir = TestDir::new("notiff");
    expect(
        &refusal(&dir, b"hello, this is text"),
        &["not a TIFF file", "68 65 6c 6c"],
    );
    expect(&refusal(&dir, b""), &["not a TIFF file (0 bytes"]);
    expect(&refusal(&dir, b"II*\0\xff\xff\xff\x7f"), &["page 0"]);
}

#[test]
fn pages_must_agree() {
    let dir = TestDir::new("agree");
    let r = refusal(&dir, &craft(&[gray16(8, 8, 0), gray16(8, 4, 1)]));
    expect(&r, &["page 1 is 8x4 but page 0 is 8x8"]);
    let bytes8 = CraftPage::gray(8, 8, 8, 1, vec![0; 64]);
    let r = refusal(&dir, &craft(&[gray16(8, 8, 0), bytes8]));
    expect(&r, &["page 1 is uint8 but page 0 is uint16"]);
    let desc = "ImageJ=1.11a\nimages=3\nchannels=0\n".to_string();
    let page = gray16(8, 8, 0).set(270, Value::Ascii(desc));
    expect(&refusal(&dir, &craft(&[page])), &["channels=0"]);
}

#[test]
fn truncated_strips_are_invalid() {
    let dir = TestDir::new("trunc");
    let bytes = craft(&[gray16(64, 64, 0), gray16(64, 64, 1)]);
    let r = refusal(&dir, &bytes[..bytes.len() - 100]);
    expect(
        &r,
        &[
            "page 1",
            "truncated: strip 0 needs bytes",
            "but the file has",
        ],
    );

    let mut short_strip = gray16(64, 64, 0);
    short_strip.claimed_bytes = Some(100);
    let r = refusal(&dir, &craft(&[short_strip]));
    expect(&r, &["strip 0 holds 100 bytes but its pixels need 8192"]);

    // The pixels fit but the stated byte count runs past the end of the file: the
    // decoder would zero-fill, so it is refused as truncated.
    let mut long_strip = gray16(64, 64, 0);
    long_strip.claimed_bytes = Some(64 * 64 * 2 + 4096);
    let r = refusal(&dir, &craft(&[long_strip]));
    expect(
        &r,
        &[
            "page 0",
            "truncated: strip 0 claims bytes",
            "but the file has",
        ],
    );

    // Cut after a successful open: the read fails cleanly.
    let path = dir.join("cut.tif");
    std::fs::write(&path, &bytes).unwrap();
    let mut s = InputStack::open(&path, &Limits::default()).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(bytes.len() as u64 - 100).unwrap();
    let e = s.read_page(1, &mut vec![0u16; 64 * 64]).unwrap_err();
    assert!(
        e.is_invalid_input() && e.to_string().contains("truncated"),
        "{e}"
    );
}

#[test]
fn ifd_cycle_is_invalid_not_a_hang() {
    let dir = TestDir::new("cycle");
    let mut bytes = craft(&[gray16(8, 8, 0)]);
    let n = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let link = 8 + 2 + 12 * n;
    bytes[link..link + 4].copy_from_slice(&8u32.to_le_bytes());
    let r = refusal(&dir, &bytes);
    expect(&r, &["cycle in the list of IFDs"]);
}

fn write_sample(path: &Path) {
    let shape = Shape::new(4, 12, 10);
    let mut w =
        TiffWriter::<u16>::create(path, shape, ImageJLayout::time_series(4), Compression::Lzw)
            .unwrap();
    for t in 0..4 {
        w.write_page(&pattern::<u16>(t, 120)).unwrap();
    }
    w.commit().unwrap();
}

#[test]
fn mutated_files_never_panic() {
    let dir = TestDir::new("fuzz");
    let good = dir.join("good.tif");
    write_sample(&good);
    let mut files = vec![std::fs::read(&good).unwrap()];
    let mut crafted = craft(&[gray16(10, 12, 0), gray16(10, 12, 1)]);
    crafted.extend_from_slice(&[0; 8]);
    files.push(crafted);
    let path = dir.join("mutant.tif");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut outcomes = [0usize; 3];
    for round in 0..1500 {
        let mut bytes = files[round % files.len()].clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() % bytes.len() as u64) as usize;
            bytes[i] = next() as u8;
        }
        std::fs::write(&path, &bytes).unwrap();
        let result = InputStack::open(&path, &Limits::default()).and_then(|mut s| {
            let mut page = vec![0u16; s.info().shape().frame_len()];
            (0..s.info().pages).try_for_each(|t| s.read_page(t, &mut page))
        });
        match result {
            Ok(()) => outcomes[0] += 1,
            Err(ImageError::Invalid { .. }) => outcomes[1] += 1,
            Err(e) => {
                outcomes[2] += 1;
                println!("round {round}: {e}");
            }
        }
    }
    println!(
        "mutations: {} read, {} invalid, {} other",
        outcomes[0], outcomes[1], outcomes[2]
    );
    assert!(outcomes[1] > 100);
    assert_eq!(
        outcomes[2], 0,
        "mutations must be reported as invalid input"
    );
}

#[test]
fn page_count_limit_is_enforced() {
    let dir = TestDir::new("max-pages");
    let path = dir.join("many.tif");
    std::fs::write(
        &path,
        craft(&[gray16(4, 4, 0), gray16(4, 4, 1), gray16(4, 4, 2)]),
    )
    .unwrap();
    let limits = Limits {
        max_pages: 2,
        ..Limits::default()
    };
    let e = probe(&path, &limits).unwrap_err();
    assert!(e.to_string().contains("more than 2 pages"), "{e}");
    assert_eq!(probe(&path, &Limits::default()).unwrap().pages, 3);
}
