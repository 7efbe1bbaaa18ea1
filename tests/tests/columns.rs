//! The files people open in pandas and Fiji: traces.csv starts with its header
//! (no comment line), the time unit is in the time column's name, the
//! intensity columns agree with each other, and columns.json describes every
//! column of every CSV written.

mod common;

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use common::{Batch, demo, ok};

/// The rows of a CSV as maps from column name to text.
fn rows(path: &Path) -> (Vec<String>, Vec<HashMap<String, String>>) {
    let mut r = csv::Reader::from_path(path).expect("csv");
    let header: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.expect("row");
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

fn num(row: &HashMap<String, String>, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} = {:?}", row[col]))
}

/// (file, column names) of columns.json.
fn dictionary(out: &Path) -> HashMap<String, Vec<(String, String)>> {
    let doc: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("columns.json")).expect("columns.json"))
            .expect("json");
    doc["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            let cols = f["columns"]
                .as_array()
                .expect("columns")
                .iter()
                .map(|c| {
                    let name = c["name"].as_str().expect("name").to_string();
                    (
                        name,
                        c["description"].as_str().expect("description").to_string(),
                    )
                })
                .collect();
            (f["file"].as_str().expect("file").to_string(), cols)
        })
        .collect()
}

#[test]
fn traces_load_with_a_bare_reader_and_every_column_is_described() {
    let b = Batch::new();
    demo(&b, &["--fovs", "2", "--frames", "4", "--size", "96"]);
    ok(&b
        .pipeline_cmd("fov", &["--param", "frame_interval=90s", "--memory-debug"])
        .output()
        .expect("run"));
    let out = b.out();
    let (header, combined) = rows(&out.join("traces.csv"));
    assert_eq!(&header[..4], ["fov", "cell", "frame", "time_s"]);
    assert!(combined.len() > 8, "too few rows");
    let mut per_task = Vec::new();
    for task in ["fov01", "fov02"] {
        let text = fs::read_to_string(out.join(task).join("traces.csv")).expect("traces");
        assert!(text.starts_with("fov,cell,frame,time_s,area_px,"), "{task}");
        per_task.extend(rows(&out.join(task).join("traces.csv")).1);
    }
    assert_eq!(combined, per_task, "the combined file is the tasks' rows");
    for r in &combined {
        assert_eq!(num(r, "time_s"), num(r, "frame") * 90.0);
        assert!(num(r, "measured_px") > num(r, "area_px"));
        let (total, mean) = (num(r, "intensity_total_c1"), num(r, "intensity_mean_c1"));
        assert!((mean * num(r, "measured_px") - total).abs() <= 1e-3 * total.abs().max(1.0));
    }

    let dict = dictionary(&out);
    for file in [
        "traces.csv",
        "lineage.csv",
        "summary.csv",
        ".isobatch/memory.csv",
    ] {
        let (header, _) = rows(&out.join(file));
        let described = dict
            .get(file)
            .unwrap_or_else(|| panic!("{file} not in columns.json"));
        let names: Vec<&String> = described.iter().map(|(n, _)| n).collect();
        assert_eq!(names, header.iter().collect::<Vec<_>>(), "{file}");
        for (name, what) in described {
            assert!(!what.contains("not described"), "{file}: {name}");
        }
    }
    let md = fs::read_to_string(out.join("columns.md")).expect("columns.md");
    assert!(md.contains("| `time_s` | float | seconds |"), "{md}");

    // Another interval in another unit: the extract stage computes again.
    ok(&b
        .pipeline_cmd("fov", &["--param", "frame_interval=2m"])
        .output()
        .expect("run"));
    let (header, combined) = rows(&out.join("traces.csv"));
    assert_eq!(header[3], "time_min");
    assert!(
        combined
            .iter()
            .all(|r| num(r, "time_min") == num(r, "frame") * 2.0)
    );

    // No interval known: no time column, and the dictionary says nothing of one.
    ok(&b.pipeline_cmd("fov", &[]).output().expect("run"));
    let (header, _) = rows(&out.join("traces.csv"));
    assert!(!header.iter().any(|h| h.starts_with("time")), "{header:?}");
}
