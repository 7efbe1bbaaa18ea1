//! `isobatch report OUTPUT` and `run --report` (issue 21, deliverables 6 and 7):
//! one self-contained report.html for a fov batch (outlines over the images,
//! timeline, provenance) and an exec batch with failures (grouped problems);
//! refusals for a folder that is not an isobatch output and a journal with
//! nothing readable (exit 2); a damaged journal line and a live run are said
//! and the report still written. The chromium check (`--ignored`, run by CI)
//! opens the report headless, fails on any console message, and checks that its
//! screenshot is not blank.
mod common;
use common::*;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn report(out: &Path) -> std::process::Output {
    let mut cmd = isobatch();
    cmd.arg("report").arg(out);
    run_within(cmd, LIMIT)
}

/// A small fov demo batch run with `--report`: returns the batch and report.html.
fn fov_batch() -> (Batch, String) {
    let b = Batch::new();
    demo(&b, &["--fovs", "3", "--frames", "6", "--size", "128"]);
    let out = run_within(
        b.pipeline_cmd(
            "fov",
            &[
                "--report",
                "--memory-debug",
                "--mode",
                "pool",
                "--workers",
                "2",
            ],
        ),
        LIMIT,
    );
    ok(&out);
    let path = b.out().join("report.html");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("report: {}", path.display())),
        "{stderr}"
    );
    let html = fs::read_to_string(path).expect("run --report wrote report.html");
    (b, html)
}

/// Nothing in the page is fetched: no URL outside the SVG namespace names.
fn assert_self_contained(html: &str) {
    for attr in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "url(http",
        "@import",
    ] {
        assert!(
            !html.contains(attr),
            "report.html fetches something ({attr})"
        );
    }
    assert!(html.contains("Content-Security-Policy"));
}

#[test]
fn run_report_on_a_fov_batch_shows_outlines_timeline_and_provenance() {
    let (b, html) = fov_batch();
    assert_self_contained(&html);
    // A QC panel per FOV with the first, middle and last frame, outlines on top.
    for fov in ["fov01", "fov02", "fov03"] {
        assert!(
            html.contains(&format!("<h3>{fov}</h3>")),
            "no QC panel for {fov}"
        );
    }
    assert_eq!(html.matches("data:image/png;base64,").count(), 9);
    assert_eq!(html.matches("<svg class=\"outline\"").count(), 9);
    for frame in ["frame 0", "frame 3", "frame 5"] {
        assert!(html.contains(frame), "{frame}");
    }
    assert!(html.contains("cells per frame"));
    assert!(html.contains("intensity_mean"), "no traces chart");
    // The timeline: one bar per attempt, two worker lanes.
    assert!(
        html.contains("3 attempt(s) on 2 worker process(es) in the latest run, in 2 lane(s)"),
        "timeline"
    );
    // Provenance: version, host, the command line as run.
    assert!(html.contains(env!("CARGO_PKG_VERSION")));
    let host = nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(html.contains(&format!("<th>host</th><td class=\"msg\">{host}</td>")));
    assert!(
        html.contains("--memory-debug --mode pool --workers 2"),
        "command line"
    );
    assert!(
        html.contains("Worker memory"),
        "memory.csv's per-worker table"
    );
    assert!(html.contains("Every task succeeded."));
    assert!(html.len() < 1_500_000, "{} bytes for 3 FOVs", html.len());
    // `isobatch report` writes the same sections again, from the folder alone.
    fs::remove_file(b.out().join("report.html")).unwrap();
    let out = report(&b.out());
    ok(&out);
    assert_eq!(
        text(&out.stdout).trim(),
        b.out().join("report.html").display().to_string()
    );
    let again = fs::read_to_string(b.out().join("report.html")).unwrap();
    assert_eq!(again.matches("<svg class=\"outline\"").count(), 9);
}

#[test]
fn report_on_an_exec_batch_groups_its_failures() {
    let b = Batch::new();
    fs::create_dir_all(b.raw()).unwrap();
    for i in 0..4 {
        fs::write(b.raw().join(format!("ok{i}.sh")), "exit 0\n").unwrap();
    }
    for i in 0..7 {
        fs::write(
            b.raw().join(format!("bad{i}.sh")),
            "echo 'Traceback (most recent call last):' >&2\n\
             echo \"ValueError: Unknown parameter 'bogus'\" >&2\nexit 1\n",
        )
        .unwrap();
    }
    let mut cmd = isobatch();
    cmd.args(["run", "--pipeline", "exec", "--progress", "none", "--input"])
        .arg(b.raw())
        .arg("--output")
        .arg(b.out())
        .args([
            "--pattern",
            "{name}.sh",
            "--exec",
            "sh {input}",
            "--workers",
            "3",
        ]);
    let out = run_within(cmd, LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = report(&b.out());
    ok(&out);
    let html = fs::read_to_string(b.out().join("report.html")).unwrap();
    assert_self_contained(&html);
    assert!(
        html.contains(
            "7 × failed:error &quot;ValueError: Unknown parameter &#39;bogus&#39;&quot; — \
             bad0, bad1, bad2, bad3, bad4, … (+2)"
        ),
        "problems not grouped"
    );
    assert!(html.contains("all 7 tasks"));
    assert!(html.contains("11 attempt(s) on"), "timeline");
    assert!(!html.contains("id=\"qc\""), "an exec batch has no QC panel");
    assert!(html.contains("4 done, 7 failed:error"));
}

#[test]
fn report_refuses_a_folder_that_is_not_an_isobatch_output() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let out = report(dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&dir.path().display().to_string()),
        "{stderr}"
    );
    assert!(
        stderr.contains("is this an isobatch output folder?"),
        "{stderr}"
    );
    assert!(!dir.path().join("report.html").exists());
    let out = report(&dir.path().join("missing"));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_damaged_journal_line_is_said_and_the_rest_reported() {
    let b = Batch::new();
    b.task("a", "").task("b", "fail=boom");
    assert_eq!(b.run(&[]).status.code(), Some(1));
    let journal = b.out().join(".isobatch/journal.jsonl");
    let mut bytes = fs::read(&journal).unwrap();
    let lines = bytes.iter().filter(|&&c| c == b'\n').count();
    bytes.extend_from_slice(b"{\"event\":\"attempt_end\",\"ti\n");
    fs::write(&journal, &bytes).unwrap();
    let out = report(&b.out());
    ok(&out);
    let stderr = text(&out.stderr);
    let damaged = format!("line {} is damaged", lines + 1);
    assert!(stderr.contains(&damaged), "{stderr}");
    let html = fs::read_to_string(b.out().join("report.html")).unwrap();
    assert!(html.contains(&damaged));
    assert!(html.contains("1 × failed:error &quot;boom&quot; — b"));

    // A journal with nothing readable: nothing can be shown.
    fs::write(&journal, b"garbage\n").unwrap();
    fs::remove_file(b.out().join("report.html")).unwrap();
    let out = report(&b.out());
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no readable record") && stderr.contains("1 damaged line"),
        "{stderr}"
    );
    assert!(!b.out().join("report.html").exists());
}

#[test]
fn a_live_run_is_reported_as_live() {
    let b = Batch::new();
    b.task("first", "").task("second", "");
    let gate = b.dir.path().join("gate");
    let run = Captured::spawn(gated_cmd(
        &b,
        &gate,
        &["--progress", "none", "--workers", "2"],
    ));
    wait_until(LIMIT, "both tasks to start", || {
        journal_count(&b, "attempt_start") == 2
    });
    let out = report(&b.out());
    ok(&out);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("the run is live (pid {}", run.pid())),
        "{stderr}"
    );
    let html = fs::read_to_string(b.out().join("report.html")).unwrap();
    assert!(html.contains("class=\"live\""), "no live banner");
    assert!(html.contains("still running"));
    assert!(html.contains("2 running"));
    fs::write(&gate, "").unwrap();
    ok(&run.finish(LIMIT));
    let out = report(&b.out());
    ok(&out);
    let html = fs::read_to_string(b.out().join("report.html")).unwrap();
    assert!(html.contains("the latest run finished") && html.contains("2 done"));
}

#[test]
fn a_run_whose_supervisor_was_killed_is_reported_as_died() {
    let b = Batch::new();
    b.task("first", "").task("second", "");
    let gate = b.dir.path().join("gate");
    let mut run = Captured::spawn(gated_cmd(
        &b,
        &gate,
        &["--progress", "none", "--workers", "2"],
    ));
    wait_until(LIMIT, "both tasks to start", || {
        journal_count(&b, "attempt_start") == 2
    });
    run.child.kill().unwrap();
    run.child.wait().unwrap();
    let out = report(&b.out());
    fs::write(&gate, "").unwrap();
    ok(&out);
    let html = fs::read_to_string(b.out().join("report.html")).unwrap();
    assert!(html.contains("the latest run died"), "no died banner");
    assert!(html.contains("2 unfinished (the run died)"));
    assert!(html.contains("never (no run_end in the journal)"));
}

#[test]
fn report_with_dry_run_is_refused() {
    let b = Batch::new();
    b.task("a", "");
    let out = b.run(&["--report", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!b.out().join("report.html").exists());
}

/// The browser the check uses: `$CHROMIUM`, else `chromium` on the PATH.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(p);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("chromium"))
        .find(|p| p.is_file())
        .expect("chromium is not installed (apt-get install chromium): the report check cannot run")
}

/// Opens report.html of a fov batch with failures in headless chromium: any
/// console message (a script error, a blocked fetch) fails the check; the
/// screenshot is kept in target/tmp/report-check/ and must not be blank.
#[test]
#[ignore = "needs chromium; CI runs it with --ignored"]
fn the_report_opens_in_chromium_without_console_messages() {
    let (b, _) = fov_batch();
    // A second run with an input that cannot be read: the Problems section has a group too.
    fs::write(b.raw().join("broken.tif"), b"not a tiff").unwrap();
    let out = run_within(b.pipeline_cmd("fov", &["--report"]), LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let page = fs::read_to_string(b.out().join("report.html")).unwrap();
    assert!(
        page.contains("1 × failed:invalid-input"),
        "no problem group"
    );
    assert!(
        page.contains("<h3>fov01</h3>"),
        "the first run's QC panels are kept"
    );
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-check");
    fs::create_dir_all(&keep).unwrap();
    let html = keep.join("report.html");
    let shot = keep.join("screenshot.png");
    let _ = fs::remove_file(&shot);
    fs::copy(b.out().join("report.html"), &html).unwrap();
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1200,2400",
    ])
    .arg(format!("--screenshot={}", shot.display()))
    .arg(format!("file://{}", html.display()));
    let out = run_within(cmd, LIMIT);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "chromium failed: {stderr}");
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );

    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    let colours: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    let inked = pixels.iter().filter(|p| p[..3] != [255, 255, 255]).count();
    assert!(colours.len() > 100, "{} colours: blank?", colours.len());
    assert!(
        inked * 20 > pixels.len(),
        "{inked} of {} pixels not white",
        pixels.len()
    );
    eprintln!(
        "screenshot kept: {} ({} colours)",
        shot.display(),
        colours.len()
    );
}
