//! Scores the fov algorithms against synthetic ground truth at several coverages
//! and both polarities, one markdown table row each:
//! `cargo run --release --example score_fov -- [SIZE] [FRAMES] [COVERAGE,...]`
//! (defaults 1024, 50, 0.1,0.3,0.45,0.6; `scripts/score-fov` wraps it).

use isobatch_worker::fov::params::SegmentParams;
use isobatch_worker::synth::score::score;
use isobatch_worker::synth::{Polarity, SceneConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let size = args.first().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let frames = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let coverages: Vec<f64> = args
        .get(2)
        .map(|a| a.split(',').filter_map(|c| c.parse().ok()).collect())
        .unwrap_or_else(|| vec![0.1, 0.3, 0.45, 0.6]);
    println!(
        "| target | polarity | coverage | Dice | area ratio | cells traced | observations | \
         merges (touching) | divisions found | intensity err |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &c in &coverages {
        for polarity in [Polarity::Dark, Polarity::Bright] {
            let cfg = SceneConfig {
                size,
                frames,
                seed: 1,
                fl_channels: 1,
                density: Some(c),
                polarity,
            };
            let mut params = SegmentParams::default();
            if let Ok(v) = std::env::var("POLARITY") {
                params
                    .set("polarity", &v)
                    .expect("POLARITY=dark|bright|auto");
            }
            let s = score(&cfg, &params);
            eprintln!(
                "{:?} cells/frame {:?}",
                s.decisions,
                &s.cells_per_frame[..s.cells_per_frame.len().min(5)]
            );
            println!(
                "| {:.0} % | {} | {:.1} % | {:.3} | {:.3} | {:.1} % | {:.1} % | {:.1} % of {} | {:.0} % of {} | {:.2} % |",
                c * 100.0,
                polarity.as_str(),
                s.coverage * 100.0,
                s.dice,
                s.area_ratio,
                s.cells_traced * 100.0,
                s.observed * 100.0,
                s.merged * 100.0,
                s.touching,
                s.divisions_found * 100.0,
                s.divisions,
                s.intensity_err * 100.0
            );
        }
    }
}
