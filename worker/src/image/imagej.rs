//! ImageJ hyperstack metadata: the `ImageJ=...` ImageDescription text.
//!
//! ImageJ stores a hyperstack as consecutive pages in C, Z, T order (channel
//! varies fastest) and describes the dimensions in the first page's
//! ImageDescription tag as `key=value` lines. We read it leniently (unknown
//! keys are ignored, unparsable calibration values are dropped) but refuse
//! counts that cannot describe the pages (`channels=0`, a product that does
//! not match the page count).

/// ImageJ metadata whose counts cannot describe the file's pages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// A count of zero (`channels=0`).
    #[error("ImageJ metadata {key}=0 is not a valid count")]
    ZeroCount {
        /// The key.
        key: String,
    },
    /// A count that is not a whole number.
    #[error("ImageJ metadata {key}={value:?} is not a whole number")]
    NotACount {
        /// The key.
        key: String,
        /// The value as written.
        value: String,
    },
    /// `images=` differs from the page count.
    #[error("ImageJ metadata says images={images} but the file has {pages} pages{}", big_stack_hint(*.pages))]
    Images {
        /// ImageJ `images=`.
        images: usize,
        /// Pages in the file.
        pages: usize,
    },
    /// channels × slices × frames differs from `images`.
    #[error(
        "ImageJ metadata channels={channels} x slices={slices} x frames={frames} does not match {images} images"
    )]
    Dimensions {
        /// Channels (1 when not stated).
        channels: usize,
        /// Slices (1 when not stated).
        slices: usize,
        /// Frames (1 when not stated).
        frames: usize,
        /// The image count.
        images: usize,
    },
}

/// What a lone page under a larger `images=` most likely is.
fn big_stack_hint(pages: usize) -> &'static str {
    if pages == 1 {
        " (ImageJ's layout for stacks over 4 GiB, which stores one page header; \
         re-save it as BigTIFF, e.g. with Fiji's Bio-Formats exporter or tifffile)"
    } else {
        ""
    }
}

/// Layout written into a TIFF's ImageJ description: `channels` x `frames` pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ImageJLayout {
    /// Channels per time point (pages of one time point are consecutive).
    pub channels: usize,
    /// Time points.
    pub frames: usize,
}

impl ImageJLayout {
    /// A single-channel time series of `frames` pages (how checkpoints are written).
    pub const fn time_series(frames: usize) -> Self {
        ImageJLayout {
            channels: 1,
            frames,
        }
    }

    /// Number of pages the layout describes, `None` on overflow.
    pub fn pages(&self) -> Option<usize> {
        self.channels.checked_mul(self.frames)
    }

    /// The ImageDescription text that makes Fiji open the file with this layout.
    pub(crate) fn description(&self) -> String {
        let images = self.channels.saturating_mul(self.frames);
        let mut s = format!("ImageJ=1.11a\nimages={images}\n");
        if self.channels > 1 {
            s.push_str(&format!("channels={}\n", self.channels));
        }
        if self.frames > 1 {
            s.push_str(&format!("frames={}\n", self.frames));
        }
        s.push_str("hyperstack=true\nmode=grayscale\n");
        if self.frames > 1 {
            s.push_str("loop=false\n");
        }
        s
    }
}

/// Metadata parsed from an ImageJ ImageDescription (`ImageJ=1.x\nimages=...`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageJMeta {
    /// The ImageJ version that wrote the file (the value of `ImageJ=`).
    pub version: String,
    /// Total number of images (`images=`).
    pub images: Option<usize>,
    /// Channels (`channels=`); pages of one channel set are consecutive.
    pub channels: Option<usize>,
    /// Z slices (`slices=`).
    pub slices: Option<usize>,
    /// Time points (`frames=`).
    pub frames: Option<usize>,
    /// Whether ImageJ should open it as a hyperstack (`hyperstack=`).
    pub hyperstack: Option<bool>,
    /// Frame interval (`finterval=`), in `tunit` (seconds when absent).
    pub finterval: Option<f64>,
    /// Z spacing (`spacing=`), in `unit`.
    pub spacing: Option<f64>,
    /// Spatial unit (`unit=`), e.g. `micron`.
    pub unit: Option<String>,
    /// Time unit (`tunit=`), e.g. `sec`.
    pub tunit: Option<String>,
}

impl ImageJMeta {
    /// Parses an ImageDescription; `Ok(None)` when it is not ImageJ metadata,
    /// `Err(reason)` when it is but its counts are nonsense.
    pub fn parse(text: &str) -> Result<Option<Self>, MetadataError> {
        let text = text.trim_end_matches('\0');
        let Some(rest) = text.strip_prefix("ImageJ=") else {
            return Ok(None);
        };
        let mut lines = rest.lines();
        let mut meta = ImageJMeta {
            version: lines.next().unwrap_or("").trim().to_string(),
            ..ImageJMeta::default()
        };
        for line in lines {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            match key {
                "images" => meta.images = Some(count(key, value)?),
                "channels" => meta.channels = Some(count(key, value)?),
                "slices" => meta.slices = Some(count(key, value)?),
                "frames" => meta.frames = Some(count(key, value)?),
                "hyperstack" => meta.hyperstack = value.parse().ok(),
                "finterval" => meta.finterval = positive(value),
                "spacing" => meta.spacing = positive(value),
                "unit" if !value.is_empty() => meta.unit = Some(value.to_string()),
                "tunit" if !value.is_empty() => meta.tunit = Some(value.to_string()),
                _ => {}
            }
        }
        Ok(Some(meta))
    }

    /// Channels, 1 when not stated.
    pub fn channel_count(&self) -> usize {
        self.channels.unwrap_or(1)
    }

    /// Z slices, 1 when not stated.
    pub fn slice_count(&self) -> usize {
        self.slices.unwrap_or(1)
    }

    /// Time points, 1 when not stated.
    pub fn frame_count(&self) -> usize {
        self.frames.unwrap_or(1)
    }

    /// Page index of channel `c`, slice `z`, frame `t` (ImageJ's CZT order).
    pub fn page_index(&self, c: usize, z: usize, t: usize) -> Option<usize> {
        let (nc, nz, nt) = (self.channel_count(), self.slice_count(), self.frame_count());
        if c >= nc || z >= nz || t >= nt {
            return None;
        }
        t.checked_mul(nz)?
            .checked_add(z)?
            .checked_mul(nc)?
            .checked_add(c)
    }

    /// Checks that the metadata describes exactly `pages` pages.
    pub(crate) fn check_pages(&self, pages: usize) -> Result<(), MetadataError> {
        let images = self.images.unwrap_or(pages);
        if images != pages {
            return Err(MetadataError::Images { images, pages });
        }
        if self.channels.is_some() || self.slices.is_some() || self.frames.is_some() {
            let product = self
                .channel_count()
                .checked_mul(self.slice_count())
                .and_then(|p| p.checked_mul(self.frame_count()));
            if product != Some(images) {
                return Err(MetadataError::Dimensions {
                    channels: self.channel_count(),
                    slices: self.slice_count(),
                    frames: self.frame_count(),
                    images,
                });
            }
        }
        Ok(())
    }
}

fn count(key: &str, value: &str) -> Result<usize, MetadataError> {
    match value.parse::<usize>() {
        Ok(0) => Err(MetadataError::ZeroCount { key: key.into() }),
        Ok(n) => Ok(n),
        Err(_) => Err(MetadataError::NotACount {
            key: key.into(),
            value: value.into(),
        }),
    }
}

fn positive(value: &str) -> Option<f64> {
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_hyperstack_description() {
        let text = "ImageJ=1.54f\nimages=100\nchannels=2\nframes=50\nhyperstack=true\n\
                    mode=composite\nfinterval=0.5\nunit=micron\ntunit=sec\nloop=false\nmin=0\n\0";
        let m = ImageJMeta::parse(text).unwrap().unwrap();
        assert_eq!(m.version, "1.54f");
        assert_eq!(
            (m.images, m.channels, m.slices, m.frames),
            (Some(100), Some(2), None, Some(50))
        );
        assert_eq!(m.hyperstack, Some(true));
        assert_eq!(m.finterval, Some(0.5));
        assert_eq!(m.unit.as_deref(), Some("micron"));
        assert_eq!(m.tunit.as_deref(), Some("sec"));
        m.check_pages(100).unwrap();
        assert!(m.check_pages(99).is_err());
        assert_eq!(m.page_index(1, 0, 3), Some(7));
        assert_eq!(m.page_index(2, 0, 0), None);
    }

    #[test]
    fn lenient_but_refuses_nonsense() {
        assert_eq!(ImageJMeta::parse("OME-XML...").unwrap(), None);
        let m = ImageJMeta::parse("ImageJ=\nfinterval=abc\nweird line\nspacing=-1\n")
            .unwrap()
            .unwrap();
        assert_eq!((m.finterval, m.spacing), (None, None));
        let e = ImageJMeta::parse("ImageJ=1.11a\nchannels=0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("channels=0"), "{e}");
        assert!(ImageJMeta::parse("ImageJ=1.11a\nframes=-3\n").is_err());
        let m = ImageJMeta::parse("ImageJ=1.11a\nimages=6\nchannels=4\nframes=2\n")
            .unwrap()
            .unwrap();
        let e = m.check_pages(6).unwrap_err().to_string();
        assert!(e.contains("does not match"), "{e}");
        let big = ImageJMeta::parse("ImageJ=1.11a\nimages=500\n")
            .unwrap()
            .unwrap();
        assert!(
            big.check_pages(1)
                .unwrap_err()
                .to_string()
                .contains("4 GiB")
        );
    }

    #[test]
    fn description_round_trips() {
        let d = ImageJLayout {
            channels: 2,
            frames: 3,
        }
        .description();
        assert_eq!(
            d,
            "ImageJ=1.11a\nimages=6\nchannels=2\nframes=3\nhyperstack=true\nmode=grayscale\nloop=false\n"
        );
        let m = ImageJMeta::parse(&d).unwrap().unwrap();
        assert_eq!(
            (m.channels, m.frames, m.images),
            (Some(2), Some(3), Some(6))
        );
        m.check_pages(6).unwrap();
        let single = ImageJLayout::time_series(1).description();
        ImageJMeta::parse(&single)
            .unwrap()
            .unwrap()
            .check_pages(1)
            .unwrap();
    }
}
