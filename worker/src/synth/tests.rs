use super::*;

#[test]
fn deterministic_and_frame_independent() {
    let cfg = SceneConfig {
        size: 100,
        frames: 12,
        seed: 5,
        fl_channels: 2,
        ..SceneConfig::default()
    };
    let a = Scene::new(&cfg);
    let b = Scene::new(&cfg);
    let f7 = a.render(7);
    a.render(3);
    assert_eq!(b.render(7), f7);
    assert_ne!(
        Scene::new(&SceneConfig {
            seed: 6,
            ..cfg.clone()
        })
        .render(7)
        .phase,
        f7.phase
    );
    assert_eq!(f7.fl.len(), 2);
    assert_eq!(f7.phase.len(), 100 * 100);
}

#[test]
fn truth_matches_labels() {
    let scene = Scene::new(&SceneConfig {
        size: 128,
        frames: 6,
        ..SceneConfig::default()
    });
    let f = scene.render(2);
    for row in &f.truth {
        let area = f.labels.iter().filter(|&&l| l == row.cell).count() as u64;
        assert_eq!(area, row.area);
        assert!(row.signal[0] > 0.0);
    }
    let labelled: u64 = f.truth.iter().map(|r| r.area).sum();
    assert_eq!(
        labelled,
        f.labels.iter().filter(|&&l| l != 0).count() as u64
    );
}

#[test]
fn density_scales_with_area() {
    let small = Scene::new(&SceneConfig {
        size: 64,
        ..SceneConfig::default()
    });
    let large = Scene::new(&SceneConfig {
        size: 1024,
        ..SceneConfig::default()
    });
    assert!(
        (3..=8).contains(&small.cell_count()),
        "{}",
        small.cell_count()
    );
    assert!(large.cell_count() > 400, "{}", large.cell_count());
}

#[test]
fn events_happen_as_announced() {
    let scene = Scene::new(&SceneConfig {
        size: 512,
        frames: 30,
        seed: 2,
        fl_channels: 1,
        ..SceneConfig::default()
    });
    let ev = scene.events();
    let present = |t: usize, c: u32| scene.render(t).truth.iter().any(|r| r.cell == c);
    let mut kinds = [false; 5];
    for e in &ev {
        match *e {
            Event::Appear { cell, frame } => {
                kinds[0] = true;
                assert!(frame > 0 && !present(frame - 1, cell) && present(frame, cell));
            }
            Event::Dropout { cell, frame } => {
                kinds[1] = true;
                assert!(
                    present(frame - 1, cell) && !present(frame, cell) && present(frame + 1, cell)
                );
            }
            Event::Divide {
                parent,
                daughters,
                frame,
            } => {
                kinds[2] = true;
                let f = scene.render(frame);
                assert!(
                    daughters
                        .iter()
                        .all(|d| f.truth.iter().any(|r| r.cell == *d))
                );
                assert!(present(frame - 1, parent) && !present(frame, parent));
            }
            Event::Leave { cell, frame } => {
                kinds[3] = true;
                assert!(present(frame - 1, cell) && !present(frame, cell));
            }
            Event::Touch { cells, .. } => {
                kinds[4] = true;
                assert!(present(0, cells[0]) && present(0, cells[1]));
            }
        }
    }
    assert_eq!(kinds, [true; 5]);
}

#[test]
fn tiny_fields_do_not_panic() {
    for size in [0, 1, 5, 23, 24, 31, 40] {
        for frames in [0, 1, 2, 3, 5] {
            let scene = Scene::new(&SceneConfig {
                size,
                frames,
                seed: 1,
                fl_channels: 1,
                ..SceneConfig::default()
            });
            let f = scene.render(0);
            assert_eq!(f.phase.len(), size * size);
            scene.render(frames + 3);
        }
    }
}
