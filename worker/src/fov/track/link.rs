//! Linking: the overlap candidates with IoU ≥ `min_iou` grouped into clusters of
//! mutually reachable components and tracks, each solved as an optimal one-to-one
//! assignment.

use super::Tracker;

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

impl Tracker {
    /// Optimal one-to-one linking; returns the track of each component and vice versa.
    pub(super) fn link(&mut self, t: usize) -> (Vec<Option<usize>>, Vec<Option<usize>>) {
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
}
