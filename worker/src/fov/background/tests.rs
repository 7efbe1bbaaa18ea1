//! Tests of the background estimator.

use super::*;

#[test]
fn gradient_is_recovered_under_cells() {
    let (h, w) = (100, 130);
    let truth: Vec<f32> = (0..h * w)
        .map(|i| 200.0 + 0.8 * (i / w) as f32 + 0.5 * (i % w) as f32)
        .collect();
    let mut fl = truth.clone();
    let mut mask = vec![0u8; h * w];
    for y in 30..60 {
        for x in 40..90 {
            mask[y * w + x] = 1;
            fl[y * w + x] += 500.0;
        }
    }
    let mut bg = vec![0.0; h * w];
    let mut est = BackgroundEstimator::new(h, w, &BackgroundParams::default());
    // Without cells the ramp comes back exactly (ghost tiles extend it to the edges).
    est.estimate(&truth, &vec![0; h * w], &mut bg);
    for (b, t) in bg.iter().zip(&truth) {
        assert!((b - t).abs() < 0.05, "{b} vs {t}");
    }
    // The bright masked block does not leak into the background (partly masked
    // tiles sample off-centre, hence a few counts on this steep ramp).
    est.estimate(&fl, &mask, &mut bg);
    for (b, t) in bg.iter().zip(&truth) {
        assert!((b - t).abs() < 4.0, "{b} vs {t}");
    }
}

/// The band-wise gather gives every tile exactly its own samples: compared with a
/// tile-by-tile reference on unequal tiles, with and without a sampling stride.
#[test]
fn tile_medians_match_a_per_tile_reference() {
    let (h, w) = (100, 130);
    let mut x = 12345u32;
    let mut next = || {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        x >> 8
    };
    let fl: Vec<f32> = (0..h * w).map(|_| (next() % 1000) as f32).collect();
    let mask: Vec<u8> = (0..h * w).map(|_| u8::from(next() % 3 == 0)).collect();
    for sample in [1, 2, 3] {
        let params = BackgroundParams {
            tile: 48,
            dilate: 0,
            min_fraction: 0.0,
            sample,
        };
        let mut est = BackgroundEstimator::new(h, w, &params);
        est.dil.copy_from_slice(&mask);
        est.tile_medians(&fl);
        est.choose_tiles();
        let (ye, xe) = (edges(h, 48), edges(w, 48));
        for ty in 0..ye.len() - 1 {
            for tx in 0..xe.len() - 1 {
                let mut keys: Vec<u32> = (ye[ty]..ye[ty + 1])
                    .step_by(sample)
                    .flat_map(|y| (xe[tx]..xe[tx + 1]).step_by(sample).map(move |x| y * w + x))
                    .filter(|&i| mask[i] == 0)
                    .map(|i| key(fl[i]))
                    .collect();
                let i = ty * (xe.len() - 1) + tx;
                assert_eq!(
                    Some(est.grid[i]),
                    median(&mut keys),
                    "tile {ty},{tx} / {sample}"
                );
                assert!(est.valid[i]);
            }
        }
    }
}

/// A curved (vignetted) background under a confluent centre: no tile there has a
/// usable pixel, and the fill follows the curve the margin tiles show, where the
/// mean of the neighbours took the margin's level.
#[test]
fn a_confluent_centre_follows_the_curved_background() {
    let (h, w) = (288, 288);
    let truth: Vec<f32> = (0..h * w)
        .map(|i| {
            let (y, x) = (
                (i / w) as f32 / h as f32 - 0.4,
                (i % w) as f32 / w as f32 - 0.5,
            );
            300.0 * (1.0 + 0.2 * x - 0.1 * y - 0.5 * (x * x + y * y))
        })
        .collect();
    let mut fl = truth.clone();
    let mut mask = vec![0u8; h * w];
    for y in 40..250 {
        for x in 40..250 {
            mask[y * w + x] = 1;
            fl[y * w + x] += 800.0;
        }
    }
    let mut bg = vec![0.0; h * w];
    let mut est = BackgroundEstimator::new(h, w, &BackgroundParams::default());
    est.estimate(&fl, &mask, &mut bg);
    assert_eq!(est.source(), Source::Tiles);
    let centre = (h / 2) * w + w / 2;
    let worst = |bg: &[f32]| {
        (40..250)
            .flat_map(|y| (40..250).map(move |x| y * w + x))
            .map(|i| (bg[i] - truth[i]).abs() / truth[i])
            .fold(0.0f32, f32::max)
    };
    assert!(worst(&bg) < 0.01, "worst relative error {}", worst(&bg));
    assert!((bg[centre] - truth[centre]).abs() < 1.0);
    // The neighbour fill (what is left when no surface can be fitted) misses the
    // centre by several per cent.
    est.tile_medians(&fl);
    est.choose_tiles();
    est.fill_from_neighbours();
    est.interpolate(|y, row| bg[y * w..(y + 1) * w].copy_from_slice(row));
    assert!((bg[centre] - truth[centre]).abs() / truth[centre] > 0.05);
    assert!(worst(&bg) > 0.1);
}

/// Without a tile clear of cells the background comes from the best pixels there
/// are, and says so: a frame cells cover save one thin gap takes the gap's level,
/// never the cells'.
#[test]
fn without_usable_tiles_the_source_says_so() {
    let (h, w) = (96, 96);
    let mut fl = vec![1000.0f32; h * w];
    let mut mask = vec![1u8; h * w];
    for y in 0..h {
        fl[y * w + 50] = 100.0;
        mask[y * w + 50] = 0;
    }
    let mut bg = vec![0.0; h * w];
    let mut est = BackgroundEstimator::new(h, w, &BackgroundParams::default());
    est.estimate(&fl, &mask, &mut bg);
    assert_eq!(est.source(), Source::CellEdges);
    assert!(bg.iter().all(|&v| (v - 100.0).abs() < 1e-3));
    est.estimate(&fl, &vec![1u8; h * w], &mut bg);
    assert_eq!(est.source(), Source::FrameMedian);
    // A few clear pixels in one tile: fewer than 2 %, still the best there is.
    let mut mask = vec![1u8; h * w];
    for x in 0..20 {
        mask[10 * w + x] = 0;
        fl[10 * w + x] = 100.0;
    }
    let params = BackgroundParams {
        dilate: 0,
        ..BackgroundParams::default()
    };
    let mut est = BackgroundEstimator::new(h, w, &params);
    est.estimate(&fl, &mask, &mut bg);
    assert_eq!(est.source(), Source::FewPixels);
    assert!(bg.iter().all(|&v| (v - 100.0).abs() < 1e-3));
    est.estimate(&fl, &vec![0u8; h * w], &mut bg);
    assert_eq!(est.source(), Source::Tiles);
}

#[test]
fn degenerate_inputs_stay_finite() {
    for (h, w) in [(1, 1), (1, 7), (5, 1), (64, 64), (3, 200)] {
        let mut est = BackgroundEstimator::new(h, w, &BackgroundParams::default());
        let fl = vec![0.0f32; h * w];
        let mut bg = vec![f32::NAN; h * w];
        est.estimate(&fl, &vec![1u8; h * w], &mut bg);
        assert!(bg.iter().all(|v| *v == 0.0));
        let fl: Vec<f32> = (0..h * w).map(|i| (i % 5) as f32).collect();
        est.estimate(&fl, &vec![0u8; h * w], &mut bg);
        assert!(bg.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn keys_preserve_order() {
    let v = [-3.5f32, -0.0, 0.0, 1e-30, 2.0, 1e30];
    for p in v.windows(2) {
        assert!(key(p[0]) <= key(p[1]));
        assert_eq!(unkey(key(p[0])), p[0]);
    }
    let mut k: Vec<u32> = [4.0f32, 1.0, 3.0, 2.0].iter().map(|&v| key(v)).collect();
    assert_eq!(median(&mut k), Some(2.5));
}
