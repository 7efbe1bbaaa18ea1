//! Interoperability with numpy/tifffile (run by `scripts/interop.py`):
//!
//! * `ISOBATCH_INTEROP_DIR=DIR` (made by `interop.py --make-inputs DIR`):
//!   every `X.tif` there must read back equal to the numpy-written `X.npy`.
//! * `ISOBATCH_INTEROP_OUT=DIR`: writes `X.npy` + `X.tif` pairs for every
//!   dtype, compression and TIFF kind, for `interop.py DIR` to compare.
//!
//! Each test prints that it skipped when its variable is unset.

use std::path::Path;

use super::{TestPixel, pattern};
use crate::image::{
    BigTiff, Compression, Dtype, Format, ImageJLayout, InputStack, Limits, NpyStack, NpyWriter,
    Pixel, Shape, StackSink, TiffOptions, TiffWriter,
};

fn compare<T: Pixel>(tif: &mut InputStack, npy: &NpyStack) -> usize {
    let mut page = vec![T::default(); tif.info().shape().frame_len()];
    let mut frames = npy.frames::<T>().unwrap();
    for t in 0..tif.info().pages {
        tif.read_page(t, &mut page).unwrap();
        let expected = frames.frame(t).unwrap();
        assert!(
            page == expected.as_slice().unwrap(),
            "{}: page {t} differs",
            tif.path().display()
        );
    }
    tif.info().pages
}

#[test]
fn rust_reads_tifffile_inputs() {
    let Some(dir) = std::env::var_os("ISOBATCH_INTEROP_DIR") else {
        println!(
            "skipped: set ISOBATCH_INTEROP_DIR to a folder made by `interop.py --make-inputs DIR`"
        );
        return;
    };
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for tif_path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "tif"))
    {
        let npy_path = tif_path.with_extension("npy");
        let npy = NpyStack::open(&npy_path).unwrap();
        let mut tif = InputStack::open(tif_path, &Limits::default()).unwrap();
        let info = tif.info().clone();
        assert_eq!(
            (info.shape(), info.dtype),
            (npy.shape(), npy.dtype()),
            "{}",
            tif_path.display()
        );
        let name = tif_path.file_name().unwrap().to_string_lossy().into_owned();
        if name.contains("hyperstack") {
            let m = info.imagej.as_ref().expect("ImageJ metadata");
            assert_eq!((m.channels, m.frames), (Some(2), Some(3)), "{name}");
        }
        if name.contains("bigtiff") {
            assert!(info.bigtiff, "{name}");
        }
        let pages = match info.dtype {
            Dtype::U8 => compare::<u8>(&mut tif, &npy),
            Dtype::U16 => compare::<u16>(&mut tif, &npy),
            Dtype::U32 => compare::<u32>(&mut tif, &npy),
            Dtype::F32 => compare::<f32>(&mut tif, &npy),
        };
        println!(
            "ok {name}: {} {} {} pages, {}",
            info.dtype,
            info.compression,
            pages,
            info.shape()
        );
        checked += 1;
    }
    assert!(
        checked > 0,
        "no X.tif + X.npy pairs in {}",
        Path::new(&dir).display()
    );
}

fn pair<T: TestPixel>(dir: &Path, name: &str, options: TiffOptions) {
    let shape = Shape::new(6, 48, 64);
    let mut npy = NpyWriter::<T>::create(&dir.join(format!("{name}.npy")), shape).unwrap();
    let mut tif =
        TiffWriter::<T>::create_with(&dir.join(format!("{name}.tif")), shape, options).unwrap();
    for t in 0..shape.frames {
        let frame = pattern::<T>(t, shape.frame_len());
        npy.write_frame(t, &frame).unwrap();
        tif.write_page(&frame).unwrap();
    }
    npy.commit().unwrap();
    tif.commit().unwrap();
}

#[test]
fn rust_writes_interop_samples() {
    let Some(dir) = std::env::var_os("ISOBATCH_INTEROP_OUT") else {
        println!("skipped: set ISOBATCH_INTEROP_OUT to a folder for `interop.py` to check");
        return;
    };
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();
    let kinds = [
        (Compression::None, "none"),
        (Compression::Lzw, "lzw"),
        (Compression::Deflate, "deflate"),
        (Compression::PackBits, "packbits"),
    ];
    for (compression, cname) in kinds {
        for (bigtiff, bname) in [(BigTiff::Auto, "classic"), (BigTiff::Always, "bigtiff")] {
            let o = TiffOptions {
                layout: ImageJLayout::time_series(6),
                compression,
                bigtiff,
            };
            pair::<u8>(dir, &format!("rust_uint8_{cname}_{bname}"), o);
            pair::<u16>(dir, &format!("rust_uint16_{cname}_{bname}"), o);
            pair::<u32>(dir, &format!("rust_uint32_{cname}_{bname}"), o);
            pair::<f32>(dir, &format!("rust_float32_{cname}_{bname}"), o);
        }
    }
    let hyperstack = TiffOptions {
        layout: ImageJLayout {
            channels: 2,
            frames: 3,
        },
        compression: Compression::None,
        bigtiff: BigTiff::Auto,
    };
    pair::<u16>(dir, "rust_uint16_none_hyperstack", hyperstack);
    pair::<f32>(dir, "rust_float32_none_hyperstack", hyperstack);
    let shape = Shape::new(4, 30, 20);
    let mut sink =
        StackSink::<u16>::create(dir, "rust_checkpoint_both", shape, Format::Both).unwrap();
    for t in 0..4 {
        sink.write_frame(t, &pattern::<u16>(t, shape.frame_len()))
            .unwrap();
    }
    sink.commit().unwrap();
    println!("wrote interop samples to {}", dir.display());
}
