//! The errors discovery reports; each is a complete, user-facing sentence.

use std::io;
use std::path::PathBuf;

/// Why discovery refused the input; every case is a usage error (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// No `--pattern` was given.
    #[error("no --pattern was given, so there is nothing to match input files against.")]
    NoPattern,
    /// A pattern has bad syntax.
    #[error(
        "the pattern `{pattern}` is invalid: {reason}. A pattern is a path relative to --input in \
         which `{{name}}` captures part of one path segment and `*` matches within one segment."
    )]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two patterns use different field names.
    #[error(
        "the patterns `{first}` (fields: {first_fields}) and `{other}` (fields: {other_fields}) \
         use different fields; every pattern must use the same field names."
    )]
    PatternFieldsDiffer {
        /// The first pattern.
        first: String,
        /// Its fields, comma-separated.
        first_fields: String,
        /// The pattern that differs.
        other: String,
        /// Its fields, comma-separated.
        other_fields: String,
    },
    /// `--select` kept no task: nothing would run.
    #[error(
        "--select {select} matches none of the {count} tasks found, so there is nothing to run; \
         the pattern found: {examples}."
    )]
    NothingSelected {
        /// The globs, space-separated.
        select: String,
        /// How many tasks the pattern found.
        count: usize,
        /// Some of their ids.
        examples: String,
    },
    /// A `--grid` spec cannot be parsed.
    #[error("--grid `{spec}` is invalid: {reason}.")]
    InvalidGrid {
        /// The spec as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `--grid` field is not a pattern field.
    #[error(
        "--grid names the field `{field}`, which the pattern does not have (its fields: {fields})."
    )]
    GridFieldUnknown {
        /// The grid field.
        field: String,
        /// The pattern's fields, comma-separated.
        fields: String,
    },
    /// The same field is given in two `--grid` options.
    #[error(
        "--grid gives the field `{field}` more than once; list all its values in one --grid {field}=V1,V2,..."
    )]
    GridFieldRepeated {
        /// The repeated field.
        field: String,
    },
    /// The input folder does not exist.
    #[error("the input folder {} does not exist. Expected layout:\n{layout}", input.display())]
    InputMissing {
        /// The input folder.
        input: PathBuf,
        /// The expected layout, rendered as an indented tree.
        layout: String,
    },
    /// The input path is not a folder.
    #[error("the input {} is not a folder. Expected layout:\n{layout}", input.display())]
    InputNotDirectory {
        /// The input path.
        input: PathBuf,
        /// The expected layout, rendered as an indented tree.
        layout: String,
    },
    /// The input folder holds no (non-hidden) files.
    #[error("the input folder {} is empty (hidden files and folders are ignored). Expected layout:\n{layout}", input.display())]
    InputEmpty {
        /// The input folder.
        input: PathBuf,
        /// The expected layout, rendered as an indented tree.
        layout: String,
    },
    /// Files exist but none matches a pattern.
    #[error(
        "no file in the input folder {} matches {patterns}. Expected layout:\n{layout}\n\
         Files found there, for example:\n{examples}{hint}",
        input.display()
    )]
    NothingMatches {
        /// The input folder.
        input: PathBuf,
        /// The patterns, quoted and joined.
        patterns: String,
        /// The expected layout, rendered as an indented tree.
        layout: String,
        /// Up to five files that were found, one per indented line.
        examples: String,
        /// What to do when the files are of another kind (empty when they are not).
        hint: String,
    },
    /// A folder under the input cannot be read.
    #[error("cannot read {} while looking for input files: {source}.", path.display())]
    Unreadable {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Different field combinations give the same task id.
    #[error(
        "different inputs give the same task id, so their outputs would collide:\n{collisions}\n\
         Rename the inputs so that they differ in letters, digits, `.`, `_` or `-`."
    )]
    IdCollision {
        /// One indented line per collision: the id and both combinations.
        collisions: String,
    },
    /// Strict grid: some combinations have no input.
    #[error(
        "{count} combination(s) required by --grid have no input in {} \
         (pattern {patterns}):\n{list}\nAdd the files, correct --grid, or pass --lenient to run \
         the tasks that exist and list these as missing.",
        input.display()
    )]
    MissingCombinations {
        /// The input folder.
        input: PathBuf,
        /// The patterns, quoted and joined.
        patterns: String,
        /// How many are missing.
        count: usize,
        /// One indented line per missing combination: the id and `field=value` pairs.
        list: String,
    },
    /// A `--select` glob is malformed.
    #[error("--select `{glob}` is not a valid glob: {source}.")]
    InvalidSelect {
        /// The glob as given.
        glob: String,
        /// The parser's complaint.
        source: globset::Error,
    },
}
