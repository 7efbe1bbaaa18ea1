//! Quality control of a segmented field of view: cells and covered fraction per
//! frame, and warnings when the count collapses, so that a task never ends
//! `done` with empty or gutted frames without saying so.
//!
//! A frame is flagged when it has fewer than half the median count of its
//! neighbours (up to [`NEIGHBOURS`] frames on each side), or no cells at all
//! after earlier frames had some; a FOV with no cell in any frame is flagged as
//! such. Consecutive flagged frames of the same kind make one warning.

use isobatch_shared::FrameQc;

use crate::fov::runs::{Connectivity, RunScratch};

/// Frames on each side whose counts make a frame's reference.
pub const NEIGHBOURS: usize = 2;

/// Counts the cells (4-connected components) and the covered fraction of `mask`.
pub fn frame_qc(mask: &[u8], h: usize, w: usize, scratch: &mut RunScratch) -> FrameQc {
    let n = h * w;
    scratch.image.encode(&mask[..n], h, w, true);
    scratch.comps.label(&scratch.image, Connectivity::Four);
    let covered: usize = scratch.image.runs.iter().map(|r| r.len()).sum();
    FrameQc {
        cells: u32::try_from(scratch.comps.count).unwrap_or(u32::MAX),
        covered: if n == 0 {
            0.0
        } else {
            (covered as f64 / n as f64) as f32
        },
    }
}

/// Median of `v` (the mean of the middle two for an even length); 0 when empty.
fn median(mut v: Vec<u32>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        f64::from(v[m])
    } else {
        (f64::from(v[m - 1]) + f64::from(v[m])) / 2.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Flag {
    /// Under half the neighbours' median (which is given).
    Drop(f64),
    /// Zero cells after frames with cells (the most seen before).
    Empty(u32),
}

/// The warnings for a FOV with these per-frame findings (empty when all is well).
pub fn collapse_warnings(frames: &[FrameQc]) -> Vec<String> {
    if frames.is_empty() {
        return Vec::new();
    }
    if frames.iter().all(|f| f.cells == 0) {
        return vec![format!(
            "no cells found in any of the {} frame(s)",
            frames.len()
        )];
    }
    let mut flags: Vec<Option<Flag>> = Vec::with_capacity(frames.len());
    let mut most_before = 0u32;
    for (t, f) in frames.iter().enumerate() {
        let lo = t.saturating_sub(NEIGHBOURS);
        let hi = (t + NEIGHBOURS + 1).min(frames.len());
        let around: Vec<u32> = (lo..hi)
            .filter(|&i| i != t)
            .map(|i| frames[i].cells)
            .collect();
        let m = median(around);
        flags.push(if f.cells == 0 && most_before > 0 {
            Some(Flag::Empty(most_before))
        } else if f64::from(f.cells) < 0.5 * m {
            Some(Flag::Drop(m))
        } else {
            None
        });
        most_before = most_before.max(f.cells);
    }
    let mut out = Vec::new();
    let mut t = 0;
    while t < frames.len() {
        let Some(flag) = flags[t] else {
            t += 1;
            continue;
        };
        let same = |g: Option<Flag>| {
            matches!(
                (g, flag),
                (Some(Flag::Empty(_)), Flag::Empty(_)) | (Some(Flag::Drop(_)), Flag::Drop(_))
            )
        };
        let mut end = t;
        while end + 1 < frames.len() && same(flags[end + 1]) {
            end += 1;
        }
        let which = if end == t {
            format!("frame {t}")
        } else {
            format!("frames {t}-{end}")
        };
        out.push(match flag {
            Flag::Empty(most) => {
                format!("{which}: no cells, after earlier frames had up to {most}")
            }
            Flag::Drop(m) => {
                let counts: Vec<String> = frames[t..=end]
                    .iter()
                    .map(|f| f.cells.to_string())
                    .collect();
                format!(
                    "{which}: {} cell(s), under half the median of the neighbouring frames ({m})",
                    counts.join(", ")
                )
            }
        });
        t = end + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(counts: &[u32]) -> Vec<FrameQc> {
        counts
            .iter()
            .map(|&cells| FrameQc {
                cells,
                covered: 0.1,
            })
            .collect()
    }

    #[test]
    fn steady_counts_raise_nothing() {
        assert!(collapse_warnings(&frames(&[10, 11, 9, 12, 10, 10])).is_empty());
        assert!(collapse_warnings(&[]).is_empty());
        // Growth is no collapse.
        assert!(collapse_warnings(&frames(&[2, 3, 5, 8, 13, 21])).is_empty());
    }

    #[test]
    fn a_gutted_frame_and_an_emptied_tail_are_named() {
        assert_eq!(
            collapse_warnings(&frames(&[10, 11, 4, 12, 10, 10])),
            vec!["frame 2: 4 cell(s), under half the median of the neighbouring frames (10.5)"]
        );
        assert_eq!(
            collapse_warnings(&frames(&[10, 11, 12, 0, 0, 0])),
            vec!["frames 3-5: no cells, after earlier frames had up to 12"]
        );
    }

    #[test]
    fn an_empty_fov_says_so() {
        assert_eq!(
            collapse_warnings(&frames(&[0, 0, 0])),
            vec!["no cells found in any of the 3 frame(s)"]
        );
    }

    #[test]
    fn counts_components_and_coverage() {
        let mask = [1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1];
        let q = frame_qc(&mask, 3, 4, &mut RunScratch::default());
        assert_eq!(q.cells, 4);
        assert!((q.covered - 5.0 / 12.0).abs() < 1e-6);
    }
}
