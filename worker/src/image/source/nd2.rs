//! Nikon ND2 (v3) through the `nd2` crate: one position per XY point, planes by
//! (t, c, z) read one frame at a time.
//!
//! What the crate cannot do faithfully is refused, never converted: samples
//! other than unsigned 16-bit (it reads every file as 16-bit), compressed frames
//! (it misreads the numeric `eCompression` field as "uncompressed"), several
//! components per channel (RGB), frames the experiment loops do not account
//! for. It reads neither channel names nor the frame interval, so channels are
//! addressed by index and time is the frame index unless `--param
//! frame_interval` says it. [`super::nd2_guard`] bounds every size first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nd2::Nd2File;

use super::nd2_guard::{self, Scalar};
use super::{Order, PlaneFile, Series, Sizes};
use crate::image::tiff_in::Limits;
use crate::image::{Dtype, ImageError};

/// `eCompression` of an uncompressed file (0 lossless, 1 lossy).
const UNCOMPRESSED: f64 = 2.0;

/// An opened ND2 file.
pub struct Nd2Source {
    path: PathBuf,
    file: Nd2File,
    series: Vec<Series>,
    sizes: Sizes,
}

impl Nd2Source {
    /// Opens `path`; the error names the file and what the reader cannot do.
    pub fn open(path: &Path, limits: &Limits) -> Result<Self, ImageError> {
        let attrs = nd2_guard::check(path, limits)?;
        let bad = |r: String| ImageError::invalid(path, format!("ND2: {r}"));
        let num = |k: &str| match attrs.get(k) {
            Some(Scalar::Num(v)) => Some(*v),
            _ => None,
        };
        match attrs.get("eCompression") {
            Some(Scalar::Num(v)) if *v == UNCOMPRESSED => {}
            Some(Scalar::Num(v)) => {
                return Err(bad(format!(
                    "compressed frames (eCompression={v}) are not read: the nd2 crate would \
                     decode them as raw pixels"
                )));
            }
            Some(Scalar::Text(t)) => {
                return Err(bad(format!(
                    "eCompression={t:?}: only uncompressed ND2 frames are read"
                )));
            }
            None => {
                return Err(bad(
                    "the file does not state its compression (eCompression); refused rather \
                     than guessed"
                        .into(),
                ));
            }
        }
        let bits = num("uiBpcInMemory").unwrap_or(0.0);
        if bits != 16.0 || num("uiCompBPC") == Some(3.0) {
            return Err(bad(format!(
                "{}{bits}-bit samples: the nd2 crate reads every file as unsigned 16-bit, \
                 so only those are read",
                if num("uiCompBPC") == Some(3.0) {
                    "float "
                } else {
                    ""
                }
            )));
        }
        let comp = num("uiComp").unwrap_or(0.0);
        let channels = num("uiChannelCount").unwrap_or(comp);
        if comp != channels {
            return Err(bad(format!(
                "{comp} components in {channels} channel(s) (RGB?): only one component per \
                 channel is read"
            )));
        }
        let mut file = Nd2File::open(path).map_err(|e| bad(e.to_string()))?;
        if file.version().0 != 3 {
            let (a, b) = file.version();
            return Err(bad(format!("version {a}.{b}: only ND2 v3 is read")));
        }
        let dims = file.sizes().map_err(|e| bad(e.to_string()))?;
        let sizes = read_sizes(&dims, num("uiSequenceCount"), limits).map_err(bad)?;
        let get = |k: &str| dims.get(k).copied().unwrap_or(0);
        let series = Series {
            source: "ND2 metadata",
            width: get("X"),
            height: get("Y"),
            dtype: Dtype::U16,
            planes: sizes.planes().unwrap_or(0),
            sizes: Some(sizes),
            order: Some(Order::CZT),
            channel_names: vec![None; sizes.c],
            interval: None,
            pixel_size: None,
        };
        Ok(Nd2Source {
            path: path.to_path_buf(),
            file,
            series: vec![series; get("P")],
            sizes,
        })
    }
}

/// Sizes of one position, checked against the stored frames and the limits.
fn read_sizes(
    dims: &BTreeMap<String, usize>,
    sequences: Option<f64>,
    limits: &Limits,
) -> Result<Sizes, String> {
    let get = |k: &str| dims.get(k).copied().unwrap_or(0);
    let (p, t, c, z) = (get("P"), get("T"), get("C"), get("Z"));
    let (w, h) = (get("X"), get("Y"));
    if [p, t, c, z, w, h].contains(&0) {
        return Err(format!(
            "a dimension is 0 (P={p} T={t} C={c} Z={z} X={w} Y={h})"
        ));
    }
    let frames = p.checked_mul(t).and_then(|n| n.checked_mul(z));
    let stored = sequences.unwrap_or(-1.0);
    match frames {
        Some(n) if n as f64 == stored && n <= limits.max_pages => {}
        _ => {
            return Err(format!(
                "the experiment loops give P={p} × T={t} × Z={z} frames but the file stores \
                 {stored}; refused rather than guessed"
            ));
        }
    }
    Ok(Sizes { t, c, z })
}

impl PlaneFile for Nd2Source {
    fn format(&self) -> &'static str {
        "ND2"
    }

    fn positions(&self) -> &[Series] {
        &self.series
    }

    fn read_plane(
        &mut self,
        position: usize,
        index: usize,
        out: &mut [u8],
    ) -> Result<(), ImageError> {
        let coords = self.sizes.czt(index);
        let Some((t, c, z)) = coords.filter(|_| position < self.series.len()) else {
            return Err(ImageError::usage(
                &self.path,
                format!("plane {index} of position {position} does not exist"),
            ));
        };
        if !out.len().is_multiple_of(2) {
            return Err(ImageError::usage(
                &self.path,
                format!("an odd buffer of {} bytes for 16-bit samples", out.len()),
            ));
        }
        let plane = self.file.read_frame_2d(position, t, c, z).map_err(|e| {
            ImageError::invalid(
                &self.path,
                format!("ND2: position {position}, frame t={t} c={c} z={z}: {e}"),
            )
        })?;
        if plane.len() * 2 != out.len() {
            return Err(ImageError::invalid(
                &self.path,
                format!(
                    "ND2: position {position}, frame t={t} c={c} z={z}: {} samples, expected {}",
                    plane.len(),
                    out.len() / 2
                ),
            ));
        }
        for (o, v) in out.chunks_exact_mut(2).zip(plane) {
            o.copy_from_slice(&v.to_le_bytes());
        }
        Ok(())
    }
}
