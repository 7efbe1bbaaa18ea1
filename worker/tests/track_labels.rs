//! The track stage stores labels as u16 while the cell ids fit, and falls back to u32
//! (tracking again, leaving no partial u16 file) once a stack hands out more ids.

use isobatch_shared::CheckpointFormat;
use isobatch_worker::fov::FovConfig;
use isobatch_worker::fov::layout::{Layout, ZChoice};
use isobatch_worker::fov::stages::{Fov, Track};
use isobatch_worker::image::checkpoint::{StackSink, StackSource};
use isobatch_worker::image::source::Order;
use isobatch_worker::image::{Dtype, Shape};
use isobatch_worker::stage::Stage;

/// Writes a mask stack of one-pixel cells on a 2-px grid whose offset cycles through
/// four phases, so no cell overlaps one in the next three frames: with the default
/// `max_gap` of 2, every frame's cells get new ids (`(size / 2)²` per frame).
fn write_masks(dir: &std::path::Path, shape: Shape) {
    let mut sink = StackSink::<u8>::create(dir, "segment_mask", shape, CheckpointFormat::Npy)
        .expect("create mask");
    let (h, w) = (shape.height, shape.width);
    for t in 0..shape.frames {
        let (dy, dx) = (t % 2, (t / 2) % 2);
        let frame: Vec<u8> = (0..h * w)
            .map(|i| u8::from((i / w) % 2 == dy && (i % w) % 2 == dx))
            .collect();
        sink.write_frame(t, &frame).expect("write mask frame");
    }
    sink.commit().expect("commit mask");
}

/// Runs the track stage on masks of `frames` frames of 64² (1024 new ids a frame) and
/// asserts that the labels are stored as `dtype`, that the last frame's largest label
/// is the last id handed out, and that only the mask, the labels and lineage.csv are left.
fn assert_tracked_as(frames: usize, dtype: Dtype) {
    let dir = tempfile::tempdir().expect("tempdir");
    let shape = Shape {
        frames,
        height: 64,
        width: 64,
    };
    write_masks(dir.path(), shape);
    let config = FovConfig::default();
    let fov = Fov {
        input: dir.path().join("unused.tif"),
        position: None,
        dir: dir.path().to_path_buf(),
        task: "t".into(),
        layout: Layout {
            channels: 1,
            frames,
            pc: 0,
            fl: Vec::new(),
            interval: None,
            interval_note: None,
            z_planes: 1,
            z: ZChoice::Index(0),
            names: vec![None],
            order: Order::CZT,
            source: "test".into(),
        },
        shape,
        dtype: Dtype::U8,
        input_dtype: Dtype::U8,
        format: CheckpointFormat::Npy,
        config: &config,
    };
    Track::new(&fov).run(&mut |_, _| {}).expect("track stage");
    let mut labels = StackSource::open(dir.path(), "track_labels", CheckpointFormat::Npy)
        .expect("labels written");
    let mut last = vec![0u32; 64 * 64];
    labels
        .frames()
        .expect("a pass")
        .read_labels(frames - 1, &mut last)
        .expect("read");
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(labels.dtype(), dtype);
    assert_eq!(last.iter().copied().max(), Some(frames as u32 * 1024));
    assert_eq!(
        files,
        ["lineage.csv", "segment_mask.npy", "track_labels.npy"]
    );
}

#[test]
fn labels_are_u16_while_the_ids_fit() {
    // 10 frames: 10,240 ids.
    assert_tracked_as(10, Dtype::U16);
}

#[test]
fn labels_widen_to_u32_when_the_ids_outgrow_u16() {
    // 70 frames: 71,680 ids, past u16::MAX at frame 64.
    assert_tracked_as(70, Dtype::U32);
}
