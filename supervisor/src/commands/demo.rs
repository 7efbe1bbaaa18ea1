//! `isobatch demo DIR`: synthetic time-lapse FOVs with ground truth, so the
//! first run needs no data of one's own.
//!
//! Writes `DIR/raw/fovNN.tif` (ImageJ hyperstacks: channel 0 phase contrast,
//! channel 1 fluorescence, uint16) and, for checking results,
//! `DIR/truth/fovNN_labels.tif` (true cell ids per pixel, uint32),
//! `DIR/truth/fovNN_cells.csv` (true area, centroid and signal per cell per
//! frame) and `DIR/truth/fovNN_events.csv` (late cells, dropouts, divisions,
//! cells leaving and touching). Every file is written atomically and frame by
//! frame, so a demo of any size needs little memory.

use std::io::Write;
use std::path::Path;

use isobatch_shared::atomic;
use isobatch_worker::image::imagej::ImageJLayout;
use isobatch_worker::image::tiff_out::{Compression, TiffWriter};
use isobatch_worker::image::{ImageError, Limits, Shape};
use isobatch_worker::synth::{DENSITY_RANGE, Event, Polarity, Scene, SceneConfig};

use crate::cli::{DemoArgs, DemoPolarity};
use crate::error::{EXIT_OK, Error};

/// The smallest frame the fov pipeline handles.
const MIN_SIZE: usize = 64;
/// The largest frame the demo writes (a 16k² frame is already 512 MiB per page set).
const MAX_SIZE: usize = 16384;

fn image_error(e: ImageError) -> Error {
    Error::Internal(e.into())
}

/// Writes one FOV and its ground truth.
fn write_fov(raw: &Path, truth: &Path, name: &str, scene: &Scene) -> Result<(), Error> {
    let cfg = scene.config();
    let channels = 1 + cfg.fl_channels;
    let page = Shape {
        frames: cfg.frames * channels,
        height: cfg.size,
        width: cfg.size,
    };
    let stack_path = raw.join(format!("{name}.tif"));
    let mut stack = TiffWriter::<u16>::create(
        &stack_path,
        page,
        ImageJLayout {
            channels,
            frames: cfg.frames,
        },
        Compression::None,
    )
    .map_err(image_error)?;
    let labels_path = truth.join(format!("{name}_labels.tif"));
    let mut labels = TiffWriter::<u32>::create(
        &labels_path,
        Shape {
            frames: cfg.frames,
            ..page
        },
        ImageJLayout::time_series(cfg.frames),
        Compression::Deflate,
    )
    .map_err(image_error)?;
    // Frame by frame: the stack, the true labels and the truth rows are
    // streamed together, so memory does not grow with the frame count.
    let cells_path = truth.join(format!("{name}_cells.csv"));
    atomic::write_with(&cells_path, |w| {
        write!(w, "cell,frame,area,centroid_y,centroid_x")?;
        for c in 1..=cfg.fl_channels {
            write!(w, ",signal_c{c}")?;
        }
        writeln!(w)?;
        for t in 0..cfg.frames {
            let frame = scene.render(t);
            stack
                .write_page(&frame.phase)
                .map_err(std::io::Error::other)?;
            for fl in &frame.fl {
                stack.write_page(fl).map_err(std::io::Error::other)?;
            }
            labels
                .write_page(&frame.labels)
                .map_err(std::io::Error::other)?;
            for r in &frame.truth {
                write!(
                    w,
                    "{},{},{},{:.3},{:.3}",
                    r.cell, r.frame, r.area, r.centroid_y, r.centroid_x
                )?;
                for s in &r.signal {
                    write!(w, ",{s:.3}")?;
                }
                writeln!(w)?;
            }
        }
        Ok(())
    })
    .map_err(|e| Error::io(&cells_path, e))?;
    stack.commit().map_err(image_error)?;
    labels.commit().map_err(image_error)?;
    let events_path = truth.join(format!("{name}_events.csv"));
    atomic::write(&events_path, events_csv(&scene.events()).as_bytes())
        .map_err(|e| Error::io(&events_path, e))
}

/// `event,cells,first_frame,last_frame` rows.
fn events_csv(events: &[Event]) -> String {
    let mut s = String::from("event,cells,first_frame,last_frame\n");
    for e in events {
        let (kind, cells, first, last) = match e {
            Event::Appear { cell, frame } => ("appear", cell.to_string(), *frame, *frame),
            Event::Dropout { cell, frame } => ("dropout", cell.to_string(), *frame, *frame),
            Event::Divide {
                parent,
                daughters,
                frame,
            } => (
                "divide",
                format!("{parent}>{} {}", daughters[0], daughters[1]),
                *frame,
                *frame,
            ),
            Event::Leave { cell, frame } => ("leave", cell.to_string(), *frame, *frame),
            Event::Touch { cells, first, last } => {
                ("touch", format!("{} {}", cells[0], cells[1]), *first, *last)
            }
        };
        s.push_str(&format!("{kind},{cells},{first},{last}\n"));
    }
    s
}

/// Writes the demo FOVs and prints how to run them.
pub fn run(args: DemoArgs) -> Result<i32, Error> {
    if args.fovs == 0 || args.frames == 0 {
        return Err(Error::Usage(
            "--fovs and --frames must be at least 1".into(),
        ));
    }
    let max_frames = Limits::default().max_pages / 2;
    if args.frames > max_frames {
        return Err(Error::Usage(format!(
            "--frames {}: at most {max_frames} (the TIFF reader's page limit for 2 channels)",
            args.frames
        )));
    }
    if !(MIN_SIZE..=MAX_SIZE).contains(&args.size) {
        return Err(Error::Usage(format!(
            "--size {}: frames must be {MIN_SIZE} to {MAX_SIZE} pixels wide",
            args.size
        )));
    }
    if let Some(d) = args.density
        && !DENSITY_RANGE.contains(&d)
    {
        return Err(Error::Usage(format!(
            "--density {d}: expected a covered fraction from {} to {}",
            DENSITY_RANGE.start(),
            DENSITY_RANGE.end()
        )));
    }
    let polarity = match args.polarity {
        DemoPolarity::Dark => Polarity::Dark,
        DemoPolarity::Bright => Polarity::Bright,
    };
    let raw = args.dir.join("raw");
    let truth = args.dir.join("truth");
    for d in [&raw, &truth] {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    for i in 1..=args.fovs {
        let scene = Scene::new(&SceneConfig {
            size: args.size,
            frames: args.frames,
            seed: args.seed.wrapping_mul(1000).wrapping_add(i as u64),
            fl_channels: 1,
            density: args.density,
            polarity,
        });
        write_fov(&raw, &truth, &format!("fov{i:02}"), &scene)?;
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "wrote {} field(s) of view ({} frames of {}x{} px, phase contrast + fluorescence) to {}\n\
         ground truth in {}\nrun them with:\n  isobatch run --input {} --output {}",
        args.fovs,
        args.frames,
        args.size,
        args.size,
        raw.display(),
        truth.display(),
        raw.display(),
        args.dir.join("processed").display()
    );
    Ok(EXIT_OK)
}
