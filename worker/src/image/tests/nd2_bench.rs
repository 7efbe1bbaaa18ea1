//! Benchmark (ignored; run by hand, see docs/benchmarks.md): reading one position
//! of 2 channels × 100 frames of 512² uint16 through the reader interface, from
//! an ImageJ hyperstack and from the same pixels as ND2. Prints times, asserts only
//! that both read the same pixels.

use std::time::Instant;

use super::TestDir;
use super::nd2_writer::{Nd2Spec, nd2_bytes};
use crate::image::Shape;
use crate::image::imagej::ImageJLayout;
use crate::image::source::{self, Order};
use crate::image::tiff_in::Limits;
use crate::image::tiff_out::{Compression, TiffWriter};

#[test]
#[ignore = "benchmark: cargo test -p isobatch-worker --lib bench_nd2 -- --ignored --nocapture"]
fn bench_nd2_vs_imagej() {
    let dir = TestDir::new("bench");
    let (w, h, c, t) = (512u32, 512u32, 2u32, 100u32);
    let px = |_p: u32, t: u32, c: u32, _z: u32, y: u32, x: u32| (t * 7 + c * 3 + y + x) as u16;
    let nd = dir.path().join("a.nd2");
    std::fs::write(&nd, nd2_bytes(&Nd2Spec::new(w, h, c, 1, t), px)).unwrap();
    let tif = dir.path().join("a.tif");
    let mut wr = TiffWriter::<u16>::create(
        &tif,
        Shape {
            frames: (t * c) as usize,
            height: h as usize,
            width: w as usize,
        },
        ImageJLayout {
            channels: c as usize,
            frames: t as usize,
        },
        Compression::None,
    )
    .unwrap();
    for tt in 0..t {
        for cc in 0..c {
            let page: Vec<u16> = (0..h)
                .flat_map(|y| (0..w).map(move |x| px(0, tt, cc, 0, y, x)))
                .collect();
            wr.write_page(&page).unwrap();
        }
    }
    wr.commit().unwrap();
    let mut sums = Vec::new();
    for round in 0..3 {
        for path in [&tif, &nd] {
            let start = Instant::now();
            let mut f = source::open(path, &Limits::default()).unwrap();
            let s = f.positions()[0].clone();
            let sizes = s.sizes.unwrap();
            let mut out = vec![0u8; (w * h * 2) as usize];
            let mut sum = 0u64;
            for tt in 0..sizes.t {
                for cc in 0..sizes.c {
                    f.read_plane(0, Order::CZT.index(sizes, tt, cc, 0).unwrap(), &mut out)
                        .unwrap();
                    sum += out[7] as u64;
                }
            }
            eprintln!("round {round} {}: {:?}", path.display(), start.elapsed());
            sums.push(sum);
        }
    }
    assert!(sums.windows(2).all(|p| p[0] == p[1]), "{sums:?}");
}
