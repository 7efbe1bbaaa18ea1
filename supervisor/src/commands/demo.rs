//! `isobatch demo DIR`: synthetic input for a first run.
//!
//! Until the fov pipeline lands, the demo is a selftest batch: one small task
//! file per "field of view" that sleeps a little, allocates and touches some
//! memory, and writes a deterministic output — enough to watch isolation,
//! progress, memory measurement and the summary work end to end.

use std::fs;
use std::io::Write;

use crate::cli::DemoArgs;
use crate::error::{EXIT_OK, Error};

/// A small deterministic generator (SplitMix64), so `--seed` reproduces a demo.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Writes `DIR/raw/fovNN.txt` task files and prints how to run them.
pub fn run(args: DemoArgs) -> Result<i32, Error> {
    if args.fovs == 0 {
        return Err(Error::Usage("--fovs must be at least 1".into()));
    }
    let raw = args.dir.join("raw");
    fs::create_dir_all(&raw).map_err(|e| Error::io(&raw, e))?;
    let mut rng = args.seed;
    let pixels = (args.size * args.size * args.frames) as u64;
    for i in 1..=args.fovs {
        let sleep_ms = 100 + splitmix(&mut rng) % 400;
        let alloc_mib = 8 + splitmix(&mut rng) % 56;
        let path = raw.join(format!("fov{i:02}.txt"));
        let text = format!(
            "# demo field of view {i}: simulated work\nsleep={:.3}\nalloc={alloc_mib}M\noutput={}\n",
            sleep_ms as f64 / 1000.0,
            pixels.min(16 << 20)
        );
        fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "wrote {} demo task(s) to {}\nrun them with:\n  isobatch run --pipeline selftest --input {} --output {}",
        args.fovs,
        raw.display(),
        raw.display(),
        args.dir.join("processed").display()
    );
    Ok(EXIT_OK)
}
