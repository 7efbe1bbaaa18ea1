use super::overlap::intersect;
use super::*;

const H: usize = 40;
const W: usize = 50;

/// A mask with the given rectangles `(y0, x0, y1, x1)` set.
fn rects(list: &[(usize, usize, usize, usize)]) -> Vec<u8> {
    let mut m = vec![0u8; H * W];
    for &(y0, x0, y1, x1) in list {
        for y in y0..y1 {
            m[y * W + x0..y * W + x1].fill(1);
        }
    }
    m
}

fn push(tr: &mut Tracker, m: &[u8]) -> Vec<u32> {
    let mut lab = vec![0u32; H * W];
    tr.push(m, &mut lab);
    lab
}

#[test]
fn moving_cell_keeps_its_id() {
    let mut tr = Tracker::new(H, W, &TrackParams::default());
    for t in 0..8 {
        let lab = push(
            &mut tr,
            &rects(&[(10, 5 + t, 20, 15 + t), (30, 30, 36, 40)]),
        );
        assert_eq!(lab[15 * W + 10 + t], 1);
        assert_eq!(lab[33 * W + 35], 2);
        assert_eq!(lab[0], 0);
    }
    assert!(tr.parents().is_empty());
    assert_eq!(tr.frames(), 8);
}

#[test]
fn gap_is_bridged_up_to_max_gap() {
    for (missing, same) in [(1, true), (2, true), (3, false)] {
        let mut tr = Tracker::new(H, W, &TrackParams::default());
        let cell = rects(&[(10, 10, 20, 20)]);
        push(&mut tr, &cell);
        for _ in 0..missing {
            push(&mut tr, &rects(&[]));
        }
        let lab = push(&mut tr, &cell);
        assert_eq!(lab[15 * W + 15] == 1, same, "missing {missing}");
    }
    let mut tr = Tracker::new(
        H,
        W,
        &TrackParams {
            max_gap: 0,
            ..TrackParams::default()
        },
    );
    push(&mut tr, &rects(&[(10, 10, 20, 20)]));
    push(&mut tr, &rects(&[]));
    assert_eq!(push(&mut tr, &rects(&[(10, 10, 20, 20)]))[15 * W + 15], 2);
}

#[test]
fn late_cells_get_fresh_ids_never_reused() {
    let mut tr = Tracker::new(H, W, &TrackParams::default());
    push(&mut tr, &rects(&[(2, 2, 8, 8)]));
    let lab = push(&mut tr, &rects(&[(2, 2, 8, 8), (20, 20, 30, 30)]));
    assert_eq!(lab[25 * W + 25], 2);
    for _ in 0..4 {
        push(&mut tr, &rects(&[]));
    }
    assert_eq!(tr.live_tracks(), 0);
    let lab = push(&mut tr, &rects(&[(2, 2, 8, 8)]));
    assert_eq!(lab[5 * W + 5], 3);
}

#[test]
fn division_ends_the_parent_and_gives_both_daughters_new_ids() {
    let mut tr = Tracker::new(H, W, &TrackParams::default());
    push(&mut tr, &rects(&[(10, 10, 16, 32), (30, 2, 36, 8)]));
    push(&mut tr, &rects(&[(10, 10, 16, 32), (30, 2, 36, 8)]));
    let lab = push(
        &mut tr,
        &rects(&[(10, 10, 16, 19), (10, 21, 16, 33), (30, 2, 36, 8)]),
    );
    let (left, right) = (lab[12 * W + 12], lab[12 * W + 25]);
    assert_eq!((left.min(right), left.max(right)), (3, 4));
    assert_eq!(lab[32 * W + 4], 2, "the bystander keeps its id");
    let mut parents = tr.parents().to_vec();
    parents.sort_unstable();
    assert_eq!(parents, vec![(3, 1), (4, 1)]);
    // The daughters keep their ids afterwards.
    let lab = push(&mut tr, &rects(&[(10, 10, 16, 19), (10, 21, 16, 33)]));
    assert_eq!((lab[12 * W + 12], lab[12 * W + 25]), (left, right));
    let row = |c: u32| tr.lineage()[c as usize - 1];
    assert_eq!(
        row(1),
        Lineage {
            cell: 1,
            parent: None,
            frame_born: 0,
            frame_divided: Some(2)
        }
    );
    assert_eq!(
        row(3),
        Lineage {
            cell: 3,
            parent: Some(1),
            frame_born: 2,
            frame_divided: None
        }
    );
    assert_eq!(row(2).frame_divided, None);
}

#[test]
fn merged_cells_recover_their_ids() {
    let mut tr = Tracker::new(H, W, &TrackParams::default());
    let apart = rects(&[(10, 5, 20, 15), (10, 17, 20, 27)]);
    push(&mut tr, &apart);
    // Touching for one frame: one component, one of the two ids.
    let lab = push(&mut tr, &rects(&[(10, 5, 20, 27)]));
    let merged = lab[15 * W + 16];
    assert!(merged == 1 || merged == 2);
    let lab = push(&mut tr, &apart);
    assert_eq!((lab[15 * W + 8], lab[15 * W + 20]), (1, 2));
}

#[test]
fn tiny_frames_work() {
    let mut tr = Tracker::new(1, 1, &TrackParams::default());
    let mut lab = vec![0u32; 1];
    tr.push(&[1], &mut lab);
    assert_eq!(lab, vec![1]);
    tr.push(&[0], &mut lab);
    assert_eq!(lab, vec![0]);
    let mut tr = Tracker::new(0, 5, &TrackParams::default());
    tr.push(&[], &mut []);
}

#[test]
fn intersect_counts_the_shared_pixels_of_any_two_run_lists() {
    // Random masks on a 12 × 16 frame, one dense band of rows each: the run
    // merge (on the rows both have) against a pixel-by-pixel count.
    let (h, w) = (12, 16);
    let mut rng = crate::synth::rng::SplitMix64::new(20);
    let mut ri = crate::fov::runs::RunImage::default();
    for _ in 0..500 {
        let masks: Vec<Vec<u8>> = (0..2)
            .map(|_| {
                let (y0, y1) = (rng.below(h), rng.below(h + 1));
                (0..h * w)
                    .map(|i| u8::from((y0..y1).contains(&(i / w)) && rng.below(3) > 0))
                    .collect()
            })
            .collect();
        let runs: Vec<Vec<Run>> = masks
            .iter()
            .map(|m| {
                ri.encode(m, h, w, true);
                ri.runs.clone()
            })
            .collect();
        let want = (0..h * w)
            .filter(|&i| masks[0][i] != 0 && masks[1][i] != 0)
            .count() as u64;
        assert_eq!(intersect(&runs[0], &runs[1]), want);
        assert_eq!(intersect(&runs[1], &runs[0]), want);
    }
}
