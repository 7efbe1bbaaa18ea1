//! Walking the input folder: matching candidates, and example files for error messages.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::DiscoveryError;

/// How deep the best-effort search for example files goes when nothing matches.
const EXAMPLE_DEPTH: usize = 8;
/// How many example files a "nothing matches" error shows.
const EXAMPLE_COUNT: usize = 5;

/// Walks `root` up to `max_depth` levels, calling `visit` with each non-hidden file's
/// `/`-separated relative path and full path. Folders are entered only when `descend(depth,
/// name)` says a pattern could match below them; symlinked folders are followed, loops are not,
/// and `exclude` (the output folder) is never entered.
pub(super) fn walk(
    root: &Path,
    exclude: Option<&Path>,
    descend: &dyn Fn(usize, &str) -> bool,
    max_depth: usize,
    visit: &mut dyn FnMut(&str, PathBuf),
) -> Result<(), DiscoveryError> {
    /// Recursion state shared by every level.
    struct Walker<'a> {
        descend: &'a dyn Fn(usize, &str) -> bool,
        max_depth: usize,
        visit: &'a mut dyn FnMut(&str, PathBuf),
        ancestors: Vec<PathBuf>,
        exclude: Option<PathBuf>,
    }
    impl Walker<'_> {
        fn dir(&mut self, dir: &Path, rel: &str, depth: usize) -> Result<(), DiscoveryError> {
            let unreadable = |source| DiscoveryError::Unreadable {
                path: dir.to_path_buf(),
                source,
            };
            let mut entries = Vec::new();
            for entry in fs::read_dir(dir).map_err(unreadable)? {
                let entry = entry.map_err(unreadable)?;
                // A name that is not UTF-8 cannot match a pattern.
                if let Ok(name) = entry.file_name().into_string()
                    && !name.starts_with('.')
                {
                    entries.push(name);
                }
            }
            entries.sort();
            for name in entries {
                let path = dir.join(&name);
                let rel = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                // Follows symlinks; a broken one is skipped.
                let Ok(meta) = fs::metadata(&path) else {
                    continue;
                };
                if meta.is_file() {
                    (self.visit)(&rel, path);
                } else if meta.is_dir()
                    && depth + 1 < self.max_depth
                    && (self.descend)(depth, &name)
                {
                    let real = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                    if self.ancestors.contains(&real) || self.exclude.as_ref() == Some(&real) {
                        continue;
                    }
                    self.ancestors.push(real);
                    self.dir(&path, &rel, depth + 1)?;
                    self.ancestors.pop();
                }
            }
            Ok(())
        }
    }
    let mut walker = Walker {
        descend,
        max_depth,
        visit,
        ancestors: vec![fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())],
        exclude: exclude.and_then(|p| fs::canonicalize(p).ok()),
    };
    walker.dir(root, "", 0)
}

/// Up to [`EXAMPLE_COUNT`] non-hidden files under `root` (relative paths), shallow ones first;
/// best effort, unreadable folders are skipped.
pub(super) fn example_files(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut level: Vec<(PathBuf, String)> = vec![(root.to_path_buf(), String::new())];
    let mut visited: HashSet<PathBuf> = HashSet::new();
    for _ in 0..EXAMPLE_DEPTH {
        let mut next = Vec::new();
        for (dir, rel) in level {
            let real = fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
            if !visited.insert(real) {
                continue;
            }
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect();
            names.sort();
            for name in names {
                let path = dir.join(&name);
                let rel = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                match fs::metadata(&path) {
                    Ok(m) if m.is_dir() => next.push((path, rel)),
                    Ok(_) => {
                        found.push(rel);
                        if found.len() == EXAMPLE_COUNT {
                            return found;
                        }
                    }
                    Err(_) => {}
                }
            }
        }
        level = next;
    }
    found
}
