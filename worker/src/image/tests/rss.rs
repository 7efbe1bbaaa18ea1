//! Resident memory of writing and reading a `.npy` stack frame by frame must
//! not grow with the number of frames. Measured in a child process (this test
//! binary re-run on just this test), since VmHWM is per process.

use std::process::Command;

use isobatch_shared::procfs;

use super::{TestDir, pattern};
use crate::image::{NpyStack, NpyWriter, Shape};

const CHILD_ENV: &str = "ISOBATCH_RSS_CHILD";

/// Writes then reads `frames` frames of 1024x512 u16 (1 MiB each), returning
/// the peak RSS growth of each phase.
fn measure(frames: usize) -> (u64, u64) {
    let dir = TestDir::new("rss");
    let path = dir.join("big.npy");
    let shape = Shape::new(frames, 512, 1024);
    let frame: Vec<u16> = pattern(0, shape.frame_len());

    procfs::reset_self_peak();
    let base = procfs::self_rss();
    let mut w = NpyWriter::<u16>::create(&path, shape).unwrap();
    for t in 0..frames {
        w.write_frame(t, &frame).unwrap();
    }
    w.commit().unwrap();
    let write_peak = procfs::self_peak_rss().saturating_sub(base);

    procfs::reset_self_peak();
    let base = procfs::self_rss();
    let s = NpyStack::open(&path).unwrap();
    let mut pass = s.frames::<u16>().unwrap();
    let mut sum = 0u64;
    for t in 0..frames {
        sum += pass
            .frame(t)
            .unwrap()
            .iter()
            .map(|&v| u64::from(v))
            .sum::<u64>();
    }
    assert!(sum > 0);
    let read_peak = procfs::self_peak_rss().saturating_sub(base);
    (write_peak, read_peak)
}

#[test]
fn npy_rss_stays_flat() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let frames = std::env::var("ISOBATCH_RSS_FRAMES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(192);
        let (w, r) = measure(frames);
        println!("RSS-RESULT {frames} {w} {r}");
        return;
    }
    if procfs::self_peak_rss() == 0 || !procfs::reset_self_peak() {
        println!("skipped: needs Linux /proc/self/status and clear_refs");
        return;
    }
    let module = module_path!()
        .split_once("::")
        .map_or(module_path!(), |(_, m)| m);
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            &format!("{module}::npy_rss_stays_flat"),
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}");
    // The harness prints "test NAME ... " before the child's own output.
    let (_, result) = stdout.split_once("RSS-RESULT").expect("child result");
    let v: Vec<u64> = result
        .split_whitespace()
        .take(3)
        .map(|x| x.parse().unwrap())
        .collect();
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "npy {} MiB stack: peak RSS growth writing {:.1} MiB, reading {:.1} MiB",
        v[0],
        mib(v[1]),
        mib(v[2])
    );
    // Without releasing frames both would approach the stack size (192 MiB).
    assert!(v[1] < 48 << 20, "writing grew RSS by {:.1} MiB", mib(v[1]));
    assert!(v[2] < 48 << 20, "reading grew RSS by {:.1} MiB", mib(v[2]));
}
