//! Rendering of one frame of a planned scene.
//!
//! Each cell is an ellipse. The signed distance `d` of a pixel centre to its edge
//! (first-order approximation, negative inside) drives everything:
//! - phase contrast: background × (1 + halo) × (1 − darkening) + noise, where the
//!   darkening is `dark · S(−d/0.5) · (1 + 0.2 · texture)` (texture: a product of
//!   two waves in cell coordinates) and the halo `halo · S(d/0.5) · e^{−d/2}` is a
//!   bright ring just outside the edge (with [`Polarity::Bright`] the other way
//!   round: background × (1 − halo) × (1 + brightening), a bright cell in a dark ring);
//! - fluorescence: smooth background + `amp · S(−d/1) · (1 + 0.25·(1 − q²))` (the
//!   cell blurred by a σ = 1 px optics, brighter in the middle) + shot and read noise;
//! - truth labels: pixel centres inside the ellipse.
//!
//! `S` is the logistic approximation of the normal CDF. The true signal of a cell is
//! the sum of its noise-free fluorescence contribution over the frame.

use crate::synth::cell::{CellPlan, Pose};
use crate::synth::rng::{SplitMix64, mix};
use crate::synth::{Polarity, Scene, SynthFrame, TruthRow};

/// Logistic approximation of the standard normal CDF.
fn cdf(z: f32) -> f32 {
    1.0 / (1.0 + (-1.702 * z).exp())
}

/// Phase background level before the illumination gradient.
const PHASE_LEVEL: f32 = 1000.0;
/// Phase noise standard deviation.
const PHASE_NOISE: f32 = 20.0;
/// Fluorescence read noise standard deviation.
const READ_NOISE: f32 = 4.0;

/// Noise-free fluorescence background at normalised coordinates (−0.5..0.5).
fn fl_bg(level: f32, ax: f32, ay: f32, curve: f32, yn: f32, xn: f32) -> f32 {
    level * (1.0 + ax * xn + ay * yn - curve * (xn * xn + yn * yn))
}

/// The noise-free background of fluorescence channel `c` (empty if there is none).
pub(crate) fn fl_background(scene: &Scene, c: usize) -> Vec<f32> {
    let size = scene.config.size;
    let Some(&[level, ax, ay, curve]) = scene.fl_bg.get(c) else {
        return Vec::new();
    };
    let [oy, ox, inv] = scene.field;
    (0..size * size)
        .map(|i| {
            let yn = ((i / size) as f32 + oy) * inv - 0.5;
            let xn = ((i % size) as f32 + ox) * inv - 0.5;
            fl_bg(level, ax, ay, curve, yn, xn)
        })
        .collect()
}

/// Per-cell accumulators of one frame.
struct Acc<'a> {
    size: usize,
    dark: &'a mut [f32],
    halo: &'a mut [f32],
    labels: &'a mut [u32],
    sig: &'a mut [Vec<f32>],
}

fn draw_cell(acc: &mut Acc, cell: &CellPlan, p: Pose, bleach: f32, signal: &mut [f64]) {
    let size = acc.size as i64;
    let trig = p.angle.sin_cos();
    let (a, b) = p.axes();
    let reach = a.max(b) + 7.0;
    let y0 = ((p.cy - reach).floor() as i64).max(0);
    let y1 = ((p.cy + reach).ceil() as i64 + 1).min(size);
    let x0 = ((p.cx - reach).floor() as i64).max(0);
    let x1 = ((p.cx + reach).ceil() as i64 + 1).min(size);
    let (ia2, ib2) = (1.0 / (a * a), 1.0 / (b * b));
    let [k1, k2, f1, f2] = cell.tex;
    for y in y0..y1 {
        let dy = y as f32 - p.cy;
        for x in x0..x1 {
            let dx = x as f32 - p.cx;
            let (u, v) = p.local(trig, dy, dx);
            let q2 = u * u * ia2 + v * v * ib2;
            let q = q2.sqrt();
            let d = if q > 1e-6 {
                let g = ((u * ia2).powi(2) + (v * ib2).powi(2)).sqrt() / q;
                (q - 1.0) / g
            } else {
                -b.min(a)
            };
            if d >= 7.0 {
                continue;
            }
            let i = y as usize * acc.size + x as usize;
            let tex = (k1 * u + f1).sin() * (k2 * v + f2).cos();
            let dk = cell.dark * cdf(-d / 0.5) * (1.0 + 0.2 * tex);
            acc.dark[i] = acc.dark[i].max(dk);
            if d > -1.5 {
                acc.halo[i] += cell.halo * cdf(d / 0.5) * (-d.max(0.0) / 2.0).exp();
            }
            if q2 <= 1.0 {
                acc.labels[i] = cell.id;
            }
            if d < 4.5 {
                let shape = cdf(-d) * (1.0 + 0.25 * (1.0 - q2.min(1.0))) * bleach;
                for ((sig, amp), tot) in acc.sig.iter_mut().zip(&cell.amp).zip(signal.iter_mut()) {
                    let v = amp * shape;
                    sig[i] += v;
                    *tot += f64::from(v);
                }
            }
        }
    }
}

/// Renders frame `t` of `scene`.
pub(crate) fn render(scene: &Scene, t: usize) -> SynthFrame {
    let size = scene.config.size;
    let n = size * size;
    let nch = scene.config.fl_channels;
    let mut dark = vec![0f32; n];
    let mut halo = vec![0f32; n];
    let mut labels = vec![0u32; n];
    let mut sig = vec![vec![0f32; n]; nch];
    let bleach = (-0.004 * t as f32).exp();
    // Cells visible in this frame, with their signal totals.
    let mut seen: Vec<(usize, Vec<f64>)> = Vec::new();
    {
        let mut acc = Acc {
            size,
            dark: &mut dark,
            halo: &mut halo,
            labels: &mut labels,
            sig: &mut sig,
        };
        for (k, cell) in scene.cells.iter().enumerate() {
            if let Some(p) = cell.pose(t) {
                let mut signal = vec![0.0; nch];
                draw_cell(&mut acc, cell, p, bleach, &mut signal);
                seen.push((k, signal));
            }
        }
    }
    // Truth from the final labels (area, centroid).
    let mut slot = vec![usize::MAX; scene.cells.len() + 1];
    for (j, (k, _)) in seen.iter().enumerate() {
        slot[scene.cells[*k].id as usize] = j;
    }
    let mut sums = vec![(0u64, 0f64, 0f64); seen.len()];
    for (i, &l) in labels.iter().enumerate() {
        if l != 0 {
            let s = &mut sums[slot[l as usize]];
            s.0 += 1;
            s.1 += (i / size) as f64;
            s.2 += (i % size) as f64;
        }
    }
    let truth = seen
        .into_iter()
        .zip(&sums)
        .filter(|(_, s)| s.0 > 0)
        .map(|((k, signal), s)| TruthRow {
            cell: scene.cells[k].id,
            frame: t,
            area: s.0,
            centroid_y: s.1 / s.0 as f64,
            centroid_x: s.2 / s.0 as f64,
            signal,
        })
        .collect();
    // Phase contrast.
    let mut rng = SplitMix64::new(mix(scene.config.seed, mix(t as u64, 0)));
    let (gy, gx) = scene.phase_grad;
    let polarity = scene.config.polarity;
    let [oy, ox, inv] = scene.field;
    let mut phase = vec![0u16; n];
    for (y, row) in phase.chunks_exact_mut(size.max(1)).enumerate() {
        let yn = (y as f32 + oy) * inv - 0.5;
        for (x, o) in row.iter_mut().enumerate() {
            let i = y * size + x;
            let xn = (x as f32 + ox) * inv - 0.5;
            let base = PHASE_LEVEL * (1.0 + gy * yn + gx * xn);
            let optics = match polarity {
                Polarity::Dark => (1.0 + halo[i]) * (1.0 - dark[i]),
                Polarity::Bright => (1.0 - halo[i].min(0.6)) * (1.0 + dark[i]),
            };
            let v = base * optics + PHASE_NOISE * rng.gauss();
            *o = (v + 0.5).clamp(0.0, 65535.0) as u16;
        }
    }
    // Fluorescence.
    let fl = sig
        .iter()
        .enumerate()
        .map(|(c, sig)| {
            let mut rng = SplitMix64::new(mix(scene.config.seed, mix(t as u64, c as u64 + 1)));
            let [level, ax, ay, curve] = scene.fl_bg[c];
            let mut out = vec![0u16; n];
            for (y, row) in out.chunks_exact_mut(size.max(1)).enumerate() {
                let yn = (y as f32 + oy) * inv - 0.5;
                for (x, o) in row.iter_mut().enumerate() {
                    let xn = (x as f32 + ox) * inv - 0.5;
                    let mean = fl_bg(level, ax, ay, curve, yn, xn) + sig[y * size + x];
                    let v = mean + (mean.max(0.0) + READ_NOISE * READ_NOISE).sqrt() * rng.gauss();
                    *o = (v + 0.5).clamp(0.0, 65535.0) as u16;
                }
            }
            out
        })
        .collect();
    SynthFrame {
        phase,
        fl,
        labels,
        truth,
    }
}
