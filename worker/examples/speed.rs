//! Per-stage timing on synthetic frames:
//! `cargo run --release --example speed [SIZE] [FRAMES] [CHANNELS]`.
//! Prints the median and the minimum time per frame of each stage (the median is
//! robust to other processes competing for the core; the minimum shows the floor).
//! The stages are `synth::run::Analysis`, the loop the accuracy tests score, timed
//! one by one (without the u16 rounding of the background those tests apply).

use std::time::{Duration, Instant};

use isobatch_worker::fov::params::SegmentParams;
use isobatch_worker::synth::run::Analysis;
use isobatch_worker::synth::{Scene, SceneConfig};

fn main() {
    let arg = |i: usize, d: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(d)
    };
    let (size, frames, channels) = (arg(1, 1024), arg(2, 10), arg(3, 2));
    let scene = Scene::new(&SceneConfig {
        size,
        frames,
        seed: 1,
        fl_channels: channels,
        ..SceneConfig::default()
    });
    let mut a = Analysis::new(size, channels, &SegmentParams::default());
    let mut times: [Vec<Duration>; 6] = Default::default();
    let mut cells = 0;
    for t in 0..frames {
        let t0 = Instant::now();
        let f = scene.render(t);
        times[0].push(t0.elapsed());
        a.load(&f);
        let t1 = Instant::now();
        a.segment();
        let t2 = Instant::now();
        a.background();
        let t3 = Instant::now();
        a.track();
        let t4 = Instant::now();
        cells += a.extract(t).len();
        let t5 = Instant::now();
        times[1].push(t2 - t1);
        times[2].push(t3 - t2);
        times[3].push(t4 - t3);
        times[4].push(t5 - t4);
        times[5].push(t5 - t1);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{size}² × {frames} frames × {channels} channels, {:.0} cells/frame; ms per frame:",
        cells as f64 / frames.max(1) as f64
    );
    for (name, pick) in [("median", 0usize), ("min", 1)] {
        let v: Vec<f64> = times
            .iter_mut()
            .map(|t| {
                t.sort();
                let d = if pick == 0 {
                    t.get(t.len() / 2)
                } else {
                    t.first()
                };
                d.map_or(0.0, |d| ms(*d))
            })
            .collect();
        println!(
            "{name:>6}: render {:.1} | segment {:.1} | background {:.1} | track {:.1} | extract {:.1} | pipeline {:.1}",
            v[0], v[1], v[2], v[3], v[4], v[5]
        );
    }
}
