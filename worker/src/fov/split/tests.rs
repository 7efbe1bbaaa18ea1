//! Tests of the splitter, with a plain whole-frame watershed as the oracle.

use super::*;
use crate::fov::runs::{Connectivity, RunScratch, label_components, parse_mask};

fn count(mask: &[u8], h: usize, w: usize) -> usize {
    let mut labels = vec![0; h * w];
    label_components(
        mask,
        h,
        w,
        Connectivity::Four,
        &mut labels,
        &mut RunScratch::default(),
    )
}

/// Two disks of radius `r` whose centres are `d` apart.
fn pair(r: f64, d: f64) -> (Vec<u8>, usize, usize) {
    let (h, w) = (2 * r as usize + 8, (2.0 * r + d) as usize + 8);
    let mut m = vec![0u8; h * w];
    let cy = h as f64 / 2.0;
    for y in 0..h {
        for x in 0..w {
            for cx in [4.0 + r, 4.0 + r + d] {
                if (y as f64 + 0.5 - cy).hypot(x as f64 + 0.5 - cx) <= r {
                    m[y * w + x] = 1;
                }
            }
        }
    }
    (m, h, w)
}

#[test]
fn splits_touching_disks_and_keeps_most_pixels() {
    let (mut m, h, w) = pair(8.0, 14.0);
    let before = m.iter().filter(|v| **v == 1).count();
    assert_eq!(count(&m, h, w), 1);
    Splitter::default().split(&mut m, h, w, 2.0);
    assert_eq!(count(&m, h, w), 2);
    let after = m.iter().filter(|v| **v == 1).count();
    assert!(
        after + 2 * h >= before && after < before,
        "{before} → {after}"
    );
}

#[test]
fn keeps_single_cells_and_wide_necks() {
    let rows = [
        "..........................",
        ".########################.",
        ".########################.",
        ".########################.",
        ".########################.",
        ".########################.",
        ".########################.",
        "..........................",
    ];
    let (mut m, h, w) = parse_mask(&rows);
    let before = m.clone();
    Splitter::default().split(&mut m, h, w, 2.0);
    assert_eq!(m, before, "a rod is one cell");
    // Heavily overlapping disks: the neck is barely narrower than the cells.
    let (mut m, h, w) = pair(8.0, 5.0);
    Splitter::default().split(&mut m, h, w, 2.0);
    assert_eq!(count(&m, h, w), 1);
}

#[test]
fn off_empty_full_and_tiny_masks_are_left_alone() {
    let (mut m, h, w) = pair(8.0, 14.0);
    let before = m.clone();
    Splitter::default().split(&mut m, h, w, 0.0);
    assert_eq!(m, before);
    let mut s = Splitter::default();
    for (h, w) in [(0, 0), (1, 1), (1, 5), (5, 1), (9, 9)] {
        for v in [0u8, 1] {
            let mut m = vec![v; h * w];
            s.split(&mut m, h, w, 2.0);
            assert!(m.iter().all(|x| *x == v));
        }
    }
}

#[test]
fn only_blobs_with_two_high_peaks_change_and_reuse_matches_a_fresh_splitter() {
    // A touching pair beside a lone disk and a rod: only the pair is cut.
    let (pair_m, ph, pw) = pair(8.0, 14.0);
    let (h, w) = (ph, pw + 40);
    let mut m = vec![0u8; h * w];
    for y in 0..ph {
        m[y * w..y * w + pw].copy_from_slice(&pair_m[y * pw..(y + 1) * pw]);
    }
    let cy = h as f64 / 2.0;
    for y in 0..h {
        for x in pw..w {
            let lone = (y as f64 + 0.5 - cy).hypot(x as f64 + 0.5 - (pw + 12) as f64) <= 7.0;
            let rod = x >= pw + 24 && x < w - 2 && y >= 3 && y + 3 < h;
            if lone || rod {
                m[y * w + x] = 1;
            }
        }
    }
    let mut fresh = m.clone();
    Splitter::default().split(&mut fresh, h, w, 2.0);
    assert_eq!(count(&m, h, w), 3);
    assert_eq!(count(&fresh, h, w), 4);
    for y in 0..h {
        assert_eq!(fresh[y * w + pw..(y + 1) * w], m[y * w + pw..(y + 1) * w]);
    }
    // One splitter over frames of other sizes in between gives the same cut.
    let mut s = Splitter::default();
    for (mut f, fh, fw) in [pair(8.0, 14.0), pair(5.0, 9.0), (m.clone(), h, w)] {
        s.split(&mut f, fh, fw, 2.0);
        if fh == h && fw == w {
            assert_eq!(f, fresh);
        }
    }
}

/// Chamfer 3-4 distance of each pixel to the nearest background pixel by brute
/// force, capped at 3·(h + w) (also when there is none).
fn brute_distance(m: &[u8], h: usize, w: usize) -> Vec<u32> {
    let cap = AXIAL * (h + w) as u32;
    (0..h * w)
        .map(|i| {
            let far = (0..h * w).filter(|&j| m[j] == 0).map(|j| {
                let (dy, dx) = ((i / w).abs_diff(j / w), (i % w).abs_diff(j % w));
                (AXIAL * dy.max(dx) as u32) + (DIAGONAL - AXIAL) * dy.min(dx) as u32
            });
            if m[i] == 0 {
                0
            } else {
                far.min().unwrap_or(cap).min(cap)
            }
        })
        .collect()
}

/// The watershed the splitter computes, done plainly: every mask pixel of the
/// frame flooded in one order (falling distance, raster order within a level),
/// basins named by their first pixel and merged through an alias table.
fn oracle(mask: &mut [u8], h: usize, w: usize, neck: f32) {
    if neck <= 0.0 {
        return;
    }
    let hh = (neck * AXIAL as f32).round().max(1.0) as u32;
    let d = brute_distance(mask, h, w);
    let mut order: Vec<usize> = (0..h * w).filter(|&i| mask[i] != 0).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(d[i]), i));
    let mut alias: Vec<usize> = (0..h * w).collect();
    let resolve = |alias: &[usize], mut b: usize| {
        while alias[b] != b {
            b = alias[b];
        }
        b
    };
    let mut basin: Vec<Option<usize>> = vec![None; h * w];
    for &i in &order {
        let (y, x, level) = (i / w, i % w, d[i]);
        let (mut root, mut up): (Option<usize>, Option<usize>) = (None, None);
        for (dy, dx) in NEIGHBOURS {
            let (yy, xx) = (y as isize + dy, x as isize + dx);
            if yy < 0 || xx < 0 || yy >= h as isize || xx >= w as isize {
                continue;
            }
            let q = yy as usize * w + xx as usize;
            let Some(b) = basin[q] else { continue };
            let r = resolve(&alias, b);
            if up.is_none_or(|u| d[q] > d[u]) {
                up = Some(q);
            }
            root = Some(match root {
                None => r,
                Some(s) if s == r => s,
                Some(s) => {
                    let key = |b: usize| (d[b], std::cmp::Reverse(b));
                    let (hi, lo) = if key(r) > key(s) { (r, s) } else { (s, r) };
                    if d[lo] - level < hh {
                        alias[lo] = hi;
                    }
                    hi
                }
            });
        }
        basin[i] = Some(up.map_or(i, |u| resolve(&alias, basin[u].unwrap_or(u))));
    }
    let label: Vec<Option<usize>> = basin
        .iter()
        .map(|b| b.map(|b| resolve(&alias, b)))
        .collect();
    for i in 0..h * w {
        let (y, x) = (i / w, i % w);
        let right = x + 1 < w && mask[i + 1] != 0 && label[i + 1] != label[i];
        let down = y + 1 < h && mask[i + w] != 0 && label[i + w] != label[i];
        if mask[i] != 0 && (right || down) {
            mask[i] = 0;
        }
    }
}

/// A `h × w` mask of `n` random disks (radius 2–9 px, some cut by the edge).
fn disks(rng: &mut crate::synth::rng::SplitMix64, h: usize, w: usize, n: usize) -> Vec<u8> {
    let mut m = vec![0u8; h * w];
    for _ in 0..n {
        let (cy, cx, r) = (
            rng.range(-2.0, h as f64 + 2.0),
            rng.range(-2.0, w as f64 + 2.0),
            rng.range(2.0, 9.0),
        );
        for y in 0..h {
            for x in 0..w {
                if (y as f64 + 0.5 - cy).hypot(x as f64 + 0.5 - cx) <= r {
                    m[y * w + x] = 1;
                }
            }
        }
    }
    m
}

#[test]
fn splits_exactly_as_a_plain_whole_frame_watershed() {
    // Random touching disks from sparse to crowded, several necks, one reused
    // splitter over frames of changing size.
    let mut rng = crate::synth::rng::SplitMix64::new(20);
    let mut s = Splitter::default();
    let mut cut = 0;
    for round in 0..300 {
        let (h, w) = (8 + rng.below(40), 8 + rng.below(60));
        let n = 1 + rng.below(h * w / 40);
        let neck = [0.0, 0.5, 1.0, 2.0, 3.0][round % 5];
        let m = disks(&mut rng, h, w, n);
        let (mut got, mut want) = (m.clone(), m.clone());
        s.split(&mut got, h, w, neck);
        oracle(&mut want, h, w, neck);
        assert_eq!(got, want, "round {round}: {h}×{w}, neck {neck}");
        cut += usize::from(got != m);
    }
    assert!(cut > 50, "only {cut} masks were cut");
}

#[test]
fn distance_is_the_chamfer_distance_to_the_nearest_background_pixel() {
    // Random masks, 1 to 9 px a side (odd shapes, one row, one column): the
    // two passes give min over background pixels of 3·max(|dy|, |dx|) + min(…),
    // capped at 3·(h + w) when there is none.
    let mut rng = crate::synth::rng::SplitMix64::new(7);
    let mut s = Splitter::default();
    for _ in 0..400 {
        let (h, w) = (1 + rng.below(9), 1 + rng.below(9));
        let fill = rng.below(4);
        let m: Vec<u8> = (0..h * w).map(|_| u8::from(rng.below(4) <= fill)).collect();
        s.runs.encode(&m, h, w, true);
        let top = distance::distance(&mut s.dist, &s.runs, h, w);
        let want = brute_distance(&m, h, w);
        assert_eq!(s.dist, want, "{h}×{w} {m:?}");
        assert_eq!(top, want.iter().copied().max().unwrap_or(0));
    }
}
