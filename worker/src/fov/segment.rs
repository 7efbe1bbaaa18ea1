//! Cell segmentation of phase-contrast frames (the steps are described on
//! [`SegmentParams`]).

use crate::fov::background::BackgroundEstimator;
use crate::fov::filter::{LocalStd, TextureThreshold};
use crate::fov::morph::Morph;
use crate::fov::params::{BackgroundParams, PolarityParam, SegmentParams};
use crate::fov::runs::{Connectivity, RunScratch, fill_holes, remove_small};
use crate::fov::split::Splitter;

/// Segments phase-contrast frames of one size into 0/1 cell masks; reuses its buffers.
#[derive(Debug, Clone)]
pub struct Segmenter {
    h: usize,
    w: usize,
    params: SegmentParams,
    std: LocalStd,
    var: Vec<f32>,
    morph: Morph,
    runs: RunScratch,
    split: Splitter,
    phase_bg: BackgroundEstimator,
    dark: Vec<u8>,
    textured: Vec<u8>,
    last: Option<TextureThreshold>,
    /// The polarity in use: `(bright, chosen automatically)`, once known.
    polarity: Option<(bool, bool)>,
}

impl Segmenter {
    /// A segmenter for `h × w` frames.
    pub fn new(h: usize, w: usize, params: &SegmentParams) -> Self {
        // The phase background only sets the darkness reference of the refinement:
        // coarse tiles, every 4th pixel. With cells and their interiors excluded,
        // a crowded field leaves only narrow gaps and the field's margin, so the
        // crowded fallback keeps tiles with a few usable pixels.
        let bgp = BackgroundParams {
            tile: 64,
            dilate: 2,
            min_fraction: 0.2,
            sample: 2,
        };
        Segmenter {
            h,
            w,
            params: params.clone(),
            std: LocalStd::default(),
            var: vec![0.0; h * w],
            morph: Morph::default(),
            runs: RunScratch::default(),
            split: Splitter::default(),
            phase_bg: BackgroundEstimator::new(h, w, &bgp),
            dark: vec![0; h * w],
            textured: vec![0; h * w],
            last: None,
            polarity: match params.polarity {
                PolarityParam::Auto => None,
                PolarityParam::Dark => Some((false, false)),
                PolarityParam::Bright => Some((true, false)),
            },
        }
    }

    /// The texture threshold and noise level found in the last frame (`None` if that
    /// frame had no texture at all, e.g. a constant image).
    pub fn last_threshold(&self) -> Option<TextureThreshold> {
        self.last
    }

    /// The choices made from the data so far, for the stage record.
    pub fn decisions(&self) -> Vec<(String, String)> {
        let polarity = match self.polarity {
            None => "undecided (no frame had texture)",
            Some((false, false)) => "dark",
            Some((true, false)) => "bright",
            Some((false, true)) => "dark (auto)",
            Some((true, true)) => "bright (auto)",
        };
        vec![("polarity".into(), polarity.into())]
    }

    /// Writes the cell mask (1 = cell, 0 = background) of `phase` into `mask`.
    ///
    /// # Panics
    /// If a slice is shorter than `h × w`.
    pub fn segment(&mut self, phase: &[f32], mask: &mut [u8]) {
        let (h, w, p) = (self.h, self.w, self.params.clone());
        let n = h * w;
        let (phase, mask) = (&phase[..n], &mut mask[..n]);
        mask.fill(0);
        self.last = None;
        if n == 0 {
            return;
        }
        self.std.variance(phase, h, w, p.std_radius, &mut self.var);
        let Some(t) = self.std.threshold(&self.var, h, w, p.threshold_k) else {
            return;
        };
        self.last = Some(t);
        for (m, &v) in mask.iter_mut().zip(&self.var) {
            *m = u8::from(v > t.var);
        }
        self.textured[..n].copy_from_slice(mask);
        if self.polarity.is_none() {
            self.polarity =
                detect_polarity(phase, &self.textured[..n], p.dark_k.max(3.0) * t.noise)
                    .map(|bright| (bright, true));
        }
        self.clean(mask, true);
        if p.dark_k > 0.0 {
            // Compared row by row as the background is interpolated: no full-frame
            // background buffer to write and read back. 1 = darker, 2 = brighter
            // than the background by d. The background comes from pixels outside
            // both the raw texture and the cleaned mask: the smooth interiors of
            // cells lie outside the texture, and on a crowded field they outnumber
            // the background in a tile (at 60 % coverage the reference fell to
            // ~72 % of the true level and cut every cell's rim; docs/benchmarks.md).
            let d = p.dark_k * t.noise;
            let (dark, exclude) = (&mut self.dark[..n], &mut self.textured[..n]);
            for (e, &m) in exclude.iter_mut().zip(mask.iter()) {
                *e |= m;
            }
            self.phase_bg.estimate_rows(phase, exclude, |y, bg| {
                let row = y * w..(y + 1) * w;
                for ((k, &v), &b) in dark[row.clone()].iter_mut().zip(&phase[row]).zip(bg) {
                    *k = if v < b - d {
                        1
                    } else if v > b + d {
                        2
                    } else {
                        0
                    };
                }
            });
            let keep = if self.polarity.is_some_and(|(bright, _)| bright) {
                2
            } else {
                1
            };
            for (m, &k) in mask.iter_mut().zip(dark.iter()) {
                *m &= u8::from(k == keep);
            }
            self.clean(mask, false);
        }
        self.split.split(mask, h, w, p.split_neck);
    }

    /// Closing (texture mask only), hole filling, opening, small-object removal.
    fn clean(&mut self, mask: &mut [u8], close: bool) {
        let (h, w, p) = (self.h, self.w, &self.params);
        if close {
            self.morph.close(mask, h, w, p.close_radius);
        }
        fill_holes(mask, h, w, Connectivity::Four, &mut self.runs);
        self.morph.open(mask, h, w, p.open_radius);
        remove_small(mask, h, w, p.min_area, Connectivity::Four, &mut self.runs);
    }
}

/// Bright (true) or dark (false) cells: which side of the flat pixels' median
/// level holds more contrast beyond `d` (cells outweigh their thin halos on
/// either polarity). None when there are no flat or no textured pixels.
fn detect_polarity(phase: &[f32], textured: &[u8], d: f32) -> Option<bool> {
    let step = (phase.len() / 65536).max(1);
    let mut flat: Vec<f32> = phase
        .iter()
        .zip(textured)
        .step_by(step)
        .filter(|(_, t)| **t == 0)
        .map(|(v, _)| *v)
        .collect();
    if flat.is_empty() {
        return None;
    }
    let mid = flat.len() / 2;
    let level = *flat.select_nth_unstable_by(mid, f32::total_cmp).1;
    let (mut below, mut above) = (0f64, 0f64);
    for (&v, _) in phase
        .iter()
        .zip(textured)
        .step_by(step)
        .filter(|(_, t)| **t == 1)
    {
        below += f64::from((level - d - v).max(0.0));
        above += f64::from((v - level - d).max(0.0));
    }
    (below + above > 0.0).then_some(above > below)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A noisy background with two dark disks ringed by a bright halo.
    fn scene(h: usize, w: usize) -> (Vec<f32>, Vec<u8>) {
        let mut s = 12345u64;
        let mut img = vec![0.0; h * w];
        let mut truth = vec![0u8; h * w];
        for y in 0..h {
            for x in 0..w {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 40.0;
                let mut v = 1000.0 + noise;
                for (cy, cx, r) in [(20.0, 20.0, 8.0), (40.0, 45.0, 10.0)] {
                    let d = ((y as f32 - cy).powi(2) + (x as f32 - cx).powi(2)).sqrt() - r;
                    if d <= 0.0 {
                        v -= 450.0 + 60.0 * ((x + y) % 3) as f32;
                        truth[y * w + x] = 1;
                    } else if d < 3.0 {
                        v += 250.0;
                    }
                }
                img[y * w + x] = v;
            }
        }
        (img, truth)
    }

    #[test]
    fn finds_dark_cells() {
        let (h, w) = (64, 70);
        let (img, truth) = scene(h, w);
        let mut mask = vec![0; h * w];
        Segmenter::new(h, w, &SegmentParams::default()).segment(&img, &mut mask);
        let inter = mask
            .iter()
            .zip(&truth)
            .filter(|(a, b)| **a == 1 && **b == 1)
            .count();
        let dice = 2.0 * inter as f64
            / (mask.iter().filter(|v| **v == 1).count() + truth.iter().filter(|v| **v == 1).count())
                as f64;
        assert!(dice > 0.95, "dice {dice}");
    }

    #[test]
    fn flat_and_tiny_frames_give_empty_masks() {
        for (h, w) in [(1, 1), (2, 3), (64, 64), (7, 100)] {
            let mut seg = Segmenter::new(h, w, &SegmentParams::default());
            let mut mask = vec![1; h * w];
            seg.segment(&vec![0.0; h * w], &mut mask);
            assert!(mask.iter().all(|v| *v == 0));
            seg.segment(&vec![123.0; h * w], &mut mask);
            assert!(mask.iter().all(|v| *v == 0));
            let ramp: Vec<f32> = (0..h * w).map(|i| (i % 17) as f32).collect();
            seg.segment(&ramp, &mut mask);
        }
    }
}
