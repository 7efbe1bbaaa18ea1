//! The copy stage reads every channel of a (t, z) in one call and projects
//! focal planes per channel: `z=max`, `z=mean` and `z=INDEX` of an ND2 Z stack
//! (2 channels, interleaved in each frame) give each channel's projection.

use std::collections::BTreeMap;

use isobatch_shared::CheckpointFormat;
use isobatch_worker::fov::stages::{Copy, Fov};
use isobatch_worker::fov::{self, FovConfig};
use isobatch_worker::image::Shape;
use isobatch_worker::image::checkpoint::StackSource;
use isobatch_worker::stage::Stage;

#[path = "../../tests/tests/common/nd2_writer.rs"]
mod nd2_writer;

const W: u32 = 9;
const H: u32 = 5;

/// A sample that differs per (t, c, z, y, x) and whose largest focal plane
/// changes from pixel to pixel.
fn px(_p: u32, t: u32, c: u32, z: u32, y: u32, x: u32) -> u16 {
    (((t * 131 + c * 17 + y * W + x) * (z + 3) * 7919) % 4001) as u16
}

/// Runs the copy stage with `--param z=CHOICE` and returns each channel's
/// frames as f32.
fn copy(z: &str) -> Vec<Vec<Vec<f32>>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut spec = nd2_writer::Nd2Spec::new(W, H, 2, 1, 3);
    spec.z = 3;
    let input = dir.path().join("z.nd2");
    std::fs::write(&input, nd2_writer::nd2_bytes(&spec, px)).expect("write");
    let params = BTreeMap::from([("z".to_string(), z.to_string())]);
    let config = FovConfig::from_params(&params).expect("params");
    let (_, series, layout) = fov::open(&input, None, &config).expect("open");
    let shape = Shape {
        frames: layout.frames,
        height: series.height,
        width: series.width,
    };
    let fov = Fov {
        input,
        position: None,
        dir: dir.path().to_path_buf(),
        task: "z".into(),
        dtype: layout.copy_dtype(series.dtype),
        input_dtype: series.dtype,
        layout,
        shape,
        format: CheckpointFormat::Npy,
        config: &config,
    };
    Copy(&fov).run(&mut |_, _| {}).expect("copy stage");
    (0..2)
        .map(|c| {
            let mut s = StackSource::open(dir.path(), &format!("copy_c{c}"), CheckpointFormat::Npy)
                .expect("copy written");
            let mut frames = s.frames().expect("a pass");
            (0..3)
                .map(|t| {
                    let mut out = vec![0f32; (W * H) as usize];
                    frames.read_f32(t, &mut out).expect("read");
                    out
                })
                .collect()
        })
        .collect()
}

/// What each channel's frames should hold: `f` over the three focal planes.
fn want(f: impl Fn([f32; 3]) -> f32) -> Vec<Vec<Vec<f32>>> {
    (0..2)
        .map(|c| {
            (0..3)
                .map(|t| {
                    (0..H * W)
                        .map(|i| f([0, 1, 2].map(|z| f32::from(px(0, t, c, z, i / W, i % W)))))
                        .collect()
                })
                .collect()
        })
        .collect()
}

#[test]
fn focal_planes_are_projected_per_channel() {
    assert_eq!(copy("max"), want(|v| v[0].max(v[1]).max(v[2])));
    assert_eq!(copy("mean"), want(|v| (v[0] + v[1] + v[2]) / 3.0));
    assert_eq!(copy("1"), want(|v| v[1]));
    // The planes differ, so each choice is seen.
    assert_ne!(copy("max"), copy("1"));
}
