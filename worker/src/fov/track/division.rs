//! Divisions and lineage: which left-over components are daughters of a track that
//! divided, ending that track, and the lineage row each id gets.

use super::Tracker;
use super::overlap::Pair;

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

impl Tracker {
    /// The divisions of frame `t`: for each component, the id of the track it divided
    /// from, and per track whether it ended by dividing. A dividing track's own
    /// component is unlinked from it in `comp_track` and becomes a daughter too.
    pub(super) fn divide(
        &mut self,
        t: usize,
        comp_track: &mut [Option<usize>],
        track_comp: &[Option<usize>],
    ) -> (Vec<Option<u32>>, Vec<bool>) {
        let mut new_parent = self.daughters(t, comp_track, track_comp);
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
        (new_parent, ended)
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
