//! NpyWriter -> NpyStack round trips and hostile `.npy` files.

use super::{TestDir, TestPixel, pattern};
use crate::image::{Dtype, ImageError, NpyStack, NpyWriter, Shape};

/// Five `height × width` frames written out of order come back whole, each at its own offset.
fn round_trip<T: TestPixel>(height: usize, width: usize) {
    let dir = TestDir::new("npy-rt");
    let path = dir.join("stack.npy");
    let shape = Shape::new(5, height, width);
    let mut w = NpyWriter::<T>::create(&path, shape).unwrap();
    // Any order is fine for the writer.
    for t in [3, 0, 4, 1] {
        w.write_frame(t, &pattern::<T>(t, shape.frame_len()))
            .unwrap();
    }
    w.write_frame(2, &pattern::<T>(2, shape.frame_len()))
        .unwrap();
    assert_eq!(dir.names().len(), 1);
    assert!(!path.exists(), "invisible before commit");
    w.commit().unwrap();
    assert_eq!(dir.names(), ["stack.npy"]);

    let s = NpyStack::open(&path).unwrap();
    assert_eq!((s.shape(), s.dtype()), (shape, T::DTYPE));
    let mut floats = vec![0f32; shape.frame_len()];
    let mut copy = vec![T::default(); shape.frame_len()];
    let mut pass = s.frames::<T>().unwrap();
    for t in (0..5).chain(0..5) {
        let expected = pattern::<T>(t, shape.frame_len());
        let frame = pass.frame(t).unwrap();
        assert_eq!(frame.dim(), (height, width));
        assert!(
            frame.as_slice().unwrap() == expected.as_slice(),
            "{} frame {t}",
            T::DTYPE
        );
        pass.read(t, &mut copy).unwrap();
        assert!(copy == expected);
        pass.read_f32(t, &mut floats).unwrap();
        assert!(floats.iter().zip(&expected).all(|(f, e)| *f == e.to_f32()));
    }
    let view = s.view::<T>().unwrap();
    assert_eq!(view.dim(), (5, height, width));
    assert_eq!(
        view[[4, height - 1, width - 1]],
        pattern::<T>(4, shape.frame_len())[height * width - 1]
    );
    assert!(matches!(pass.frame(5), Err(ImageError::Usage { .. })));
    let e = pass.read_f32(0, &mut floats[1..]).unwrap_err();
    assert!(
        matches!(e, ImageError::Usage { .. }) && e.to_string().contains("output holds"),
        "{e}"
    );
}

#[test]
fn every_dtype_round_trips() {
    round_trip::<u8>(13, 21);
    round_trip::<u16>(13, 21);
    round_trip::<u32>(13, 21);
    round_trip::<f32>(13, 21);
}

/// A frame longer than one `pwrite` piece (512 KiB) is written in several.
#[test]
fn frames_larger_than_a_write_piece_round_trip() {
    round_trip::<u32>(700, 701);
}

#[test]
fn dtype_mismatch_is_invalid() {
    let dir = TestDir::new("npy-dtype");
    let path = dir.join("a.npy");
    let mut w = NpyWriter::<u16>::create(&path, Shape::new(1, 2, 2)).unwrap();
    w.write_frame(0, &[1, 2, 3, 4]).unwrap();
    w.commit().unwrap();
    let s = NpyStack::open(&path).unwrap();
    for e in [
        s.frames::<f32>().unwrap_err(),
        s.view::<u8>().unwrap_err(),
        s.frames::<u16>()
            .unwrap()
            .read::<f32>(0, &mut [0.0; 4])
            .unwrap_err(),
    ] {
        assert!(
            e.is_invalid_input() && e.to_string().contains("pixels are uint16"),
            "{e}"
        );
    }
    assert_eq!(s.dtype(), Dtype::U16);
}

/// A version-1 `.npy` with the given header dict and `data_len` zero bytes.
fn npy_bytes(dict: &str, data_len: usize) -> Vec<u8> {
    let mut header = dict.as_bytes().to_vec();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(&header);
    out.resize(out.len() + data_len, 0);
    out
}

fn refusal(dir: &TestDir, bytes: &[u8]) -> String {
    let path = dir.join("bad.npy");
    std::fs::write(&path, bytes).unwrap();
    match NpyStack::open(&path) {
        Err(e @ ImageError::Invalid { .. }) => {
            let text = e.to_string();
            assert!(text.contains("bad.npy"), "{text}");
            text
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
fn truncated_or_padded_files_are_invalid() {
    let dir = TestDir::new("npy-trunc");
    let path = dir.join("ckpt.npy");
    let shape = Shape::new(4, 64, 64);
    let mut w = NpyWriter::<u16>::create(&path, shape).unwrap();
    for t in 0..4 {
        w.write_frame(t, &pattern::<u16>(t, 4096)).unwrap();
    }
    w.commit().unwrap();
    let full = std::fs::read(&path).unwrap();
    assert_eq!(full.len(), 128 + 4 * 4096 * 2);
    let r = refusal(&dir, &full[..20_000]);
    expect(
        &r,
        &["truncated: header says 32896 bytes", "file has 20000"],
    );
    let mut longer = full.clone();
    longer.push(0);
    expect(&refusal(&dir, &longer), &["file has 32897 (trailing data)"]);
    expect(
        &refusal(&dir, &full[..100]),
        &["the header alone needs 128 bytes, file has 100"],
    );
}

#[test]
fn garbage_headers_are_invalid() {
    let dir = TestDir::new("npy-garbage");
    expect(
        &refusal(&dir, b"PK\x03\x04 zip, not npy"),
        &["not a .npy file"],
    );
    expect(&refusal(&dir, b"\x93NUMPY"), &["only 6 bytes"]);
    expect(&refusal(&dir, b""), &["only 0 bytes"]);
    expect(
        &refusal(&dir, &npy_bytes("this is not a dict", 0)),
        &["malformed header"],
    );
    expect(
        &refusal(&dir, &npy_bytes(&"(".repeat(5000), 0)),
        &["nested too deeply"],
    );
    // Balanced nesting is what stalls the header parser (exponential backtracking): 12 levels
    // parse in milliseconds, so without the bound this would be "malformed header".
    let nested = format!("{}{}", "[".repeat(12), "]".repeat(12));
    expect(
        &refusal(&dir, &npy_bytes(&nested, 0)),
        &["nested too deeply"],
    );
    let mut v9 = npy_bytes("{}", 0);
    v9[6] = 9;
    expect(
        &refusal(&dir, &v9),
        &["unsupported .npy format version 9.0"],
    );
    let mut huge = b"\x93NUMPY\x02\x00\xff\xff\xff\xff".to_vec();
    huge.extend_from_slice(b"{'descr'");
    expect(
        &refusal(&dir, &huge),
        &["header claims 4294967295 bytes, above the limit"],
    );
}

#[test]
fn unsupported_arrays_are_named() {
    let dir = TestDir::new("npy-kinds");
    let dict = |descr: &str, fortran: &str, shape: &str| {
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}")
    };
    let r = refusal(&dir, &npy_bytes(&dict("<u2", "False", "(4, 4)"), 32));
    expect(&r, &["2-D", "expected a 3-D (frames, height, width) stack"]);
    let r = refusal(&dir, &npy_bytes(&dict("<u2", "True", "(1, 4, 4)"), 32));
    expect(&r, &["Fortran order"]);
    let r = refusal(&dir, &npy_bytes(&dict(">u2", "False", "(1, 4, 4)"), 32));
    expect(&r, &["big-endian"]);
    let r = refusal(&dir, &npy_bytes(&dict("<f8", "False", "(1, 2, 2)"), 32));
    expect(&r, &["\"<f8\" is not supported"]);
    let r = refusal(&dir, &npy_bytes(&dict("<u2", "False", "(0, 4, 4)"), 0));
    expect(&r, &["is empty"]);
}

#[test]
fn absurd_shapes_are_refused_without_allocating() {
    let dir = TestDir::new("npy-absurd");
    let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000), }";
    let r = refusal(&dir, &npy_bytes(dict, 16));
    expect(
        &r,
        &[
            "truncated: header says 4000000000000128 bytes",
            "3.6 PiB",
            "file has 144",
        ],
    );
    let dict = "{'descr': '<u4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }";
    expect(&refusal(&dir, &npy_bytes(dict, 0)), &["which overflows"]);
    let dict = "{'descr': '<u4', 'fortran_order': False, 'shape': (-1, 2, 2), }";
    expect(&refusal(&dir, &npy_bytes(dict, 0)), &["malformed header"]);
}

#[test]
fn numpy_spellings_are_accepted() {
    let dir = TestDir::new("npy-spell");
    let path = dir.join("u1.npy");
    let dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4), }";
    std::fs::write(&path, npy_bytes(dict, 24)).unwrap();
    let s = NpyStack::open(&path).unwrap();
    assert_eq!((s.dtype(), s.shape()), (Dtype::U8, Shape::new(2, 3, 4)));
    assert_eq!(s.view::<u8>().unwrap().sum(), 0);
    assert_eq!(s.frames::<u8>().unwrap().frame(1).unwrap().dim(), (3, 4));
}

#[test]
fn writer_without_commit_leaves_nothing() {
    let dir = TestDir::new("npy-drop");
    let path = dir.join("s.npy");
    let mut w = NpyWriter::<f32>::create(&path, Shape::new(3, 4, 4)).unwrap();
    w.write_frame(0, &[1.0; 16]).unwrap();
    drop(w);
    assert!(dir.names().is_empty());
    let mut w = NpyWriter::<f32>::create(&path, Shape::new(3, 4, 4)).unwrap();
    w.write_frame(0, &[0.0; 16]).unwrap();
    assert!(matches!(
        w.write_frame(1, &[0.0; 15]),
        Err(ImageError::Usage { .. })
    ));
    let e = w.commit().unwrap_err();
    assert!(
        e.to_string().contains("frame 1 of 3 was never written"),
        "{e}"
    );
    assert!(dir.names().is_empty());
    let e = NpyWriter::<u8>::create(&dir.join("missing/s.npy"), Shape::new(1, 1, 1)).unwrap_err();
    assert!(matches!(e, ImageError::Io { .. }), "{e}");
}
