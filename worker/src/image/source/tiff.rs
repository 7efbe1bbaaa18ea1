//! TIFF in its three flavours: OME-TIFF (layout from the OME-XML, one position
//! per OME `Image`, planes possibly in other files of a multi-file set),
//! ImageJ hyperstacks (CZT order from `channels=`, `slices=`, `frames=`), and
//! plain multi-page TIFF (no layout: [`Series::order`] is `None`).

use std::fs;
use std::path::{Path, PathBuf};

use super::ome::{self, Document, Image};
use super::{Order, PlaneFile, Series, Sizes};
use crate::image::imagej::ImageJMeta;
use crate::image::tiff_in::{InputStack, Limits};
use crate::image::{ImageError, Shape};

/// Largest `.companion.ome` metadata file read.
const MAX_COMPANION: u64 = 64 << 20;

/// Where one plane of a position is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    file: u32,
    page: u32,
}

/// An opened TIFF file (and, for a multi-file OME set, the files its positions use).
pub struct TiffFile {
    path: PathBuf,
    format: &'static str,
    series: Vec<Series>,
    /// Per position, plane → (file, page); empty for ImageJ/plain TIFF (plane = page).
    planes: Vec<Vec<Slot>>,
    /// Files of the set; index 0 is `path`.
    files: Vec<(PathBuf, Option<InputStack>)>,
}

impl TiffFile {
    /// Opens `path`, reading its headers and any OME-XML.
    pub fn open(path: &Path, limits: &Limits) -> Result<Self, ImageError> {
        let stack = InputStack::open(path, limits)?;
        let text = stack
            .description()
            .filter(|t| ome::is_ome(t))
            .map(str::to_string);
        match text {
            Some(xml) => open_ome(path, stack, &xml, limits),
            None => Ok(plain(path, stack)),
        }
    }
}

fn plain(path: &Path, stack: InputStack) -> TiffFile {
    let info = stack.info().clone();
    let (source, sizes, order, interval) = match &info.imagej {
        Some(m) => {
            let sizes = imagej_sizes(m, info.pages);
            let interval = m
                .finterval
                .map(|v| (v, m.tunit.clone().unwrap_or_else(|| "sec".into())));
            ("ImageJ metadata", Some(sizes), Some(Order::CZT), interval)
        }
        None if info.pages == 1 => (
            "none (one page)",
            Some(Sizes { t: 1, c: 1, z: 1 }),
            Some(Order::CZT),
            None,
        ),
        None => ("none", None, None, None),
    };
    let channels = sizes.map_or(0, |s| s.c);
    TiffFile {
        path: path.to_path_buf(),
        format: if info.imagej.is_some() {
            "ImageJ TIFF"
        } else {
            "TIFF"
        },
        series: vec![Series {
            source,
            width: info.width,
            height: info.height,
            dtype: info.dtype,
            planes: info.pages,
            sizes,
            order,
            channel_names: vec![None; channels],
            interval,
            interval_note: None,
            pixel_size: None,
        }],
        planes: vec![Vec::new()],
        files: vec![(path.to_path_buf(), Some(stack))],
    }
}

/// ImageJ's sizes: `channels=` (1 when absent: Fiji omits it for one channel);
/// `frames=` time points with `slices=` focal planes; a stack with neither
/// `frames=` nor `hyperstack=true` is ImageJ's plain stack of pages, read as time.
fn imagej_sizes(m: &ImageJMeta, pages: usize) -> Sizes {
    let c = m.channel_count();
    match (m.frames, m.slices, m.hyperstack) {
        (Some(t), z, _) => Sizes {
            t,
            c,
            z: z.unwrap_or(1),
        },
        (None, Some(z), Some(true)) => Sizes { t: 1, c, z },
        _ => Sizes {
            t: pages / c.max(1),
            c,
            z: 1,
        },
    }
}

fn open_ome(
    path: &Path,
    stack: InputStack,
    xml: &str,
    limits: &Limits,
) -> Result<TiffFile, ImageError> {
    let invalid = |r: String| ImageError::invalid(path, r);
    let own = ome::parse(xml, limits).map_err(|e| invalid(e.to_string()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let doc = match &own.binary_only {
        Some(meta) => {
            let meta_path = dir.join(meta);
            let text = read_companion(&meta_path)
                .map_err(|r| invalid(format!("OME BinaryOnly metadata file {meta}: {r}")))?;
            let mut doc = ome::parse(&text, limits)
                .map_err(|r| invalid(format!("OME metadata file {meta}: {r}")))?;
            doc.uuid = own.uuid.clone();
            doc
        }
        None => own,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut t = TiffFile {
        path: path.to_path_buf(),
        format: "OME-TIFF",
        series: Vec::new(),
        planes: Vec::new(),
        files: vec![(path.to_path_buf(), Some(stack))],
    };
    for (i, image) in doc.images.iter().enumerate() {
        let slots = t
            .map_planes(&doc, image, &name, dir)
            .map_err(|r| invalid(format!("OME-XML Image {i}: {r}")))?;
        // A position belongs to the file that holds its first plane, so a multi-file set
        // yields each position once.
        if slots.first().is_some_and(|s| s.file == 0) {
            t.check_files(image, &slots, i)?;
            t.series.push(Series {
                source: "OME-XML",
                width: image.width,
                height: image.height,
                dtype: image.dtype,
                planes: slots.len(),
                sizes: Some(image.sizes),
                order: Some(image.order),
                channel_names: image.channel_names.clone(),
                interval: image.interval.clone(),
                interval_note: None,
                pixel_size: image.pixel_size.clone(),
            });
            t.planes.push(slots);
        }
    }
    Ok(t)
}

fn read_companion(path: &Path) -> Result<String, String> {
    let len = fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > MAX_COMPANION {
        return Err(format!("{len} bytes, above the limit of {MAX_COMPANION}"));
    }
    fs::read_to_string(path).map_err(|e| e.to_string())
}

impl TiffFile {
    /// The slot of the file called `name` (opening it on first use).
    fn file_slot(
        &mut self,
        doc: &Document,
        td: &ome::TiffData,
        own: &str,
        dir: &Path,
    ) -> Result<u32, String> {
        let name = match (&td.file, &td.uuid) {
            (Some(f), _) => f.clone(),
            (None, Some(u)) if doc.uuid.as_deref() == Some(u) => own.to_string(),
            (None, Some(u)) => {
                return Err(format!("TiffData names file UUID {u} without a FileName"));
            }
            (None, None) => own.to_string(),
        };
        if name.contains('/') || name == ".." {
            return Err(format!(
                "TiffData FileName {name:?} is not a file in the same folder"
            ));
        }
        let path = if name == own {
            self.path.clone()
        } else {
            dir.join(&name)
        };
        if let Some(i) = self.files.iter().position(|(p, _)| *p == path) {
            return Ok(i as u32);
        }
        self.files.push((path, None));
        Ok((self.files.len() - 1) as u32)
    }

    /// The stack of file slot `i`, opened on first use.
    fn stack(&mut self, i: u32) -> Result<&mut InputStack, ImageError> {
        let (path, slot) = &mut self.files[i as usize];
        if slot.is_none() {
            *slot = Some(InputStack::open(path, &Limits::default())?);
        }
        slot.as_mut()
            .ok_or_else(|| ImageError::usage(path, "file slot not opened"))
    }

    fn pages(&mut self, i: u32) -> Result<usize, String> {
        self.stack(i)
            .map(|s| s.info().pages)
            .map_err(|e| e.to_string())
    }

    /// Every plane of `image` → (file, page), from its TiffData.
    fn map_planes(
        &mut self,
        doc: &Document,
        image: &Image,
        own: &str,
        dir: &Path,
    ) -> Result<Vec<Slot>, String> {
        let sizes = image.sizes;
        let n = sizes.planes().ok_or("plane count overflows")?;
        let mut slots: Vec<Option<Slot>> = vec![None; n];
        let default = [ome::TiffData {
            file: None,
            uuid: None,
            ifd: 0,
            plane_count: None,
            ifd_given: false,
            first: (0, 0, 0),
        }];
        let list: &[ome::TiffData] = if image.tiff_data.is_empty() {
            if doc.images.len() > 1 {
                return Err("has no TiffData but the file holds several images".into());
            }
            &default
        } else {
            &image.tiff_data
        };
        for (k, td) in list.iter().enumerate() {
            let file = self.file_slot(doc, td, own, dir)?;
            let pages = self.pages(file)?;
            let (c, z, t) = td.first;
            let start = image.order.index(sizes, t, c, z).ok_or_else(|| {
                format!(
                    "TiffData {k} starts at C={c} Z={z} T={t}, outside SizeC={} SizeZ={} SizeT={}",
                    sizes.c, sizes.z, sizes.t
                )
            })?;
            let count = match td.plane_count {
                Some(p) => p,
                None if td.ifd_given => 1,
                None => pages.saturating_sub(td.ifd).min(n - start),
            };
            if start + count > n {
                return Err(format!(
                    "TiffData {k} covers {count} planes from plane {start}, past the image's {n}"
                ));
            }
            if td.ifd + count > pages {
                return Err(format!(
                    "TiffData {k} needs IFDs {}..{} but {} has {pages} pages",
                    td.ifd,
                    td.ifd + count,
                    self.files[file as usize].0.display()
                ));
            }
            for j in 0..count {
                slots[start + j] = Some(Slot {
                    file,
                    page: (td.ifd + j) as u32,
                });
            }
        }
        slots
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.ok_or_else(|| format!("plane {i} (of {n}) is not stored in any TiffData"))
            })
            .collect()
    }

    /// Checks that every file a position reads has the image's plane size and type.
    fn check_files(&mut self, image: &Image, slots: &[Slot], i: usize) -> Result<(), ImageError> {
        let mut seen: Vec<u32> = Vec::new();
        for s in slots {
            if seen.contains(&s.file) {
                continue;
            }
            seen.push(s.file);
            let path = self.files[s.file as usize].0.clone();
            let info = self.stack(s.file)?.info().clone();
            let want = Shape::new(1, image.height, image.width);
            if (info.height, info.width) != (want.height, want.width) || info.dtype != image.dtype {
                return Err(ImageError::invalid(
                    &path,
                    format!(
                        "OME-XML Image {i} says {}x{} {} but the pages are {}x{} {}",
                        image.width, image.height, image.dtype, info.width, info.height, info.dtype
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl PlaneFile for TiffFile {
    fn format(&self) -> &'static str {
        self.format
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
        let slot = match self.planes.get(position) {
            None => {
                return Err(ImageError::usage(
                    &self.path,
                    format!(
                        "position {position} does not exist ({} positions)",
                        self.series.len()
                    ),
                ));
            }
            Some(map) if map.is_empty() => Slot {
                file: 0,
                page: index as u32,
            },
            Some(map) => *map.get(index).ok_or_else(|| {
                ImageError::usage(
                    &self.path,
                    format!("plane {index} of position {position} does not exist"),
                )
            })?,
        };
        self.stack(slot.file)?.read_raw(slot.page as usize, out)
    }
}
