//! End-to-end tests of a task's own results: the flat JSON object a task
//! leaves as `TASK/result.json` becomes columns of summary.csv (the union of
//! every task's fields, empty where a task has none) and `tasks[].result` in
//! results.json; a malformed, nested or huge file is a warning naming it, never
//! a failure of a task that did its work. The fov pipeline reports its own.
mod common;
use common::*;

use std::fs;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An exec batch whose task `NAME` copies `raw/NAME.txt` to its `result.json`
/// (a task whose input is `none` writes none).
fn exec_batch(tasks: &[(&str, &[u8])]) -> Batch {
    let b = Batch::new();
    fs::create_dir_all(b.raw()).expect("mkdir raw");
    for (name, body) in tasks {
        fs::write(b.raw().join(format!("{name}.txt")), body).expect("input");
    }
    b
}

fn run_exec(b: &Batch) -> std::process::Output {
    let mut cmd = b.pipeline_cmd("exec", &["--pattern", "{name}.txt"]);
    cmd.args([
        "--exec",
        "sh -c 'grep -q ^none \"$1\" || cp \"$1\" \"$ISOBATCH_TASK_DIR/result.json\"' sh {input}",
    ]);
    run_within(cmd, LIMIT)
}

fn results(b: &Batch) -> serde_json::Value {
    serde_json::from_slice(&read_all(&b.out().join("results.json"))).expect("results.json")
}

fn task<'a>(doc: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    doc["tasks"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["task"] == id))
        .unwrap_or_else(|| panic!("no task {id} in results.json"))
}

#[test]
fn scalar_fields_become_columns_and_results() {
    let b = exec_batch(&[
        (
            "s1_dapi",
            br#"{"moffat_scale": 2.25, "dye": "DAPI", "converged": true}"#,
        ),
        ("s1_gfp", br#"{"moffat_scale": 1.5, "iterations": 12}"#),
        ("s2_dapi", b"none\n"),
    ]);
    let out = run_exec(&b);
    ok(&out);
    let csv = fs::read_to_string(b.out().join("summary.csv")).expect("summary.csv");
    let header = csv.lines().next().unwrap_or_default();
    assert_eq!(
        header,
        "task,status,verdict,attempts,duration_s,peak_rss_bytes,cause,message,\
         converged,dye,iterations,moffat_scale"
    );
    let a = b.row("s1_dapi");
    assert_eq!(
        (
            &a["moffat_scale"][..],
            &a["dye"][..],
            &a["converged"][..],
            &a["iterations"][..]
        ),
        ("2.25", "DAPI", "true", "")
    );
    let g = b.row("s1_gfp");
    assert_eq!(
        (&g["moffat_scale"][..], &g["iterations"][..]),
        ("1.5", "12")
    );
    let none = b.row("s2_dapi");
    assert!(
        ["moffat_scale", "dye", "converged", "iterations"]
            .iter()
            .all(|c| none[*c].is_empty()),
        "{none:?}"
    );
    let doc = results(&b);
    assert_eq!(
        task(&doc, "s1_dapi")["result"],
        serde_json::json!({"moffat_scale": 2.25, "dye": "DAPI", "converged": true})
    );
    assert_eq!(task(&doc, "s2_dapi")["result"], serde_json::json!({}));

    // A rerun skips every task and still reports their results (from the journal).
    ok(&run_exec(&b));
    assert_eq!(b.verdict("s1_dapi"), "skipped");
    assert_eq!(b.row("s1_gfp")["moffat_scale"], "1.5");
    assert_eq!(
        task(&results(&b), "s1_dapi")["result"]["dye"],
        serde_json::json!("DAPI")
    );
}

#[test]
fn malformed_nested_or_huge_result_files_warn_and_the_task_stays_done() {
    let mut huge = b"{\"pad\": \"".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 1 << 20));
    huge.extend(b"\"}");
    let b = exec_batch(&[
        ("broken", b"{\"scale\": 1.5,"),
        (
            "nested",
            br#"{"scale": 3, "per_dye": {"dapi": 1}, "xs": [1, 2]}"#,
        ),
        ("huge", &huge),
        ("array", b"[1, 2, 3]"),
    ]);
    let out = run_exec(&b);
    ok(&out);
    for t in ["broken", "nested", "huge", "array"] {
        assert_eq!(b.verdict(t), "done", "{t}");
    }
    assert_eq!(b.row("nested")["scale"], "3");
    assert_eq!(
        b.row("broken")["scale"],
        "",
        "a malformed file gives no fields"
    );
    let stdout = text(&out.stdout);
    let warnings = stdout
        .split_once("\nWarnings:\n")
        .unwrap_or_else(|| panic!("no Warnings section:\n{stdout}"))
        .1;
    let file = |t: &str| b.out().join(t).join("result.json").display().to_string();
    for (t, says) in [
        ("broken", "not a flat JSON object"),
        (
            "nested",
            "fields \"per_dye\", \"xs\" hold arrays or objects",
        ),
        ("huge", "larger than 65536 bytes"),
        ("array", "the top level is an array"),
    ] {
        assert!(
            warnings
                .lines()
                .any(|l| l.contains(&format!("{}: ", file(t))) && l.contains(says)),
            "{t}: {says:?} not in:\n{warnings}"
        );
        let doc = results(&b);
        let w = task(&doc, t)["warnings"].to_string();
        assert!(w.contains("result.json"), "{t}: {w}");
    }
    // Said on stderr when it happened, too.
    assert!(
        text(&out.stderr).contains(&file("huge")),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn fov_tasks_report_cells_frames_coverage_and_warnings() {
    let b = Batch::new();
    demo(
        &b,
        &[
            "--fovs", "2", "--frames", "5", "--size", "80", "--seed", "7",
        ],
    );
    ok(&run_within(
        b.pipeline_cmd("fov", &["--workers", "2"]),
        LIMIT,
    ));
    let doc = results(&b);
    for t in doc["tasks"].as_array().expect("tasks") {
        let id = t["task"].as_str().unwrap_or_default();
        let r = &t["result"];
        assert_eq!(r["frames"], 5, "{id}: {r}");
        let lineage = fs::read_to_string(b.out().join(id).join("lineage.csv")).expect("lineage");
        assert_eq!(r["cells_traced"], lineage.lines().count() - 1, "{id}: {r}");
        assert!(
            r["cells_traced"].as_u64().is_some_and(|n| n > 0),
            "{id}: {r}"
        );
        let stages = t["stages"].as_array().expect("stages");
        let covered: Vec<f64> = stages
            .iter()
            .find(|s| s["name"] == "segment")
            .and_then(|s| s["qc"]["frames"].as_array())
            .expect("segment qc")
            .iter()
            .map(|f| f["covered"].as_f64().unwrap_or(f64::NAN))
            .collect();
        let mean = covered.iter().sum::<f64>() / covered.len() as f64;
        let got = r["mean_coverage"].as_f64().expect("mean_coverage");
        assert!((got - mean).abs() < 1e-5, "{id}: {got} vs {mean}");
        assert!(got > 0.0 && got < 1.0, "{id}: {got}");
        let warnings = t["warnings"].as_array().map_or(0, Vec::len);
        assert_eq!(r["qc_warnings"], warnings, "{id}: {r}");
        let row = b.row(id);
        assert_eq!(row["frames"], "5");
        assert_eq!(row["cells_traced"], r["cells_traced"].to_string());
    }
}
