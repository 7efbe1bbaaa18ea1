//! [`Layout::resolve`]: the file's metadata and the parameters to one position's
//! layout, refusing a parameter that contradicts the metadata.

use std::path::Path;

use super::interval::metadata_interval;
use super::{ChannelRef, Layout, LayoutParams, PageOrder, ZChoice};
use crate::fov::error::LayoutError;
use crate::image::source::{Axis, Order, Series, Sizes};

/// Channel `r` among `names` (`n` channels), or why it is not there.
fn find_channel(
    path: &Path,
    r: &ChannelRef,
    names: &[Option<String>],
    n: usize,
) -> Result<usize, LayoutError> {
    match r {
        ChannelRef::Index(i) if *i < n => Ok(*i),
        ChannelRef::Index(i) => Err(LayoutError::NoSuchChannel {
            path: path.to_path_buf(),
            channel: *i,
            channels: n,
        }),
        ChannelRef::Name(want) => names
            .iter()
            .position(|c| c.as_deref().is_some_and(|c| c.eq_ignore_ascii_case(want)))
            .ok_or_else(|| {
                let known: Vec<String> = names
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{i}={}", c.as_deref().unwrap_or("(unnamed)")))
                    .collect();
                LayoutError::NoChannelNamed {
                    path: path.to_path_buf(),
                    name: want.clone(),
                    known: if names.iter().all(Option::is_none) {
                        format!("{n}, none named; give an index")
                    } else {
                        known.join(", ")
                    },
                }
            }),
    }
}

impl Layout {
    /// Resolves the layout of one position of `path` from its metadata and the
    /// parameters; the error names the file and says what is wrong and how to fix it.
    pub fn resolve(path: &Path, series: &Series, p: &LayoutParams) -> Result<Layout, LayoutError> {
        let path_buf = || path.to_path_buf();
        let (sizes, order, source) = match (series.sizes, series.order) {
            (Some(s), Some(o)) => {
                if let Some(n) = p.channels.filter(|&n| n != s.c) {
                    return Err(LayoutError::ChannelsContradict {
                        path: path_buf(),
                        given: n,
                        origin: series.source,
                        metadata: s.c,
                    });
                }
                if let Some(given) = p.order.filter(|_| s.c > 1) {
                    let stated = if given == PageOrder::CT { "CT" } else { "TC" };
                    let fast_c = given == PageOrder::CT;
                    let file_fast_c = c_before_t(o);
                    if fast_c != file_fast_c {
                        return Err(LayoutError::OrderContradicts {
                            path: path_buf(),
                            given: stated,
                            origin: series.source,
                            order: o.to_string(),
                            channel_first: file_fast_c,
                        });
                    }
                }
                (s, o, series.source.to_string())
            }
            _ => plain_layout(path, series, p)?,
        };
        if series.planes != sizes.planes().unwrap_or(usize::MAX) {
            return Err(LayoutError::PlaneCount {
                path: path_buf(),
                planes: series.planes,
                c: sizes.c,
                z: sizes.z,
                t: sizes.t,
            });
        }
        let z = match (sizes.z, p.z) {
            (_, Some(ZChoice::Index(i))) if i >= sizes.z => {
                return Err(LayoutError::NoSuchPlane {
                    path: path_buf(),
                    index: i,
                    planes: sizes.z,
                });
            }
            (_, Some(choice)) => choice,
            (1, None) => ZChoice::Index(0),
            (nz, None) => {
                return Err(LayoutError::ZChoiceNeeded {
                    path: path_buf(),
                    planes: nz,
                });
            }
        };
        let channels = sizes.c;
        let mut names = series.channel_names.clone();
        names.resize(channels, None);
        let pc = find_channel(
            path,
            p.pc.as_ref().unwrap_or(&ChannelRef::Index(0)),
            &names,
            channels,
        )?;
        let fl = match &p.fl {
            Some(list) => list
                .iter()
                .map(|r| find_channel(path, r, &names, channels))
                .collect::<Result<Vec<_>, _>>()?,
            None => (0..channels).filter(|&c| c != pc).collect(),
        };
        if fl.contains(&pc) {
            return Err(LayoutError::FluorescenceIsPhase { pc });
        }
        let from_meta = match p.interval {
            None => metadata_interval(path, series.source, series.interval.as_ref())?,
            Some(_) => None,
        };
        Ok(Layout {
            channels,
            frames: sizes.t,
            z_planes: sizes.z,
            z,
            pc,
            fl,
            names,
            interval: p.interval.or(from_meta),
            interval_note: series
                .interval_note
                .clone()
                .filter(|_| p.interval.is_none()),
            order,
            source,
        })
    }
}

/// True when channel varies faster than time in `order`.
fn c_before_t(order: Order) -> bool {
    let pos = |a: Axis| order.0.iter().position(|&x| x == a);
    pos(Axis::C) < pos(Axis::T)
}

/// The layout of a plain multi-page TIFF, from `channels=` and `order=`.
fn plain_layout(
    path: &Path,
    series: &Series,
    p: &LayoutParams,
) -> Result<(Sizes, Order, String), LayoutError> {
    let pages = series.planes;
    let Some(channels) = p.channels else {
        return Err(LayoutError::UnknownChannels {
            path: path.to_path_buf(),
            pages,
        });
    };
    if !pages.is_multiple_of(channels) {
        return Err(LayoutError::Indivisible {
            path: path.to_path_buf(),
            pages,
            channels,
        });
    }
    let sizes = Sizes {
        t: pages / channels,
        c: channels,
        z: 1,
    };
    if channels == 1 {
        return Ok((
            sizes,
            Order::CZT,
            "none (plain TIFF, --param channels=1)".into(),
        ));
    }
    let (order, text) = match p.order {
        Some(PageOrder::CT) => (Order::CZT, "CT: pages t0c0, t0c1, …, t1c0"),
        Some(PageOrder::TC) => (
            Order([Axis::T, Axis::Z, Axis::C]),
            "TC: pages t0c0, t1c0, …, t0c1",
        ),
        None => {
            return Err(LayoutError::UnknownOrder {
                path: path.to_path_buf(),
                pages,
                channels,
            });
        }
    };
    Ok((
        sizes,
        order,
        format!(
            "none (plain TIFF): order {text} assumed from --param order, {channels} channels from --param channels"
        ),
    ))
}
