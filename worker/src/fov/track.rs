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
//!
//! Here the tracker and its frame loop ([`Tracker::push`]); the overlap candidates
//! in `track/overlap.rs`, the linking in `track/link.rs`, divisions and the
//! lineage in `track/division.rs`.

mod division;
mod link;
mod overlap;

use crate::fov::assign::Assignment;
use crate::fov::params::TrackParams;
use crate::fov::runs::{Run, RunScratch};
use overlap::Pair;

pub use division::Lineage;

/// A live track: its id, the frame it was last seen in, and its mask (runs, area,
/// bounding box) there.
#[derive(Debug, Clone)]
struct Track {
    id: u32,
    last: usize,
    runs: Vec<Run>,
    area: u64,
    bbox: [u32; 4],
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
        let (new_parent, ended) = self.divide(t, &mut comp_track, &track_comp);
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
}

#[cfg(test)]
mod tests;
