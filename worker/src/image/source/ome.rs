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

/// Why OME-XML cannot be used, in words a user can act on (`what` names the
/// element, e.g. `OME-XML Image 0 Pixels`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OmeError {
    /// Not well-formed XML.
    #[error("malformed OME-XML: {0}")]
    Xml(String),
    /// The root element is not `<OME>`.
    #[error("OME-XML root element is <{0}>, not <OME>")]
    Root(String),
    /// `BinaryOnly` without the file it points to.
    #[error("OME-XML BinaryOnly has no MetadataFile")]
    NoMetadataFile,
    /// More images than the page limit.
    #[error("OME-XML lists more than {0} images (the limit)")]
    TooManyImages(usize),
    /// No image and no pointer to one.
    #[error("OME-XML has no Image")]
    NoImage,
    /// A required element or attribute is absent.
    #[error("{what} has no {name}")]
    Missing {
        /// The element.
        what: String,
        /// The missing child or attribute.
        name: &'static str,
    },
    /// An attribute whose value cannot be used.
    #[error("{what} has {name}={value}, {problem}")]
    Value {
        /// The element.
        what: String,
        /// The attribute.
        name: &'static str,
        /// Its value as written.
        value: String,
        /// Why it cannot be used.
        problem: String,
    },
    /// More planes than the page limit.
    #[error("{what} has SizeC={c} × SizeZ={z} × SizeT={t} planes, above the limit of {limit}")]
    TooManyPlanes {
        /// The element.
        what: String,
        /// `SizeC`.
        c: usize,
        /// `SizeZ`.
        z: usize,
        /// `SizeT`.
        t: usize,
        /// The page limit.
        limit: usize,
    },
    /// A pixel type isobatch does not read.
    #[error("{what} has pixel Type {value:?}; isobatch reads uint8, uint16, uint32 and float")]
    PixelType {
        /// The element.
        what: String,
        /// `Type`.
        value: String,
    },
    /// `Channel` elements that do not match `SizeC`.
    #[error("{what} has SizeC={size_c} but {elements} Channel elements")]
    ChannelCount {
        /// The element.
        what: String,
        /// `SizeC`.
        size_c: usize,
        /// `Channel` elements.
        elements: usize,
    },
    /// More `TiffData` elements than the page limit.
    #[error("{what} has more than {limit} TiffData elements")]
    TooManyTiffData {
        /// The element.
        what: String,
        /// The page limit.
        limit: usize,
    },
}

/// True when an ImageDescription looks like OME-XML.
pub fn is_ome(text: &str) -> bool {
    let head = text.trim_start();
    (head.starts_with("<?xml") || head.starts_with("<OME")) && head.contains("<OME")
}

fn attr<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.attribute(name).map(str::trim)
}

fn missing(what: &str, name: &'static str) -> OmeError {
    OmeError::Missing {
        what: what.to_string(),
        name,
    }
}

fn bad_value(what: &str, name: &'static str, value: String, problem: String) -> OmeError {
    OmeError::Value {
        what: what.to_string(),
        name,
        value,
        problem,
    }
}

fn count(
    node: roxmltree::Node<'_, '_>,
    name: &'static str,
    what: &str,
    max: usize,
) -> Result<usize, OmeError> {
    let text = attr(node, name).ok_or_else(|| missing(what, name))?;
    match text.parse::<usize>() {
        Ok(0) => Err(bad_value(
            what,
            name,
            "0".into(),
            "not a valid count".into(),
        )),
        Ok(n) if n <= max => Ok(n),
        Ok(n) => Err(bad_value(
            what,
            name,
            n.to_string(),
            format!("above the limit of {max}"),
        )),
        Err(_) => Err(bad_value(
            what,
            name,
            format!("{text:?}"),
            "not a whole number".into(),
        )),
    }
}

fn index_attr(
    node: roxmltree::Node<'_, '_>,
    name: &'static str,
    what: &str,
) -> Result<usize, OmeError> {
    match attr(node, name) {
        None => Ok(0),
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| bad_value(what, name, format!("{t:?}"), "not a whole number".into())),
    }
}

fn positive(node: roxmltree::Node<'_, '_>, name: &str) -> Option<f64> {
    attr(node, name)?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
}

fn dtype(text: &str, what: &str) -> Result<Dtype, OmeError> {
    Ok(match text {
        "uint8" => Dtype::U8,
        "uint16" => Dtype::U16,
        "uint32" => Dtype::U32,
        "float" => Dtype::F32,
        other => {
            return Err(OmeError::PixelType {
                what: what.to_string(),
                value: other.to_string(),
            });
        }
    })
}

/// Parses OME-XML; the error says what is wrong, in words a user can act on.
pub fn parse(xml: &str, limits: &Limits) -> Result<Document, OmeError> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| OmeError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "OME" {
        return Err(OmeError::Root(root.tag_name().name().to_string()));
    }
    let binary_only = root
        .children()
        .find(|n| n.has_tag_name("BinaryOnly"))
        .map(|n| {
            attr(n, "MetadataFile")
                .map(str::to_string)
                .ok_or(OmeError::NoMetadataFile)
        })
        .transpose()?;
    let mut images = Vec::new();
    for (i, node) in root
        .children()
        .filter(|n| n.has_tag_name("Image"))
        .enumerate()
    {
        if i >= limits.max_pages {
            return Err(OmeError::TooManyImages(limits.max_pages));
        }
        images.push(image(node, i, limits)?);
    }
    if images.is_empty() && binary_only.is_none() {
        return Err(OmeError::NoImage);
    }
    Ok(Document {
        uuid: attr(root, "UUID").map(str::to_string),
        binary_only,
        images,
    })
}

fn image(node: roxmltree::Node<'_, '_>, i: usize, limits: &Limits) -> Result<Image, OmeError> {
    let what = format!("OME-XML Image {i}");
    let px = node
        .children()
        .find(|n| n.has_tag_name("Pixels"))
        .ok_or_else(|| missing(&what, "Pixels"))?;
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
            return Err(OmeError::TooManyPlanes {
                what,
                c: sizes.c,
                z: sizes.z,
                t: sizes.t,
                limit: limits.max_pages,
            });
        }
    }
    let order_text = attr(px, "DimensionOrder").ok_or_else(|| missing(&what, "DimensionOrder"))?;
    let order = Order::from_ome(order_text).ok_or_else(|| {
        bad_value(
            &what,
            "DimensionOrder",
            format!("{order_text:?}"),
            "not XY followed by C, Z and T".into(),
        )
    })?;
    let dtype = dtype(
        attr(px, "Type").ok_or_else(|| missing(&what, "Type"))?,
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
            return Err(OmeError::ChannelCount {
                what,
                size_c: sizes.c,
                elements: channels.len(),
            });
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
            return Err(OmeError::TooManyTiffData {
                what,
                limit: limits.max_pages,
            });
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
