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
    estimates_hold(&b, b.run(&["--workers", "1"]));
}

/// The run succeeded and every task's estimate is 0.9–1.6× its measured peak.
fn estimates_hold(b: &Batch, out: std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: serde_json::Value =
        serde_json::from_slice(&read_all(&b.out().join("results.json"))).expect("results.json");
    for t in results["tasks"].as_array().expect("tasks") {
        let est = t["estimated_rss_bytes"].as_f64().expect("estimate");
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
#[test]
fn fov_estimate_from_headers_tracks_measured_peak() {
    for size in ["256", "1024"] {
        for alone in [false, true] {
            let b = Batch::new();
            let demo = isobatch()
                .arg("demo")
                .arg(b.dir.path())
                .args(["--fovs", "1", "--frames", "4", "--size", size])
                .output()
                .expect("demo");
            assert!(demo.status.success());
            let mut cmd = b.pipeline_cmd("fov", &["--workers", "1"]);
            if alone {
                let exe = supervisor_alone(b.dir.path());
                let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
                cmd = std::process::Command::new(exe);
                cmd.env_remove("ISOBATCH_WORKER").args(args);
            }
            estimates_hold(&b, cmd.output().expect("run"));
        }
    }
}
