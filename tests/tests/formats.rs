//! Microscopy formats end to end: the same pixels as an ImageJ hyperstack and as
//! OME-TIFF stored channel-major, time-major, or as two positions of one file, or
//! as two positions of an ND2 file, give identical traces (an ND2 file's channel
//! names and frame interval reaching the traces' columns); a `--param`
//! contradicting the metadata and a plain TIFF whose page order nobody stated are
//! refused before anything runs (exit 2); hostile ND2 and CZI files fail as invalid
//! input; CZI scenes are positions whose channels are named by the file.
mod common;
#[path = "common/nd2_writer.rs"]
mod nd2_writer;
use common::*;
use nd2_writer::{Nd2Spec, nd2_bytes};

use std::fs;
use std::path::Path;
use std::process::Output;

use isobatch_worker::image::{InputStack, Limits};
use tiff::encoder::{TiffEncoder, colortype::Gray16};
use tiff::tags::Tag;

/// `isobatch demo` with two FOVs of 2-channel 6-frame ImageJ TIFFs into `raw/`.
fn demo(b: &Batch) {
    let out = isobatch()
        .arg("demo")
        .arg(b.dir.path())
        .args(["--fovs", "2", "--frames", "6", "--size", "96"])
        .output()
        .expect("run isobatch demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

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

/// Writes `planes` as a TIFF whose first page carries `description` (if any).
fn write_tiff(path: &Path, planes: &[&Vec<u16>], w: u32, h: u32, description: Option<&str>) {
    let file = fs::File::create(path).expect("create");
    let mut enc = TiffEncoder::new(file).expect("encoder");
    for (i, p) in planes.iter().enumerate() {
        let mut img = enc.new_image::<Gray16>(w, h).expect("image");
        if let (0, Some(d)) = (i, description) {
            img.encoder()
                .write_tag(Tag::ImageDescription, d)
                .expect("description");
        }
        img.write_data(p).expect("data");
    }
}

fn image_xml(i: usize, order: &str, w: u32, h: u32, t: usize, ifd: usize) -> String {
    format!(
        r#"<Image ID="Image:{i}"><Pixels ID="Pixels:{i}" DimensionOrder="{order}" Type="uint16" SizeX="{w}" SizeY="{h}" SizeC="2" SizeZ="1" SizeT="{t}"><Channel ID="Channel:{i}:0" Name="Phase" SamplesPerPixel="1"/><Channel ID="Channel:{i}:1" Name="GFP" SamplesPerPixel="1"/><TiffData IFD="{ifd}" PlaneCount="{}"/></Pixels></Image>"#,
        2 * t
    )
}

fn ome(images: &[String]) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">{}</OME>"#,
        images.concat()
    )
}

fn run(b: &Batch, extra: &[&str]) -> Output {
    b.pipeline_cmd("fov", extra).output().expect("run isobatch")
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
    let mut lines = body.lines();
    let header = lines.next().unwrap_or("").to_string();
    let rows = lines
        .map(|l| l.split_once(',').map_or("", |(_, rest)| rest).to_string())
        .collect();
    (header, rows)
}

#[test]
fn ome_tiff_in_either_order_or_as_positions_gives_the_imagej_traces_bit_for_bit() {
    let reference = Batch::new();
    demo(&reference);
    let out = run(&reference, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let b = Batch::new();
    fs::create_dir_all(b.raw()).expect("mkdir");
    let (f1, w, h) = pages(&reference.raw().join("fov01.tif"));
    let (f2, _, _) = pages(&reference.raw().join("fov02.tif"));
    let t = f1.len() / 2;
    let ct: Vec<&Vec<u16>> = f1.iter().collect();
    let tc: Vec<&Vec<u16>> = (0..2)
        .flat_map(|c| (0..t).map(move |t| t * 2 + c))
        .map(|i| &f1[i])
        .collect();
    write_tiff(
        &b.raw().join("ct.ome.tif"),
        &ct,
        w,
        h,
        Some(&ome(&[image_xml(0, "XYCZT", w, h, t, 0)])),
    );
    write_tiff(
        &b.raw().join("tc.ome.tif"),
        &tc,
        w,
        h,
        Some(&ome(&[image_xml(0, "XYTZC", w, h, t, 0)])),
    );
    let both: Vec<&Vec<u16>> = f1.iter().chain(&f2).collect();
    let xml = ome(&[
        image_xml(0, "XYCZT", w, h, t, 0),
        image_xml(1, "XYCZT", w, h, t, 2 * t),
    ]);
    write_tiff(&b.raw().join("multi.ome.tiff"), &both, w, h, Some(&xml));

    let out = run(&b, &["--dry-run"]);
    let plan = text(&out);
    assert_eq!(out.status.code(), Some(0), "{plan}");
    for line in [
        "ct  [fov=ct]",
        "multi_p000  [fov=multi]",
        "multi_p001  [fov=multi]",
        "position 1",
        "layout:    OME-XML",
    ] {
        assert!(plan.contains(line), "{line:?} not in the plan:\n{plan}");
    }
    let out = run(&b, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let (ref_header, want1) = traces(&reference, "fov01");
    let (_, want2) = traces(&reference, "fov02");
    assert!(!want1.is_empty() && !want2.is_empty());
    for (task, want) in [
        ("ct", &want1),
        ("tc", &want1),
        ("multi_p000", &want1),
        ("multi_p001", &want2),
    ] {
        let (header, rows) = traces(&b, task);
        assert_eq!(header, ref_header.replace("_c1", "_GFP"), "{task}");
        assert_eq!(
            &rows, want,
            "{task}: traces differ from the ImageJ hyperstack's"
        );
    }

    // Channels by name; a contradicting parameter is refused, naming both values.
    let named = run(
        &b,
        &["--dry-run", "--param", "pc=phase", "--param", "fl=GFP"],
    );
    assert_eq!(named.status.code(), Some(0), "{}", text(&named));
    let out = run(&b, &["--select", "ct", "--param", "order=TC"]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(
        msg.contains("order=TC") && msg.contains("dimension order CZT"),
        "{msg}"
    );
    let out = run(&b, &["--select", "tc", "--param", "channels=3"]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(
        msg.contains("channels=3") && msg.contains("2 channel(s)"),
        "{msg}"
    );
    let out = run(&b, &["--positions", "1", "--dry-run"]);
    let plan = text(&out);
    assert!(
        plan.contains("multi_p001") && !plan.contains("multi_p000") && !plan.contains("ct  ["),
        "{plan}"
    );
}

#[test]
fn a_plain_multipage_tiff_needs_its_order_said_and_the_plan_states_it() {
    let reference = Batch::new();
    demo(&reference);
    let (f1, w, h) = pages(&reference.raw().join("fov01.tif"));
    let b = Batch::new();
    fs::create_dir_all(b.raw()).expect("mkdir");
    let ct: Vec<&Vec<u16>> = f1.iter().collect();
    write_tiff(&b.raw().join("plain.tif"), &ct, w, h, None);
    let out = run(&b, &[]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(
        msg.contains("plain.tif") && msg.contains("--param channels=N"),
        "{msg}"
    );
    let out = run(&b, &["--param", "channels=2"]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(
        msg.contains("order=CT") && msg.contains("order=TC"),
        "{msg}"
    );
    let out = run(
        &b,
        &["--dry-run", "--param", "channels=2", "--param", "order=CT"],
    );
    let plan = text(&out);
    assert_eq!(out.status.code(), Some(0), "{plan}");
    assert!(
        plan.contains("order CT: pages t0c0, t0c1, …, t1c0 assumed from --param order"),
        "{plan}"
    );
    let out = run(
        &b,
        &["--pipeline", "exec", "--exec", "true", "--positions", "1"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn nd2_positions_give_the_imagej_traces_bit_for_bit_and_hostile_files_fail_cleanly() {
    let reference = Batch::new();
    demo(&reference);
    let out = run(&reference, &[]);
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

    let out = run(&b, &["--dry-run"]);
    let plan = text(&out);
    assert_eq!(out.status.code(), Some(0), "{plan}");
    for line in [
        "plate_p000  [fov=plate]",
        "plate_p001  [fov=plate]",
        "ND2 metadata",
    ] {
        assert!(plan.contains(line), "{line:?} not in the plan:\n{plan}");
    }
    let out = run(&b, &[]);
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
    // This file names no channels (no ImageMetadataSeqLV|0!): asking by name is
    // refused before anything runs, naming the channels it has.
    let out = run(
        &b,
        &["--select", "plate*", "--param", "fl=GFP", "--dry-run"],
    );
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(
        msg.contains("no channel is named \"GFP\"") && msg.contains("2, none named; give an index"),
        "{msg}"
    );
}

#[test]
fn nd2_metadata_names_channels_and_times_frames_as_the_imagej_run_told_so() {
    let reference = Batch::new();
    demo(&reference);
    let out = run(&reference, &["--param", "frame_interval=10m"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (f1, w, h) = pages(&reference.raw().join("fov01.tif"));
    let frames = (f1.len() / 2) as u32;
    let b = Batch::new();
    fs::create_dir_all(b.raw()).expect("mkdir");
    let mut spec = Nd2Spec::new(w, h, 2, 1, frames);
    spec.names = Some(vec!["Phase".into(), "GFP".into()]);
    spec.period_ms = Some(600_000.0);
    spec.stamp_ms = Some(600_250.0);
    spec.calibration_um = Some(0.65);
    let pixel =
        |_, t: u32, c: u32, _, y: u32, x: u32| f1[(t * 2 + c) as usize][(y * w + x) as usize];
    fs::write(b.raw().join("named.nd2"), nd2_bytes(&spec, pixel)).expect("write");

    let out = run(
        &b,
        &["--dry-run", "--param", "pc=phase", "--param", "fl=gfp"],
    );
    let plan = text(&out);
    assert_eq!(out.status.code(), Some(0), "{plan}");
    assert!(plan.contains("ND2 metadata"), "{plan}");
    for (param, words) in [
        ("fl=mCherry", ["mCherry", "GFP"]),
        ("channels=3", ["channels=3", "2 channel(s)"]),
    ] {
        let out = run(&b, &["--dry-run", "--param", param]);
        let msg = text(&out);
        assert_eq!(out.status.code(), Some(2), "{param}: {msg}");
        assert!(words.iter().all(|w| msg.contains(w)), "{param}: {msg}");
    }
    let out = run(&b, &["--param", "pc=Phase"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (ref_header, want) = traces(&reference, "fov01");
    assert!(ref_header.contains("time_min"), "{ref_header}");
    let (header, rows) = traces(&b, "named");
    assert_eq!(header, ref_header.replace("_c1", "_GFP"));
    assert_eq!(rows, want, "traces differ from the ImageJ hyperstack's");
}

#[test]
fn the_plan_says_why_an_nd2_frame_interval_is_not_used() {
    let b = Batch::new();
    fs::create_dir_all(b.raw()).expect("mkdir");
    let mut drift = Nd2Spec::new(16, 16, 2, 1, 4);
    drift.period_ms = Some(5_000.0);
    drift.stamp_ms = Some(7_100.0);
    fs::write(
        b.raw().join("drift.nd2"),
        nd2_bytes(&drift, |_, _, _, _, _, _| 9),
    )
    .expect("write");
    let mut phases = Nd2Spec::new(16, 16, 2, 1, 5);
    phases.ne_periods = vec![(3, 5_000.0, true), (2, 60_000.0, true)];
    fs::write(
        b.raw().join("phases.nd2"),
        nd2_bytes(&phases, |_, _, _, _, _, _| 9),
    )
    .expect("write");
    let out = run(&b, &["--dry-run"]);
    let plan = text(&out);
    assert_eq!(out.status.code(), Some(0), "{plan}");
    for line in [
        "layout:    ND2 metadata; no frame interval: the ND2 time loop says 5 s but the frames' \
         timestamps are 7.1 s apart (median), so the stated interval is not used (pass --param \
         frame_interval=...)",
        "layout:    ND2 metadata; no frame interval: the ND2 time loop has 2 periods of \
         different intervals (3 × 5 s, 2 × 1 min), so no single frame interval (pass --param \
         frame_interval=...)",
    ] {
        assert!(plan.contains(line), "{line:?} not in the plan:\n{plan}");
    }
    // Given by parameter, the interval needs no excuse.
    let out = run(&b, &["--dry-run", "--param", "frame_interval=5s"]);
    let plan = text(&out);
    assert!(plan.contains("layout:    ND2 metadata\n"), "{plan}");
    assert!(!plan.contains("no frame interval"), "{plan}");
}

#[test]
fn czi_scenes_are_positions_with_named_channels_and_hostile_czi_fails_cleanly() {
    // Written by Zeiss's pylibCZIrw (scripts/czi_fixtures.py); the traces of a
    // CZI against the ImageJ hyperstack are compared bit for bit in scripts/interop.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../worker/src/image/tests/czi");
    let scenes = fs::read(fixtures.join("scenes.czi")).expect("fixture");
    let b = Batch::new();
    fs::create_dir_all(b.raw()).expect("mkdir");
    fs::write(b.raw().join("plate.czi"), &scenes).expect("write");
    fs::copy(fixtures.join("mosaic.czi"), b.raw().join("tiles.czi")).expect("copy");
    fs::write(b.raw().join("cut.czi"), &scenes[..scenes.len() - 100]).expect("write");

    let out = run(&b, &["--param", "fl=gfp", "--dry-run"]);
    let plan = text(&out);
    assert_eq!(out.status.code(), Some(0), "{plan}");
    for line in [
        "plate_p000  [fov=plate]",
        "plate_p001  [fov=plate]",
        "CZI metadata",
    ] {
        assert!(plan.contains(line), "{line:?} not in the plan:\n{plan}");
    }
    let out = run(&b, &["--param", "fl=mCherry", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("mCherry"), "{}", text(&out));

    run(&b, &["--param", "fl=GFP"]);
    for (task, reason) in [("tiles", "mosaic"), ("cut", "past the end")] {
        assert_eq!(b.verdict(task), "failed:invalid-input", "{task}");
        let msg = &b.row(task)["message"];
        assert!(
            msg.contains(&format!("{task}.czi")) && msg.contains(reason),
            "{task}: {msg}"
        );
    }
    for task in ["plate_p000", "plate_p001"] {
        assert_ne!(b.verdict(task), "failed:invalid-input", "{task}");
    }
}
