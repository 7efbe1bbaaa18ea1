//! StackSink -> StackSource in every format.

use super::{TestDir, TestPixel, pattern};
use crate::image::{Dtype, Format, ImageError, Shape, StackSink, StackSource};

fn write<T: TestPixel>(dir: &TestDir, stem: &str, shape: Shape, format: Format) -> Vec<String> {
    let mut sink = StackSink::<T>::create(dir.path(), stem, shape, format).unwrap();
    for t in 0..shape.frames {
        sink.write_frame(t, &pattern::<T>(t, shape.frame_len()))
            .unwrap();
    }
    let listed = sink.outputs().to_vec();
    let committed = sink.commit().unwrap();
    assert_eq!(listed, committed);
    committed
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn check<T: TestPixel>(dir: &TestDir, stem: &str, shape: Shape, format: Format) {
    let mut src = StackSource::open(dir.path(), stem, format).unwrap();
    assert_eq!((src.shape(), src.dtype()), (shape, T::DTYPE));
    let mut src = src.frames().unwrap();
    let mut page = vec![T::default(); shape.frame_len()];
    let mut floats = vec![0f32; shape.frame_len()];
    for t in 0..shape.frames {
        let expected = pattern::<T>(t, shape.frame_len());
        src.read(t, &mut page).unwrap();
        assert!(page == expected);
        src.read_f32(t, &mut floats).unwrap();
        assert!(floats.iter().zip(&expected).all(|(f, e)| *f == e.to_f32()));
    }
}

#[test]
fn every_format_round_trips() {
    let shape = Shape::new(5, 17, 33);
    for format in [Format::Npy, Format::Tiff, Format::Both] {
        let dir = TestDir::new("ckpt");
        let names = write::<u16>(&dir, "denoised", shape, format);
        let want: Vec<String> = format
            .extensions()
            .iter()
            .map(|e| format!("denoised.{e}"))
            .collect();
        assert_eq!(names, want);
        assert_eq!(dir.names(), want);
        check::<u16>(&dir, "denoised", shape, format);
        write::<f32>(&dir, "mask", shape, format);
        check::<f32>(&dir, "mask", shape, format);
    }
}

#[test]
fn both_reads_the_npy_and_never_falls_back_from_a_bad_one() {
    let dir = TestDir::new("ckpt-both");
    let shape = Shape::new(3, 8, 8);
    write::<u8>(&dir, "s", shape, Format::Both);
    let src = StackSource::open(dir.path(), "s", Format::Both).unwrap();
    assert!(src.path().ends_with("s.npy"));
    let npy = dir.join("s.npy");
    let f = std::fs::OpenOptions::new().write(true).open(&npy).unwrap();
    f.set_len(100).unwrap();
    let e = StackSource::open(dir.path(), "s", Format::Both)
        .err()
        .unwrap();
    assert!(
        e.is_invalid_input() && e.to_string().contains("truncated"),
        "{e}"
    );
    let src = StackSource::open(dir.path(), "s", Format::Tiff).unwrap();
    assert!(src.path().ends_with("s.tif"));
    assert_eq!(src.dtype(), Dtype::U8);
    check::<u8>(&dir, "s", shape, Format::Tiff);
}

#[test]
fn switching_format_removes_the_stale_file_of_the_old_one() {
    let dir = TestDir::new("ckpt-switch");
    let shape = Shape::new(2, 4, 4);
    write::<u8>(&dir, "s", shape, Format::Npy);
    write::<u8>(&dir, "s", shape, Format::Tiff);
    assert_eq!(dir.names(), ["s.tif"]);
    write::<u8>(&dir, "s", shape, Format::Both);
    write::<u8>(&dir, "s", shape, Format::Npy);
    assert_eq!(dir.names(), ["s.npy"]);
    assert!(StackSource::open(dir.path(), "s", Format::Tiff).is_err());
}

#[test]
fn misuse_and_absence_are_reported() {
    let dir = TestDir::new("ckpt-misuse");
    let shape = Shape::new(2, 4, 4);
    let mut sink = StackSink::<u16>::create(dir.path(), "s", shape, Format::Both).unwrap();
    let e = sink.write_frame(1, &[0; 16]).unwrap_err();
    assert!(matches!(e, ImageError::Usage { .. }), "{e}");
    sink.write_frame(0, &[0; 16]).unwrap();
    drop(sink);
    assert!(dir.names().is_empty(), "{:?}", dir.names());
    let e = StackSource::open(dir.path(), "s", Format::Both)
        .err()
        .unwrap();
    assert!(
        matches!(e, ImageError::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    );
    assert!(StackSink::<u8>::create(dir.path(), "../x", shape, Format::Npy).is_err());
    assert_eq!(
        StackSource::find(dir.path(), "s", Format::Npy).unwrap(),
        None
    );
}

#[test]
fn hyperstack_tiff_is_not_a_checkpoint() {
    use crate::image::{Compression, ImageJLayout, TiffWriter};
    let dir = TestDir::new("ckpt-2ch");
    let shape = Shape::new(4, 4, 4);
    let layout = ImageJLayout {
        channels: 2,
        frames: 2,
    };
    let mut w =
        TiffWriter::<u16>::create(&dir.join("s.tif"), shape, layout, Compression::None).unwrap();
    for _ in 0..4 {
        w.write_page(&[0; 16]).unwrap();
    }
    w.commit().unwrap();
    let e = StackSource::open(dir.path(), "s", Format::Tiff)
        .err()
        .unwrap();
    assert!(e.to_string().contains("2 channels"), "{e}");
}

/// Labels stored as u8, u16 or u32 read back as u32 from either format; float labels are refused.
#[test]
fn labels_widen_from_any_unsigned_type() {
    fn widened<T: TestPixel + Into<u32>>(format: Format) {
        let shape = Shape::new(3, 9, 11);
        let dir = TestDir::new("labels");
        write::<T>(&dir, "labels", shape, format);
        let mut src = StackSource::open(dir.path(), "labels", format).unwrap();
        let mut src = src.frames().unwrap();
        let mut out = vec![0u32; shape.frame_len()];
        for t in 0..shape.frames {
            src.read_labels(t, &mut out).unwrap();
            let expected: Vec<u32> = pattern::<T>(t, shape.frame_len())
                .into_iter()
                .map(Into::into)
                .collect();
            assert_eq!(out, expected);
        }
    }
    for format in [Format::Npy, Format::Tiff] {
        widened::<u8>(format);
        widened::<u16>(format);
        widened::<u32>(format);
        let dir = TestDir::new("labels");
        write::<f32>(&dir, "labels", Shape::new(1, 4, 4), format);
        let mut src = StackSource::open(dir.path(), "labels", format).unwrap();
        let err = src
            .frames()
            .unwrap()
            .read_labels(0, &mut [0u32; 16])
            .unwrap_err();
        assert!(err.to_string().contains("float32"), "{err}");
    }
}

/// What the background stage stores for integer input: rounded to nearest, saturated.
#[test]
fn pixels_from_f32_round_and_saturate() {
    use crate::image::Pixel;
    assert_eq!(u16::from_f32(12.49), 12);
    assert_eq!(u16::from_f32(12.5), 13);
    assert_eq!(u16::from_f32(-3.0), 0);
    assert_eq!(u16::from_f32(70_000.0), u16::MAX);
    assert_eq!(u8::from_f32(f32::NAN), 0);
    assert_eq!(f32::from_f32(0.25), 0.25);
    assert_eq!(u16::from_f32(f32::INFINITY), u16::MAX);
    assert_eq!(u32::from_f32(f32::NEG_INFINITY), 0);
}

/// The integer conversion agrees with `f32::round` everywhere, in particular next to
/// every half (0.49999997 must not become 1).
#[test]
fn pixels_from_f32_match_round_at_every_half() {
    use crate::image::Pixel;
    let reference = |v: f32| v.round() as u32;
    for k in 0..140_000u32 {
        let half = k as f32 + 0.5;
        for v in [
            k as f32,
            half,
            half.next_down(),
            half.next_up(),
            (k as f32).next_down(),
            (k as f32).next_up(),
        ] {
            assert_eq!(u32::from_f32(v), reference(v), "{v:e}");
            assert_eq!(u16::from_f32(v), reference(v).min(65_535) as u16, "{v:e}");
            assert_eq!(u8::from_f32(v), reference(v).min(255) as u8, "{v:e}");
        }
    }
    for v in [
        1e-30f32,
        f32::MIN_POSITIVE,
        3e9,
        4.3e9,
        f32::MAX,
        -0.4,
        -0.5,
        -0.0,
    ] {
        assert_eq!(u32::from_f32(v), v.round() as u32, "{v:e}");
    }
}
