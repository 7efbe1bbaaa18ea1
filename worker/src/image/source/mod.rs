//! One interface over every microscopy format isobatch reads: a file is a list
//! of positions (fields of view), a position a set of planes addressed by
//! (t, c, z), with the metadata the file states (sizes, dtype, channel names,
//! frame interval, pixel size).
//!
//! Discovery, estimates and the fov pipeline see only [`Series`] and
//! [`PlaneFile`]; each format's reader lives in its own file ([`tiff`] for
//! plain TIFF, ImageJ hyperstacks and OME-TIFF; [`ome`] parses OME-XML;
//! [`nd2`] and [`czi`] wrap the `nd2` and `czi` crates behind their guards).
//! Where a file does not fix its layout (a plain multi-page TIFF),
//! [`Series::order`] is `None` and the caller must say how pages map to
//! (t, c): nothing here guesses.

pub mod czi;
mod czi_decode;
mod czi_guard;
mod czi_plan;
mod czi_zstd;
pub mod nd2;
mod nd2_clx;
mod nd2_guard;
mod nd2_meta;
mod nd2_split;
pub mod ome;
pub mod tiff;

use std::fmt;
use std::path::Path;

use super::tiff_in::Limits;
use super::{Dtype, ImageError};

/// One of the three plane axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Axis {
    /// Channel.
    C,
    /// Focal plane.
    Z,
    /// Time point.
    T,
}

/// How a position's planes are numbered: the axes from fastest- to slowest-varying
/// (ImageJ's `CZT`: channel fastest; OME's `XYZCT` is `ZCT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Order(pub [Axis; 3]);

impl Order {
    /// Channel fastest, then z, then time (ImageJ hyperstacks, OME `XYCZT`).
    pub const CZT: Order = Order([Axis::C, Axis::Z, Axis::T]);

    /// Parses the tail of an OME `DimensionOrder` (`XYCZT` → CZT).
    pub fn from_ome(text: &str) -> Option<Order> {
        let rest = text.strip_prefix("XY")?;
        let axes: Vec<Axis> = rest
            .chars()
            .map(|c| match c {
                'C' => Some(Axis::C),
                'Z' => Some(Axis::Z),
                'T' => Some(Axis::T),
                _ => None,
            })
            .collect::<Option<_>>()?;
        match axes.as_slice() {
            [a, b, c] if a != b && b != c && a != c => Some(Order([*a, *b, *c])),
            _ => None,
        }
    }

    /// The linear plane index of (t, c, z) for `sizes`, `None` when out of range.
    pub fn index(&self, sizes: Sizes, t: usize, c: usize, z: usize) -> Option<usize> {
        if t >= sizes.t || c >= sizes.c || z >= sizes.z {
            return None;
        }
        let pick = |a: Axis| match a {
            Axis::C => (c, sizes.c),
            Axis::Z => (z, sizes.z),
            Axis::T => (t, sizes.t),
        };
        let [a, b, d] = self.0.map(pick);
        d.0.checked_mul(b.1)?
            .checked_add(b.0)?
            .checked_mul(a.1)?
            .checked_add(a.0)
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for a in self.0 {
            f.write_str(match a {
                Axis::C => "C",
                Axis::Z => "Z",
                Axis::T => "T",
            })?;
        }
        Ok(())
    }
}

/// Plane counts of one position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sizes {
    /// Time points.
    pub t: usize,
    /// Channels.
    pub c: usize,
    /// Focal planes.
    pub z: usize,
}

impl Sizes {
    /// (t, c, z) of plane `index` numbered in [`Order::CZT`], `None` when out of range
    /// (the ND2 and CZI readers number planes so).
    pub fn czt(&self, index: usize) -> Option<(usize, usize, usize)> {
        let per_t = self.c.checked_mul(self.z).filter(|n| *n > 0)?;
        let t = index / per_t;
        (t < self.t).then_some((t, index % self.c, (index / self.c) % self.z))
    }

    /// Planes in the position, `None` on overflow.
    pub fn planes(&self) -> Option<usize> {
        self.t.checked_mul(self.c)?.checked_mul(self.z)
    }
}

/// What a file states about one position.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Where the layout came from (`OME-XML`, `ImageJ metadata`, `none` for a plain TIFF).
    pub source: &'static str,
    /// Plane width in pixels.
    pub width: usize,
    /// Plane height in pixels.
    pub height: usize,
    /// Sample type.
    pub dtype: Dtype,
    /// Number of planes stored for the position.
    pub planes: usize,
    /// T, C, Z sizes when the metadata states them (`None`: a plain multi-page TIFF).
    pub sizes: Option<Sizes>,
    /// Plane numbering when the metadata fixes it (`None` with `sizes`).
    pub order: Option<Order>,
    /// Channel names, one per channel, when the metadata names them.
    pub channel_names: Vec<Option<String>>,
    /// Frame interval as the file states it: value and unit text (`s`, `min`, `sec`, ...).
    pub interval: Option<(f64, String)>,
    /// Why the file's stated frame interval is not used (`interval` is then
    /// `None`), e.g. the frames' own timestamps contradict it; for the plan.
    pub interval_note: Option<String>,
    /// Pixel size as the file states it: x, y and unit text.
    pub pixel_size: Option<(f64, f64, String)>,
}

/// An opened microscopy file: positions, their metadata, their planes.
pub trait PlaneFile {
    /// The format's name for messages (`TIFF`, `OME-TIFF`, ...).
    fn format(&self) -> &'static str;
    /// The positions this file yields tasks for, in file order.
    fn positions(&self) -> &[Series];
    /// Reads plane `index` (in [`Series::order`], or the page number when it is `None`) of
    /// `position` into `out`: raw little-endian samples of the series' dtype, one plane long.
    fn read_plane(
        &mut self,
        position: usize,
        index: usize,
        out: &mut [u8],
    ) -> Result<(), ImageError>;
    /// Reads each `(index, out)` of `planes` as [`PlaneFile::read_plane`] would. The
    /// fov pipeline asks for every channel of one (t, z) at once, so a reader whose
    /// frames interleave the channels (ND2) can split each frame once, straight into
    /// the callers' planes.
    fn read_planes(
        &mut self,
        position: usize,
        planes: &mut [(usize, &mut [u8])],
    ) -> Result<(), ImageError> {
        for (index, out) in planes.iter_mut() {
            self.read_plane(position, *index, out)?;
        }
        Ok(())
    }
}

/// The ND2 chunk magic that starts every ND2 v2/v3 file.
const ND2_MAGIC: [u8; 4] = 0x0ABE_CEDAu32.to_le_bytes();

/// Opens `path` with the reader for its format, chosen by the file's first bytes
/// (TIFF otherwise, whose reader names what it found).
pub fn open(path: &Path, limits: &Limits) -> Result<Box<dyn PlaneFile>, ImageError> {
    let mut head = [0u8; 16];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .map_err(|e| ImageError::io(path, e))?;
    if n >= 4 && head[..4] == ND2_MAGIC {
        return Ok(Box::new(nd2::Nd2Source::open(path, limits)?));
    }
    if n >= 10 && &head[..10] == b"ZISRAWFILE" {
        return Ok(Box::new(czi::CziSource::open(path, limits)?));
    }
    Ok(Box::new(tiff::TiffFile::open(path, limits)?))
}

/// The number of positions `path` holds, from its headers (discovery's question).
pub fn position_count(path: &Path) -> Result<usize, ImageError> {
    Ok(open(path, &Limits::default())?.positions().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_number_planes() {
        let s = Sizes { t: 4, c: 2, z: 3 };
        assert_eq!(Order::CZT.index(s, 1, 1, 2), Some(1 + 2 * (2 + 3)));
        let tcz = Order::from_ome("XYTCZ").unwrap();
        assert_eq!(tcz.to_string(), "TCZ");
        assert_eq!(tcz.index(s, 3, 1, 0), Some(3 + 4));
        assert_eq!(tcz.index(s, 4, 0, 0), None);
        assert!(Order::from_ome("XYCCT").is_none());
        assert!(Order::from_ome("CZTXY").is_none());
        for i in 0..24 {
            let (t, c, z) = s.czt(i).unwrap();
            assert_eq!(Order::CZT.index(s, t, c, z), Some(i));
        }
        assert_eq!(s.czt(24), None);
    }
}
