//! fov QC end to end: a FOV with one emptied frame ends `done` but says so — in
//! the summary's Warnings section, in `isobatch status`, in results.json (with the
//! per-frame counts) — and `--strict-qc` (flag or `[run]` key) makes it `failed:error`;
//! a background with no pixel clear of cells is `done` with a warning, never silently.
mod common;
use common::*;

use std::fs;
use std::path::Path;
use std::process::Output;

use isobatch_worker::image::Shape;
use isobatch_worker::image::imagej::ImageJLayout;
use isobatch_worker::image::tiff_out::{Compression, TiffWriter};
use isobatch_worker::synth::{Scene, SceneConfig};

const FRAMES: usize = 8;
const EMPTIED: usize = 3;

/// `raw/fov01.tif`: a synthetic FOV whose phase frame `EMPTIED` shows only the
/// noisy background (as when the focus or the light is lost for a frame).
fn write_emptied_fov(raw: &Path) {
    write_fov(raw, Some(EMPTIED));
}

/// `raw/fov01.tif`: a synthetic FOV of `FRAMES` frames, phase frame `emptied` (if
/// any) showing only the noisy background.
fn write_fov(raw: &Path, emptied: Option<usize>) {
    fs::create_dir_all(raw).expect("mkdir raw");
    let size = 128;
    let scene = Scene::new(&SceneConfig {
        size,
        frames: FRAMES,
        seed: 7,
        fl_channels: 1,
        ..SceneConfig::default()
    });
    let mut w = TiffWriter::<u16>::create(
        &raw.join("fov01.tif"),
        Shape {
            frames: 2 * FRAMES,
            height: size,
            width: size,
        },
        ImageJLayout {
            channels: 2,
            frames: FRAMES,
        },
        Compression::None,
    )
    .expect("create tiff");
    for t in 0..FRAMES {
        let f = scene.render(t);
        let phase: Vec<u16> = if Some(t) == emptied {
            (0..size * size)
                .map(|i| 1000 + ((i * 7919) % 41) as u16)
                .collect()
        } else {
            f.phase
        };
        w.write_page(&phase).expect("page");
        w.write_page(&f.fl[0]).expect("page");
    }
    w.commit().expect("commit");
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn results(b: &Batch) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(b.out().join("results.json")).expect("results"))
        .expect("json")
}

/// Cells per frame as results.json reports them for the segment stage.
fn cells_per_frame(r: &serde_json::Value) -> Vec<u64> {
    let seg = r["tasks"][0]["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .find(|s| s["name"] == "segment")
        .expect("segment stage");
    seg["qc"]["frames"]
        .as_array()
        .expect("qc frames")
        .iter()
        .map(|f| {
            let covered = f["covered"].as_f64().expect("covered");
            assert!((0.0..=1.0).contains(&covered), "{f}");
            f["cells"].as_u64().expect("cells")
        })
        .collect()
}

fn expected_warning(cells: &[u64]) -> String {
    let most = cells[..EMPTIED].iter().max().copied().unwrap_or(0);
    format!("segment: frame {EMPTIED}: no cells, after earlier frames had up to {most}")
}

fn run(b: &Batch, extra: &[&str]) -> Output {
    b.pipeline_cmd("fov", extra).output().expect("run isobatch")
}

/// Runs the batch, checks it exits 0 with `fov01` done, and returns its stdout.
fn run_done(b: &Batch, extra: &[&str]) -> String {
    let out = run(b, extra);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert_eq!(b.verdict("fov01"), "done");
    stdout
}

#[test]
fn an_emptied_frame_is_done_with_a_warning_everywhere() {
    let b = Batch::new();
    write_emptied_fov(&b.raw());
    let stdout = run_done(&b, &[]);

    let r = results(&b);
    let cells = cells_per_frame(&r);
    assert_eq!(cells.len(), FRAMES);
    assert_eq!(cells[EMPTIED], 0, "{cells:?}");
    assert!(
        cells
            .iter()
            .enumerate()
            .all(|(t, &c)| t == EMPTIED || c > 0)
    );
    let warning = expected_warning(&cells);
    assert_eq!(r["tasks"][0]["warnings"], serde_json::json!([warning]));
    assert_eq!(r["strict_qc"], false);

    let section = stdout
        .split_once("\nWarnings:\n")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("no Warnings section:\n{stdout}"));
    assert_eq!(
        section.split("\n\n").next(),
        Some(format!("- fov01\n    {warning}").as_str())
    );

    let status = isobatch()
        .arg("status")
        .arg(b.out())
        .output()
        .expect("status");
    let status_text = text(&status.stdout);
    assert!(
        status_text
            .lines()
            .any(|l| l == format!("qc warning: fov01: {warning}")),
        "{status_text}"
    );
}

/// With `bg_dilate` as wide as the field, no pixel is clear of the dilated cells in
/// any frame: the background comes from the pixels next to cells, and the task says
/// so (it used to take the frame's median, cells included, without a word).
#[test]
fn a_background_without_clear_pixels_is_done_with_a_warning() {
    let b = Batch::new();
    write_fov(&b.raw(), None);
    let stdout = run_done(&b, &["--param", "bg_dilate=100"]);
    let warning = format!(
        "background: channel 1, frames 0-{}: no pixel is more than bg_dilate (100 px) from a \
         cell; background from the pixels next to cells, which may carry their light (too high)",
        FRAMES - 1
    );
    let r = results(&b);
    assert_eq!(r["tasks"][0]["warnings"], serde_json::json!([warning]));
    assert!(
        stdout.contains(&format!("- fov01\n    {warning}")),
        "{stdout}"
    );

    // The default dilation leaves clear pixels: no warning.
    let c = Batch::new();
    write_fov(&c.raw(), None);
    run_done(&c, &[]);
    assert_eq!(results(&c)["tasks"][0]["warnings"], serde_json::json!([]));
}

#[test]
fn strict_qc_fails_the_emptied_frame_from_flag_and_config() {
    let b = Batch::new();
    write_emptied_fov(&b.raw());
    let out = run(&b, &["--strict-qc"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_eq!(b.verdict("fov01"), "failed:error");
    let r = results(&b);
    let warning = expected_warning(&cells_per_frame(&r));
    assert_eq!(
        r["tasks"][0]["message"],
        format!("QC warning with --strict-qc: {warning}\n{warning}")
    );
    assert!(!text(&out.stdout).contains("\nWarnings:"));

    let c = Batch::new();
    write_emptied_fov(&c.raw());
    let config = c.dir.path().join("isobatch.toml");
    fs::write(&config, "[run]\nstrict-qc = true\n").expect("config");
    let out = run(&c, &["--config", config.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_eq!(c.verdict("fov01"), "failed:error");
}

#[test]
fn a_rerun_with_strict_qc_does_not_skip_a_done_task_with_warnings() {
    let b = Batch::new();
    write_emptied_fov(&b.raw());
    assert_eq!(run(&b, &[]).status.code(), Some(0));
    assert_eq!(b.verdict("fov01"), "done");

    let out = run(&b, &["--strict-qc"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_eq!(b.verdict("fov01"), "failed:error");
    let status = isobatch()
        .arg("status")
        .arg(b.out())
        .output()
        .expect("status");
    assert!(
        text(&status.stdout).contains("--strict-qc is set"),
        "{}",
        text(&status.stdout)
    );
}

#[test]
fn strict_qc_is_refused_where_there_is_no_qc() {
    let b = Batch::new();
    b.task("a", "sleep=0\n");
    let out = b.run(&["--strict-qc"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--strict-qc only applies to --pipeline fov"),
        "{stderr}"
    );
}

#[test]
fn divisions_reach_lineage_csv_and_the_parent_column() {
    let b = Batch::new();
    let out = isobatch()
        .arg("demo")
        .arg(b.dir.path())
        .args([
            "--fovs", "1", "--frames", "12", "--size", "128", "--seed", "3",
        ])
        .output()
        .expect("demo");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events = fs::read_to_string(b.dir.path().join("truth/fov01_events.csv")).expect("events");
    let divisions = events.lines().filter(|l| l.starts_with("divide,")).count();
    assert!(divisions > 0, "{events}");
    let out = run(&b, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    let lineage = fs::read_to_string(b.out().join("lineage.csv")).expect("combined lineage.csv");
    let task = fs::read_to_string(b.out().join("fov01/lineage.csv")).expect("task lineage.csv");
    assert_eq!(lineage, task);
    let mut lines = lineage.lines();
    assert_eq!(
        lines.next(),
        Some("fov,cell,parent,frame_born,frame_divided")
    );
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    let children: Vec<&Vec<String>> = rows.iter().filter(|r| !r[2].is_empty()).collect();
    assert_eq!(children.len(), 2 * divisions, "{lineage}");
    for child in &children {
        let parent = rows
            .iter()
            .find(|r| r[1] == child[2])
            .unwrap_or_else(|| panic!("no row for parent {}", child[2]));
        assert_eq!(parent[4], child[3], "divided when the daughter was born");
    }

    let traces = fs::read_to_string(b.out().join("traces.csv")).expect("traces.csv");
    let mut t = traces.lines();
    assert!(
        t.next()
            .expect("header")
            .ends_with(",intensity_mean_c1,parent")
    );
    for l in t {
        let f: Vec<&str> = l.split(',').collect();
        let row = rows.iter().find(|r| r[1] == f[1]).expect("cell in lineage");
        assert_eq!(Some(&row[2].as_str()), f.last(), "{l}");
    }
}
