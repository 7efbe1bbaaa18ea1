//! One synthetic cell's geometry: its ellipse per frame ([`Pose`]), its whole
//! plan ([`CellPlan`]) and the wandering that moves it ([`Motion`]).

use std::f64::consts::PI;

/// A cell's ellipse in one frame: centre, angle of the long axis, semi-axes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pose {
    pub cy: f32,
    pub cx: f32,
    pub angle: f32,
    pub a: f32,
    pub b: f32,
}

impl Pose {
    /// Semi-axes as drawn (never below half a pixel).
    pub fn axes(&self) -> (f32, f32) {
        (self.a.max(0.5), self.b.max(0.5))
    }

    /// Coordinates of the point `(dy, dx)` (relative to the centre) along the long
    /// and the short axis, given `(sin, cos)` of the angle.
    pub fn local(&self, (s, c): (f32, f32), dy: f32, dx: f32) -> (f32, f32) {
        (dx * c + dy * s, -dx * s + dy * c)
    }

    /// True if the centre of some pixel of a `size × size` field lies in the ellipse.
    pub fn has_pixel(&self, size: usize) -> bool {
        let (a, b) = self.axes();
        let trig = self.angle.sin_cos();
        let reach = a.max(b) + 1.0;
        let y0 = ((self.cy - reach).floor() as i64).max(0);
        let y1 = ((self.cy + reach).ceil() as i64 + 1).min(size as i64);
        let x0 = ((self.cx - reach).floor() as i64).max(0);
        let x1 = ((self.cx + reach).ceil() as i64 + 1).min(size as i64);
        // The same arithmetic as the renderer's labels.
        let (ia2, ib2) = (1.0 / (a * a), 1.0 / (b * b));
        (y0..y1).any(|y| {
            (x0..x1).any(|x| {
                let (u, v) = self.local(trig, y as f32 - self.cy, x as f32 - self.cx);
                u * u * ia2 + v * v * ib2 <= 1.0
            })
        })
    }
}

/// Everything needed to render one cell in any frame.
#[derive(Debug, Clone)]
pub(crate) struct CellPlan {
    pub id: u32,
    pub first: usize,
    pub poses: Vec<Pose>,
    pub hidden: Option<usize>,
    /// Phase darkening at the centre (fraction of the background).
    pub dark: f32,
    /// Phase halo strength (fraction of the background).
    pub halo: f32,
    /// Texture wave numbers and phases.
    pub tex: [f32; 4],
    /// Fluorescence per pixel above background, per channel.
    pub amp: Vec<f32>,
}

impl CellPlan {
    /// The pose in frame `t`, if the cell is visible then.
    pub fn pose(&self, t: usize) -> Option<Pose> {
        if self.hidden == Some(t) {
            return None;
        }
        t.checked_sub(self.first)
            .and_then(|i| self.poses.get(i))
            .copied()
    }
}

/// Smooth wandering around a centre with slow rotation.
pub(crate) struct Motion {
    /// Centre row.
    pub cy: f64,
    /// Centre column.
    pub cx: f64,
    /// Amplitude of the wandering, in pixels.
    pub amp: f64,
    /// Periods of the wandering in y and x, in frames.
    pub period: [f64; 2],
    /// Phases of the wandering in y and x.
    pub phase: [f64; 2],
    /// Angle of the long axis in frame 0.
    pub angle: f64,
    /// Rotation per frame.
    pub spin: f64,
}

impl Motion {
    /// Centre and angle in frame `t`.
    pub fn at(&self, t: usize) -> (f64, f64, f64) {
        let t = t as f64;
        let oy = self.amp * (2.0 * PI * t / self.period[0] + self.phase[0]).sin();
        let ox = self.amp * (2.0 * PI * t / self.period[1] + self.phase[1]).sin();
        (self.cy + oy, self.cx + ox, self.angle + self.spin * t)
    }
}
