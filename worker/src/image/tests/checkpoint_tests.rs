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
