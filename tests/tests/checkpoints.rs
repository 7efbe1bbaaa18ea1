//! The fov pipeline's checkpoints under clean attempts: a new attempt reuses
//! the published checkpoints through hard links (never copies), and
//! `--keep-checkpoints final` keeps only the final outputs and the stage records.
mod common;
use common::*;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Output;

fn fov(b: &Batch, extra: &[&str]) -> Output {
    let out = b.pipeline_cmd("fov", extra).output().expect("run isobatch");
    ok(&out);
    out
}

/// (stage, action) of the last attempt of the only task.
fn actions(b: &Batch) -> Vec<(String, String)> {
    let end = b
        .journal()
        .into_iter()
        .rfind(|e| e["event"] == "attempt_end")
        .expect("an attempt_end");
    end["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or("").to_string(),
                s["action"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn npy(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".npy"))
        .collect();
    v.sort();
    v
}

#[test]
fn published_checkpoints_are_reused_through_hard_links() {
    let b = Batch::new();
    demo(&b, &["--fovs", "1", "--frames", "5", "--size", "72"]);
    fov(&b, &[]);
    let task = fs::read_dir(b.out())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .expect("a task folder");
    let first = npy(&task);
    assert!(!first.is_empty());
    let inode = |n: &str| fs::metadata(task.join(n)).unwrap().ino();
    let before: Vec<u64> = first.iter().map(|n| inode(n)).collect();
    fov(&b, &["--param", "threshold_k=3.5"]);
    let acts = actions(&b);
    assert_eq!(acts[0], ("copy".into(), "reused".into()), "{acts:?}");
    assert_eq!(acts[1], ("segment".into(), "computed".into()), "{acts:?}");
    // The reused checkpoint is the same file (a hard link), not a copy.
    let copy_npy = first
        .iter()
        .position(|n| n.starts_with("copy"))
        .expect("copy checkpoint");
    assert_eq!(inode(&first[copy_npy]), before[copy_npy]);
}

#[test]
fn keep_checkpoints_final_keeps_records_and_final_outputs_only() {
    let b = Batch::new();
    demo(&b, &["--fovs", "1", "--frames", "5", "--size", "72"]);
    fov(&b, &["--keep-checkpoints", "final"]);
    let task = fs::read_dir(b.out())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .expect("a task folder");
    assert!(
        npy(&task).is_empty(),
        "no stage checkpoint kept: {:?}",
        npy(&task)
    );
    assert!(task.join("traces.csv").exists());
    assert!(task.join("copy.stage.json").exists(), "stage records stay");
    // Same parameters: still skipped.
    let out = fov(&b, &["--keep-checkpoints", "final"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 skipped"));
    // New parameters: recomputed from the raw input.
    fov(
        &b,
        &["--keep-checkpoints", "final", "--param", "threshold_k=3.5"],
    );
    let acts = actions(&b);
    assert!(acts.iter().all(|(_, a)| a == "computed"), "{acts:?}");
    assert!(npy(&task).is_empty());
}
