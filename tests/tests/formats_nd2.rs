//! ND2 end to end: two positions of one ND2 file (written by the minimal v3 test
//! writer) give the traces of the same pixels as two ImageJ hyperstacks, bit for
//! bit; hostile and unsupported ND2 files end `failed:invalid-input` naming the
//! file and the reason, and the batch goes on.
mod common;
#[path = "common/nd2_writer.rs"]
mod nd2_writer;
use common::*;
use nd2_writer::{Nd2Spec, nd2_bytes};

use std::fs;
use std::path::Path;
use std::process::Output;

use isobatch_worker::image::{InputStack, Limits};

/// Every page of an ImageJ TIFF, in file order (t0c0, t0c1, t1c0, …).
fn pages(path: &Path) -> (Vec<Vec<u16>>, u32, u32) {
    let mut s = InputStack::open(path, &Limits::default()).expect("open");
    let (w, h, n) = (s.info().width, s.info().height, s.info().pages);
    let pages = (0..n)
        .map(|i| {
            let mut p = vec![0u16; w * h];
            s.read_page(i, &mut p).expect("page");
            p
        })
        .collect();
    (pages, w as u32, h as u32)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A task's traces.csv rows without the `fov` column, and its header.
fn traces(b: &Batch, task: &str) -> (String, Vec<String>) {
    let body = fs::read_to_string(b.out().join(task).join("traces.csv")).expect("traces");
    let mut lines = body.lines().filter(|l| !l.starts_with('#'));
    let header = lines.next().unwrap_or("").to_string();
    let rows = lines
        .map(|l| l.split_once(',').map_or("", |(_, rest)| rest).to_string())
        .collect();
    (header, rows)
}

#[test]
fn nd2_positions_give_the_imagej_traces_bit_for_bit_and_hostile_files_fail_cleanly() {
    let reference = Batch::new();
    let out = isobatch()
        .arg("demo")
        .arg(reference.dir.path())
        .args(["--fovs", "2", "--frames", "6", "--size", "96"])
        .output()
        .expect("run isobatch demo");
    assert!(out.status.success(), "{}", text(&out));
    let out = reference.pipeline_cmd("fov", &[]).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let (f1, w, h) = pages(&reference.raw().join("fov01.tif"));
    let (f2, _, _) = pages(&reference.raw().join("fov02.tif"));
    let fovs = [f1, f2];
    let frames = (fovs[0].len() / 2) as u32;
    let b = Batch::new();
    fs::create_dir_all(b.raw()).expect("mkdir");
    let spec = Nd2Spec::new(w, h, 2, 2, frames);
    let bytes = nd2_bytes(&spec, |p, t, c, _, y, x| {
        fovs[p as usize][(t * 2 + c) as usize][(y * w + x) as usize]
    });
    fs::write(b.raw().join("plate.nd2"), &bytes).expect("write");
    // Hostile and unsupported files next to it: each its own failed task.
    let mut lossless = Nd2Spec::new(w, h, 2, 1, frames);
    lossless.compression = Some(0);
    fs::write(
        b.raw().join("lossless.nd2"),
        nd2_bytes(&lossless, |_, _, _, _, _, _| 1),
    )
    .expect("write");
    fs::write(b.raw().join("cut.nd2"), &bytes[..bytes.len() / 3]).expect("write");

    let out = b.pipeline_cmd("fov", &["--dry-run"]).output().expect("run");
    let plan = text(&out);
    assert_eq!(out.status.code(), Some(0), "{plan}");
    for line in [
        "plate_p000  [fov=plate]",
        "plate_p001  [fov=plate]",
        "ND2 metadata",
    ] {
        assert!(plan.contains(line), "{line:?} not in the plan:\n{plan}");
    }
    let out = b.pipeline_cmd("fov", &[]).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    let (ref_header, want1) = traces(&reference, "fov01");
    let (_, want2) = traces(&reference, "fov02");
    assert!(!want1.is_empty() && !want2.is_empty());
    for (task, want) in [("plate_p000", &want1), ("plate_p001", &want2)] {
        assert_eq!(b.verdict(task), "done", "{task}");
        let (header, rows) = traces(&b, task);
        assert_eq!(header, ref_header, "{task}");
        assert_eq!(
            &rows, want,
            "{task}: traces differ from the ImageJ hyperstack's"
        );
    }
    for (task, reason) in [
        ("lossless", "compressed frames"),
        ("cut", "no chunk map signature"),
    ] {
        assert_eq!(b.verdict(task), "failed:invalid-input", "{task}");
        let msg = &b.row(task)["message"];
        assert!(
            msg.contains(&format!("{task}.nd2")) && msg.contains(reason),
            "{task}: {msg}"
        );
    }
    // Channels have no names in ND2 (the reader does not read them): asking by
    // name is refused before anything runs, naming the channels it has.
    let out = b
        .pipeline_cmd(
            "fov",
            &["--select", "plate*", "--param", "fl=GFP", "--dry-run"],
        )
        .output()
        .expect("run");
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(
        msg.contains("no channel is named \"GFP\"") && msg.contains("2, none named; give an index"),
        "{msg}"
    );
}
