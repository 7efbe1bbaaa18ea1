//! Inflates a zstd-compressed CZI subblock straight into the caller's plane.
//!
//! The `czi` crate inflates into a growing `Vec`, pads or cuts it to the plane,
//! and copies it several times (~25× the TIFF read, docs/benchmarks.md). Here
//! the subblock's bytes are read with one pread into a reused buffer, their
//! headers walked by [`czi_zstd::check`] (every frame states its size, the sizes
//! add up to the plane), and one reused [`Decompressor`] writes into `out`,
//! whose length is the plane's: a stream yielding more or fewer bytes is
//! refused. CZI's `zstd1` puts a header before the stream: `[1]` (no options)
//! or `[3, 1, v]`, chunk type 1 whose bit `v & 1` says "hiLoByteUnpack": the
//! low bytes of all 16-bit pixels come first, then the high bytes.

use std::fs::File;
use std::os::unix::fs::FileExt;

use zstd::bulk::Decompressor;

use super::czi_guard::Block;
use super::czi_zstd;
use crate::image::Dtype;

/// Reused state for inflating zstd subblocks.
pub struct ZstdPlanes {
    decompressor: Decompressor<'static>,
    /// The subblock's stored bytes.
    packed: Vec<u8>,
    /// The inflated low-bytes-then-high-bytes plane before it is interleaved.
    split: Vec<u8>,
}

impl ZstdPlanes {
    /// A decoder with empty buffers; fails only if zstd cannot allocate its context.
    pub fn new() -> std::io::Result<Self> {
        Ok(ZstdPlanes {
            decompressor: Decompressor::new()?,
            packed: Vec::new(),
            split: Vec::new(),
        })
    }

    /// Inflates the zstd subblock `b` of `file` into `out` (the whole plane of
    /// `dtype` samples); `limit` bounds what any block may inflate to. The error
    /// says what is wrong with the subblock.
    pub fn read(
        &mut self,
        file: &File,
        b: Block,
        dtype: Dtype,
        out: &mut [u8],
        limit: u64,
    ) -> Result<(), String> {
        let prefixed = b.zstd == Some(true);
        // `b.len` was checked against the subblock's segment and the file's length.
        self.packed.resize(b.len as usize, 0);
        file.read_exact_at(&mut self.packed, b.at)
            .map_err(|e| format!("cannot read the subblock at {}: {e}", b.at))?;
        czi_zstd::check(&self.packed, prefixed, out.len() as u64, limit)?;
        let (stream, hilo) = match (prefixed, self.packed.as_slice()) {
            (false, s) => (s, false),
            (true, [1, s @ ..]) => (s, false),
            (true, [3, 1, v, s @ ..]) => (s, v & 1 == 1),
            (true, _) => return Err("a zstd1 subblock with an unknown header".into()),
        };
        if !hilo {
            return inflate(&mut self.decompressor, stream, out);
        }
        if dtype != Dtype::U16 {
            return Err(format!(
                "a zstd1 subblock with hi/lo byte packing holds {} samples (only 16-bit)",
                dtype.name()
            ));
        }
        // Every byte is overwritten: the inflation must fill exactly `out.len()`.
        self.split.resize(out.len(), 0);
        inflate(&mut self.decompressor, stream, &mut self.split)?;
        interleave(&self.split, out);
        Ok(())
    }
}

/// Interleaves the low-bytes half and the high-bytes half of `split` into
/// little-endian 16-bit samples; with AVX2 where the CPU has it.
fn interleave(split: &[u8], out: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { interleave_avx2(split, out) };
        return;
    }
    interleave_words(split, out);
}

/// [`interleave_words`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn interleave_avx2(split: &[u8], out: &mut [u8]) {
    interleave_words(split, out);
}

/// One 16-bit word per sample, built from its low and high byte.
#[inline(always)]
fn interleave_words(split: &[u8], out: &mut [u8]) {
    let (lo, hi) = split.split_at(out.len() / 2);
    let (words, _) = out.as_chunks_mut::<2>();
    for ((o, l), h) in words.iter_mut().zip(lo).zip(hi) {
        *o = (u16::from(*l) | u16::from(*h) << 8).to_le_bytes();
    }
}

/// Inflates `stream` into exactly `out`.
fn inflate(d: &mut Decompressor<'static>, stream: &[u8], out: &mut [u8]) -> Result<(), String> {
    let n = d
        .decompress_to_buffer(stream, out)
        .map_err(|e| format!("the zstd stream does not inflate to its plane: {e}"))?;
    if n != out.len() {
        return Err(format!(
            "a zstd subblock inflates to {n} bytes, its plane needs {}",
            out.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `data` to a file and reads it back as one subblock of `plane` bytes.
    fn read(data: &[u8], prefixed: bool, dtype: Dtype, plane: usize) -> Result<Vec<u8>, String> {
        let f = tempfile::tempfile().unwrap();
        f.write_all_at(&[9u8; 5], 0).unwrap();
        f.write_all_at(data, 5).unwrap();
        let b = Block {
            at: 5,
            len: data.len() as u64,
            zstd: Some(prefixed),
        };
        let mut out = vec![0u8; plane];
        ZstdPlanes::new()
            .unwrap()
            .read(&f, b, dtype, &mut out, 1 << 30)
            .map(|()| out)
    }

    fn prefix(head: &[u8], z: &[u8]) -> Vec<u8> {
        [head, z].concat()
    }

    #[test]
    fn headers_hilo_and_wrong_sizes() {
        let plane: Vec<u8> = (0..4000u32)
            .flat_map(|v| (v as u16).wrapping_mul(17).to_le_bytes())
            .collect();
        let z = zstd::bulk::compress(&plane, 1).unwrap();
        assert_eq!(read(&z, false, Dtype::U16, 8000).unwrap(), plane);
        assert_eq!(
            read(&prefix(&[1], &z), true, Dtype::U16, 8000).unwrap(),
            plane
        );
        assert_eq!(
            read(&prefix(&[3, 1, 0], &z), true, Dtype::U16, 8000).unwrap(),
            plane
        );
        let split: Vec<u8> = plane
            .iter()
            .step_by(2)
            .chain(plane.iter().skip(1).step_by(2))
            .copied()
            .collect();
        let zs = zstd::bulk::compress(&split, 1).unwrap();
        assert_eq!(
            read(&prefix(&[3, 1, 1], &zs), true, Dtype::U16, 8000).unwrap(),
            plane
        );
        let e = read(&prefix(&[3, 1, 1], &zs), true, Dtype::U8, 8000).unwrap_err();
        assert!(e.contains("only 16-bit"), "{e}");
        let e = read(&prefix(&[3, 2, 1], &zs), true, Dtype::U16, 8000).unwrap_err();
        assert!(e.contains("unknown header"), "{e}");
        // The plane is larger or smaller than the stream states.
        assert!(
            read(&z, false, Dtype::U16, 8002)
                .unwrap_err()
                .contains("needs")
        );
        assert!(
            read(&z, false, Dtype::U16, 7998)
                .unwrap_err()
                .contains("needs")
        );
        // Two frames that together make the plane inflate into it.
        let two = [
            zstd::bulk::compress(&plane[..3000], 1).unwrap(),
            zstd::bulk::compress(&plane[3000..], 1).unwrap(),
        ]
        .concat();
        assert_eq!(read(&two, false, Dtype::U16, 8000).unwrap(), plane);
        // A block whose payload was cut short fails inside zstd.
        let mut cut = z.clone();
        cut.truncate(z.len() - 1);
        assert!(read(&cut, false, Dtype::U16, 8000).is_err());
    }
}
