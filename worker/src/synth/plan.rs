//! Planning of a synthetic scene: every cell's pose in every frame, and the events.
//!
//! Cells live in the slots of a 32-pixel grid (so density scales with the field's
//! area and neighbours never collide), each wandering a little around its slot
//! centre and slowly rotating. Special cells: one vanishes for exactly one frame;
//! some appear late; some divide (the parent elongates, then two daughters separate
//! along its long axis); some in edge slots drift out of the field; in fields of at
//! least 4×4 slots, some pairs of cells close in, touch for two frames and part.

use std::f64::consts::PI;

use crate::synth::cell::{CellPlan, Motion, Pose};
use crate::synth::dense::{A_MAX, B_MAX, Dense, FILL, Slot, grid};
use crate::synth::rng::SplitMix64;
use crate::synth::{Event, SceneConfig};

/// Slot pitch in pixels.
const PITCH: f64 = 32.0;

/// The scene being planned: cells and events so far, and the random stream.
struct Planner<'a> {
    cfg: &'a SceneConfig,
    dense: Option<Dense>,
    rng: SplitMix64,
    cells: Vec<CellPlan>,
    events: Vec<Event>,
}

impl Planner<'_> {
    fn motion(&mut self, cy: f64, cx: f64, jitter: f64) -> Motion {
        if let Some(d) = self.dense {
            return self.dense_motion(cy, cx, d);
        }
        let r = &mut self.rng;
        Motion {
            cy: cy + r.range(-jitter, jitter),
            cx: cx + r.range(-jitter, jitter),
            amp: 1.5,
            period: [r.range(12.0, 30.0), r.range(12.0, 30.0)],
            phase: [r.range(0.0, 2.0 * PI), r.range(0.0, 2.0 * PI)],
            angle: r.range(0.0, PI),
            spin: r.range(-0.03, 0.03),
        }
    }

    /// Dense layout: little wander, near the row direction, no spin.
    fn dense_motion(&mut self, cy: f64, cx: f64, d: Dense) -> Motion {
        let r = &mut self.rng;
        Motion {
            cy,
            cx,
            amp: d.amp,
            period: [r.range(12.0, 30.0), r.range(12.0, 30.0)],
            phase: [r.range(0.0, 2.0 * PI), r.range(0.0, 2.0 * PI)],
            angle: r.range(-d.tilt, d.tilt),
            spin: 0.0,
        }
    }

    /// Semi-axes of a new cell: `sparse` ranges, or the dense lattice's.
    fn axes(&mut self, sparse: ((f64, f64), (f64, f64))) -> (f64, f64) {
        if self.dense.is_some() {
            (
                self.rng.range(FILL, 1.0) * A_MAX,
                self.rng.range(FILL, 1.0) * B_MAX,
            )
        } else {
            let ((a0, a1), (b0, b1)) = sparse;
            (self.rng.range(a0, a1), self.rng.range(b0, b1))
        }
    }

    fn cell(&mut self, first: usize, poses: Vec<Pose>) -> u32 {
        let id = self.cells.len() as u32 + 1;
        let r = &mut self.rng;
        let (dark, halo) = (r.range(0.38, 0.55) as f32, r.range(0.15, 0.3) as f32);
        let tex = [
            r.range(0.8, 1.5) as f32,
            r.range(0.8, 1.5) as f32,
            r.range(0.0, 2.0 * PI) as f32,
            r.range(0.0, 2.0 * PI) as f32,
        ];
        let amp = (0..self.cfg.fl_channels)
            .map(|_| r.range(150f64.ln(), 900f64.ln()).exp() as f32)
            .collect();
        self.cells.push(CellPlan {
            id,
            first,
            poses,
            hidden: None,
            dark,
            halo,
            tex,
            amp,
        });
        id
    }

    fn pose(m: &Motion, t: usize, a: f64, b: f64) -> Pose {
        let (cy, cx, angle) = m.at(t);
        Pose {
            cy: cy as f32,
            cx: cx as f32,
            angle: angle as f32,
            a: a as f32,
            b: b as f32,
        }
    }

    /// A plain cell in the slot centred at `(cy, cx)`, alive in `first..frames`.
    fn plain(&mut self, cy: f64, cx: f64, first: usize) -> u32 {
        let m = self.motion(cy, cx, 2.0);
        let (a, b) = self.axes(((6.5, 9.5), (4.5, 6.0)));
        let poses = (first..self.cfg.frames)
            .map(|t| Self::pose(&m, t, a, b))
            .collect();
        self.cell(first, poses)
    }

    fn divider(&mut self, cy: f64, cx: f64) {
        let frames = self.cfg.frames;
        let td = self
            .rng
            .range(frames as f64 / 3.0, 2.0 * frames as f64 / 3.0) as usize;
        let td = td.clamp(1, frames - 1);
        let m = self.motion(cy, cx, 0.0);
        let dense = self.dense.is_some();
        // Dense: the parent grows to fill its slot and its daughters stay in it.
        let (a0, b) = if dense {
            let (a, b) = self.axes(((0.0, 0.0), (0.0, 0.0)));
            (a / 1.5, b)
        } else {
            (self.rng.range(6.5, 8.0), self.rng.range(4.5, 5.5))
        };
        let grow = |t: usize| a0 * (1.0 + 0.5 * t as f64 / td as f64);
        let poses = (0..td).map(|t| Self::pose(&m, t, grow(t), b)).collect();
        let parent = self.cell(0, poses);
        let ad0 = (2.0 * grow(td) - 3.0) / 4.0;
        let mut ids = [0u32; 2];
        for (k, sign) in [-1.0f64, 1.0].into_iter().enumerate() {
            let poses = (td..frames)
                .map(|t| {
                    let dt = if dense { 0.0 } else { (t - td) as f64 };
                    let ad = ad0 * (1.0 + 0.03 * dt).min(1.1);
                    let off = sign * (ad + (3.0 + dt).min(5.0) / 2.0);
                    let p = Self::pose(&m, t, ad, b);
                    let (s, c) = (p.angle as f64).sin_cos();
                    Pose {
                        cy: p.cy + (off * s) as f32,
                        cx: p.cx + (off * c) as f32,
                        ..p
                    }
                })
                .collect();
            ids[k] = self.cell(td, poses);
        }
        self.cells[ids[1] as usize - 1].amp = self.cells[parent as usize - 1].amp.clone();
        self.cells[ids[0] as usize - 1].amp = self.cells[parent as usize - 1].amp.clone();
        self.events.push(Event::Divide {
            parent,
            daughters: ids,
            frame: td,
        });
    }

    /// Two parallel cells side by side that close in, touch in two frames and part.
    fn toucher(&mut self, cy: f64, cx: f64) {
        let frames = self.cfg.frames;
        let m = self.motion(cy, cx, 0.0);
        let contact = (frames / 2).saturating_sub(1);
        let last = (contact + 1).min(frames - 1);
        let apart = |t: usize| {
            let d = contact.saturating_sub(t).max(t.saturating_sub(last)) as f64;
            (1.2 * d).min(4.0)
        };
        let mut ids = [0u32; 2];
        for (k, sign) in [-1.0f64, 1.0].into_iter().enumerate() {
            let a = self.rng.range(6.5, 8.5);
            let b = self.rng.range(4.0, 5.0);
            let poses = (0..frames)
                .map(|t| {
                    let off = sign * (b + 0.4 + apart(t) / 2.0);
                    let p = Self::pose(&m, t, a, b);
                    let (s, c) = (p.angle as f64).sin_cos();
                    Pose {
                        cy: p.cy + (off * c) as f32,
                        cx: p.cx - (off * s) as f32,
                        ..p
                    }
                })
                .collect();
            ids[k] = self.cell(0, poses);
        }
        self.events.push(Event::Touch {
            cells: ids,
            first: contact,
            last,
        });
    }

    /// Dense layout: the cells of two neighbouring slots in a row, lying along
    /// the row, close in until their tips nearly touch for two frames and part.
    fn toucher_pair(&mut self, left: (f64, f64), right: (f64, f64)) {
        let frames = self.cfg.frames;
        let contact = (frames / 2).saturating_sub(1);
        let last = (contact + 1).min(frames - 1);
        let (a1, b1) = self.axes(((0.0, 0.0), (0.0, 0.0)));
        let (a2, b2) = self.axes(((0.0, 0.0), (0.0, 0.0)));
        // Each moves half the spare room, leaving a 0.5 px gap at contact.
        let shift = ((right.1 - left.1 - a1 - a2 - 0.5) / 2.0).max(0.0);
        let closeness = |t: usize| {
            let d = contact.saturating_sub(t).max(t.saturating_sub(last)) as f64;
            (1.0 - d / 3.0).max(0.0)
        };
        let mut ids = [0u32; 2];
        for (k, ((cy, cx), a, b, sign)) in [(left, a1, b1, 1.0), (right, a2, b2, -1.0)]
            .into_iter()
            .enumerate()
        {
            let poses = (0..frames)
                .map(|t| Pose {
                    cy: cy as f32,
                    cx: (cx + sign * shift * closeness(t)) as f32,
                    angle: 0.0,
                    a: a as f32,
                    b: b as f32,
                })
                .collect();
            ids[k] = self.cell(0, poses);
        }
        self.events.push(Event::Touch {
            cells: ids,
            first: contact,
            last,
        });
    }

    /// A cell in an edge slot that drifts out through that edge near the end.
    fn leaver(&mut self, cy: f64, cx: f64, dir: (f64, f64)) {
        let (size, frames) = (self.cfg.size as f64, self.cfg.frames);
        let m = self.motion(cy, cx, 0.0);
        let (a, b) = self.axes(((6.5, 9.0), (4.5, 6.0)));
        let to_edge = match dir {
            (dy, _) if dy < 0.0 => cy,
            (dy, _) if dy > 0.0 => size - cy,
            (_, dx) if dx < 0.0 => cx,
            _ => size - cx,
        };
        let speed = 2.0;
        let needed = ((to_edge + a + 3.0) / speed).ceil() as usize;
        let start = frames.saturating_sub(needed + 3);
        let mut poses = Vec::new();
        let mut gone = None;
        for t in 0..frames {
            let mut p = Self::pose(&m, t, a, b);
            let shift = speed * t.saturating_sub(start) as f64;
            p.cy += (shift * dir.0) as f32;
            p.cx += (shift * dir.1) as f32;
            if t > start && !p.has_pixel(self.cfg.size) {
                gone = Some(t);
                break;
            }
            poses.push(p);
        }
        let cell = self.cell(0, poses);
        if let Some(frame) = gone {
            self.events.push(Event::Leave { cell, frame });
        }
    }
}

/// Plans all cells and events of a scene.
pub(crate) fn plan(cfg: &SceneConfig) -> (Vec<CellPlan>, Vec<Event>) {
    let dense = cfg.density.map(Dense::for_coverage);
    let mut p = Planner {
        cfg,
        dense,
        rng: SplitMix64::new(crate::synth::rng::mix(cfg.seed, 0x5CE7E)),
        cells: Vec::new(),
        events: Vec::new(),
    };
    let mut slots = match dense {
        Some(d) => d.slots(cfg.size),
        None if cfg.size >= 24 => {
            let g = (cfg.size / PITCH as usize).max(1);
            grid(cfg.size, g, PITCH)
        }
        None => Vec::new(),
    };
    if slots.is_empty() || cfg.frames == 0 {
        return (p.cells, p.events);
    }
    p.rng.shuffle(&mut slots);
    let n = slots.len();
    let rows = slots.iter().map(|s| s.row + 1).max().unwrap_or(0);
    let frames = cfg.frames;
    let take = |slots: &mut Vec<Slot>, edge_only: bool| -> Option<Slot> {
        let k = slots
            .iter()
            .position(|s| !edge_only || !s.edges.is_empty())?;
        Some(slots.remove(k))
    };
    if frames >= 3
        && let Some(s) = take(&mut slots, false)
    {
        let id = p.plain(s.cy, s.cx, 0);
        let hidden = (frames / 2).clamp(1, frames - 2);
        p.cells[id as usize - 1].hidden = Some(hidden);
        p.events.push(Event::Dropout {
            cell: id,
            frame: hidden,
        });
    }
    for _ in 0..if frames >= 2 { (n / 64).max(1) } else { 0 } {
        if let Some(s) = take(&mut slots, false) {
            let first = 1 + p.rng.below((frames / 2).max(1));
            let id = p.plain(s.cy, s.cx, first.min(frames - 1));
            p.events.push(Event::Appear {
                cell: id,
                frame: first.min(frames - 1),
            });
        }
    }
    for _ in 0..if frames >= 3 { (n / 128).max(1) } else { 0 } {
        if let Some(s) = take(&mut slots, true) {
            let d = s.edges[p.rng.below(s.edges.len())];
            p.leaver(s.cy, s.cx, d);
        }
    }
    for _ in 0..if frames >= 4 { (n / 25).max(1) } else { 0 } {
        if let Some(s) = take(&mut slots, false) {
            p.divider(s.cy, s.cx);
        }
    }
    for _ in 0..if rows >= 4 { (n / 200).max(1) } else { 0 } {
        if dense.is_none() {
            if let Some(s) = take(&mut slots, false) {
                p.toucher(s.cy, s.cx);
            }
            continue;
        }
        // Two free neighbours in a row.
        let pair = slots.iter().enumerate().find_map(|(k, s)| {
            slots
                .iter()
                .position(|o| o.row == s.row && o.col == s.col + 1)
                .map(|j| (k, j))
        });
        if let Some((k, j)) = pair {
            let (l, r) = ((slots[k].cy, slots[k].cx), (slots[j].cy, slots[j].cx));
            slots.remove(k.max(j));
            slots.remove(k.min(j));
            p.toucher_pair(l, r);
        }
    }
    while let Some(s) = take(&mut slots, false) {
        if dense.is_some() || p.rng.uniform() < 0.6 {
            p.plain(s.cy, s.cx, 0);
        }
    }
    (p.cells, p.events)
}
