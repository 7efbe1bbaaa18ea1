//! Stamps the worker library with `ISOBATCH_BUILD_ID`, a digest of the sources it is built from.
//!
//! The supervisor starts the small sibling `isobatch-worker` binary instead of re-executing
//! itself only when both carry the same id, so a stale worker left in `target/` by a
//! `cargo build` of the supervisor alone is never used. The digest covers this package's and
//! the shared protocol crate's sources and manifests, the lock file and the build profile.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let inputs = [
        manifest.join("src"),
        manifest.join("Cargo.toml"),
        manifest.join("build.rs"),
        manifest.join("../shared/src"),
        manifest.join("../shared/Cargo.toml"),
        manifest.join("../Cargo.lock"),
    ];
    let mut hasher = DefaultHasher::new();
    for input in &inputs {
        println!("cargo::rerun-if-changed={}", input.display());
        let mut files = Vec::new();
        collect(input, &mut files);
        files.sort();
        for file in files {
            file.strip_prefix(&manifest)
                .unwrap_or(&file)
                .hash(&mut hasher);
            fs::read(&file).unwrap_or_default().hash(&mut hasher);
        }
    }
    for var in ["PROFILE", "OPT_LEVEL", "DEBUG", "TARGET"] {
        env::var(var).unwrap_or_default().hash(&mut hasher);
    }
    println!(
        "cargo::rustc-env=ISOBATCH_BUILD_ID={:016x}",
        hasher.finish()
    );
}

/// Every file at or under `path` (nothing when it does not exist).
fn collect(path: &Path, files: &mut Vec<PathBuf>) {
    match fs::read_dir(path) {
        Ok(entries) => {
            for entry in entries.flatten() {
                collect(&entry.path(), files);
            }
        }
        Err(_) if path.is_file() => files.push(path.to_path_buf()),
        Err(_) => {}
    }
}
