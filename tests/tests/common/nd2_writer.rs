//! A minimal uncompressed ND2 v3 writer for tests, following what the `nd2`
//! crate's reader expects (no open ND2 writer exists): the file signature
//! chunk, `ImageAttributesLV!` and `ImageMetadataLV!` in CLX-lite, one
//! `ImageDataSeq|N!` chunk per frame (8-byte timestamp, then rows of
//! channel-interleaved u16 samples), and the chunk map at the end.
//! Experiment loops nest in `Nd2Spec::loops` order (T, XY positions, Z by
//! default), channels in-pixel. Optional metadata as Nikon writes it: channel
//! names and calibration in `ImageMetadataSeqLV|0!` (`SLxPictureMetadata`),
//! `ImageCalibrationLV|0!`, the time loop's `dPeriod`, per-frame timestamps,
//! an `NETimeLoop` of several periods (`eType` 8, `uLoopPars/pPeriod` with
//! each period's `uiCount`/`dPeriod`, `pPeriodValid` a byte array of flags, as
//! Nikon's `limnd2` writes it) and `CustomData|AcqTimesCache!` (one f64 per
//! frame chunk, ms since the start). Not covered: compressed frames, v2 files,
//! real Nikon metadata beyond these fields.

#![allow(dead_code)]

/// What to write; `pixel(p, t, c, z, y, x)` gives each sample.
pub struct Nd2Spec {
    pub width: u32,
    pub height: u32,
    pub channels: u32,
    pub positions: u32,
    pub frames: u32,
    pub z: u32,
    /// `uiBpcInMemory` (the pixels are always written as u16).
    pub bits: u32,
    /// `eCompression` as INT32 (2 = uncompressed), or `None` to omit it.
    pub compression: Option<i32>,
    /// `uiComp`, when it should differ from `channels`.
    pub components: Option<u32>,
    /// `uiSequenceCount`, when it should differ from T × P × Z.
    pub sequences: Option<u32>,
    /// Experiment loops, outermost first: `T`, `P`, `Z` (Z is left out when 1).
    pub loops: &'static str,
    /// Channel names (`sDescription` of each picture plane).
    pub names: Option<Vec<String>>,
    /// The time loop's `dPeriod` in ms.
    pub period_ms: Option<f64>,
    /// `dCalibration` (µm per pixel) of the picture metadata, `bCalibrated` set.
    pub calibration_um: Option<f64>,
    /// `dCalibration` of `ImageCalibrationLV|0!`, which is written only then.
    pub calibration_chunk: Option<f64>,
    /// Frame `t`'s timestamp is `t × stamp_ms` (else 0, not recorded).
    pub stamp_ms: Option<f64>,
    /// `CustomData|AcqTimesCache!`: frame chunk `N` of time point `t` at `t × acq_ms`.
    pub acq_ms: Option<f64>,
    /// When not empty, the time loop is an `NETimeLoop` of these periods:
    /// (`uiCount`, `dPeriod` in ms, valid flag).
    pub ne_periods: Vec<(u32, f64, bool)>,
    /// Chunks written as given (name, data), e.g. hostile metadata.
    pub raw_chunks: Vec<(String, Vec<u8>)>,
}

impl Nd2Spec {
    /// An honest uncompressed 16-bit file.
    pub fn new(width: u32, height: u32, channels: u32, positions: u32, frames: u32) -> Self {
        Nd2Spec {
            width,
            height,
            channels,
            positions,
            frames,
            z: 1,
            bits: 16,
            compression: Some(2),
            components: None,
            sequences: None,
            loops: "TPZ",
            names: None,
            period_ms: None,
            calibration_um: None,
            calibration_chunk: None,
            stamp_ms: None,
            acq_ms: None,
            ne_periods: Vec::new(),
            raw_chunks: Vec::new(),
        }
    }
}

const MAGIC: u32 = 0x0ABE_CEDA;

/// An entry's header: type code and UTF-16 name.
pub fn entry(out: &mut Vec<u8>, kind: u8, name: &str) {
    out.push(kind);
    out.push(name.encode_utf16().count() as u8 + 1);
    for u in name.encode_utf16().chain([0]) {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

fn u32_entry(out: &mut Vec<u8>, name: &str, v: u32) {
    entry(out, 3, name);
    out.extend_from_slice(&v.to_le_bytes());
}

fn f64_entry(out: &mut Vec<u8>, name: &str, v: f64) {
    entry(out, 6, name);
    out.extend_from_slice(&v.to_le_bytes());
}

/// A UTF-16 string entry (type 8).
pub fn text_entry(out: &mut Vec<u8>, name: &str, v: &str) {
    entry(out, 8, name);
    for u in v.encode_utf16().chain([0]) {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

/// A CLX-lite level named `name` holding `items` (each one encoded entry).
pub fn level(out: &mut Vec<u8>, name: &str, items: &[Vec<u8>]) {
    entry(out, 11, name);
    out.extend_from_slice(&(items.len() as u32).to_le_bytes());
    let body: Vec<u8> = items.concat();
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&body);
    out.extend(std::iter::repeat_n(0u8, items.len() * 8));
}

/// One encoded entry.
pub fn scalar(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut v = Vec::new();
    f(&mut v);
    v
}

fn loop_level(name: &str, loops: &[(u32, u32)], spec: &Nd2Spec) -> Vec<u8> {
    let (kind, count) = loops[0];
    let mut pars = vec![scalar(|o| u32_entry(o, "uiCount", count))];
    if let (1, Some(p)) = (kind, spec.period_ms) {
        pars.push(scalar(|o| f64_entry(o, "dPeriod", p)));
    }
    let ne = kind == 1 && !spec.ne_periods.is_empty();
    if ne {
        let n = spec.ne_periods.len() as u32;
        let periods: Vec<Vec<u8>> = (spec.ne_periods.iter().enumerate())
            .map(|(i, &(count, ms, _))| {
                let items = [
                    scalar(|o| u32_entry(o, "uiCount", count)),
                    scalar(|o| f64_entry(o, "dStart", 0.0)),
                    scalar(|o| f64_entry(o, "dPeriod", ms)),
                    scalar(|o| f64_entry(o, "dDuration", ms * f64::from(count))),
                ];
                scalar(|o| level(o, &format!("i{i:010}"), &items))
            })
            .collect();
        pars.push(scalar(|o| u32_entry(o, "uiPeriodCount", n)));
        pars.push(scalar(|o| level(o, "pPeriod", &periods)));
        pars.push(scalar(|o| {
            entry(o, 9, "pPeriodValid");
            o.extend_from_slice(&u64::from(n).to_le_bytes());
            o.extend(spec.ne_periods.iter().map(|p| u8::from(p.2)));
        }));
    }
    let mut items = vec![
        scalar(|o| {
            u32_entry(
                o,
                if ne { "eType" } else { "uiLoopType" },
                if ne { 8 } else { kind },
            )
        }),
        scalar(|o| level(o, "uLoopPars", &pars)),
    ];
    if loops.len() > 1 {
        items.push(scalar(|o| {
            level(
                o,
                "ppNextLevelEx",
                &[loop_level("i0000000000", &loops[1..], spec)],
            )
        }));
    }
    scalar(|o| level(o, name, &items))
}

fn chunk(out: &mut Vec<u8>, map: &mut Vec<(Vec<u8>, u64, u64)>, name: &[u8], data: &[u8]) {
    let at = out.len() as u64;
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&(name.len() as u32).to_le_bytes());
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(data);
    map.push((name.to_vec(), at, out.len() as u64 - at));
}

/// `SLxPictureMetadata`: calibration and one picture plane per name.
fn picture(spec: &Nd2Spec) -> Vec<u8> {
    let mut items = Vec::new();
    if let Some(um) = spec.calibration_um {
        items.push(scalar(|o| {
            entry(o, 1, "bCalibrated");
            o.push(1);
        }));
        items.push(scalar(|o| f64_entry(o, "dCalibration", um)));
    }
    if let Some(names) = &spec.names {
        let planes: Vec<Vec<u8>> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                scalar(|o| {
                    level(
                        o,
                        &format!("a{i}"),
                        &[scalar(|o| text_entry(o, "sDescription", n))],
                    )
                })
            })
            .collect();
        items.push(scalar(|o| {
            level(
                o,
                "sPicturePlanes",
                &[
                    scalar(|o| u32_entry(o, "uiCount", names.len() as u32)),
                    scalar(|o| level(o, "sPlaneNew", &planes)),
                ],
            )
        }));
    }
    scalar(|o| level(o, "SLxPictureMetadata", &items))
}

/// The bytes of an ND2 file holding `spec`'s planes.
pub fn nd2_bytes(spec: &Nd2Spec, pixel: impl Fn(u32, u32, u32, u32, u32, u32) -> u16) -> Vec<u8> {
    let mut out = Vec::new();
    let mut map = Vec::new();
    let mut version = b"Ver3.0".to_vec();
    version.resize(64, 0);
    chunk(
        &mut out,
        &mut Vec::new(),
        b"ND2 FILE SIGNATURE CHUNK NAME01!",
        &version,
    );
    let comp = spec.components.unwrap_or(spec.channels);
    let mut attrs = vec![
        scalar(|o| u32_entry(o, "uiWidth", spec.width)),
        scalar(|o| u32_entry(o, "uiWidthBytes", spec.width * comp * 2)),
        scalar(|o| u32_entry(o, "uiHeight", spec.height)),
        scalar(|o| u32_entry(o, "uiComp", comp)),
        scalar(|o| u32_entry(o, "uiBpcInMemory", spec.bits)),
        scalar(|o| u32_entry(o, "uiBpcSignificant", spec.bits)),
        scalar(|o| {
            let n = spec.frames * spec.positions * spec.z;
            u32_entry(o, "uiSequenceCount", spec.sequences.unwrap_or(n))
        }),
        scalar(|o| u32_entry(o, "uiChannelCount", spec.channels)),
        scalar(|o| u32_entry(o, "uiCompBPC", 1)),
    ];
    if let Some(c) = spec.compression {
        attrs.push(scalar(|o| {
            entry(o, 2, "eCompression");
            o.extend_from_slice(&c.to_le_bytes());
        }));
    }
    let attrs = scalar(|o| level(o, "SLxImageAttributes", &attrs));
    chunk(&mut out, &mut map, b"ImageAttributesLV!", &attrs);
    let loops: Vec<(u32, u32)> = spec
        .loops
        .chars()
        .filter_map(|a| match a {
            'T' => Some((1, spec.frames)),
            'P' => Some((2, spec.positions)),
            'Z' if spec.z > 1 => Some((4, spec.z)),
            _ => None,
        })
        .collect();
    chunk(
        &mut out,
        &mut map,
        b"ImageMetadataLV!",
        &loop_level("SLxExperiment", &loops, spec),
    );
    if spec.names.is_some() || spec.calibration_um.is_some() {
        chunk(&mut out, &mut map, b"ImageMetadataSeqLV|0!", &picture(spec));
    }
    if let Some(um) = spec.calibration_chunk {
        let cal = scalar(|o| {
            level(
                o,
                "SLxCalibration",
                &[scalar(|o| f64_entry(o, "dCalibration", um))],
            )
        });
        chunk(&mut out, &mut map, b"ImageCalibrationLV|0!", &cal);
    }
    for (name, data) in &spec.raw_chunks {
        chunk(&mut out, &mut map, name.as_bytes(), data);
    }
    // Frame chunks numbered with the innermost loop fastest.
    let frames = spec.frames * spec.positions * spec.z;
    let tpz_of = |seq: u32| {
        let (mut rest, mut tpz) = (seq, [0u32; 3]);
        for &(kind, count) in loops.iter().rev() {
            tpz[match kind {
                1 => 0,
                2 => 1,
                _ => 2,
            }] = rest % count;
            rest /= count;
        }
        tpz
    };
    if let Some(ms) = spec.acq_ms {
        let times: Vec<u8> = (0..frames)
            .flat_map(|seq| (f64::from(tpz_of(seq)[0]) * ms).to_le_bytes())
            .collect();
        chunk(&mut out, &mut map, b"CustomData|AcqTimesCache!", &times);
    }
    for seq in 0..frames {
        let [t, p, z] = tpz_of(seq);
        let stamp = spec.stamp_ms.map_or(0.0, |s| f64::from(t) * s);
        let mut data = stamp.to_le_bytes().to_vec();
        for y in 0..spec.height {
            for x in 0..spec.width {
                for c in 0..comp {
                    data.extend_from_slice(&pixel(p, t, c, z, y, x).to_le_bytes());
                }
            }
        }
        chunk(
            &mut out,
            &mut map,
            format!("ImageDataSeq|{seq}!").as_bytes(),
            &data,
        );
    }
    let map_at = out.len() as u64;
    let mut body = Vec::new();
    for (name, at, size) in &map {
        body.extend_from_slice(name);
        body.extend_from_slice(&at.to_le_bytes());
        body.extend_from_slice(&size.to_le_bytes());
    }
    body.extend_from_slice(b"ND2 CHUNK MAP SIGNATURE 0000001!");
    body.extend_from_slice(&map_at.to_le_bytes());
    chunk(
        &mut out,
        &mut Vec::new(),
        b"ND2 FILEMAP SIGNATURE NAME 0001!",
        &body,
    );
    out
}
