//! One frame of a FOV as the report shows it: the phase-contrast checkpoint
//! as a grey PNG (contrast stretched between the 1st and 99th percentile) and
//! in 32 grey levels (enough to judge a segmentation, and it keeps the PNG
//! small), and the segmentation mask's outlines as an SVG path on top, both sampled down
//! to at most [`MAX_SIDE`] pixels a side so that a report stays small.
//!
//! Checkpoints are read through the worker's own checkpoint reader, which
//! validates the header against the file and reads only the frames asked for.

use std::path::Path;

use base64::Engine;
use isobatch_shared::CheckpointFormat;
use isobatch_worker::image::checkpoint::StackSource;

/// Longest side of a shown frame, pixels.
pub const MAX_SIDE: usize = 256;
/// Outline paths longer than this are left out (a mask of noise, not cells).
const MAX_PATH: usize = 200_000;

/// A frame ready to show.
pub struct Shown {
    /// Frame index in the stack.
    pub frame: usize,
    /// Sampled size (width, height).
    pub size: (usize, usize),
    /// `data:image/png;base64,…`.
    pub png: String,
    /// SVG path data of the outlines in sampled pixel coordinates (empty: none).
    pub outline: String,
    /// Why the outlines are missing, if they are.
    pub note: Option<String>,
}

/// Opens checkpoint `stem` of `dir` in whichever format was written.
fn open(dir: &Path, stem: &str) -> Result<StackSource, String> {
    for format in [CheckpointFormat::Npy, CheckpointFormat::Tiff] {
        if StackSource::find(dir, stem, format)
            .map_err(|e| e.to_string())?
            .is_some()
        {
            return StackSource::open(dir, stem, format).map_err(|e| e.to_string());
        }
    }
    Err(format!(
        "{}: no {stem} checkpoint (.npy or .tif); with --keep-checkpoints final none is kept",
        dir.display()
    ))
}

/// The first, middle and last frame of `dir`'s phase-contrast checkpoint
/// `phase` with the outlines of `mask` (when given).
pub fn first_middle_last(dir: &Path, phase: &str, mask: &str) -> Result<Vec<Shown>, String> {
    let mut image = open(dir, phase)?;
    let shape = image.shape();
    if shape.frames == 0 || shape.frame_len() == 0 {
        return Err(format!("{}: an empty stack", image.path().display()));
    }
    let mut masks = open(dir, mask);
    if let Ok(m) = &masks
        && m.shape() != shape
    {
        masks = Err(format!(
            "{} is {} but the image is {}",
            m.path().display(),
            m.shape(),
            shape
        ));
    }
    let mut picks = vec![0, shape.frames / 2, shape.frames - 1];
    picks.dedup();
    let step = shape.height.max(shape.width).div_ceil(MAX_SIDE);
    let (h, w) = (shape.height.div_ceil(step), shape.width.div_ceil(step));
    let mut pixels = vec![0f32; shape.frame_len()];
    let mut shown = Vec::new();
    {
        let mut frames = image.frames().map_err(|e| e.to_string())?;
        for &t in &picks {
            frames.read_f32(t, &mut pixels).map_err(|e| e.to_string())?;
            let sampled = sample(&pixels, shape.width, step, h, w);
            shown.push(Shown {
                frame: t,
                size: (w, h),
                png: png_data_uri(&stretch(&sampled), w, h)?,
                outline: String::new(),
                note: None,
            });
        }
    }
    match &mut masks {
        Ok(m) => {
            let mut frames = m.frames().map_err(|e| e.to_string())?;
            let mut labels = vec![0u32; shape.frame_len()];
            for s in &mut shown {
                if let Err(e) = frames.read_labels(s.frame, &mut labels) {
                    s.note = Some(e.to_string());
                    continue;
                }
                let on: Vec<f32> = labels.iter().map(|&v| f32::from(u8::from(v > 0))).collect();
                let sampled: Vec<bool> = sample(&on, shape.width, step, h, w)
                    .into_iter()
                    .map(|v| v > 0.0)
                    .collect();
                let path = outline(&sampled, h, w);
                if path.len() > MAX_PATH {
                    s.note = Some("too many outlines to draw".into());
                } else {
                    s.outline = path;
                }
            }
        }
        Err(e) => {
            for s in &mut shown {
                s.note = Some(e.clone());
            }
        }
    }
    Ok(shown)
}

/// Every `step`-th pixel of a row-major frame `width` wide, as an `h` × `w` image.
fn sample(frame: &[f32], width: usize, step: usize, h: usize, w: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(h * w);
    for y in 0..h {
        for x in 0..w {
            out.push(frame[y * step * width + x * step]);
        }
    }
    out
}

/// Grey levels between the 1st and 99th percentile mapped to 32 levels in 0–248.
fn stretch(pixels: &[f32]) -> Vec<u8> {
    let mut sorted: Vec<f32> = pixels.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_unstable_by(f32::total_cmp);
    let at = |q: f64| {
        sorted
            .get(((sorted.len().saturating_sub(1)) as f64 * q) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let (lo, hi) = (at(0.01), at(0.99));
    let span = if hi > lo { hi - lo } else { 1.0 };
    pixels
        .iter()
        .map(|&v| (((v - lo) / span).clamp(0.0, 1.0) * 31.0).round() as u8 * 8)
        .collect()
}

/// An 8-bit grey image as a PNG data URI.
fn png_data_uri(grey: &[u8], w: usize, h: usize) -> Result<String, String> {
    let (wu, hu) = (
        u32::try_from(w).map_err(|e| e.to_string())?,
        u32::try_from(h).map_err(|e| e.to_string())?,
    );
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, wu, hu);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::High);
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(grey).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
    }
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    ))
}

/// SVG path data tracing every edge between a mask pixel and a pixel outside
/// the mask (or the frame's border), merged into horizontal and vertical runs.
pub fn outline(mask: &[bool], h: usize, w: usize) -> String {
    let on = |y: isize, x: isize| {
        y >= 0
            && x >= 0
            && (y as usize) < h
            && (x as usize) < w
            && mask[y as usize * w + x as usize]
    };
    let mut path = String::new();
    edge_runs(
        h,
        w,
        |y, x| on(y - 1, x) != on(y, x),
        |y, x0, len| path.push_str(&format!("M{x0} {y}h{len}")),
    );
    edge_runs(
        w,
        h,
        |x, y| on(y, x - 1) != on(y, x),
        |x, y0, len| path.push_str(&format!("M{x} {y0}v{len}")),
    );
    path
}

/// For each line `o` in `0..=outer`, every run of positions `i` in `0..inner`
/// where `edge(o, i)` holds, as `emit(o, first i, length)`.
fn edge_runs(
    outer: usize,
    inner: usize,
    edge: impl Fn(isize, isize) -> bool,
    mut emit: impl FnMut(isize, isize, isize),
) {
    for o in 0..=outer as isize {
        let mut run: Option<isize> = None;
        for i in 0..=inner as isize {
            match (i < inner as isize && edge(o, i), run) {
                (true, None) => run = Some(i),
                (false, Some(i0)) => {
                    emit(o, i0, i - i0);
                    run = None;
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outline_of_a_square_is_its_four_sides() {
        // A 2×2 square at (1,1) in a 4×4 frame.
        let mut mask = vec![false; 16];
        for (y, x) in [(1, 1), (1, 2), (2, 1), (2, 2)] {
            mask[y * 4 + x] = true;
        }
        assert_eq!(outline(&mask, 4, 4), "M1 1h2M1 3h2M1 1v2M3 1v2");
    }

    #[test]
    fn stretch_spans_the_grey_range() {
        let pixels: Vec<f32> = (0..1000).map(|v| v as f32).collect();
        let grey = stretch(&pixels);
        assert_eq!(grey[0], 0);
        assert_eq!(grey[999], 248);
    }
}
