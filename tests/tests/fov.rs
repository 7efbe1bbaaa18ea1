//! The fov pipeline end to end with the real binaries: `isobatch demo` data
//! through every stage, checkpoints that are reused, recomputed exactly where
//! something changed, and never kept when damaged; bad TIFFs refused by name.
mod common;
use common::*;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

fn fov(b: &Batch, extra: &[&str]) -> Output {
    b.pipeline_cmd("fov", extra).output().expect("run isobatch")
}

/// (stage, action) of the last attempt of `task`, from the journal.
fn stages(b: &Batch, task: &str) -> Vec<(String, String)> {
    let end = b
        .journal()
        .into_iter()
        .rfind(|e| e["event"] == "attempt_end" && e["task"] == task)
        .unwrap_or_else(|| panic!("no attempt_end for {task}"));
    end["stages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["name"].as_str().unwrap_or("").to_string(),
                        s["action"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The stages of `task`'s last attempt that were computed.
fn computed(b: &Batch, task: &str) -> Vec<String> {
    stages(b, task)
        .into_iter()
        .filter(|(_, a)| a == "computed")
        .map(|(n, _)| n)
        .collect()
}

/// Every file of every task folder (stage records aside: they hold timings), with contents.
fn task_files(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for dir in fs::read_dir(out).expect("read output").flatten() {
        let name = dir.file_name().to_string_lossy().into_owned();
        if !dir.path().is_dir() || name.starts_with('.') {
            continue;
        }
        for f in fs::read_dir(dir.path()).expect("read task dir").flatten() {
            let fname = f.file_name().to_string_lossy().into_owned();
            if !fname.ends_with(".stage.json") {
                files.insert(format!("{name}/{fname}"), read_all(&f.path()));
            }
        }
    }
    files
}

#[test]
fn demo_batch_runs_every_stage_and_combines_traces() {
    let b = Batch::new();
    demo(
        &b,
        &[
            "--fovs", "2", "--frames", "8", "--size", "96", "--seed", "3",
        ],
    );
    assert!(
        b.dir.path().join("truth").is_dir(),
        "demo writes ground truth"
    );
    ok(&fov(&b, &["--checkpoint-format", "both"]));
    for task in ["fov01", "fov02"] {
        assert_eq!(b.verdict(task), "done");
        assert_eq!(
            computed(&b, task),
            ["copy", "segment", "background", "track", "extract"]
        );
        // The demo is uint16: the background keeps the input's type, and the few hundred
        // track ids fit u16 labels.
        for (f, descr) in [
            ("copy_c0", "'<u2'"),
            ("copy_c1", "'<u2'"),
            ("segment_mask", "'|u1'"),
            ("background_c1", "'<u2'"),
            ("track_labels", "'<u2'"),
        ] {
            for ext in ["npy", "tif"] {
                assert!(
                    b.out().join(task).join(format!("{f}.{ext}")).is_file(),
                    "{task}/{f}.{ext}"
                );
            }
            let npy = read_all(&b.out().join(task).join(format!("{f}.npy")));
            let header = String::from_utf8_lossy(&npy[..npy.len().min(128)]);
            assert!(
                header.contains(&format!("'descr': {descr}")),
                "{f}: {header}"
            );
        }
    }
    let combined = fs::read_to_string(b.out().join("traces.csv")).expect("combined traces.csv");
    let mut lines = combined.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    // The demo states no frame interval: no time column.
    assert_eq!(&header[..4], ["fov", "cell", "frame", "area_px"]);
    assert!(header.contains(&"intensity_total_c1") && header.contains(&"intensity_mean_c1"));
    let keys: Vec<(String, u64, u64)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                f[1].parse().expect("cell"),
                f[2].parse().expect("frame"),
            )
        })
        .collect();
    assert!(keys.len() > 8, "too few rows: {}", keys.len());
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        keys, sorted,
        "combined traces are sorted by (fov, cell, frame)"
    );
    assert!(keys.iter().any(|k| k.0 == "fov02"));

    let again = fov(&b, &["--checkpoint-format", "both"]);
    ok(&again);
    assert_eq!(b.verdict("fov01"), "skipped");
}

#[test]
fn outputs_are_identical_for_every_mode_and_strategy() {
    let b = Batch::new();
    demo(
        &b,
        &[
            "--fovs", "3", "--frames", "6", "--size", "80", "--seed", "5",
        ],
    );
    let runs: [&[&str]; 4] = [
        &["--mode", "subprocess", "--workers", "2"],
        &[
            "--mode",
            "pool",
            "--workers",
            "2",
            "--strategy",
            "chunked",
            "--batch-size",
            "2",
        ],
        &["--mode", "pool", "--workers", "1", "--strategy", "batched"],
        &["--mode", "serial"],
    ];
    let mut reference: Option<BTreeMap<String, Vec<u8>>> = None;
    for args in runs {
        let _ = fs::remove_dir_all(b.out());
        ok(&fov(&b, args));
        let files = task_files(&b.out());
        assert!(files.keys().any(|k| k.ends_with("traces.csv")));
        match &reference {
            None => reference = Some(files),
            Some(r) => {
                assert_eq!(
                    r.keys().collect::<Vec<_>>(),
                    files.keys().collect::<Vec<_>>(),
                    "{args:?}"
                );
                for (k, v) in r {
                    assert!(files[k] == *v, "{k} differs with {args:?}");
                }
            }
        }
    }
}

#[test]
fn a_parameter_change_recomputes_exactly_the_affected_stages() {
    let b = Batch::new();
    demo(&b, &["--fovs", "1", "--frames", "6", "--size", "80"]);
    ok(&fov(&b, &[]));
    assert_eq!(computed(&b, "fov01").len(), 5);
    // Each step changes one more parameter, of an earlier stage than the last.
    let mut args: Vec<&str> = Vec::new();
    for (param, recomputed) in [
        ("max_gap=3", &["track", "extract"][..]),
        ("bg_tile=40", &["background", "track", "extract"][..]),
        (
            "threshold_k=3.5",
            &["segment", "background", "track", "extract"][..],
        ),
    ] {
        args.extend(["--param", param]);
        ok(&fov(&b, &args));
        assert_eq!(computed(&b, "fov01"), recomputed, "after {param}");
    }
    ok(&fov(&b, &args));
    assert_eq!(
        b.verdict("fov01"),
        "skipped",
        "the same command again skips the task"
    );
    args.push("--force");
    ok(&fov(&b, &args));
    assert_eq!(
        computed(&b, "fov01").len(),
        5,
        "--force recomputes every stage"
    );
}

#[test]
fn to_stage_stops_early_and_from_stage_recomputes_from_there() {
    let b = Batch::new();
    demo(&b, &["--fovs", "1", "--frames", "5", "--size", "72"]);
    ok(&fov(&b, &["--to-stage", "segment"]));
    assert_eq!(computed(&b, "fov01"), ["copy", "segment"]);
    let not_run: Vec<String> = stages(&b, "fov01")
        .into_iter()
        .filter(|(_, a)| a == "not_run")
        .map(|(n, _)| n)
        .collect();
    assert_eq!(not_run, ["background", "track", "extract"]);
    assert!(!b.out().join("fov01/traces.csv").exists());
    ok(&fov(&b, &[]));
    assert_eq!(computed(&b, "fov01"), ["background", "track", "extract"]);
    ok(&fov(&b, &["--from-stage", "track"]));
    assert_eq!(computed(&b, "fov01"), ["track", "extract"]);
    assert!(b.out().join("traces.csv").is_file());

    // Stopping early after a change: the later checkpoints were made from what
    // was replaced, so they go, and no traces.csv claims to be current.
    ok(&fov(
        &b,
        &["--to-stage", "segment", "--param", "threshold_k=3.5"],
    ));
    assert_eq!(computed(&b, "fov01"), ["segment"]);
    for stale in [
        "traces.csv",
        "fov01/traces.csv",
        "fov01/track_labels.npy",
        "fov01/extract.stage.json",
    ] {
        assert!(!b.out().join(stale).exists(), "{stale} left behind");
    }

    let bad = fov(&b, &["--from-stage", "segmentation"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("segmentation") && err.contains("copy, segment, background, track, extract"),
        "{err}"
    );
}

#[test]
fn a_truncated_checkpoint_is_detected_and_recomputed_never_kept() {
    let b = Batch::new();
    demo(&b, &["--fovs", "2", "--frames", "6", "--size", "80"]);
    ok(&fov(&b, &[]));
    let before = task_files(&b.out());
    let mask = b.out().join("fov01/segment_mask.npy");
    let len = fs::metadata(&mask).expect("mask").len();
    fs::OpenOptions::new()
        .write(true)
        .open(&mask)
        .expect("open")
        .set_len(len / 2)
        .expect("truncate");
    ok(&fov(&b, &[]));
    assert_eq!(b.verdict("fov02"), "skipped");
    assert_eq!(b.verdict("fov01"), "done");
    assert_eq!(
        computed(&b, "fov01"),
        ["segment", "background", "track", "extract"]
    );
    let log = fs::read_to_string(b.out().join(".isobatch/logs/fov01/attempt-2.log")).expect("log");
    assert!(log.contains("truncated"), "the log says why: {log}");
    assert_eq!(
        task_files(&b.out()),
        before,
        "recomputed outputs equal the originals"
    );
}

#[test]
fn unreadable_tiffs_are_invalid_input_named_and_nothing_else_suffers() {
    let b = Batch::new();
    demo(&b, &["--fovs", "1", "--frames", "4", "--size", "64"]);
    fs::write(b.raw().join("notatiff.tif"), b"this is not a TIFF file\n").expect("write");
    fs::write(b.raw().join("huge.tif"), huge_header()).expect("write");
    let out = fov(&b, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(b.verdict("fov01"), "done");
    for (task, why) in [("notatiff", "notatiff.tif"), ("huge", "1000000")] {
        assert_eq!(b.verdict(task), "failed:invalid-input");
        let msg = &b.row(task)["message"];
        assert!(
            msg.contains(why) && msg.contains(&format!("{task}.tif")),
            "{task}: {msg}"
        );
    }
}

/// A classic little-endian TIFF whose one page claims 1,000,000 × 1,000,000 uint16 pixels.
fn huge_header() -> Vec<u8> {
    let mut t = b"II*\0".to_vec();
    t.extend(8u32.to_le_bytes());
    let entries: [(u16, u16, u32, u32); 8] = [
        (256, 4, 1, 1_000_000), // width
        (257, 4, 1, 1_000_000), // height
        (258, 3, 1, 16),        // bits per sample
        (259, 3, 1, 1),         // no compression
        (262, 3, 1, 1),         // min-is-black
        (273, 4, 1, 8),         // strip offset
        (278, 4, 1, 1_000_000), // rows per strip
        (279, 4, 1, 16),        // strip byte count
    ];
    t.extend((entries.len() as u16).to_le_bytes());
    for (tag, kind, count, value) in entries {
        t.extend(tag.to_le_bytes());
        t.extend(kind.to_le_bytes());
        t.extend(count.to_le_bytes());
        t.extend(value.to_le_bytes());
    }
    t.extend(0u32.to_le_bytes());
    t
}

#[test]
fn small_and_odd_frame_sizes_work() {
    for size in ["64", "100"] {
        let b = Batch::new();
        demo(&b, &["--fovs", "1", "--frames", "4", "--size", size]);
        ok(&fov(&b, &[]));
        let traces = fs::read_to_string(b.out().join("fov01/traces.csv")).expect("traces");
        assert!(traces.lines().count() > 2, "size {size}: no cells measured");
    }
}

#[test]
fn sigkill_mid_pipeline_then_rerun_gives_identical_outputs() {
    let args = [
        "--fovs", "2", "--frames", "40", "--size", "512", "--seed", "4",
    ];
    let reference = Batch::new();
    demo(&reference, &args);
    ok(&fov(&reference, &["--workers", "1"]));

    let b = Batch::new();
    demo(&b, &args);
    let tag = format!("ISOBATCH_TEST_TAG=fov-kill-{}", std::process::id());
    let mut cmd = b.pipeline_cmd("fov", &["--workers", "1"]);
    cmd.env("ISOBATCH_TEST_TAG", &tag["ISOBATCH_TEST_TAG=".len()..]);
    let mut run = Captured::spawn(cmd);
    // The attempt works in its staging folder; fov01/ appears only once it is done.
    let staging = b.out().join(".isobatch/staging/fov01");
    let copied = || {
        fs::read_dir(&staging)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.path().join("copy.stage.json").exists())
    };
    wait_until(Duration::from_secs(60), "fov01's copy checkpoint", || {
        copied() || run.child.try_wait().ok().flatten().is_some()
    });
    assert!(
        run.child.try_wait().ok().flatten().is_none(),
        "the run ended before the kill:\n{}",
        run.stderr_text()
    );
    run.child.kill().expect("SIGKILL the supervisor");
    run.finish(Duration::from_secs(20));
    wait_until(
        Duration::from_secs(20),
        "the killed run's workers to die",
        || processes_with_env(&tag).is_empty(),
    );

    ok(&fov(&b, &["--workers", "1"]));
    assert_eq!(b.verdict("fov02"), "done");
    // fov01 was killed mid-pipeline (unless a very slow poll let it finish first): a
    // killed attempt's files never feed a result (clean attempts), so every stage of the
    // rerun is computed afresh, and the outputs still equal an uninterrupted run's.
    if b.verdict("fov01") == "done" {
        assert!(
            stages(&b, "fov01")
                .iter()
                .all(|(_, action)| action == "computed"),
            "{:?}",
            stages(&b, "fov01")
        );
        let left: Vec<_> = fs::read_dir(&staging)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "attempt folders left behind: {left:?}");
    } else {
        assert_eq!(b.verdict("fov01"), "skipped");
    }
    let (got, want) = (task_files(&b.out()), task_files(&reference.out()));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, v) in &want {
        assert!(got[k] == *v, "{k} differs from an uninterrupted run");
    }
    assert_eq!(
        read_all(&b.out().join("traces.csv")),
        read_all(&reference.out().join("traces.csv"))
    );
}
