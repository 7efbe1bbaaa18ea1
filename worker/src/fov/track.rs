//! Frame-by-frame tracking of segmented cells by mask overlap.
//!
//! Each frame's mask is split into connected components (4-connectivity). Every
//! live track remembers only the run-length mask of its last appearance, its
//! bounding box and when it was last seen, so memory does not grow with the frame
//! count. Components and tracks whose masks overlap with IoU ≥ `min_iou` are linked
//! by an optimal one-to-one assignment (maximum total IoU, solved per cluster of
//! mutually overlapping candidates); a track missing for up to `max_gap` frames still
//! takes part (its weight is slightly discounted per missed frame), which bridges
//! drop-outs. A component left over gets a new id (ids start at 1 and are never
//! reused); if at least half of it lies in the previous mask of a track that was
//! seen in the previous frame and continues in another component (or splits into
//! several left-over components), it is recorded as that track's daughter. On
//! division the parent's track ends and every daughter starts a new id whose
//! parent is recorded ([`Tracker::lineage`]), so no daughter silently carries on
//! the parent's trace at half its intensity.

use crate::fov::assign::Assignment;
use crate::fov::params::TrackParams;
use crate::fov::runs::{Connectivity, Run, RunScratch};

/// One cell id's place in the lineage: a row of `lineage.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lineage {
    /// The cell id.
    pub cell: u32,
    /// The id it divided from, if it was born by division.
    pub parent: Option<u32>,
    /// First frame with this id.
    pub frame_born: usize,
    /// First frame of its daughters, if it divided.
    pub frame_divided: Option<usize>,
}

/// Bucket size (pixels) of the spatial grid used to find overlap candidates.
const BUCKET: usize = 32;

#[derive(Debug, Clone)]
struct Track {
    id: u32,
    last: usize,
    runs: Vec<Run>,
    area: u64,
    bbox: [u32; 4],
}

#[derive(Debug, Clone, Copy)]
struct Pair {
    comp: usize,
    track: usize,
    inter: u64,
}

/// Pixels shared by two run lists sorted by row then column.
fn intersect(a: &[Run], b: &[Run]) -> u64 {
    // Only rows both lists have can share pixels: two neighbours' boxes overlap
    // by a few rows, and the merge below then walks those alone.
    let (Some(fa), Some(fb), Some(la), Some(lb)) = (a.first(), b.first(), a.last(), b.last())
    else {
        return 0;
    };
    let (y0, y1) = (fa.y.max(fb.y), la.y.min(lb.y));
    if y0 > y1 {
        return 0;
    }
    let rows = |r: &[Run]| -> std::ops::Range<usize> {
        r.partition_point(|r| r.y < y0)..r.partition_point(|r| r.y <= y1)
    };
    let (a, b) = (&a[rows(a)], &b[rows(b)]);
    let (mut i, mut j, mut n) = (0, 0, 0u64);
    while i < a.len() && j < b.len() {
        let (p, q) = (a[i], b[j]);
        if p.y != q.y {
            if p.y < q.y {
                i += 1
            } else {
                j += 1
            }
            continue;
        }
        let lo = p.x0.max(q.x0);
        let hi = p.x1.min(q.x1);
        if hi > lo {
            n += u64::from(hi - lo);
        }
        if p.x1 < q.x1 { i += 1 } else { j += 1 }
    }
    n
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Links the cells of consecutive frames into tracks with stable ids.
#[derive(Debug, Clone)]
pub struct Tracker {
    h: usize,
    w: usize,
    params: TrackParams,
    frame: usize,
    next_id: u32,
    tracks: Vec<Track>,
    parents: Vec<(u32, u32)>,
    lineage: Vec<Lineage>,
    rs: RunScratch,
    runs: Vec<Run>,
    start: Vec<usize>,
    area: Vec<u64>,
    bbox: Vec<[u32; 4]>,
    buckets: Vec<usize>,
    items: Vec<usize>,
    stamp: Vec<usize>,
    pairs: Vec<Pair>,
    solver: Assignment,
}

impl Tracker {
    /// A tracker for `h × w` frames.
    pub fn new(h: usize, w: usize, params: &TrackParams) -> Self {
        Tracker {
            h,
            w,
            params: params.clone(),
            frame: 0,
            next_id: 1,
            tracks: Vec::new(),
            parents: Vec::new(),
            lineage: Vec::new(),
            rs: RunScratch::default(),
            runs: Vec::new(),
            start: Vec::new(),
            area: Vec::new(),
            bbox: Vec::new(),
            buckets: Vec::new(),
            items: Vec::new(),
            stamp: Vec::new(),
            pairs: Vec::new(),
            solver: Assignment::default(),
        }
    }

    /// How many ids have been handed out so far (the largest label written).
    pub fn ids_issued(&self) -> u32 {
        self.next_id - 1
    }

    /// Division records so far: `(daughter id, parent id)` in the order found.
    pub fn parents(&self) -> &[(u32, u32)] {
        &self.parents
    }

    /// Every id handed out so far, in id order, with its parent and division frame.
    pub fn lineage(&self) -> &[Lineage] {
        &self.lineage
    }

    /// Number of frames pushed so far.
    pub fn frames(&self) -> usize {
        self.frame
    }

    /// Tracks that can still be continued (seen within the last `max_gap + 1` frames).
    pub fn live_tracks(&self) -> usize {
        self.tracks.len()
    }

    /// Tracks the next frame's `mask` (nonzero = cell) and writes its label frame into
    /// `labels` (track id per pixel, 0 = background). Frames must come in order.
    ///
    /// # Panics
    /// If a slice is shorter than `h × w`.
    pub fn push(&mut self, mask: &[u8], labels: &mut [u32]) {
        let (h, w) = (self.h, self.w);
        let t = self.frame;
        self.frame += 1;
        let (mask, labels) = (&mask[..h * w], &mut labels[..h * w]);
        let gap_limit = self.params.max_gap + 1;
        self.tracks.retain(|tr| t - tr.last <= gap_limit);
        self.components(mask);
        self.candidates();
        let (mut comp_track, track_comp) = self.link(t);
        let mut new_parent = self.daughters(t, &comp_track, &track_comp);
        // A dividing track ends: the component it was linked to is a daughter too.
        let mut ended = vec![false; self.tracks.len()];
        for c in 0..new_parent.len() {
            let Some(p) = new_parent[c] else { continue };
            let Some(k) = self.tracks.iter().position(|tr| tr.id == p) else {
                continue;
            };
            if !ended[k] {
                ended[k] = true;
                if let Some(row) = self.lineage.get_mut(p as usize - 1) {
                    row.frame_divided = Some(t);
                }
            }
            if let Some(c2) = track_comp[k] {
                comp_track[c2] = None;
                new_parent[c2] = Some(p);
            }
        }
        // Apply: continue linked tracks, start new ones.
        let nc = self.area.len();
        let mut ids = vec![0u32; nc];
        for c in 0..nc {
            let range = self.start[c]..self.start[c + 1];
            let k = match comp_track[c] {
                Some(k) => k,
                None => {
                    let id = self.next_id;
                    self.next_id = self.next_id.saturating_add(1);
                    if let Some(p) = new_parent[c] {
                        self.parents.push((id, p));
                    }
                    self.lineage.push(Lineage {
                        cell: id,
                        parent: new_parent[c],
                        frame_born: t,
                        frame_divided: None,
                    });
                    self.tracks.push(Track {
                        id,
                        last: t,
                        runs: Vec::new(),
                        area: 0,
                        bbox: [0; 4],
                    });
                    self.tracks.len() - 1
                }
            };
            let tr = &mut self.tracks[k];
            tr.last = t;
            tr.runs.clear();
            tr.runs.extend_from_slice(&self.runs[range.clone()]);
            tr.area = self.area[c];
            tr.bbox = self.bbox[c];
            ids[c] = tr.id;
        }
        let mut k = 0;
        self.tracks.retain(|_| {
            k += 1;
            !ended.get(k - 1).copied().unwrap_or(false)
        });
        labels.fill(0);
        for (c, &id) in ids.iter().enumerate() {
            for r in &self.runs[self.start[c]..self.start[c + 1]] {
                let o = r.y as usize * w;
                labels[o + r.x0 as usize..o + r.x1 as usize].fill(id);
            }
        }
    }

    /// Connected components of `mask`, their runs grouped per component.
    fn components(&mut self, mask: &[u8]) {
        self.rs.image.encode(mask, self.h, self.w, true);
        self.rs.comps.label(&self.rs.image, Connectivity::Four);
        let nc = self.rs.comps.count;
        self.start.clear();
        self.start.resize(nc + 1, 0);
        for &l in &self.rs.comps.run_label {
            self.start[l as usize + 1] += 1;
        }
        for c in 0..nc {
            self.start[c + 1] += self.start[c];
        }
        let mut fill = self.start.clone();
        self.runs.clear();
        self.runs
            .resize(self.rs.image.runs.len(), Run { y: 0, x0: 0, x1: 0 });
        self.area.clear();
        self.area.resize(nc, 0);
        self.bbox.clear();
        self.bbox.resize(nc, [u32::MAX, u32::MAX, 0, 0]);
        for (r, &l) in self.rs.image.runs.iter().zip(&self.rs.comps.run_label) {
            let c = l as usize;
            self.runs[fill[c]] = *r;
            fill[c] += 1;
            self.area[c] += r.len() as u64;
            let b = &mut self.bbox[c];
            b[0] = b[0].min(r.y);
            b[1] = b[1].min(r.x0);
            b[2] = b[2].max(r.y + 1);
            b[3] = b[3].max(r.x1);
        }
    }

    /// All (component, track) pairs whose masks overlap, found through a bucket grid.
    fn candidates(&mut self) {
        let nby = self.h.div_ceil(BUCKET);
        let nbx = self.w.div_ceil(BUCKET);
        let cells = |b: &[u32; 4]| {
            let ys = b[0] as usize / BUCKET..(b[2] as usize).div_ceil(BUCKET).min(nby);
            let xs = b[1] as usize / BUCKET..(b[3] as usize).div_ceil(BUCKET).min(nbx);
            ys.flat_map(move |y| xs.clone().map(move |x| y * nbx + x))
        };
        self.buckets.clear();
        self.buckets.resize(nby * nbx + 1, 0);
        for tr in &self.tracks {
            for b in cells(&tr.bbox) {
                self.buckets[b + 1] += 1;
            }
        }
        for b in 0..nby * nbx {
            self.buckets[b + 1] += self.buckets[b];
        }
        let mut fill = self.buckets.clone();
        self.items.clear();
        self.items.resize(self.buckets[nby * nbx], 0);
        for (k, tr) in self.tracks.iter().enumerate() {
            for b in cells(&tr.bbox) {
                self.items[fill[b]] = k;
                fill[b] += 1;
            }
        }
        self.stamp.clear();
        self.stamp.resize(self.tracks.len(), usize::MAX);
        self.pairs.clear();
        for c in 0..self.area.len() {
            let cb = self.bbox[c];
            let cruns = &self.runs[self.start[c]..self.start[c + 1]];
            for b in cells(&cb) {
                for &k in &self.items[self.buckets[b]..self.buckets[b + 1]] {
                    if self.stamp[k] == c {
                        continue;
                    }
                    self.stamp[k] = c;
                    let tb = self.tracks[k].bbox;
                    if tb[0] >= cb[2] || cb[0] >= tb[2] || tb[1] >= cb[3] || cb[1] >= tb[3] {
                        continue;
                    }
                    let inter = intersect(cruns, &self.tracks[k].runs);
                    if inter > 0 {
                        self.pairs.push(Pair {
                            comp: c,
                            track: k,
                            inter,
                        });
                    }
                }
            }
        }
    }

    /// Optimal one-to-one linking; returns the track of each component and vice versa.
    fn link(&mut self, t: usize) -> (Vec<Option<usize>>, Vec<Option<usize>>) {
        let (nc, nt) = (self.area.len(), self.tracks.len());
        let mut comp_track = vec![None; nc];
        let mut track_comp = vec![None; nt];
        // Edges: (comp, track, weight) with IoU ≥ min_iou.
        let mut edges: Vec<(usize, usize, f64)> = Vec::new();
        for p in &self.pairs {
            let tr = &self.tracks[p.track];
            let union = self.area[p.comp] + tr.area - p.inter;
            let iou = p.inter as f64 / union.max(1) as f64;
            if iou >= f64::from(self.params.min_iou) {
                let missed = (t - tr.last).saturating_sub(1) as f64;
                edges.push((p.comp, p.track, iou / (1.0 + 0.1 * missed)));
            }
        }
        // Clusters of mutually reachable components and tracks.
        let mut parent: Vec<usize> = (0..nc + nt).collect();
        for &(c, k, _) in &edges {
            let (a, b) = (find(&mut parent, c), find(&mut parent, nc + k));
            parent[a.max(b)] = a.min(b);
        }
        let mut order: Vec<(usize, usize)> = edges
            .iter()
            .enumerate()
            .map(|(e, &(c, _, _))| (find(&mut parent, c), e))
            .collect();
        order.sort_unstable();
        let mut out = Vec::new();
        let mut weights = Vec::new();
        let mut i = 0;
        while i < order.len() {
            let mut j = i;
            while j < order.len() && order[j].0 == order[i].0 {
                j += 1;
            }
            let group: Vec<(usize, usize, f64)> =
                order[i..j].iter().map(|&(_, e)| edges[e]).collect();
            i = j;
            if let [(c, k, _)] = group[..] {
                comp_track[c] = Some(k);
                track_comp[k] = Some(c);
                continue;
            }
            let mut comps: Vec<usize> = group.iter().map(|e| e.0).collect();
            let mut trs: Vec<usize> = group.iter().map(|e| e.1).collect();
            comps.sort_unstable();
            comps.dedup();
            trs.sort_unstable();
            trs.dedup();
            weights.clear();
            weights.resize(comps.len() * trs.len(), 0.0);
            for &(c, k, wt) in &group {
                if let (Ok(a), Ok(b)) = (comps.binary_search(&c), trs.binary_search(&k)) {
                    weights[a * trs.len() + b] = wt;
                }
            }
            self.solver
                .solve(&weights, comps.len(), trs.len(), &mut out);
            for (a, b) in out.iter().enumerate() {
                if let Some(b) = *b {
                    comp_track[comps[a]] = Some(trs[b]);
                    track_comp[trs[b]] = Some(comps[a]);
                }
            }
        }
        (comp_track, track_comp)
    }

    /// For each unlinked component, the id of the track it divided from, if any.
    fn daughters(
        &self,
        t: usize,
        comp_track: &[Option<usize>],
        track_comp: &[Option<usize>],
    ) -> Vec<Option<u32>> {
        let nc = self.area.len();
        // Best-overlapping recent track of each unlinked component.
        let mut best: Vec<Option<usize>> = vec![None; nc];
        let mut i = 0;
        while i < self.pairs.len() {
            let c = self.pairs[i].comp;
            let mut top: Option<Pair> = None;
            while i < self.pairs.len() && self.pairs[i].comp == c {
                let p = self.pairs[i];
                if top.is_none_or(|q| p.inter > q.inter) {
                    top = Some(p);
                }
                i += 1;
            }
            if let Some(p) = top
                && comp_track[c].is_none()
                && 2 * p.inter >= self.area[c]
                && self.tracks[p.track].last + 1 == t
            {
                best[c] = Some(p.track);
            }
        }
        let mut split = vec![0usize; self.tracks.len()];
        for k in best.iter().flatten() {
            split[*k] += 1;
        }
        best.iter()
            .map(|b| {
                b.filter(|&k| track_comp[k].is_some() || split[k] >= 2)
                    .map(|k| self.tracks[k].id)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
