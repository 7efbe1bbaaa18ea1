use std::path::Path;

use super::*;
use crate::fov::time::TimeUnit;
use crate::image::source::Series;

fn series(planes: usize, sizes: Option<(usize, usize, usize)>, order: Option<Order>) -> Series {
    Series {
        source: if sizes.is_some() { "OME-XML" } else { "none" },
        width: 64,
        height: 64,
        dtype: Dtype::U16,
        planes,
        sizes: sizes.map(|(t, c, z)| Sizes { t, c, z }),
        order,
        channel_names: Vec::new(),
        interval: None,
        interval_note: None,
        pixel_size: None,
    }
}

fn params(kv: &[(&str, &str)]) -> Result<LayoutParams, String> {
    let mut p = LayoutParams::default();
    for (k, v) in kv {
        assert!(
            p.set(k, v).map_err(|e| e.to_string())?,
            "{k} is a layout key"
        );
    }
    Ok(p)
}

fn resolve(s: &Series, kv: &[(&str, &str)]) -> Result<Layout, String> {
    Layout::resolve(Path::new("raw/f.tif"), s, &params(kv)?).map_err(|e| e.to_string())
}

#[test]
fn metadata_fixes_the_layout_and_parameters_must_agree() {
    let ct = series(20, Some((10, 2, 1)), Some(Order::CZT));
    let l = resolve(&ct, &[]).unwrap();
    assert_eq!(
        (l.channels, l.frames, l.pc, l.fl.clone()),
        (2, 10, 0, vec![1])
    );
    assert_eq!(l.plane(3, 1, 0), 7);
    let tc = series(20, Some((10, 2, 1)), Order::from_ome("XYTZC"));
    assert_eq!(resolve(&tc, &[]).unwrap().plane(3, 1, 0), 13);
    let e = resolve(&ct, &[("channels", "4")]).unwrap_err();
    assert!(
        e.contains("channels=4") && e.contains("says 2 channel(s)"),
        "{e}"
    );
    let e = resolve(&ct, &[("order", "TC")]).unwrap_err();
    assert!(e.contains("order=TC") && e.contains("CZT"), "{e}");
    let e = resolve(&tc, &[("order", "CT")]).unwrap_err();
    assert!(e.contains("order=CT") && e.contains("TZC"), "{e}");
    resolve(&ct, &[("order", "ct"), ("channels", "2")]).unwrap();
}

#[test]
fn a_plain_tiff_needs_channels_and_order_and_says_what_it_assumed() {
    let plain = series(20, None, None);
    assert!(
        resolve(&plain, &[])
            .unwrap_err()
            .contains("--param channels=N")
    );
    assert!(
        resolve(&plain, &[("channels", "2")])
            .unwrap_err()
            .contains("order=CT")
    );
    let l = resolve(&plain, &[("channels", "2"), ("order", "TC")]).unwrap();
    assert_eq!((l.frames, l.plane(3, 1, 0)), (10, 13));
    assert!(l.source.contains("order TC"), "{}", l.source);
    let l = resolve(&plain, &[("channels", "2"), ("order", "CT")]).unwrap();
    assert_eq!(l.plane(3, 1, 0), 7);
    assert_eq!(resolve(&plain, &[("channels", "1")]).unwrap().frames, 20);
    assert!(
        resolve(
            &series(21, None, None),
            &[("channels", "2"), ("order", "CT")]
        )
        .unwrap_err()
        .contains("do not divide")
    );
}

#[test]
fn channels_by_name_or_index() {
    let mut s = series(30, Some((10, 3, 1)), Some(Order::CZT));
    s.channel_names = vec![
        Some("Phase".into()),
        Some("GFP".into()),
        Some("mCherry".into()),
    ];
    let l = resolve(&s, &[("pc", "phase"), ("fl", "mcherry,1")]).unwrap();
    assert_eq!((l.pc, l.fl.clone()), (0, vec![2, 1]));
    assert_eq!(
        (l.label(2), l.label(1)),
        ("mCherry".to_string(), "GFP".to_string())
    );
    let e = resolve(&s, &[("fl", "YFP")]).unwrap_err();
    assert!(e.contains("\"YFP\"") && e.contains("1=GFP"), "{e}");
    assert!(
        resolve(&s, &[("fl", "3")])
            .unwrap_err()
            .contains("channel 3 does not exist")
    );
    assert!(
        resolve(&s, &[("fl", "Phase")])
            .unwrap_err()
            .contains("phase-contrast")
    );
    assert!(params(&[("fl", "1,1")]).unwrap_err().contains("twice"));
    assert!(params(&[("channels", "0")]).is_err());
}

#[test]
fn z_stacks_need_a_choice() {
    let s = series(60, Some((10, 2, 3)), Some(Order::CZT));
    assert!(resolve(&s, &[]).unwrap_err().contains("3 focal planes"));
    let l = resolve(&s, &[("z", "max")]).unwrap();
    assert_eq!((l.z_range(), l.copy_dtype(Dtype::U16)), (0..3, Dtype::U16));
    let l = resolve(&s, &[("z", "mean")]).unwrap();
    assert_eq!(l.copy_dtype(Dtype::U16), Dtype::F32);
    assert_eq!(resolve(&s, &[("z", "2")]).unwrap().z_range(), 2..3);
    assert!(resolve(&s, &[("z", "3")]).unwrap_err().contains("z=3"));
    assert!(params(&[("z", "median")]).is_err());
}

#[test]
fn time_comes_from_the_parameter_then_the_metadata_then_the_frame_index() {
    let mut s = series(20, Some((10, 2, 1)), Some(Order::CZT));
    let l = resolve(&s, &[("frame_interval", "10m")]).unwrap();
    assert_eq!(
        (l.time(3), l.time_column()),
        (Some(30.0), Some("time_min".into()))
    );
    assert_eq!(
        l.time_description(),
        "time_min: 10 minutes per frame, from --param frame_interval"
    );
    s.interval = Some((90.0, "s".into()));
    let l = resolve(&s, &[]).unwrap();
    assert_eq!(
        (l.time(2), l.time_column()),
        (Some(180.0), Some("time_s".into()))
    );
    assert!(
        l.time_description().contains("from OME-XML"),
        "{}",
        l.time_description()
    );
    s.interval = Some((2.0, "fortnight".into()));
    assert!(resolve(&s, &[]).unwrap_err().contains("fortnight"));
    s.interval = None;
    let l = resolve(&s, &[]).unwrap();
    assert_eq!((l.time(4), l.time_column()), (None, None));
    assert!(l.time_description().contains("no frame interval"));
    assert_eq!(l.plan_line(), l.source);
    // A stated interval the file's own times contradict: the reason, in the
    // record and the plan; an interval given by parameter needs none.
    s.interval_note = Some("the frames are 15 min apart".into());
    let l = resolve(&s, &[]).unwrap();
    assert_eq!(
        l.time_description(),
        "no time column: the frames are 15 min apart (pass --param frame_interval=10m)"
    );
    assert_eq!(
        l.plan_line(),
        format!(
            "{}; no frame interval: the frames are 15 min apart (pass --param \
             frame_interval=...)",
            l.source
        )
    );
    let l = resolve(&s, &[("frame_interval", "10m")]).unwrap();
    assert_eq!((l.interval_note.clone(), l.plan_line()), (None, l.source));
    for bad in ["0m", "-1s", "soon", "10 parsecs"] {
        assert!(Interval::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        Interval::parse("250ms").unwrap().unit,
        TimeUnit::Milliseconds
    );
    assert_eq!(Interval::parse("90").unwrap().unit, TimeUnit::Seconds);
}
