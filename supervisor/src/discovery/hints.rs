//! What to do when the input folder holds files, but of a kind the patterns do
//! not look for (a folder of `.czi` files for a pipeline whose patterns end in
//! `.tif`): name the extensions found, the patterns in effect, and the ways out.

/// The literal file-name ending of a pattern (`{fov}.ome.tif` → `.ome.tif`),
/// or `None` when its last segment ends in a field or `*` (it takes any ending).
fn pattern_ending(pattern: &str) -> Option<String> {
    let last = pattern.rsplit('/').next().unwrap_or(pattern);
    let tail = &last[last.rfind(['}', '*']).map_or(0, |i| i + 1)..];
    tail.find('.').map(|i| tail[i..].to_ascii_lowercase())
}

/// A file's ending as a person names it: `.ome.tif` for OME-TIFF, else the last extension.
fn file_ending(name: &str) -> Option<String> {
    let base = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    for double in [".ome.tif", ".ome.tiff"] {
        if base.ends_with(double) {
            return Some(double.to_string());
        }
    }
    base.rfind('.')
        .filter(|&i| i > 0)
        .map(|i| base[i..].to_string())
}

/// A paragraph for the "nothing matches" error when none of the `examples`
/// (files found) ends the way any of the `patterns` does; empty otherwise
/// (then the file names, not their kind, are what differ).
pub fn extension_hint(patterns: &[String], examples: &[String]) -> String {
    let wanted: Vec<String> = patterns.iter().filter_map(|p| pattern_ending(p)).collect();
    if wanted.len() < patterns.len() {
        return String::new();
    }
    let lower: Vec<String> = examples.iter().map(|e| e.to_ascii_lowercase()).collect();
    if lower
        .iter()
        .any(|e| wanted.iter().any(|w| e.ends_with(w.as_str())))
    {
        return String::new();
    }
    let mut found: Vec<String> = examples.iter().filter_map(|e| file_ending(e)).collect();
    found.sort();
    found.dedup();
    if found.is_empty() {
        return String::new();
    }
    let mut wanted = wanted;
    wanted.dedup();
    format!(
        "\nThe files found end in {found}, but the pattern(s) in effect only take {wanted}: \
         convert the files to one of those (e.g. Fiji's Bio-Formats export, or bfconvert), \
         or run your own program on them with --pipeline exec --pattern '{{name}}{first}' \
         --exec 'PROGRAM {{input}} {{task_dir}}'.",
        found = found.join(", "),
        wanted = wanted.join(", "),
        first = found[0],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn endings_of_patterns_and_files() {
        assert_eq!(pattern_ending("{fov}.ome.tif").as_deref(), Some(".ome.tif"));
        assert_eq!(
            pattern_ending("{s}/{s}_{dye}_*.tif").as_deref(),
            Some(".tif")
        );
        assert_eq!(pattern_ending("{name}"), None);
        assert_eq!(file_ending("pos1.CZI").as_deref(), Some(".czi"));
        assert_eq!(file_ending("a/b.ome.tif").as_deref(), Some(".ome.tif"));
        assert_eq!(file_ending("README"), None);
    }

    #[test]
    fn hint_only_when_no_file_has_a_wanted_ending() {
        let tif = owned(&["{fov}.tif", "{fov}.tiff"]);
        let hint = extension_hint(&tif, &owned(&["pos1.czi", "pos2.nd2"]));
        assert!(hint.contains("end in .czi, .nd2"), "{hint}");
        assert!(hint.contains("only take .tif, .tiff"), "{hint}");
        assert!(extension_hint(&tif, &owned(&["x/pos1.tif"])).is_empty());
        assert!(extension_hint(&owned(&["{name}"]), &owned(&["a.czi"])).is_empty());
    }
}
