//! Keeps pre-flight's RAM estimate honest: for the built-in selftest pipeline
//! the estimate (results.json `estimated_rss_bytes`) must be within a sane
//! factor of the peak the supervisor measured for the worker's tree.
mod common;
use common::*;

#[test]
fn selftest_estimate_tracks_measured_peak() {
    let b = Batch::new();
    for (name, mib) in [("a32", 32), ("b128", 128), ("c256", 256)] {
        b.task(name, &format!("alloc={mib}M\nsleep=0.3\n"));
    }
    estimates_hold(&b, b.run(&["--workers", "1"]), false);
}

/// The run succeeded and every task's estimate is 0.9–1.6× its measured peak.
/// With `own_base`, the estimate's fixed part (the worker's footprint before
/// any image, [`isobatch_worker::fov::estimate::BASE`], sized for release
/// builds) is replaced by the footprint this worker program really had
/// (memory.csv `rss_before_bytes`): a debug build of the supervisor binary
/// re-executing itself is several MiB bigger, which says nothing about the
/// part of the estimate that grows with the images.
fn estimates_hold(b: &Batch, out: std::process::Output, own_base: bool) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: serde_json::Value =
        serde_json::from_slice(&read_all(&b.out().join("results.json"))).expect("results.json");
    for t in results["tasks"].as_array().expect("tasks") {
        let mut est = t["estimated_rss_bytes"].as_f64().expect("estimate");
        if own_base {
            let task = t["task"].as_str().expect("task");
            est += idle_rss(b, task) - isobatch_worker::fov::estimate::BASE as f64;
        }
        let peak = t["peak_rss_bytes"].as_f64().expect("peak");
        let ratio = est / peak;
        assert!(
            (0.9..=1.6).contains(&ratio),
            "{}: estimate {est} vs measured peak {peak} (ratio {ratio:.2})",
            t["task"]
        );
    }
}

/// The fov estimate comes from TIFF headers alone (frame size, channels,
/// dtype); it must hold for small and large frames, whichever program the
/// workers run (the sibling `isobatch-worker` or the supervisor binary).
/// The supervisor binary re-executing itself is checked at 1024² only: in a
/// debug build it pages in ~4 MiB more of its own code as the pipeline first
/// runs, which at 256² outweighs the images (release builds: see BASE).
#[test]
fn fov_estimate_from_headers_tracks_measured_peak() {
    for (size, alone) in [("256", false), ("1024", false), ("1024", true)] {
        let b = Batch::new();
        let demo = isobatch()
            .arg("demo")
            .arg(b.dir.path())
            .args(["--fovs", "1", "--frames", "4", "--size", size])
            .output()
            .expect("demo");
        assert!(demo.status.success());
        let mut cmd = b.pipeline_cmd("fov", &["--workers", "1", "--memory-debug"]);
        if alone {
            let exe = supervisor_alone(b.dir.path());
            let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
            cmd = std::process::Command::new(exe);
            cmd.env_remove("ISOBATCH_WORKER").args(args);
        }
        estimates_hold(&b, cmd.output().expect("run"), alone);
    }
}

/// The worker's RSS before it ran `task` (memory.csv, `--memory-debug`).
fn idle_rss(b: &Batch, task: &str) -> f64 {
    let mut rows =
        csv::Reader::from_path(b.out().join(".isobatch/memory.csv")).expect("memory.csv");
    let headers = rows.headers().expect("header").clone();
    let col = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let (t, before) = (col("task"), col("rss_before_bytes"));
    rows.records()
        .map(|r| r.expect("row"))
        .find(|r| &r[t] == task)
        .and_then(|r| r[before].parse().ok())
        .expect("the task's rss_before_bytes")
}
