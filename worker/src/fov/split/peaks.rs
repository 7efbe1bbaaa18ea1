//! The peaks of the distance map: pixels above each of their 8 neighbours in
//! the flooding order (higher distance, or the same and an earlier raster
//! index), counted per blob.

use crate::fov::runs::RunImage;

/// Whether the pixel at `x` of `mid` (between rows `up` and `dn`, `None` off
/// the frame) is a peak at least `low` high. Outside the frame counts as 0.
fn is_peak(up: Option<&[u32]>, mid: &[u32], dn: Option<&[u32]>, x: usize, low: u32) -> bool {
    let v = mid[x];
    let at = |row: Option<&[u32]>, x: Option<usize>| match (row, x) {
        (Some(row), Some(x)) => row.get(x).copied().unwrap_or(0),
        _ => 0,
    };
    let (l, r) = (x.checked_sub(1), Some(x + 1));
    let before = at(up, l)
        .max(at(up, Some(x)))
        .max(at(up, r))
        .max(at(Some(mid), l));
    let after = at(Some(mid), r)
        .max(at(dn, l))
        .max(at(dn, Some(x)))
        .max(at(dn, r));
    v >= low && before < v && after <= v
}

/// Counts into `peaks` (per blob, up to 2) the peaks at least `low` high of
/// the distance map `d` (`h × w`) on the runs of `runs`, whose blobs are
/// `labels`; true if any blob has two.
pub(super) fn count(
    d: &[u32],
    runs: &RunImage,
    labels: &[u32],
    peaks: &mut [u8],
    (h, w): (usize, usize),
    low: u32,
) -> bool {
    let mut any = false;
    for (r, &l) in runs.runs.iter().zip(labels) {
        let (y, o) = (r.y as usize, r.y as usize * w);
        let (x0, x1) = (r.x0 as usize, r.x1 as usize);
        let mid = &d[o..o + w];
        let up = (y > 0).then(|| &d[o - w..o]);
        let dn = (y + 1 < h).then(|| &d[o + w..o + 2 * w]);
        let (a, b) = match (up, dn) {
            (Some(_), Some(_)) => (x0.max(1), x1.min(w - 1).max(x0.max(1))),
            _ => (x1, x1),
        };
        let mut n = (x0..a.min(x1))
            .chain(b..x1)
            .filter(|&x| is_peak(up, mid, dn, x, low))
            .count();
        if let (Some(up), Some(dn)) = (up, dn)
            && a < b
        {
            // Inside the frame: no branch per pixel, so the loop vectorises (as
            // i32: distances are far below 2^31, and SSE2 compares signed lanes).
            let (u, m, dn) = (&up[a - 1..b + 1], &mid[a - 1..b + 1], &dn[a - 1..b + 1]);
            let (at, low) = (|s: &[u32], k: usize| s[k] as i32, low as i32);
            let mut inner = 0u32;
            for k in 0..b - a {
                let v = at(m, k + 1);
                let before = at(u, k).max(at(u, k + 1)).max(at(u, k + 2)).max(at(m, k));
                let after = at(m, k + 2)
                    .max(at(dn, k))
                    .max(at(dn, k + 1))
                    .max(at(dn, k + 2));
                inner += u32::from(v >= low && before < v && after <= v);
            }
            n += inner as usize;
        }
        if n > 0 {
            let c = &mut peaks[l as usize];
            *c = (*c as usize + n).min(2) as u8;
            any |= *c == 2;
        }
    }
    any
}
