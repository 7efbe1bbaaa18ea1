//! Synthetic time-lapse scenes with ground truth, for `isobatch demo` and the
//! accuracy tests.
//!
//! A [`Scene`] plans every cell and event up front ([`Scene::new`] is cheap), and
//! [`Scene::render`] draws any frame on its own (frame `t` never depends on having
//! rendered earlier frames; the same seed gives the same pixels). Phase contrast
//! shows textured dark cells with bright halos on a noisy, unevenly lit background;
//! each fluorescence channel shows per-cell signal, blurred by the optics, on a
//! smooth background gradient, with shot and read noise. About 60 % of the slots of
//! a 32-pixel grid hold a cell, so density scales with the area (a 64-pixel field
//! has a few cells, a 1024-pixel one several hundred). See [`Event`] for what
//! happens to special cells.

mod cell;
mod dense;
mod plan;
mod render;
pub mod rng;
pub mod run;
pub mod score;

use cell::CellPlan;
use rng::{SplitMix64, mix};

/// Phase-contrast look of the cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Polarity {
    /// Dark cells ringed by a bright halo (the usual positive phase contrast).
    #[default]
    Dark,
    /// Bright cells ringed by a dark halo.
    Bright,
}

impl Polarity {
    /// The name `isobatch demo --polarity` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Polarity::Dark => "dark",
            Polarity::Bright => "bright",
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneConfig {
    /// Frame height and width in pixels (default 256).
    pub size: usize,
    /// Number of frames (default 20).
    pub frames: usize,
    /// Seed of everything random (default 1).
    pub seed: u64,
    /// Number of fluorescence channels (default 1).
    pub fl_channels: usize,
    /// Target fraction of the field covered by cells (0.01–0.65). None (the
    /// default) keeps the sparse 32-pixel grid; a value packs near-aligned cells
    /// on a staggered (hexagonal) lattice whose spacing gives that coverage, so
    /// high values make a confluent field where most cells nearly touch.
    pub density: Option<f64>,
    /// Phase-contrast polarity (default dark cells on a bright halo).
    pub polarity: Polarity,
}

/// Coverages [`SceneConfig::density`] can reach.
pub const DENSITY_RANGE: std::ops::RangeInclusive<f64> = 0.01..=0.65;

impl Default for SceneConfig {
    fn default() -> Self {
        SceneConfig {
            size: 256,
            frames: 20,
            seed: 1,
            fl_channels: 1,
            density: None,
            polarity: Polarity::Dark,
        }
    }
}

/// Ground truth of one cell in one frame (cells with no pixel in the field are absent).
#[derive(Debug, Clone, PartialEq)]
pub struct TruthRow {
    /// True cell id (as in [`SynthFrame::labels`]).
    pub cell: u32,
    /// Frame index.
    pub frame: usize,
    /// Pixels whose centre lies in the cell.
    pub area: u64,
    /// Mean row of those pixels.
    pub centroid_y: f64,
    /// Mean column of those pixels.
    pub centroid_x: f64,
    /// Per channel: the cell's noise-free fluorescence summed over the frame
    /// (background-free; includes the light blurred past the cell edge).
    pub signal: Vec<f64>,
}

/// One rendered frame, `size × size`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthFrame {
    /// Phase-contrast image.
    pub phase: Vec<u16>,
    /// One image per fluorescence channel.
    pub fl: Vec<Vec<u16>>,
    /// True cell id per pixel, 0 = background.
    pub labels: Vec<u32>,
    /// Ground truth of every cell visible in this frame.
    pub truth: Vec<TruthRow>,
}

/// Something that happens to particular cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `cell` appears in `frame` (> 0) and stays.
    Appear {
        /// The late cell.
        cell: u32,
        /// Its first frame.
        frame: usize,
    },
    /// `cell` is invisible in exactly one `frame` and present before and after.
    Dropout {
        /// The cell.
        cell: u32,
        /// The frame it is missing from.
        frame: usize,
    },
    /// `parent` is last seen in `frame - 1`; its `daughters` appear in `frame`.
    Divide {
        /// The dividing cell.
        parent: u32,
        /// The two new cells.
        daughters: [u32; 2],
        /// First frame of the daughters.
        frame: usize,
    },
    /// `cell` drifts out of the field; `frame` is the first frame without any of its pixels.
    Leave {
        /// The cell.
        cell: u32,
        /// First frame it is gone.
        frame: usize,
    },
    /// `cells` approach, touch each other in frames `first..=last` (two frames; one in
    /// a two-frame scene) and part again (fields of 128 px and more).
    Touch {
        /// The two cells.
        cells: [u32; 2],
        /// First frame of contact.
        first: usize,
        /// Last frame of contact.
        last: usize,
    },
}

/// A planned synthetic time-lapse.
#[derive(Debug, Clone)]
pub struct Scene {
    config: SceneConfig,
    cells: Vec<CellPlan>,
    events: Vec<Event>,
    /// Phase illumination gradient (relative change across the field in y, x).
    phase_grad: (f32, f32),
    /// Per fluorescence channel: level, x slope, y slope, vignetting.
    fl_bg: Vec<[f32; 4]>,
    /// Where the field sits on the camera: row and column offset, 1 / sensor size.
    /// Illumination varies over the whole sensor (at least 1024 px), so a small
    /// field is a crop with a gentle background, as on a real microscope.
    field: [f32; 3],
}

impl Scene {
    /// Plans the scene: all cells, their motion and the events.
    pub fn new(config: &SceneConfig) -> Self {
        let (cells, events) = plan::plan(config);
        let mut rng = SplitMix64::new(mix(config.seed, 0xB6));
        let phase_grad = (rng.range(-0.06, 0.06) as f32, rng.range(-0.06, 0.06) as f32);
        let fl_bg = (0..config.fl_channels)
            .map(|_| {
                [
                    rng.range(200.0, 400.0) as f32,
                    rng.range(-0.3, 0.3) as f32,
                    rng.range(-0.3, 0.3) as f32,
                    rng.range(0.2, 0.5) as f32,
                ]
            })
            .collect();
        let sensor = config.size.max(1024) as f64;
        let spare = sensor - config.size as f64;
        let field = [
            rng.range(0.0, spare) as f32,
            rng.range(0.0, spare) as f32,
            (1.0 / sensor) as f32,
        ];
        Scene {
            config: config.clone(),
            cells,
            events,
            phase_grad,
            fl_bg,
            field,
        }
    }

    /// The configuration this scene was planned from.
    pub fn config(&self) -> &SceneConfig {
        &self.config
    }

    /// Number of distinct cells over the whole time-lapse.
    pub fn cell_count(&self) -> usize {
        self.cells.len()
    }

    /// The planned events.
    pub fn events(&self) -> Vec<Event> {
        self.events.clone()
    }

    /// The noise-free background of fluorescence channel `channel`, the same in every
    /// frame (empty for a channel the scene does not have).
    pub fn fl_background(&self, channel: usize) -> Vec<f32> {
        render::fl_background(self, channel)
    }

    /// Renders frame `t` (frames at or past the end show only background).
    pub fn render(&self, t: usize) -> SynthFrame {
        render::render(self, t)
    }
}

#[cfg(test)]
mod tests;
