//! Benchmarks (ignored; run by hand, see docs/benchmarks.md) of reading one
//! position through the reader interface, on the inputs of
//! `scripts/read_bench_fixtures.py DIR` plus the ND2 files written here with
//! the same pixels:
//!
//! - `bench_read_speed`: the same 2 channels × 100 frames of 512² uint16 from
//!   an ImageJ hyperstack, OME-TIFF in both dimension orders, CZI (raw and
//!   zstd1) and ND2, in interleaved rounds; prints times and each format's
//!   ratio to the ImageJ TIFF of the same round; asserts only equal pixels.
//!   Every file's page cache is first dropped and laid anew by one read, so
//!   all are cached alike whatever wrote them.
//! - `bench_read_rss`: peak RSS growth of reading the last position of files
//!   with 1, 4 and 16 positions × 50 frames and 1 × 200 frames, per format,
//!   each measured in a child process (this test binary re-run on itself),
//!   since VmHWM is per process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use isobatch_shared::procfs;

use super::nd2_writer::{Nd2Spec, nd2_bytes};
use crate::image::source::{self, Order};
use crate::image::tiff_in::Limits;

const DIR_ENV: &str = "ISOBATCH_BENCH_DIR";
const CHILD_ENV: &str = "ISOBATCH_RSS_FILE";
/// Optional comma-separated subset of the speed inputs (e.g. `a.tif,a.nd2`),
/// for profiling one reader under callgrind without the others' cost.
const ONLY_ENV: &str = "ISOBATCH_BENCH_ONLY";
/// (positions, frames) of the RSS inputs, as the fixture script writes them.
const SIZES: [(u32, u32); 4] = [(1, 50), (4, 50), (16, 50), (1, 200)];
/// Interleaved rounds of the speed benchmark.
const ROUNDS: usize = 10;

/// The fixture script's sample formula.
fn px(p: u32, t: u32, c: u32, _z: u32, y: u32, x: u32) -> u16 {
    ((11 * p + 7 * t + 3 * c + y + x) % 65536) as u16
}

fn dir() -> PathBuf {
    PathBuf::from(std::env::var(DIR_ENV).expect("ISOBATCH_BENCH_DIR"))
}

/// Writes `path` as ND2 unless it exists.
fn nd2(path: &Path, side: u32, positions: u32, frames: u32) {
    if !path.exists() {
        let spec = Nd2Spec::new(side, side, 2, positions, frames);
        std::fs::write(path, nd2_bytes(&spec, px)).unwrap();
    }
}

/// Drops `path`'s cached pages and reads it once, so its page cache is laid
/// by the kernel's readahead, as for a file read from disk. How a fixture was
/// written otherwise decides it: pylibCZIrw's small writes leave small folios
/// that read ~1.4× slower than a copy of the same file (docs/benchmarks.md).
fn settle(path: &Path) {
    let file = std::fs::File::open(path).unwrap();
    file.sync_all().unwrap();
    crate::page_cache::release([path]);
    std::io::copy(&mut &file, &mut std::io::sink()).unwrap();
}

/// Opens `path` and reads every plane of its last position, every channel of
/// a time point in one call (as the fov pipeline does); returns a hash of the pixels.
fn read_position(path: &Path) -> u64 {
    let mut f = source::open(path, &Limits::default()).unwrap();
    let p = f.positions().len() - 1;
    let s = f.positions()[p].clone();
    let sizes = s.sizes.unwrap();
    let order = s.order.unwrap_or(Order::CZT);
    let mut outs = vec![vec![0u8; s.width * s.height * 2]; sizes.c];
    let mut hash = 0u64;
    for t in 0..sizes.t {
        let mut planes: Vec<(usize, &mut [u8])> = outs
            .iter_mut()
            .enumerate()
            .map(|(c, out)| (order.index(sizes, t, c, 0).unwrap(), &mut out[..]))
            .collect();
        f.read_planes(p, &mut planes).unwrap();
        for out in &outs {
            // A cheap checksum (bit-for-bit equality is the tests' job): the plane's
            // 8-byte words summed, planes mixed in order.
            let (words, _) = out.as_chunks::<8>();
            let sum = words
                .iter()
                .fold(0u64, |a, w| a.wrapping_add(u64::from_le_bytes(*w)));
            hash = hash.rotate_left(7) ^ sum;
        }
    }
    hash
}

#[test]
#[ignore = "benchmark: ISOBATCH_BENCH_DIR=DIR cargo test -p isobatch-worker --release --lib bench_read_speed -- --ignored --nocapture"]
fn bench_read_speed() {
    let speed = dir().join("speed");
    nd2(&speed.join("a.nd2"), 512, 1, 100);
    let all = [
        "a.tif",
        "ct.ome.tif",
        "tc.ome.tif",
        "a.czi",
        "z.czi",
        "a.nd2",
    ];
    let only = std::env::var(ONLY_ENV).unwrap_or_default();
    let names: Vec<&str> = all
        .into_iter()
        .filter(|n| only.is_empty() || only.split(',').any(|o| o == *n))
        .collect();
    let n = names.len();
    for name in &names {
        settle(&speed.join(name));
    }
    // Per clock (wall, then this thread's CPU), per format: ms of each round.
    let mut times = [vec![Vec::new(); n], vec![Vec::new(); n]];
    for round in 0..ROUNDS {
        let mut hashes = vec![0u64; n];
        let mut ms = [vec![0.0; n], vec![0.0; n]];
        // Rotate who goes first, so no format always reads right after another.
        for k in 0..n {
            let i = (k + round) % n;
            let (start, cpu) = (Instant::now(), thread_cpu_ms());
            hashes[i] = read_position(&speed.join(names[i]));
            ms[0][i] = start.elapsed().as_secs_f64() * 1e3;
            ms[1][i] = thread_cpu_ms() - cpu;
        }
        assert!(hashes.iter().all(|h| *h == hashes[0]), "{hashes:?}");
        let line: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    "{} {:.0} ms ({:.2}×)",
                    names[i],
                    ms[0][i],
                    ms[0][i] / ms[0][0]
                )
            })
            .collect();
        println!("round {}: {}", round + 1, line.join("; "));
        for (clock, ms) in times.iter_mut().zip(&ms) {
            for (t, m) in clock.iter_mut().zip(ms) {
                t.push(*m);
            }
        }
    }
    for (clock, times) in ["wall", "thread CPU"].into_iter().zip(&times) {
        table(clock, &names, times);
    }
}

/// CPU time (user + system) of this thread, ms: unlike wall time it does not
/// count the time other processes hold the core, so ratios of it are steadier
/// on a loaded machine.
fn thread_cpu_ms() -> f64 {
    let mut ts = nix::libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which we own.
    unsafe { nix::libc::clock_gettime(nix::libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

/// Prints min, median and the median of per-round ratios to the first file (the TIFF).
fn table(clock: &str, names: &[&str], times: &[Vec<f64>]) {
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[(v.len() - 1) / 2] + v[v.len() / 2]) / 2.0
    };
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let tif_min = min(&times[0]);
    println!("{clock}:");
    println!("| file | min ms | median ms | min / TIFF min | median of round ratios |");
    println!("|---|---|---|---|---|");
    for (name, t) in names.iter().zip(times) {
        let ratios = t.iter().zip(&times[0]).map(|(a, b)| a / b).collect();
        println!(
            "| {name} | {:.0} | {:.0} | {:.2}× | {:.2}× |",
            min(t),
            median(t.clone()),
            min(t) / tif_min,
            median(ratios),
        );
    }
}

#[test]
#[ignore = "benchmark: ISOBATCH_BENCH_DIR=DIR cargo test -p isobatch-worker --release --lib bench_read_rss -- --ignored --nocapture"]
fn bench_read_rss() {
    if let Some(file) = std::env::var_os(CHILD_ENV) {
        procfs::reset_self_peak();
        let base = procfs::self_rss();
        read_position(Path::new(&file));
        let peak = procfs::self_peak_rss();
        println!("RSS-RESULT {} {}", peak.saturating_sub(base), peak);
        return;
    }
    assert!(procfs::reset_self_peak(), "needs Linux clear_refs");
    let rss = dir().join("rss");
    let module = module_path!()
        .split_once("::")
        .map_or(module_path!(), |(_, m)| m);
    let exe = std::env::current_exe().unwrap();
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!("peak RSS growth reading the last position (VmHWM of the child in brackets), MiB");
    println!("| format | 1 × 50 | 4 × 50 | 16 × 50 | 1 × 200 |");
    println!("|---|---|---|---|---|");
    for (format, ext) in [
        ("tif", "tif"),
        ("ome", "ome.tif"),
        ("czi", "czi"),
        ("nd2", "nd2"),
    ] {
        let mut row = format!("| {format} |");
        for (p, t) in SIZES {
            let path = rss.join(format!("{format}_p{p}_t{t}.{ext}"));
            if format == "nd2" {
                nd2(&path, 256, p, t);
            }
            if !path.exists() {
                row += " — |";
                continue;
            }
            let out = Command::new(&exe)
                .args([
                    "--exact",
                    &format!("{module}::bench_read_rss"),
                    "--ignored",
                    "--nocapture",
                    "--test-threads",
                    "1",
                ])
                .env(CHILD_ENV, &path)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "child failed on {}: {stdout}",
                path.display()
            );
            let (_, result) = stdout.split_once("RSS-RESULT").expect("child result");
            let v: Vec<u64> = result
                .split_whitespace()
                .take(2)
                .map(|x| x.parse().unwrap())
                .collect();
            row += &format!(" {:.2} ({:.1}) |", mib(v[0]), mib(v[1]));
        }
        println!("{row}");
    }
}
