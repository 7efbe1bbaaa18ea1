//! TiffWriter -> probe/InputStack round trips, and writer lifecycle.

use std::time::Instant;

use super::{CraftPage, TestDir, TestPixel, craft, pattern};
use crate::image::tiff_ifd::Value;
use crate::image::{
    BigTiff, Compression, Dtype, ImageError, ImageJLayout, InputStack, Limits, Shape, TiffOptions,
    TiffWriter, probe,
};

const COMPRESSIONS: [Compression; 4] = [
    Compression::None,
    Compression::Lzw,
    Compression::Deflate,
    Compression::PackBits,
];

fn write<T: TestPixel>(path: &std::path::Path, shape: Shape, options: TiffOptions) {
    let mut w = TiffWriter::<T>::create_with(path, shape, options).unwrap();
    assert_eq!(w.is_bigtiff(), options.bigtiff == BigTiff::Always);
    for t in 0..shape.frames {
        w.write_page(&pattern::<T>(t, shape.frame_len())).unwrap();
    }
    w.commit().unwrap();
}

fn round_trip<T: TestPixel>(shape: Shape, compression: Compression, bigtiff: BigTiff) {
    let dir = TestDir::new("tiff-rt");
    let path = dir.join("stack.tif");
    let layout = ImageJLayout {
        channels: 2,
        frames: shape.frames / 2,
    };
    let options = TiffOptions {
        layout,
        compression,
        bigtiff,
    };
    write::<T>(&path, shape, options);
    assert_eq!(dir.names(), ["stack.tif"]);

    let case = format!("{} {compression:?} {bigtiff:?}", T::DTYPE);
    let info = probe(&path, &Limits::default()).unwrap();
    assert_eq!(info.shape(), shape, "{case}");
    assert_eq!(info.dtype, T::DTYPE, "{case}");
    assert_eq!(info.bigtiff, bigtiff == BigTiff::Always, "{case}");
    let want = match compression {
        Compression::None => "none",
        Compression::Lzw => "LZW",
        Compression::Deflate => "Deflate",
        Compression::PackBits => "PackBits",
    };
    assert_eq!(info.compression, want);
    let meta = info.imagej.as_ref().expect("ImageJ metadata");
    assert_eq!(meta.channels, Some(2));
    assert_eq!(meta.frame_count(), shape.frames / 2);
    if shape.frames >= 4 {
        assert_eq!(meta.page_index(1, 0, 1), Some(3));
    }

    let mut stack = InputStack::open(&path, &Limits::default()).unwrap();
    let mut page = vec![T::default(); shape.frame_len()];
    let mut floats = vec![0f32; shape.frame_len()];
    // Backwards, then forwards: random access must work both ways.
    for t in (0..shape.frames).rev().chain(0..shape.frames) {
        stack.read_page(t, &mut page).unwrap();
        let expected = pattern::<T>(t, shape.frame_len());
        assert!(page == expected, "{case}: page {t} differs");
        stack.read_page_f32(t, &mut floats).unwrap();
        assert!(
            floats.iter().zip(&expected).all(|(f, e)| *f == e.to_f32()),
            "{case}"
        );
    }
}

#[test]
fn every_dtype_compression_and_kind_round_trips() {
    let shape = Shape::new(4, 37, 53);
    for compression in COMPRESSIONS {
        for bigtiff in [BigTiff::Auto, BigTiff::Always] {
            round_trip::<u8>(shape, compression, bigtiff);
            round_trip::<u16>(shape, compression, bigtiff);
            round_trip::<u32>(shape, compression, bigtiff);
            round_trip::<f32>(shape, compression, bigtiff);
        }
    }
}

#[test]
fn pages_larger_than_a_strip_round_trip() {
    // 700x800 u16 = 1.1 MB a page: two strips per page.
    for compression in COMPRESSIONS {
        round_trip::<u16>(Shape::new(2, 700, 800), compression, BigTiff::Auto);
    }
}

#[test]
fn legacy_deflate_code_and_predictor_are_read() {
    use tiff::encoder::compression::{CompressionAlgorithm, Deflate};
    let values: Vec<u16> = pattern(0, 24 * 16);
    let mut packed = Vec::new();
    Deflate::default()
        .write_to(&mut packed, bytemuck::cast_slice(&values))
        .unwrap();
    let page = CraftPage::gray(24, 16, 16, 1, packed).set(259, Value::Short(vec![32946]));
    let dir = TestDir::new("old-deflate");
    let path = dir.join("old.tif");
    std::fs::write(&path, craft(&[page])).unwrap();
    let mut s = InputStack::open(&path, &Limits::default()).unwrap();
    assert_eq!(s.info().compression, "Deflate");
    let mut out = vec![0u16; 24 * 16];
    s.read_page(0, &mut out).unwrap();
    assert_eq!(out, values);

    // Horizontal differencing (predictor 2), as tifffile writes with predictor=True.
    let mut diffed = values.clone();
    for row in diffed.chunks_mut(24) {
        for x in (1..row.len()).rev() {
            row[x] = row[x].wrapping_sub(row[x - 1]);
        }
    }
    let page = CraftPage::gray(24, 16, 16, 1, bytemuck::cast_slice(&diffed).to_vec())
        .set(317, Value::Short(vec![2]));
    std::fs::write(&path, craft(&[page])).unwrap();
    let mut s = InputStack::open(&path, &Limits::default()).unwrap();
    s.read_page(0, &mut out).unwrap();
    assert_eq!(out, values);
}

#[test]
fn wrong_dtype_or_length_is_refused() {
    let dir = TestDir::new("tiff-misuse");
    let path = dir.join("s.tif");
    let shape = Shape::new(2, 8, 8);
    let options = TiffOptions {
        layout: ImageJLayout::time_series(2),
        compression: Compression::None,
        bigtiff: BigTiff::Auto,
    };
    write::<u16>(&path, shape, options);
    let mut s = InputStack::open(&path, &Limits::default()).unwrap();
    let e = s.read_page(0, &mut [0u8; 64]).unwrap_err();
    assert!(
        e.is_invalid_input() && e.to_string().contains("uint16"),
        "{e}"
    );
    let e = s.read_page(0, &mut [0u16; 63]).unwrap_err();
    assert!(matches!(e, ImageError::Usage { .. }), "{e}");
    let e = s.read_page(2, &mut [0u16; 64]).unwrap_err();
    assert!(matches!(e, ImageError::Usage { .. }), "{e}");
}

#[test]
fn writer_without_commit_leaves_nothing() {
    let dir = TestDir::new("tiff-drop");
    let path = dir.join("s.tif");
    let shape = Shape::new(3, 8, 8);
    let mut w =
        TiffWriter::<u8>::create(&path, shape, ImageJLayout::time_series(3), Compression::Lzw)
            .unwrap();
    w.write_page(&[1; 64]).unwrap();
    assert_eq!(dir.names().len(), 1, "only the temp file while writing");
    drop(w);
    assert!(dir.names().is_empty());

    let mut w = TiffWriter::<u8>::create(
        &path,
        shape,
        ImageJLayout::time_series(3),
        Compression::None,
    )
    .unwrap();
    w.write_page(&[1; 64]).unwrap();
    assert!(matches!(
        w.write_page(&[1; 63]),
        Err(ImageError::Usage { .. })
    ));
    let e = w.commit().unwrap_err();
    assert!(e.to_string().contains("only 1 of 3 pages"), "{e}");
    assert!(dir.names().is_empty());

    let bad = TiffWriter::<u8>::create(
        &path,
        shape,
        ImageJLayout::time_series(2),
        Compression::None,
    );
    assert!(matches!(bad, Err(ImageError::Usage { .. })));
    assert!(dir.names().is_empty());
}

#[test]
fn sequential_read_of_500_pages_is_linear() {
    let dir = TestDir::new("tiff-500");
    let path = dir.join("s.tif");
    let shape = Shape::new(500, 32, 32);
    let options = TiffOptions {
        layout: ImageJLayout::time_series(500),
        compression: Compression::None,
        bigtiff: BigTiff::Auto,
    };
    write::<u16>(&path, shape, options);
    let start = Instant::now();
    let mut s = InputStack::open(&path, &Limits::default()).unwrap();
    let opened = start.elapsed();
    let mut page = vec![0u16; shape.frame_len()];
    let mut halves = [std::time::Duration::ZERO; 2];
    for t in 0..500 {
        let t0 = Instant::now();
        s.read_page(t, &mut page).unwrap();
        halves[t / 250] += t0.elapsed();
        assert_eq!(page, pattern::<u16>(t, shape.frame_len()));
    }
    // Not asserted (timing is noisy); a quadratic walk would make the second half far slower.
    println!(
        "500 pages: open {opened:?}, pages 0-249 {:?}, pages 250-499 {:?}",
        halves[0], halves[1]
    );
    assert_eq!(s.info().dtype, Dtype::U16);
}

#[test]
fn bigtiff_is_chosen_before_4_gib() {
    use crate::image::tiff_out::classic_fits;
    let mib2 = 2 << 20; // one 1024x1024 u16 page, two strips
    assert!(classic_fits(mib2, 2, 1900, Compression::None));
    assert!(!classic_fits(mib2, 2, 2000, Compression::None));
    // LZW can grow noise by half: 1400 pages could reach 4.1 GiB.
    assert!(!classic_fits(mib2, 2, 1400, Compression::Lzw));
    assert!(classic_fits(mib2, 2, 1300, Compression::Lzw));
}
