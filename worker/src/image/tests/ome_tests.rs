//! OME-TIFF through the reader interface: the same pixels stored channel-major and
//! time-major read back identically, several images are several positions, the
//! BinaryOnly multi-file form, and hostile OME-XML refused as invalid input.

use std::path::Path;

use super::{CraftPage, TestDir, craft, pattern};
use crate::image::source::{self, Order, PlaneFile, Sizes};
use crate::image::tiff_ifd::Value;
use crate::image::tiff_in::Limits;
use crate::image::{Dtype, ImageError};

const W: u32 = 6;
const H: u32 = 5;

/// The pixels of plane (t, c): distinct for every plane.
fn plane(t: usize, c: usize) -> Vec<u8> {
    bytemuck::cast_slice(&pattern::<u16>(t * 10 + c, (W * H) as usize)).to_vec()
}

fn pixels(order: &str, sizes: (usize, usize), extra: &str) -> String {
    let (t, c) = sizes;
    let channels: String = (0..c)
        .map(|i| {
            format!(
                r#"<Channel ID="Channel:0:{i}" Name="{}" SamplesPerPixel="1"/>"#,
                ["Phase", "GFP", "RFP"][i]
            )
        })
        .collect();
    format!(
        r#"<Pixels ID="Pixels:0" DimensionOrder="{order}" Type="uint16" SizeX="{W}" SizeY="{H}" SizeC="{c}" SizeZ="1" SizeT="{t}" TimeIncrement="5" TimeIncrementUnit="min" PhysicalSizeX="0.65" PhysicalSizeY="0.65">{channels}{extra}</Pixels>"#
    )
}

fn ome(images: &[String], root: &str) -> String {
    let body: String = images
        .iter()
        .enumerate()
        .map(|(i, p)| format!(r#"<Image ID="Image:{i}" Name="pos{i}">{p}</Image>"#))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" {root}>{body}</OME>"#
    )
}

/// Writes `pages` (t, c) planes with `xml` as page 0's description.
fn write(path: &Path, pages: &[(usize, usize)], xml: &str) {
    let mut list: Vec<CraftPage> = pages
        .iter()
        .map(|&(t, c)| CraftPage::gray(W, H, 16, 1, plane(t, c)))
        .collect();
    if let Some(first) = list.first_mut() {
        first.tags.push(crate::image::tiff_ifd::Entry {
            tag: 270,
            value: Value::Ascii(xml.to_string()),
        });
    }
    std::fs::write(path, craft(&list)).unwrap();
}

fn read(file: &mut dyn PlaneFile, p: usize, t: usize, c: usize) -> Vec<u8> {
    let s = file.positions()[p].clone();
    let i = s.order.unwrap().index(s.sizes.unwrap(), t, c, 0).unwrap();
    let mut out = vec![0u8; (W * H * 2) as usize];
    file.read_plane(p, i, &mut out).unwrap();
    out
}

#[test]
fn channel_major_and_time_major_read_the_same_planes() {
    let dir = TestDir::new("ome-order");
    let (nt, nc) = (4, 2);
    let ct: Vec<(usize, usize)> = (0..nt).flat_map(|t| (0..nc).map(move |c| (t, c))).collect();
    let tc: Vec<(usize, usize)> = (0..nc).flat_map(|c| (0..nt).map(move |t| (t, c))).collect();
    let td = r#"<TiffData IFD="0" PlaneCount="8"/>"#;
    write(
        &dir.join("ct.ome.tif"),
        &ct,
        &ome(&[pixels("XYCZT", (nt, nc), td)], ""),
    );
    write(
        &dir.join("tc.ome.tif"),
        &tc,
        &ome(&[pixels("XYTZC", (nt, nc), td)], ""),
    );
    let mut a = source::open(&dir.join("ct.ome.tif"), &Limits::default()).unwrap();
    let mut b = source::open(&dir.join("tc.ome.tif"), &Limits::default()).unwrap();
    assert_eq!(a.format(), "OME-TIFF");
    let s = &a.positions()[0];
    assert_eq!(s.sizes, Some(Sizes { t: 4, c: 2, z: 1 }));
    assert_eq!(s.order, Some(Order::CZT));
    assert_eq!(
        s.channel_names,
        [Some("Phase".to_string()), Some("GFP".to_string())]
    );
    assert_eq!(s.interval, Some((5.0, "min".to_string())));
    assert_eq!(s.pixel_size, Some((0.65, 0.65, "µm".to_string())));
    assert_eq!(s.dtype, Dtype::U16);
    for t in 0..nt {
        for c in 0..nc {
            let want = plane(t, c);
            assert_eq!(read(a.as_mut(), 0, t, c), want, "ct t={t} c={c}");
            assert_eq!(read(b.as_mut(), 0, t, c), want, "tc t={t} c={c}");
        }
    }
}

#[test]
fn several_images_are_several_positions() {
    let dir = TestDir::new("ome-series");
    let pages: Vec<(usize, usize)> = (0..3)
        .flat_map(|p| (0..2).map(move |t| (t + 10 * p, 0)))
        .collect();
    let images: Vec<String> = (0..3)
        .map(|p| {
            pixels(
                "XYCZT",
                (2, 1),
                &format!(r#"<TiffData IFD="{}" PlaneCount="2"/>"#, 2 * p),
            )
        })
        .collect();
    let path = dir.join("multi.ome.tif");
    write(&path, &pages, &ome(&images, ""));
    assert_eq!(source::position_count(&path).unwrap(), 3);
    let mut f = source::open(&path, &Limits::default()).unwrap();
    for p in 0..3 {
        assert_eq!(
            read(f.as_mut(), p, 1, 0),
            plane(1 + 10 * p, 0),
            "position {p}"
        );
    }
}

#[test]
fn binary_only_files_read_their_planes_from_the_set() {
    let dir = TestDir::new("ome-binary");
    // One image, t=0..1 in a.ome.tif and t=2..3 in b.ome.tif; the metadata in set.companion.ome.
    let td = r#"<TiffData FirstT="0" IFD="0" PlaneCount="2"><UUID FileName="a.ome.tif">urn:uuid:a</UUID></TiffData><TiffData FirstT="2" IFD="0" PlaneCount="2"><UUID FileName="b.ome.tif">urn:uuid:b</UUID></TiffData>"#;
    std::fs::write(
        dir.join("set.companion.ome"),
        ome(&[pixels("XYCZT", (4, 1), td)], ""),
    )
    .unwrap();
    let stub = |uuid: &str| {
        format!(
            r#"<?xml version="1.0"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" UUID="{uuid}"><BinaryOnly MetadataFile="set.companion.ome" UUID="urn:uuid:m"/></OME>"#
        )
    };
    write(
        &dir.join("a.ome.tif"),
        &[(0, 0), (1, 0)],
        &stub("urn:uuid:a"),
    );
    write(
        &dir.join("b.ome.tif"),
        &[(2, 0), (3, 0)],
        &stub("urn:uuid:b"),
    );
    // The position belongs to the file holding its first plane only.
    assert_eq!(source::position_count(&dir.join("b.ome.tif")).unwrap(), 0);
    let mut f = source::open(&dir.join("a.ome.tif"), &Limits::default()).unwrap();
    for t in 0..4 {
        assert_eq!(read(f.as_mut(), 0, t, 0), plane(t, 0), "t={t}");
    }
}

/// Opens `xml` as the description of a 2-page file and returns the refusal.
fn refusal(dir: &TestDir, xml: &str) -> String {
    let path = dir.join("bad.ome.tif");
    write(&path, &[(0, 0), (1, 0)], xml);
    match source::open(&path, &Limits::default()) {
        Err(ImageError::Invalid { path: p, reason }) => {
            assert_eq!(p, path);
            reason
        }
        Err(e) => panic!("expected Invalid, got {e}"),
        Ok(_) => panic!("expected Invalid for {xml}"),
    }
}

#[test]
fn hostile_ome_xml_is_invalid_input_never_a_guess_or_a_huge_allocation() {
    let dir = TestDir::new("ome-hostile");
    let one = |order: &str, t: usize, extra: &str| ome(&[pixels(order, (t, 1), extra)], "");
    let cases: Vec<(String, &str)> = vec![
        (
            "<?xml version=\"1.0\"?><OME><Image".into(),
            "malformed OME-XML",
        ),
        (
            one("XYCZT", 2, "").replace("</OME>", ""),
            "malformed OME-XML",
        ),
        (
            one("XYCZT", 2, "")
                .replace("<Image ID=\"Image:0\" Name=\"pos0\">", "<Image>")
                .replace("<Pixels ", "<Pixelz ")
                .replace("</Pixels>", "</Pixelz>"),
            "has no Pixels",
        ),
        (
            one("XYCZT", 2, "").replace("SizeX=\"6\"", "SizeX=\"4000000000\""),
            "SizeX=4000000000, above the limit",
        ),
        (
            one("XYCZT", 2, "").replace("SizeT=\"2\"", "SizeT=\"999999999999\""),
            "SizeT=999999999999, above the limit",
        ),
        (
            one("XYCZT", 1000, "")
                .replace("SizeZ=\"1\"", "SizeZ=1000")
                .replace("SizeZ=1000", "SizeZ=\"1000\"")
                .replace("SizeC=\"1\"", "SizeC=\"1000\"")
                .replace(
                    r#"<Channel ID="Channel:0:0" Name="Phase" SamplesPerPixel="1"/>"#,
                    "",
                ),
            "planes, above the limit",
        ),
        (
            one("XYCZT", 2, "").replace("SizeT=\"2\"", "SizeT=\"-2\""),
            "not a whole number",
        ),
        (
            one("XYCZT", 2, "").replace("SizeC=\"1\"", "SizeC=\"0\""),
            "SizeC=0",
        ),
        (one("XYQZT", 2, ""), "DimensionOrder=\"XYQZT\""),
        (
            one("XYCZT", 2, "").replace("uint16", "double"),
            "Type \"double\"",
        ),
        (
            one("XYCZT", 2, "").replace("uint16", "uint8"),
            "uint8 but the pages are",
        ),
        (
            one("XYCZT", 3, r#"<TiffData IFD="0" PlaneCount="3"/>"#),
            "needs IFDs 0..3 but",
        ),
        (
            one("XYCZT", 2, r#"<TiffData IFD="0" PlaneCount="1"/>"#),
            "plane 1 (of 2) is not stored",
        ),
        (
            one(
                "XYCZT",
                2,
                r#"<TiffData IFD="0" PlaneCount="2" FirstT="1"/>"#,
            ),
            "past the image's 2",
        ),
        (
            one("XYCZT", 2, r#"<TiffData IFD="0" FirstT="7"/>"#),
            "outside SizeC",
        ),
        (
            one(
                "XYCZT",
                2,
                r#"<TiffData IFD="0"><UUID FileName="../../etc/passwd">x</UUID></TiffData>"#,
            ),
            "not a file in the same folder",
        ),
        (
            one(
                "XYCZT",
                2,
                r#"<TiffData IFD="0"><UUID FileName="absent.ome.tif">x</UUID></TiffData>"#,
            ),
            "absent.ome.tif",
        ),
        (
            r#"<?xml version="1.0"?><OME><BinaryOnly MetadataFile="nowhere.ome"/></OME>"#.into(),
            "BinaryOnly metadata file nowhere.ome",
        ),
        (r#"<?xml version="1.0"?><OME></OME>"#.into(), "has no Image"),
        (
            one("XYCZT", 2, "")
                .replace("SizeC=\"1\"", "SizeC=\"2\"")
                .replace("SizeT=\"2\"", "SizeT=\"1\""),
            "SizeC=2 but 1 Channel",
        ),
    ];
    for (xml, want) in &cases {
        let r = refusal(&dir, xml);
        assert!(r.contains(want), "{want:?} not in {r:?}");
    }
    // An OME-XML entity bomb is refused by the parser, not expanded.
    let bomb = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE OME [<!ENTITY a \"{}\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">]><OME>&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;</OME>",
        "x".repeat(1000)
    );
    let r = refusal(&dir, &bomb);
    assert!(
        r.contains("malformed OME-XML") || r.contains("has no Image"),
        "{r}"
    );
}
