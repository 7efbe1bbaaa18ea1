//! Zeiss CZI: one position per scene (`S`), planes by (t, c, z) read one
//! subblock at a time, straight into the caller's plane. An uncompressed
//! subblock is one pread from the data offset the guard checked; a zstd one is
//! inflated by [`super::czi_decode`]. The `czi` crate, whose reads these match
//! bit for bit (the tests compare them), copies each plane several times
//! (4–25× the TIFF read, docs/benchmarks.md).
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

use super::czi_decode::ZstdPlanes;
use super::czi_guard::{self, Block};
use super::{Order, PlaneFile, Series, Sizes};
use crate::image::ImageError;
use crate::image::tiff_in::Limits;

/// An opened CZI file.
pub struct CziSource {
    path: PathBuf,
    raw: File,
    series: Vec<Series>,
    sizes: Sizes,
    blocks: Vec<Block>,
    limit: u64,
    zstd: ZstdPlanes,
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
            raw,
            series,
            sizes,
            blocks: layout.blocks,
            limit: limits.max_frame_bytes,
            zstd: ZstdPlanes::new().map_err(|e| ImageError::io(path, e))?,
        })
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
        if block.zstd.is_none() {
            // Raw little-endian samples covering the plane (the guard checked their length
            // and place): the very bytes the crate would return, without its five copies.
            return self
                .raw
                .read_exact_at(out, block.at)
                .map_err(|e| ImageError::invalid(&self.path, format!("{here}: {e}")));
        }
        self.zstd
            .read(&self.raw, block, dtype, out, self.limit)
            .map_err(|r| ImageError::invalid(&self.path, format!("{here}: {r}")))
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
