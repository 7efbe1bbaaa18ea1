//! Benchmark (ignored; run by hand, see docs/benchmarks.md): reading one position
//! of 2 channels × 100 frames of 512² uint16 through the reader interface, from an
//! ImageJ hyperstack and from the same pixels as CZI (uncompressed and zstd1),
//! all written by `scripts/czi_fixtures.py --bench DIR`. Prints times, asserts
//! only that every file reads the same pixels.

use std::path::Path;
use std::time::Instant;

use crate::image::source::{self, Order};
use crate::image::tiff_in::Limits;

#[test]
#[ignore = "benchmark: ISOBATCH_BENCH_DIR=DIR cargo test -p isobatch-worker --release --lib bench_czi -- --ignored --nocapture"]
fn bench_czi_vs_imagej() {
    let dir = std::env::var("ISOBATCH_BENCH_DIR").expect("ISOBATCH_BENCH_DIR");
    let files = ["a.tif", "a.czi", "z.czi"].map(|f| Path::new(&dir).join(f));
    for round in 1..=3 {
        let mut sums = Vec::new();
        let mut line = format!("round {round}:");
        for path in &files {
            let start = Instant::now();
            let mut f = source::open(path, &Limits::default()).unwrap();
            let s = f.positions()[0].clone();
            let sizes = s.sizes.unwrap();
            let mut out = vec![0u8; s.width * s.height * 2];
            let mut sum = 0u64;
            for t in 0..sizes.t {
                for c in 0..sizes.c {
                    let i = Order::CZT.index(sizes, t, c, 0).unwrap();
                    f.read_plane(0, i, &mut out).unwrap();
                    sum = out
                        .iter()
                        .fold(sum, |a, &b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
                }
            }
            let ms = start.elapsed().as_secs_f64() * 1e3;
            line += &format!(
                " {} {ms:.1} ms;",
                path.file_name().unwrap().to_string_lossy()
            );
            sums.push(sum);
        }
        println!("{line}");
        assert!(
            sums.iter().all(|s| *s == sums[0]),
            "pixels differ: {sums:?}"
        );
    }
}
