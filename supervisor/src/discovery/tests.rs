//! Discovery tests against real temporary folders.

use std::fs;
use std::path::Path;

use tempfile::TempDir;

use super::*;

/// A temporary input folder holding `files` (relative paths; parents are created).
fn tree(files: &[&str]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for file in files {
        let path = dir.path().join(file);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, file.as_bytes()).expect("write");
    }
    dir
}

/// Options for `input` with `patterns` and nothing else.
fn opts(input: &Path, patterns: &[&str]) -> DiscoveryOptions {
    DiscoveryOptions {
        input: input.to_path_buf(),
        patterns: patterns.iter().map(|p| p.to_string()).collect(),
        ..DiscoveryOptions::default()
    }
}

/// The fov pipeline's default patterns.
const FOV: &[&str] = &["{fov}.tif", "{fov}.tiff"];

fn ids(tasks: &[Task]) -> Vec<&str> {
    tasks.iter().map(|t| t.id.as_str()).collect()
}

fn grid(spec: &str) -> GridSpec {
    spec.parse().expect("grid spec")
}

#[test]
fn default_fov_patterns_tif_and_tiff_in_natural_order() {
    let dir = tree(&[
        "fov10.tif",
        "fov2.tiff",
        "fov1.tif",
        "fov1.tiff",
        "notes.txt",
        ".hidden.tif",
        "sub/fov3.tif",
    ]);
    let found = discover(&opts(dir.path(), FOV)).expect("discover");
    assert_eq!(ids(&found.tasks), ["fov1", "fov2", "fov10"]);
    assert_eq!(found.field_names, ["fov"]);
    assert!(found.missing.is_empty());
    let fov1 = &found.tasks[0];
    assert_eq!(fov1.fields, [("fov".to_string(), "fov1".to_string())]);
    assert_eq!(
        fov1.inputs,
        [dir.path().join("fov1.tif"), dir.path().join("fov1.tiff")]
    );
    assert_eq!(found.tasks[1].inputs, [dir.path().join("fov2.tiff")]);
    assert_eq!(fov1.field("fov"), Some("fov1"));
}

#[test]
fn repeated_field_must_capture_the_same_value() {
    let dir = tree(&[
        "s1/s1_red_001.tif",
        "s1/s1_red_002.tif",
        "s1/s1_green_001.tif",
        "s1/s2_red_001.tif",
        "a_b/a_b_red_1.tif",
    ]);
    let found = discover(&opts(dir.path(), &["{sample}/{sample}_{dye}_*.tif"])).expect("discover");
    assert_eq!(found.field_names, ["sample", "dye"]);
    assert_eq!(ids(&found.tasks), ["a_b_red", "s1_green", "s1_red"]);
    assert_eq!(found.tasks[0].describe_fields(), "sample=a_b, dye=red");
    assert_eq!(
        found.tasks[2].inputs,
        [
            dir.path().join("s1/s1_red_001.tif"),
            dir.path().join("s1/s1_red_002.tif")
        ]
    );
}

#[test]
fn star_globs_within_one_segment() {
    let dir = tree(&["p1_.tif", "p1_a_b.tif", "p2_x.tif", "p3.tif", "p4_x/y.tif"]);
    let found = discover(&opts(dir.path(), &["{plate}_*.tif"])).expect("discover");
    assert_eq!(ids(&found.tasks), ["p1", "p2"]);
    assert_eq!(found.tasks[0].inputs.len(), 2);
}

#[test]
fn patterns_of_different_depths_share_fields() {
    let dir = tree(&["a.tif", "b/one.tif", "b/two.tif", "c/d/e.tif"]);
    let found = discover(&opts(dir.path(), &["{fov}.tif", "{fov}/*.tif"])).expect("discover");
    assert_eq!(ids(&found.tasks), ["a", "b"]);
    assert_eq!(found.tasks[1].inputs.len(), 2);
}

#[test]
fn strict_grid_lists_every_missing_combination_in_one_error() {
    let dir = tree(&["s1_red.tif", "s1_green.tif", "s2_red.tif", "s3_blue.tif"]);
    let mut o = opts(dir.path(), &["{sample}_{dye}.tif"]);
    o.grid = vec![grid("dye=red,green,blue")];
    let err = discover(&o).expect_err("strict grid must refuse");
    let DiscoveryError::MissingCombinations { count, .. } = &err else {
        panic!("unexpected error: {err}");
    };
    assert_eq!(*count, 5);
    let text = err.to_string();
    for line in [
        "s1_blue (sample=s1, dye=blue)",
        "s2_green (sample=s2, dye=green)",
        "s2_blue (sample=s2, dye=blue)",
        "s3_red (sample=s3, dye=red)",
        "s3_green (sample=s3, dye=green)",
    ] {
        assert!(text.contains(line), "{line} missing from: {text}");
    }
    assert!(text.contains("--lenient"), "{text}");
}

#[test]
fn strict_grid_over_several_fields() {
    let dir = tree(&["s1_red.tif", "s2_green.tif"]);
    let mut o = opts(dir.path(), &["{sample}_{dye}.tif"]);
    o.grid = vec![grid("sample=s1,s2"), grid("dye=red,green")];
    let err = discover(&o).expect_err("strict");
    let text = err.to_string();
    assert!(
        text.contains("s1_green") && text.contains("s2_red"),
        "{text}"
    );
    assert!(text.starts_with("2 combination(s)"), "{text}");
}

#[test]
fn lenient_grid_keeps_on_grid_tasks_and_lists_missing() {
    let dir = tree(&["s1_red.tif", "s1_green.tif", "s2_red.tif", "s3_blue.tif"]);
    let mut o = opts(dir.path(), &["{sample}_{dye}.tif"]);
    o.grid = vec![grid("dye=red,green")];
    o.lenient = true;
    let found = discover(&o).expect("lenient");
    assert_eq!(ids(&found.tasks), ["s1_green", "s1_red", "s2_red"]);
    assert_eq!(ids(&found.missing), ["s2_green", "s3_green", "s3_red"]);
    assert!(found.missing.iter().all(|t| t.inputs.is_empty()));
    assert_eq!(found.missing[0].field("dye"), Some("green"));
}

#[test]
fn complete_grid_is_fine_and_filters() {
    let dir = tree(&["fov1.tif", "fov2.tif", "fov3.tif"]);
    let mut o = opts(dir.path(), FOV);
    o.grid = vec![grid("fov=fov3,fov1")];
    let found = discover(&o).expect("complete grid");
    assert_eq!(ids(&found.tasks), ["fov1", "fov3"]);
}

#[test]
fn grid_errors() {
    let dir = tree(&["fov1.tif"]);
    let mut o = opts(dir.path(), FOV);
    o.grid = vec![grid("sample=a")];
    assert!(matches!(
        discover(&o),
        Err(DiscoveryError::GridFieldUnknown { .. })
    ));
    o.grid = vec![grid("fov=a"), grid("fov=b")];
    assert!(matches!(
        discover(&o),
        Err(DiscoveryError::GridFieldRepeated { .. })
    ));
    for bad in ["fov", "=a", "fov=", "fov=a,,b", "1x=a"] {
        let err = bad.parse::<GridSpec>().expect_err(bad);
        assert!(err.to_string().contains(bad), "{err}");
    }
    assert_eq!(grid("fov=a,b,a").values, ["a", "b"]);
    assert_eq!(grid("fov=a,b").to_string(), "fov=a,b");
}

#[test]
fn select_and_limit() {
    let dir = tree(&["fov1.tif", "fov2.tif", "fov10.tif", "fov11.tif", "x.tif"]);
    let mut o = opts(dir.path(), FOV);
    o.select = vec!["fov1*".into(), "fov2".into()];
    assert_eq!(
        ids(&discover(&o).expect("select").tasks),
        ["fov1", "fov2", "fov10", "fov11"]
    );
    o.limit = Some(2);
    assert_eq!(ids(&discover(&o).expect("limit").tasks), ["fov1", "fov2"]);
    o.select = vec!["nothing*".into()];
    let err = discover(&o).expect_err("nothing to run");
    assert!(
        matches!(err, DiscoveryError::NothingSelected { count: 5, .. })
            && err.to_string().contains("fov1, fov2, fov10, fov11, x"),
        "{err}"
    );
    o.select = vec!["[".into()];
    let err = discover(&o).expect_err("bad glob");
    assert!(matches!(err, DiscoveryError::InvalidSelect { .. }), "{err}");
}

#[test]
fn select_narrows_the_strict_grid_check() {
    let dir = tree(&["s1_red.tif", "s1_green.tif", "s2_red.tif"]);
    let mut o = opts(dir.path(), &["{sample}_{dye}.tif"]);
    o.grid = vec![grid("dye=red,green")];
    o.select = vec!["s1_*".into()];
    assert_eq!(
        ids(&discover(&o).expect("s1 complete").tasks),
        ["s1_green", "s1_red"]
    );
}

#[test]
fn hostile_names_give_safe_ids_and_intact_paths() {
    let names = ["a b'\";rm -rf x.tif", "$(touch y).tif", "-x.tif"];
    let dir = tree(&["a b'\";rm -rf x.tif", "$(touch y).tif", "-x.tif"]);
    let found = discover(&opts(dir.path(), FOV)).expect("discover");
    assert_eq!(ids(&found.tasks), ["__touch_y_", "-x", "a_b___rm_-rf_x"]);
    for task in &found.tasks {
        assert_eq!(task.inputs.len(), 1);
        assert!(task.inputs[0].is_file(), "{:?}", task.inputs[0]);
        let name = task.inputs[0].file_name().and_then(|n| n.to_str());
        assert!(names.contains(&name.unwrap_or("")), "{name:?}");
    }
    assert_eq!(found.tasks[2].field("fov"), Some("a b'\";rm -rf x"));
}

#[test]
fn id_collision_lists_both_combinations() {
    let dir = tree(&["a b.tif", "a_b.tif", "c.tif"]);
    let err = discover(&opts(dir.path(), FOV)).expect_err("collision");
    let text = err.to_string();
    assert!(matches!(err, DiscoveryError::IdCollision { .. }), "{text}");
    assert!(
        text.contains("fov=a b") && text.contains("fov=a_b"),
        "{text}"
    );
}

#[test]
fn missing_input_shows_layout() {
    let dir = tree(&[]);
    let input = dir.path().join("raw");
    let err = discover(&opts(&input, &["{sample}/{sample}_{dye}_*.tif"])).expect_err("missing");
    assert!(matches!(err, DiscoveryError::InputMissing { .. }), "{err}");
    let text = err.to_string();
    let layout = format!(
        "  {}/\n    <sample>/\n      <sample>_<dye>_*.tif",
        input.display()
    );
    assert!(text.contains(&layout), "{text}");
    assert!(text.contains("does not exist"), "{text}");
}

#[test]
fn input_that_is_a_file_is_refused() {
    let dir = tree(&["raw"]);
    let mut o = opts(&dir.path().join("raw"), FOV);
    o.lenient = true;
    let err = discover(&o).expect_err("not a dir");
    assert!(
        matches!(err, DiscoveryError::InputNotDirectory { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("<fov>.tif\n    <fov>.tiff"),
        "{err}"
    );
}

#[test]
fn empty_input_is_refused() {
    let dir = tree(&[".DS_Store", ".git/config"]);
    fs::create_dir(dir.path().join("empty_sub")).expect("mkdir");
    let err = discover(&opts(dir.path(), FOV)).expect_err("empty");
    assert!(matches!(err, DiscoveryError::InputEmpty { .. }), "{err}");
    assert!(err.to_string().contains(&dir.path().display().to_string()));
}

#[test]
fn nothing_matches_shows_examples() {
    let dir = tree(&[
        "a.png",
        "b.png",
        "c.png",
        "d.png",
        "e.png",
        "f.png",
        "deep/fov1.tif",
    ]);
    let mut o = opts(dir.path(), FOV);
    o.lenient = true;
    let err = discover(&o).expect_err("no match");
    let DiscoveryError::NothingMatches { examples, .. } = &err else {
        panic!("unexpected error: {err}");
    };
    assert_eq!(examples.lines().count(), 5);
    let text = err.to_string();
    assert!(text.contains("`{fov}.tif` or `{fov}.tiff`"), "{text}");
    assert!(text.contains("  a.png\n"), "{text}");
    assert!(!text.contains("f.png"), "{text}");
}

#[test]
fn nested_files_appear_as_examples() {
    let dir = tree(&["deep/fov1.tif"]);
    let err = discover(&opts(dir.path(), FOV)).expect_err("no match");
    assert!(err.to_string().contains("  deep/fov1.tif"), "{err}");
}

#[test]
fn pattern_syntax_errors() {
    let dir = tree(&["fov1.tif"]);
    for (pattern, needle) in [
        ("{fov.tif", "not closed"),
        ("{fov/x}.tif", "not closed"),
        ("{}.tif", "empty field name"),
        ("{1fov}.tif", "not a valid field name"),
        ("{f-v}.tif", "not a valid field name"),
        ("fov.tif", "no `{field}`"),
        ("/raw/{fov}.tif", "absolute"),
        ("../{fov}.tif", "`..`"),
        ("a//{fov}.tif", "empty path segment"),
        ("{fov}/", "empty path segment"),
        ("**/{fov}.tif", "`**`"),
        ("fov}.tif", "without a matching"),
        (".raw/{fov}.tif", "hidden"),
        ("", "empty"),
    ] {
        let err = discover(&opts(dir.path(), &[pattern])).expect_err(pattern);
        let text = err.to_string();
        assert!(
            matches!(err, DiscoveryError::InvalidPattern { .. }),
            "{text}"
        );
        assert!(text.contains(needle), "{pattern}: {text}");
        assert!(text.contains(&format!("`{pattern}`")), "{text}");
    }
    let err = discover(&opts(dir.path(), &["{fov}.tif", "{site}.tiff"])).expect_err("fields");
    assert!(
        matches!(err, DiscoveryError::PatternFieldsDiffer { .. }),
        "{err}"
    );
    let err = discover(&opts(dir.path(), &[])).expect_err("none");
    assert!(matches!(err, DiscoveryError::NoPattern), "{err}");
}

#[test]
fn literal_braces_and_regex_metacharacters() {
    let dir = tree(&[
        "{x}+(1)_fov1.tif",
        "x+(1)_fov2.tif",
        "p(1)/a.tif",
        "p1/b.tif",
        "p(1)x/c.tif",
    ]);
    let found = discover(&opts(dir.path(), &["{{x}}+(1)_{fov}.tif"])).expect("discover");
    assert_eq!(ids(&found.tasks), ["fov1"]);
    let found = discover(&opts(dir.path(), &["p(1)/{fov}.tif"])).expect("discover");
    assert_eq!(ids(&found.tasks), ["a"]);
    let found = discover(&opts(dir.path(), &["p(*)*/{fov}.tif"])).expect("discover");
    assert_eq!(ids(&found.tasks), ["a", "c"]);
}

#[cfg(unix)]
#[test]
fn symlinked_folders_are_followed_without_looping() {
    let dir = tree(&["a/x.tif"]);
    std::os::unix::fs::symlink(dir.path(), dir.path().join("a/loop")).expect("symlink");
    std::os::unix::fs::symlink(dir.path().join("a"), dir.path().join("b")).expect("symlink");
    let found = discover(&opts(dir.path(), &["{d}/{f}.tif"])).expect("discover");
    assert_eq!(ids(&found.tasks), ["a_x", "b_x"]);
    let found = discover(&opts(dir.path(), &["{d}/{e}/{f}/{g}.tif"]));
    assert!(matches!(found, Err(DiscoveryError::NothingMatches { .. })));
}
