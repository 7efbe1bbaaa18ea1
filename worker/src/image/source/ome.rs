//! OME-XML (the ImageDescription of an OME-TIFF's first page, or a
//! `.companion.ome` file): images, their sizes, dimension order, channel
//! names, frame interval, pixel size, and where each plane is stored
//! (`TiffData`). Counts are checked against [`Limits`] before anything is
//! sized by them.

use super::{Order, Sizes};
use crate::image::Dtype;
use crate::image::tiff_in::Limits;

/// One `TiffData` element: a run of planes stored in consecutive IFDs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TiffData {
    /// `UUID FileName=`: the file holding the planes (`None`: this file).
    pub file: Option<String>,
    /// The `UUID` text, when given.
    pub uuid: Option<String>,
    /// First IFD.
    pub ifd: usize,
    /// Number of planes (`None`: the OME default, resolved against the file's IFD count).
    pub plane_count: Option<usize>,
    /// Whether `IFD=` was given (changes the `PlaneCount` default to 1).
    pub ifd_given: bool,
    /// (FirstC, FirstZ, FirstT).
    pub first: (usize, usize, usize),
}

/// One OME `Image` (a series / position).
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// `Image Name=`.
    pub name: Option<String>,
    /// `SizeX`.
    pub width: usize,
    /// `SizeY`.
    pub height: usize,
    /// `Type`.
    pub dtype: Dtype,
    /// `SizeT`, `SizeC`, `SizeZ`.
    pub sizes: Sizes,
    /// `DimensionOrder`.
    pub order: Order,
    /// `Channel Name=` per channel.
    pub channel_names: Vec<Option<String>>,
    /// `TimeIncrement` and `TimeIncrementUnit` (default `s`).
    pub interval: Option<(f64, String)>,
    /// `PhysicalSizeX`, `PhysicalSizeY` and their unit (default `µm`).
    pub pixel_size: Option<(f64, f64, String)>,
    /// Where the planes are.
    pub tiff_data: Vec<TiffData>,
}

/// A parsed OME-XML document.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The root `UUID=` (this file's identity in a multi-file set).
    pub uuid: Option<String>,
    /// `BinaryOnly MetadataFile=`: the metadata lives in that file instead.
    pub binary_only: Option<String>,
    /// Every image, in document order.
    pub images: Vec<Image>,
}

/// True when an ImageDescription looks like OME-XML.
pub fn is_ome(text: &str) -> bool {
    let head = text.trim_start();
    (head.starts_with("<?xml") || head.starts_with("<OME")) && head.contains("<OME")
}

fn attr<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.attribute(name).map(str::trim)
}

fn count(
    node: roxmltree::Node<'_, '_>,
    name: &str,
    what: &str,
    max: usize,
) -> Result<usize, String> {
    let text = attr(node, name).ok_or_else(|| format!("{what} has no {name}"))?;
    match text.parse::<usize>() {
        Ok(0) => Err(format!("{what} has {name}=0")),
        Ok(n) if n <= max => Ok(n),
        Ok(n) => Err(format!("{what} has {name}={n}, above the limit of {max}")),
        Err(_) => Err(format!("{what} has {name}={text:?}, not a whole number")),
    }
}

fn index_attr(node: roxmltree::Node<'_, '_>, name: &str, what: &str) -> Result<usize, String> {
    match attr(node, name) {
        None => Ok(0),
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| format!("{what} has {name}={t:?}, not a whole number")),
    }
}

fn positive(node: roxmltree::Node<'_, '_>, name: &str) -> Option<f64> {
    attr(node, name)?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
}

fn dtype(text: &str, what: &str) -> Result<Dtype, String> {
    Ok(match text {
        "uint8" => Dtype::U8,
        "uint16" => Dtype::U16,
        "uint32" => Dtype::U32,
        "float" => Dtype::F32,
        other => {
            return Err(format!(
                "{what} has pixel Type {other:?}; isobatch reads uint8, uint16, uint32 and float"
            ));
        }
    })
}

/// Parses OME-XML; the error says what is wrong, in words a user can act on.
pub fn parse(xml: &str, limits: &Limits) -> Result<Document, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("malformed OME-XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "OME" {
        return Err(format!(
            "OME-XML root element is <{}>, not <OME>",
            root.tag_name().name()
        ));
    }
    let binary_only = root
        .children()
        .find(|n| n.has_tag_name("BinaryOnly"))
        .map(|n| {
            attr(n, "MetadataFile")
                .map(str::to_string)
                .ok_or_else(|| "OME-XML BinaryOnly has no MetadataFile".to_string())
        })
        .transpose()?;
    let mut images = Vec::new();
    for (i, node) in root
        .children()
        .filter(|n| n.has_tag_name("Image"))
        .enumerate()
    {
        if i >= limits.max_pages {
            return Err(format!(
                "OME-XML lists more than {} images (the limit)",
                limits.max_pages
            ));
        }
        images.push(image(node, i, limits)?);
    }
    if images.is_empty() && binary_only.is_none() {
        return Err("OME-XML has no Image".into());
    }
    Ok(Document {
        uuid: attr(root, "UUID").map(str::to_string),
        binary_only,
        images,
    })
}

fn image(node: roxmltree::Node<'_, '_>, i: usize, limits: &Limits) -> Result<Image, String> {
    let what = format!("OME-XML Image {i}");
    let px = node
        .children()
        .find(|n| n.has_tag_name("Pixels"))
        .ok_or_else(|| format!("{what} has no Pixels"))?;
    let what = format!("{what} Pixels");
    let side = limits.max_side as usize;
    let width = count(px, "SizeX", &what, side)?;
    let height = count(px, "SizeY", &what, side)?;
    let sizes = Sizes {
        c: count(px, "SizeC", &what, limits.max_pages)?,
        z: count(px, "SizeZ", &what, limits.max_pages)?,
        t: count(px, "SizeT", &what, limits.max_pages)?,
    };
    match sizes.planes() {
        Some(n) if n <= limits.max_pages => {}
        _ => {
            return Err(format!(
                "{what} has SizeC={} × SizeZ={} × SizeT={} planes, above the limit of {}",
                sizes.c, sizes.z, sizes.t, limits.max_pages
            ));
        }
    }
    let order_text =
        attr(px, "DimensionOrder").ok_or_else(|| format!("{what} has no DimensionOrder"))?;
    let order = Order::from_ome(order_text).ok_or_else(|| {
        format!("{what} has DimensionOrder={order_text:?}, not XY followed by C, Z and T")
    })?;
    let dtype = dtype(
        attr(px, "Type").ok_or_else(|| format!("{what} has no Type"))?,
        &what,
    )?;
    let channels: Vec<_> = px
        .children()
        .filter(|n| n.has_tag_name("Channel"))
        .collect();
    let mut channel_names = vec![None; sizes.c];
    if !channels.is_empty() {
        // One Channel per channel; SamplesPerPixel > 1 (RGB) is refused by the TIFF reader.
        if channels.len() != sizes.c {
            return Err(format!(
                "{what} has SizeC={} but {} Channel elements",
                sizes.c,
                channels.len()
            ));
        }
        for (slot, ch) in channel_names.iter_mut().zip(&channels) {
            *slot = attr(*ch, "Name")
                .filter(|n| !n.is_empty())
                .map(str::to_string);
        }
    }
    let interval = positive(px, "TimeIncrement").map(|v| {
        let unit = attr(px, "TimeIncrementUnit").unwrap_or("s");
        (v, unit.to_string())
    });
    let pixel_size = match (positive(px, "PhysicalSizeX"), positive(px, "PhysicalSizeY")) {
        (Some(x), Some(y)) => Some((
            x,
            y,
            attr(px, "PhysicalSizeXUnit").unwrap_or("µm").to_string(),
        )),
        _ => None,
    };
    let mut tiff_data = Vec::new();
    for (k, td) in px
        .children()
        .filter(|n| n.has_tag_name("TiffData"))
        .enumerate()
    {
        if k >= limits.max_pages {
            return Err(format!(
                "{what} has more than {} TiffData elements",
                limits.max_pages
            ));
        }
        let w = format!("{what} TiffData {k}");
        let uuid_node = td.children().find(|n| n.has_tag_name("UUID"));
        let plane_count = match attr(td, "PlaneCount") {
            None => None,
            Some(_) => Some(count(td, "PlaneCount", &w, limits.max_pages)?),
        };
        tiff_data.push(TiffData {
            file: uuid_node
                .and_then(|u| attr(u, "FileName"))
                .map(str::to_string),
            uuid: uuid_node
                .and_then(|u| u.text())
                .map(|t| t.trim().to_string()),
            ifd: index_attr(td, "IFD", &w)?,
            plane_count,
            ifd_given: td.attribute("IFD").is_some(),
            first: (
                index_attr(td, "FirstC", &w)?,
                index_attr(td, "FirstZ", &w)?,
                index_attr(td, "FirstT", &w)?,
            ),
        });
    }
    Ok(Image {
        name: attr(node, "Name").map(str::to_string),
        width,
        height,
        dtype,
        sizes,
        order,
        channel_names,
        interval,
        pixel_size,
        tiff_data,
    })
}
