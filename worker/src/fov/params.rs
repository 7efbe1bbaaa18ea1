//! Stage parameters of the fov pipeline, settable as `--param KEY=VALUE`.
//!
//! Every key is unique across the four stages. [`describe`](SegmentParams::describe)
//! gives the canonical `key=value` list a stage checkpoint records, so a changed
//! parameter recomputes that stage and everything after it.

use super::error::ParamError;

/// The error for `key=value` outside what it accepts (`expected`).
fn out_of_range(key: &str, value: &str, expected: String) -> ParamError {
    ParamError::OutOfRange {
        key: key.to_string(),
        value: value.to_string(),
        expected,
    }
}

/// Parses a non-negative integer in `min..=max` for `key`.
fn parse_usize(key: &str, value: &str, min: usize, max: usize) -> Result<usize, ParamError> {
    match value.trim().parse::<usize>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(out_of_range(
            key,
            value,
            format!("an integer from {min} to {max}"),
        )),
    }
}

/// Parses a finite number in `min..=max` for `key`.
fn parse_f32(key: &str, value: &str, min: f32, max: f32) -> Result<f32, ParamError> {
    match value.trim().parse::<f32>() {
        Ok(v) if v.is_finite() && v >= min && v <= max => Ok(v),
        _ => Err(out_of_range(
            key,
            value,
            format!("a number from {min} to {max}"),
        )),
    }
}

/// Phase-contrast polarity the segmentation assumes (`--param polarity=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolarityParam {
    /// Detected from the first frame with texture (default).
    #[default]
    Auto,
    /// Dark cells on a bright halo.
    Dark,
    /// Bright cells on a dark halo.
    Bright,
}

impl PolarityParam {
    /// The value as `--param polarity=` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            PolarityParam::Auto => "auto",
            PolarityParam::Dark => "dark",
            PolarityParam::Bright => "bright",
        }
    }
}

/// Segmentation of the phase-contrast channel (stage `segment`).
///
/// Pipeline: local standard deviation in a `(2·std_radius+1)²` window; a histogram of
/// its logarithm, whose mode is the background's noise level; texture mask =
/// `log std > mode + threshold_k·σ` (σ from the mode peak's half width); closing by a
/// disk of `close_radius`, hole filling, opening by `open_radius`, removal of objects
/// under `min_area`. Then the refinement: phase-contrast cells are darker than their
/// surroundings and ringed by a bright halo (or, with the other `polarity`, brighter
/// and ringed by a dark one), so inside the texture mask only pixels darker
/// (brighter) than the local phase background by `dark_k`·noise are kept (this puts
/// the boundary at the cell edge instead of the halo), followed by hole filling,
/// opening and small-object removal again. Last, touching cells are split by a
/// seeded watershed on the mask's distance transform (`split_neck`, [`crate::fov::split`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentParams {
    /// `std_radius` (default 2): half width of the local-std window, pixels.
    pub std_radius: usize,
    /// `threshold_k` (default 3): threshold = mode + k·σ of the log local-std histogram.
    pub threshold_k: f32,
    /// `close_radius` (default 2): disk radius of the closing of the texture mask.
    pub close_radius: usize,
    /// `open_radius` (default 1): disk radius of the openings (0 = none).
    pub open_radius: usize,
    /// `min_area` (default 30): objects with fewer pixels are removed.
    pub min_area: usize,
    /// `dark_k` (default 3): refinement keeps pixels darker than the local phase
    /// background by `dark_k` times the noise level; 0 switches the refinement off.
    pub dark_k: f32,
    /// `polarity` (default auto): dark or bright cells; auto decides per FOV from
    /// the first frame with texture (whichever side of the background holds more
    /// contrast) and the stage record says what it chose.
    pub polarity: PolarityParam,
    /// `split_neck` (default 2): touching cells are split where the mask's
    /// half-width at the neck is at least this many pixels under both cells'
    /// half-width; 0 switches splitting off.
    pub split_neck: f32,
}

impl Default for SegmentParams {
    fn default() -> Self {
        SegmentParams {
            std_radius: 2,
            threshold_k: 3.0,
            close_radius: 2,
            open_radius: 1,
            min_area: 30,
            dark_k: 3.0,
            polarity: PolarityParam::Auto,
            split_neck: 2.0,
        }
    }
}

impl SegmentParams {
    /// The keys this stage owns.
    pub const KEYS: &[&str] = &[
        "std_radius",
        "threshold_k",
        "close_radius",
        "open_radius",
        "min_area",
        "dark_k",
        "polarity",
        "split_neck",
    ];

    /// Applies `key=value`: `Ok(true)` if the key is this stage's, `Ok(false)` if not,
    /// `Err` (naming key, value and the expected form) for a malformed value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, ParamError> {
        match key {
            "std_radius" => self.std_radius = parse_usize(key, value, 1, 50)?,
            "threshold_k" => self.threshold_k = parse_f32(key, value, -10.0, 100.0)?,
            "close_radius" => self.close_radius = parse_usize(key, value, 0, 50)?,
            "open_radius" => self.open_radius = parse_usize(key, value, 0, 50)?,
            "min_area" => self.min_area = parse_usize(key, value, 0, usize::MAX)?,
            "dark_k" => self.dark_k = parse_f32(key, value, 0.0, 100.0)?,
            "split_neck" => self.split_neck = parse_f32(key, value, 0.0, 50.0)?,
            "polarity" => {
                self.polarity = match value.trim() {
                    "auto" => PolarityParam::Auto,
                    "dark" => PolarityParam::Dark,
                    "bright" => PolarityParam::Bright,
                    _ => {
                        return Err(ParamError::OutOfRange {
                            key: key.to_string(),
                            value: value.to_string(),
                            expected: "dark, bright or auto".to_string(),
                        });
                    }
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The canonical `key=value` list, in [`KEYS`](Self::KEYS) order.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        vec![
            ("std_radius", self.std_radius.to_string()),
            ("threshold_k", self.threshold_k.to_string()),
            ("close_radius", self.close_radius.to_string()),
            ("open_radius", self.open_radius.to_string()),
            ("min_area", self.min_area.to_string()),
            ("dark_k", self.dark_k.to_string()),
            ("polarity", self.polarity.as_str().to_string()),
            ("split_neck", self.split_neck.to_string()),
        ]
    }
}

/// Background estimation of a fluorescence channel (stage `background`).
///
/// Cells (the segmentation mask dilated by `bg_dilate`) are excluded; the frame is cut
/// into a grid of about `bg_tile`-pixel tiles, each tile's median of the remaining
/// pixels is its background; tiles with fewer than `bg_min_fraction` of their pixels
/// left take the value of a robust quadratic surface fitted to the others; a
/// Catmull-Rom spline through the tile centres gives the smooth full-frame
/// background. A frame without a usable tile gets a QC warning.
#[derive(Debug, Clone, PartialEq)]
pub struct BackgroundParams {
    /// `bg_tile` (default 48): tile size in pixels (frames are split into `ceil(size/tile)` tiles per axis).
    pub tile: usize,
    /// `bg_dilate` (default 4): disk radius by which the cell mask is grown before
    /// sampling (keep it above `measure_dilate`, so no measured light is background).
    pub dilate: usize,
    /// `bg_min_fraction` (default 0.2): a tile needs this fraction of usable pixels
    /// (2 % on a crowded frame, where under a quarter of the tiles have it).
    pub min_fraction: f32,
    /// `bg_sample` (default 1): sampling stride inside a tile (2 = every 4th pixel, faster).
    pub sample: usize,
}

impl Default for BackgroundParams {
    fn default() -> Self {
        BackgroundParams {
            tile: 48,
            dilate: 4,
            min_fraction: 0.2,
            sample: 1,
        }
    }
}

impl BackgroundParams {
    /// The keys this stage owns.
    pub const KEYS: &[&str] = &["bg_tile", "bg_dilate", "bg_min_fraction", "bg_sample"];

    /// Applies `key=value`: `Ok(true)` if the key is this stage's, `Ok(false)` if not,
    /// `Err` (naming key, value and the expected form) for a malformed value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, ParamError> {
        match key {
            "bg_tile" => self.tile = parse_usize(key, value, 4, 1 << 20)?,
            "bg_dilate" => self.dilate = parse_usize(key, value, 0, 100)?,
            "bg_min_fraction" => self.min_fraction = parse_f32(key, value, 0.0, 1.0)?,
            "bg_sample" => self.sample = parse_usize(key, value, 1, 16)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The canonical `key=value` list, in [`KEYS`](Self::KEYS) order.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        vec![
            ("bg_tile", self.tile.to_string()),
            ("bg_dilate", self.dilate.to_string()),
            ("bg_min_fraction", self.min_fraction.to_string()),
            ("bg_sample", self.sample.to_string()),
        ]
    }
}

/// Tracking by mask overlap (stage `track`).
///
/// Connected components (4-connectivity) of each frame's mask are linked to the live
/// tracks by intersection-over-union with an optimal one-to-one assignment; a track
/// unseen for up to `max_gap` frames can still be linked (gap bridging).
#[derive(Debug, Clone, PartialEq)]
pub struct TrackParams {
    /// `max_gap` (default 2): frames a track may be missing and still continue.
    pub max_gap: usize,
    /// `min_iou` (default 0.3): smallest IoU that links a cell to a track.
    pub min_iou: f32,
}

impl Default for TrackParams {
    fn default() -> Self {
        TrackParams {
            max_gap: 2,
            min_iou: 0.3,
        }
    }
}

impl TrackParams {
    /// The keys this stage owns.
    pub const KEYS: &[&str] = &["max_gap", "min_iou"];

    /// Applies `key=value`: `Ok(true)` if the key is this stage's, `Ok(false)` if not,
    /// `Err` (naming key, value and the expected form) for a malformed value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, ParamError> {
        match key {
            "max_gap" => self.max_gap = parse_usize(key, value, 0, 1000)?,
            "min_iou" => self.min_iou = parse_f32(key, value, 0.01, 1.0)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The canonical `key=value` list, in [`KEYS`](Self::KEYS) order.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        vec![
            ("max_gap", self.max_gap.to_string()),
            ("min_iou", self.min_iou.to_string()),
        ]
    }
}

/// Per-cell measurement (stage `extract`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractParams {
    /// `measure_dilate` (default 3): fluorescence totals also include a ring of this
    /// disk radius around the cell (pixels of no cell and no other cell's ring), which
    /// catches the light the optics spread past the cell edge.
    pub measure_dilate: usize,
}

impl Default for ExtractParams {
    fn default() -> Self {
        ExtractParams { measure_dilate: 3 }
    }
}

impl ExtractParams {
    /// The keys this stage owns.
    pub const KEYS: &[&str] = &["measure_dilate"];

    /// Applies `key=value`: `Ok(true)` if the key is this stage's, `Ok(false)` if not,
    /// `Err` (naming key, value and the expected form) for a malformed value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, ParamError> {
        match key {
            "measure_dilate" => self.measure_dilate = parse_usize(key, value, 0, 50)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The canonical `key=value` list, in [`KEYS`](Self::KEYS) order.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        vec![("measure_dilate", self.measure_dilate.to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_unique_and_described() {
        let mut all: Vec<&str> = Vec::new();
        all.extend(SegmentParams::KEYS);
        all.extend(BackgroundParams::KEYS);
        all.extend(TrackParams::KEYS);
        all.extend(ExtractParams::KEYS);
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len());
        let d: Vec<&str> = SegmentParams::default()
            .describe()
            .iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(d, SegmentParams::KEYS);
        let d: Vec<&str> = BackgroundParams::default()
            .describe()
            .iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(d, BackgroundParams::KEYS);
    }

    #[test]
    fn set_parses_and_rejects() {
        let mut s = SegmentParams::default();
        assert_eq!(s.set("min_area", "12"), Ok(true));
        assert_eq!(s.min_area, 12);
        assert_eq!(s.set("bg_tile", "12"), Ok(false));
        let err = s.set("threshold_k", "abc").unwrap_err().to_string();
        assert!(err.contains("threshold_k") && err.contains("abc"), "{err}");
        let mut t = TrackParams::default();
        assert!(t.set("min_iou", "1.5").is_err());
        assert_eq!(t.set("max_gap", "3"), Ok(true));
        let mut b = BackgroundParams::default();
        assert!(b.set("bg_min_fraction", "NaN").is_err());
        let mut e = ExtractParams::default();
        assert_eq!(e.set("measure_dilate", " 3 "), Ok(true));
        assert_eq!(e.describe(), vec![("measure_dilate", "3".to_string())]);
    }
}
