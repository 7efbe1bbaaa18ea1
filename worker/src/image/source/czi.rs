//! Zeiss CZI through the `czi` crate: one position per scene (`S`), planes by
//! (t, c, z) read one subblock at a time. A zstd subblock is inflated by
//! `CziFile::read_frame_2d`; an uncompressed one is read straight from the data
//! offset the guard checked, since the crate would return the same bytes after
//! copying them five times (4–5× the TIFF read, docs/benchmarks.md).
//!
//! [`super::czi_guard`] checks the file's structure first and accepts only what
//! the crate reads faithfully: one full-resolution subblock per plane covering
//! its scene (a mosaic of `M` tiles is refused: the crate would paste tiles
//! without blending and fill gaps with zeros), gray 8/16-bit samples (the crate
//! would average colour to gray), uncompressed or zstd subblocks (JPEG and
//! JPEG-XR are refused by name). Channel names come from the metadata XML
//! (`Information/Image/Dimensions/Channels`); sizes the XML states must agree
//! with the subblocks. The pixel size is the XML's `Scaling` distance, whose
//! unit the CZI schema fixes as metres. CZI states no frame interval the reader
//! can trust, so time is the frame index unless `--param frame_interval` says it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use czi::CziFile;

use super::czi_guard::{self, Block};
use super::{Order, PlaneFile, Series, Sizes, czi_zstd};
use crate::image::tiff_in::Limits;
use crate::image::{Dtype, ImageError};

/// An opened CZI file.
pub struct CziSource {
    path: PathBuf,
    file: CziFile,
    raw: File,
    series: Vec<Series>,
    sizes: Sizes,
    blocks: Vec<Block>,
    limit: u64,
    scratch: Vec<u8>,
}

impl CziSource {
    /// Opens `path`; the error names the file and what the reader cannot do.
    pub fn open(path: &Path, limits: &Limits) -> Result<Self, ImageError> {
        let layout = czi_guard::check(path, limits)?;
        let bad = |r: String| ImageError::invalid(path, format!("CZI: {r}"));
        let meta = match &layout.xml {
            Some(xml) => Meta::parse(xml).map_err(&bad)?,
            None => Meta::default(),
        };
        let sizes = layout.sizes;
        let stated = [
            ("S", layout.scenes.len()),
            ("T", sizes.t),
            ("C", sizes.c),
            ("Z", sizes.z),
        ];
        for (axis, n) in stated {
            if let Some((_, m)) = meta.sizes.iter().find(|(k, _)| *k == axis)
                && *m != n
            {
                return Err(bad(format!(
                    "the metadata states Size{axis}={m} but the subblocks hold {n}"
                )));
            }
        }
        let names = if meta.channels.len() == sizes.c {
            meta.channels.clone()
        } else {
            vec![None; sizes.c]
        };
        let file = CziFile::open(path).map_err(|e| bad(e.to_string()))?;
        let raw = File::open(path).map_err(|e| ImageError::io(path, e))?;
        let series = layout
            .scenes
            .iter()
            .map(|&(width, height)| Series {
                source: "CZI metadata",
                width,
                height,
                dtype: layout.dtype,
                planes: sizes.planes().unwrap_or(0),
                sizes: Some(sizes),
                order: Some(Order::CZT),
                channel_names: names.clone(),
                interval: None,
                interval_note: None,
                pixel_size: meta.pixel_size.clone(),
            })
            .collect();
        Ok(CziSource {
            path: path.to_path_buf(),
            file,
            raw,
            series,
            sizes,
            blocks: layout.blocks,
            limit: limits.max_frame_bytes,
            scratch: Vec::new(),
        })
    }

    /// Walks a zstd subblock's headers before the crate inflates it.
    fn check_zstd(&mut self, b: Block, prefixed: bool, plane: u64) -> Result<(), String> {
        self.scratch.clear();
        self.scratch.resize(b.len as usize, 0);
        self.raw
            .read_exact_at(&mut self.scratch, b.at)
            .map_err(|e| format!("cannot read the subblock at {}: {e}", b.at))?;
        czi_zstd::check(&self.scratch, prefixed, plane, self.limit)
    }
}

impl PlaneFile for CziSource {
    fn format(&self) -> &'static str {
        "CZI"
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
        let s = self.sizes;
        let (Some(series), Some((t, c, z))) = (self.series.get(position), s.czt(index)) else {
            return Err(ImageError::usage(
                &self.path,
                format!("plane {index} of position {position} does not exist"),
            ));
        };
        let (dtype, bytes) = (
            series.dtype,
            series.width * series.height * series.dtype.bytes(),
        );
        let here = format!("CZI: scene {position}, plane t={t} c={c} z={z}");
        if out.len() != bytes {
            return Err(ImageError::usage(
                &self.path,
                format!("{here}: a buffer of {} bytes for {bytes}", out.len()),
            ));
        }
        let block = self.blocks[((position * s.t + t) * s.c + c) * s.z + z];
        let Some(prefixed) = block.zstd else {
            // Raw little-endian samples covering the plane (the guard checked their length
            // and place): the very bytes the crate would return, without its five copies.
            return self
                .raw
                .read_exact_at(out, block.at)
                .map_err(|e| ImageError::invalid(&self.path, format!("{here}: {e}")));
        };
        self.check_zstd(block, prefixed, bytes as u64)
            .map_err(|r| ImageError::invalid(&self.path, format!("{here}: {r}")))?;
        let plane = self
            .file
            .read_frame_2d(position, t, c, z)
            .map_err(|e| ImageError::invalid(&self.path, format!("{here}: {e}")))?;
        if plane.len() * dtype.bytes() != bytes {
            return Err(ImageError::invalid(
                &self.path,
                format!(
                    "{here}: {} samples, expected {}",
                    plane.len(),
                    bytes / dtype.bytes()
                ),
            ));
        }
        match dtype {
            Dtype::U8 => {
                for (o, v) in out.iter_mut().zip(&plane) {
                    *o = *v as u8;
                }
            }
            _ => {
                for (o, v) in out.chunks_exact_mut(2).zip(&plane) {
                    o.copy_from_slice(&v.to_le_bytes());
                }
            }
        }
        Ok(())
    }
}

/// What the metadata XML states.
#[derive(Debug, Default, PartialEq)]
struct Meta {
    /// `SizeS`, `SizeT`, ... as stated.
    sizes: Vec<(&'static str, usize)>,
    /// Channel names in channel order.
    channels: Vec<Option<String>>,
    /// X and Y pixel size in metres.
    pixel_size: Option<(f64, f64, String)>,
}

impl Meta {
    fn parse(xml: &str) -> Result<Meta, String> {
        let doc = roxmltree::Document::parse(xml)
            .map_err(|e| format!("the metadata XML does not parse: {e}"))?;
        let path = |names: &[&str]| {
            names.iter().try_fold(doc.root_element(), |n, name| {
                n.children().find(|c| c.has_tag_name(*name))
            })
        };
        let mut meta = Meta::default();
        if let Some(image) = path(&["Metadata", "Information", "Image"]) {
            for axis in ["S", "T", "C", "Z"] {
                let tag = format!("Size{axis}");
                let Some(node) = image.children().find(|c| c.has_tag_name(tag.as_str())) else {
                    continue;
                };
                let text = node.text().unwrap_or("").trim();
                let n = text
                    .parse()
                    .map_err(|_| format!("the metadata states {tag}={text:?}"))?;
                meta.sizes.push((axis, n));
            }
            if let Some(list) = image
                .children()
                .find(|c| c.has_tag_name("Dimensions"))
                .and_then(|d| d.children().find(|c| c.has_tag_name("Channels")))
            {
                meta.channels = list
                    .children()
                    .filter(|c| c.has_tag_name("Channel"))
                    .map(|c| c.attribute("Name").map(str::to_string))
                    .collect();
            }
        }
        if let Some(items) = path(&["Metadata", "Scaling", "Items"]) {
            let distance = |id: &str| {
                items
                    .children()
                    .find(|c| c.has_tag_name("Distance") && c.attribute("Id") == Some(id))
                    .and_then(|d| d.children().find(|c| c.has_tag_name("Value")))
                    .and_then(|v| v.text())
                    .and_then(|t| t.trim().parse::<f64>().ok())
                    .filter(|v| *v > 0.0 && v.is_finite())
            };
            if let (Some(x), Some(y)) = (distance("X"), distance("Y")) {
                meta.pixel_size = Some((x, y, "m".to_string()));
            }
        }
        Ok(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_names_channels_and_states_sizes() {
        let xml = r#"<ImageDocument><Metadata><Information><Image>
            <SizeC>2</SizeC><SizeT>3</SizeT>
            <Dimensions><Channels><Channel Name="Phase"/><Channel Id="x"/></Channels></Dimensions>
            </Image></Information><Scaling><Items>
            <Distance Id="X"><Value>6.5E-07</Value></Distance>
            <Distance Id="Y"><Value>6.5E-07</Value></Distance>
            </Items></Scaling></Metadata></ImageDocument>"#;
        let m = Meta::parse(xml).unwrap();
        assert_eq!(m.sizes, vec![("T", 3), ("C", 2)]);
        assert_eq!(m.channels, vec![Some("Phase".into()), None]);
        assert_eq!(m.pixel_size, Some((6.5e-7, 6.5e-7, "m".into())));
        assert!(
            Meta::parse("<a><b></a>")
                .unwrap_err()
                .contains("does not parse")
        );
        let lying = "<ImageDocument><Metadata><Information><Image><SizeT>-1</SizeT>\
                     </Image></Information></Metadata></ImageDocument>";
        assert!(Meta::parse(lying).unwrap_err().contains("SizeT"));
    }
}
