//! Splitting ND2 frames into channel planes: a frame stores each pixel's
//! channels side by side (2-byte samples), the pipeline wants one plane per
//! channel.

/// Copies channel `c` of `channels` out of a row of interleaved 2-byte samples.
/// For 2 to 4 channels the pixel size and the sample's place in it are
/// constants, so the loop runs without bounds checks.
pub(super) fn pick(dst: &mut [u8], src: &[u8], channels: usize, c: usize) {
    match (channels, c) {
        (2, 0) => pick_const::<4, 0>(dst, src),
        (2, 1) => pick_const::<4, 2>(dst, src),
        (3, 0) => pick_const::<6, 0>(dst, src),
        (3, 1) => pick_const::<6, 2>(dst, src),
        (3, 2) => pick_const::<6, 4>(dst, src),
        (4, 0) => pick_const::<8, 0>(dst, src),
        (4, 1) => pick_const::<8, 2>(dst, src),
        (4, 2) => pick_const::<8, 4>(dst, src),
        (4, 3) => pick_const::<8, 6>(dst, src),
        _ => {
            let pixels = src.chunks_exact(channels * 2);
            for (o, px) in dst.chunks_exact_mut(2).zip(pixels) {
                o.copy_from_slice(&px[c * 2..c * 2 + 2]);
            }
        }
    }
}

/// Splits rows of `row_bytes` bytes, two interleaved channels each, into rows
/// of `out` bytes of `d0` and `d1`; with AVX2 where the CPU has it, ~2× the
/// SSE2 loop on rows in cache (docs/benchmarks.md).
pub(super) fn split_two(src: &[u8], row_bytes: usize, out: usize, d0: &mut [u8], d1: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { split_two_avx2(src, row_bytes, out, d0, d1) };
        return;
    }
    split_two_rows(src, row_bytes, out, d0, d1);
}

/// [`split_two_rows`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn split_two_avx2(src: &[u8], row_bytes: usize, out: usize, d0: &mut [u8], d1: &mut [u8]) {
    split_two_rows(src, row_bytes, out, d0, d1);
}

/// Each pixel is a little-endian `u32`: channel 0 its low half, channel 1
/// its high half.
#[inline(always)]
fn split_two_rows(src: &[u8], row_bytes: usize, out: usize, d0: &mut [u8], d1: &mut [u8]) {
    let rows = src.chunks_exact(row_bytes);
    for ((r, a), b) in rows
        .zip(d0.chunks_exact_mut(out))
        .zip(d1.chunks_exact_mut(out))
    {
        let (pixels, _) = r.as_chunks::<4>();
        let (a, _) = a.as_chunks_mut::<2>();
        let (b, _) = b.as_chunks_mut::<2>();
        for ((x, y), px) in a.iter_mut().zip(b.iter_mut()).zip(pixels) {
            let v = u32::from_le_bytes(*px);
            *x = (v as u16).to_le_bytes();
            *y = ((v >> 16) as u16).to_le_bytes();
        }
    }
}

fn pick_const<const PIXEL: usize, const AT: usize>(dst: &mut [u8], src: &[u8]) {
    let (pixels, _) = src.as_chunks::<PIXEL>();
    let (samples, _) = dst.as_chunks_mut::<2>();
    for (o, px) in samples.iter_mut().zip(pixels) {
        *o = [px[AT], px[AT + 1]];
    }
}
