//! Accuracy on crowded synthetic fields (`synth::score`), small frames so the suite
//! stays fast: each coverage and polarity against the targets — Dice ≥ 0.90,
//! median area ratio 0.9–1.1, ≥ 97 % of true cells and ≥ 95 % of cell-frames observed,
//! ≤ 5 % of touching cell-frames merged, median intensity_total error ≤ 2 %, the
//! polarity detected. Cases that miss a
//! target today are ignored with the measured figure in the reason (docs/benchmarks.md).

use isobatch_worker::fov::params::SegmentParams;
use isobatch_worker::synth::score::{Score, score};
use isobatch_worker::synth::{Polarity, SceneConfig};

fn scored(coverage: f64, polarity: Polarity) -> Score {
    let s = score(
        &SceneConfig {
            size: 256,
            frames: 8,
            seed: 1,
            fl_channels: 1,
            density: Some(coverage),
            polarity,
        },
        &SegmentParams::default(),
    );
    eprintln!("{coverage} {polarity:?}: {s:?}");
    s
}

fn check(coverage: f64, polarity: Polarity) {
    let s = scored(coverage, polarity);
    let want = format!("{} (auto)", polarity.as_str());
    assert_eq!(s.decisions, vec![("polarity".to_string(), want)]);
    assert!(s.dice >= 0.90, "Dice {}", s.dice);
    assert!(
        (0.9..=1.1).contains(&s.area_ratio),
        "area ratio {}",
        s.area_ratio
    );
    assert!(s.cells_traced >= 0.97, "cells traced {}", s.cells_traced);
    assert!(s.observed >= 0.95, "observed {}", s.observed);
    assert!(s.merged <= 0.05, "merged {} of {}", s.merged, s.touching);
    assert!(
        s.intensity_err <= 0.02,
        "intensity error {}",
        s.intensity_err
    );
}

#[test]
fn coverage_10_dark() {
    check(0.10, Polarity::Dark);
}

#[test]
fn coverage_10_bright() {
    check(0.10, Polarity::Bright);
}

#[test]
fn coverage_30_dark() {
    check(0.30, Polarity::Dark);
}

#[test]
fn coverage_30_bright() {
    check(0.30, Polarity::Bright);
}

#[test]
fn coverage_45_dark() {
    check(0.45, Polarity::Dark);
}

#[test]
fn coverage_45_bright() {
    check(0.45, Polarity::Bright);
}

#[test]
#[ignore = "misses Dice (0.89) and area ratio (0.83) targets; intensity: coverage_60_intensity"]
fn coverage_60_dark() {
    check(0.60, Polarity::Dark);
}

#[test]
#[ignore = "misses the area ratio target (0.84); intensity: coverage_60_intensity"]
fn coverage_60_bright() {
    check(0.60, Polarity::Bright);
}

/// The intensity target at 60 %, both polarities, on its own while the Dice and area
/// targets of that coverage are still missed: the background under the confluent
/// interior comes from the fitted surface (1.1 % dark, 0.8 % bright; the neighbour
/// fill gave 1.4 % / 1.0 % here and 5.2 % / 4.1 % at 1024², docs/benchmarks.md).
#[test]
fn coverage_60_intensity() {
    for polarity in [Polarity::Dark, Polarity::Bright] {
        let s = scored(0.60, polarity);
        assert!(
            s.intensity_err <= 0.02,
            "{polarity:?}: intensity error {}",
            s.intensity_err
        );
    }
}
