//! QC warnings of the background stage: frames whose background could not come
//! from usable tiles (no tile had enough pixels clear of cells) say so, so that a
//! task never ends `done` on a background guessed from cell light without a word.

use crate::fov::background::{CROWDED_MIN_FRACTION, Source};
use crate::fov::params::BackgroundParams;

/// What a frame of `source` is told, or `None` for a background from tiles.
fn words(source: Source, params: &BackgroundParams) -> Option<String> {
    let d = params.dilate;
    match source {
        Source::Tiles => None,
        Source::FewPixels => Some(format!(
            "no background tile has {} % of its pixels more than bg_dilate ({d} px) from a cell; \
             background fitted to the few such pixels",
            CROWDED_MIN_FRACTION * 100.0
        )),
        Source::CellEdges => Some(format!(
            "no pixel is more than bg_dilate ({d} px) from a cell; background from the pixels \
             next to cells, which may carry their light (too high)"
        )),
        Source::FrameMedian => Some(
            "every pixel is in a cell; background is the frame's median, cells included \
             (too high)"
                .into(),
        ),
    }
}

/// The warnings for fluorescence channel `channel` whose frames (in order) had
/// their backgrounds from `sources`; consecutive frames alike make one warning.
pub fn warnings(channel: usize, sources: &[Source], params: &BackgroundParams) -> Vec<String> {
    let mut out = Vec::new();
    let mut t = 0;
    while t < sources.len() {
        let Some(text) = words(sources[t], params) else {
            t += 1;
            continue;
        };
        let mut end = t;
        while end + 1 < sources.len() && sources[end + 1] == sources[t] {
            end += 1;
        }
        let which = if end == t {
            format!("frame {t}")
        } else {
            format!("frames {t}-{end}")
        };
        out.push(format!("channel {channel}, {which}: {text}"));
        t = end + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_degraded_frames_make_one_warning_each() {
        let p = BackgroundParams::default();
        use Source::*;
        let w = warnings(
            1,
            &[Tiles, FewPixels, FewPixels, Tiles, FrameMedian, CellEdges],
            &p,
        );
        assert_eq!(w.len(), 3);
        assert!(w[0].starts_with("channel 1, frames 1-2: no background tile has 2 % "));
        assert!(w[1].starts_with("channel 1, frame 4: every pixel is in a cell"));
        assert!(w[2].starts_with("channel 1, frame 5: no pixel is more than bg_dilate (4 px)"));
        assert!(warnings(0, &[Tiles, Tiles], &p).is_empty());
    }
}
