//! A task's own results: the flat JSON object a task leaves as
//! `TASK/result.json` (an exec program writes `$ISOBATCH_TASK_DIR/result.json`;
//! the fov pipeline writes its own). Its scalar fields (number, string, bool,
//! null) become columns of `summary.csv` and `tasks[].result` in `results.json`.
//!
//! Only a `done` attempt's file counts, read once it is published. The file is
//! the task's, so it is untrusted: it is read with a size bound
//! ([`MAX_RESULT_BYTES`]), and a file that is too big, not JSON, not an object,
//! or has nested values is a [`ResultProblem`] — a warning naming the file —
//! never a failure of a task whose work succeeded. Nested values are left out;
//! the scalar fields beside them are kept.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// The file name, in the task folder.
pub const RESULT_FILE: &str = "result.json";

/// The largest `result.json` read: ample for a row of numbers, and a bound on
/// what an untrusted file can make the supervisor allocate.
pub const MAX_RESULT_BYTES: u64 = 64 * 1024;

/// The scalar fields of a task's `result.json`.
pub type ResultFields = Map<String, Value>;

/// Why (part of) a `result.json` was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultProblem {
    /// It could not be read.
    #[error("{path}: cannot read it ({why}); its results are left out")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The OS error.
        why: String,
    },
    /// It is over [`MAX_RESULT_BYTES`].
    #[error("{path}: larger than {MAX_RESULT_BYTES} bytes; its results are left out")]
    TooBig {
        /// The file.
        path: PathBuf,
    },
    /// It is not a JSON object.
    #[error("{path}: not a flat JSON object ({why}); its results are left out")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What the parser or the shape check said.
        why: String,
    },
    /// Some fields hold arrays or objects, which a table column cannot.
    #[error(
        "{path}: fields {keys} hold arrays or objects, not numbers, strings or booleans; they are left out"
    )]
    Nested {
        /// The file.
        path: PathBuf,
        /// The fields, quoted and comma-separated.
        keys: String,
    },
}

/// The result fields in `task_dir`, and what was wrong with its file, if
/// anything. No file: no fields, no problem.
pub fn read(task_dir: &Path) -> (ResultFields, Option<ResultProblem>) {
    let path = task_dir.join(RESULT_FILE);
    match read_bounded(&path) {
        Ok(None) => (Map::new(), None),
        Ok(Some(bytes)) => parse(&path, &bytes),
        Err(problem) => (Map::new(), Some(problem)),
    }
}

/// The file's bytes (`None` when there is no file), never more than the bound.
fn read_bounded(path: &Path) -> Result<Option<Vec<u8>>, ResultProblem> {
    let unreadable = |e: std::io::Error| ResultProblem::Unreadable {
        path: path.to_path_buf(),
        why: e.to_string(),
    };
    let file = match File::open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        other => other.map_err(unreadable)?,
    };
    let mut bytes = Vec::new();
    // One byte past the bound tells a file over it, whatever its metadata says.
    file.take(MAX_RESULT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_RESULT_BYTES {
        return Err(ResultProblem::TooBig {
            path: path.to_path_buf(),
        });
    }
    Ok(Some(bytes))
}

fn parse(path: &Path, bytes: &[u8]) -> (ResultFields, Option<ResultProblem>) {
    let malformed = |why: String| {
        (
            Map::new(),
            Some(ResultProblem::Malformed {
                path: path.to_path_buf(),
                why,
            }),
        )
    };
    let object = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(o)) => o,
        Ok(other) => return malformed(format!("the top level is {}", kind(&other))),
        Err(e) => return malformed(e.to_string()),
    };
    let (fields, nested): (Map<String, Value>, Map<String, Value>) = object
        .into_iter()
        .partition(|(_, v)| !matches!(v, Value::Array(_) | Value::Object(_)));
    let problem = (!nested.is_empty()).then(|| ResultProblem::Nested {
        path: path.to_path_buf(),
        keys: nested
            .keys()
            .map(|k| format!("{k:?}"))
            .collect::<Vec<_>>()
            .join(", "),
    });
    (fields, problem)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A field as a `summary.csv` cell: numbers and booleans as JSON writes them,
/// strings as they are, null as an empty cell.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn with(text: &[u8]) -> (tempfile::TempDir, (ResultFields, Option<ResultProblem>)) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(RESULT_FILE), text).unwrap();
        let got = read(dir.path());
        (dir, got)
    }

    #[test]
    fn scalars_are_kept_nested_values_named() {
        let (_d, (fields, problem)) = with(
            br#"{"moffat_scale": 2.5, "dye": "DAPI", "ok": true, "n": null, "xs": [1], "o": {}}"#,
        );
        assert_eq!(fields.len(), 4);
        assert_eq!(cell(&fields["moffat_scale"]), "2.5");
        assert_eq!(cell(&fields["dye"]), "DAPI");
        assert_eq!(cell(&fields["n"]), "");
        let msg = problem.unwrap().to_string();
        assert!(
            msg.contains("result.json") && msg.contains("\"o\", \"xs\""),
            "{msg}"
        );
    }

    #[test]
    fn malformed_and_huge_files_are_problems_not_panics() {
        let (_d, (fields, problem)) = with(b"{\"a\": 1,");
        assert!(fields.is_empty());
        assert!(matches!(problem, Some(ResultProblem::Malformed { .. })));
        let (_d, (_, problem)) = with(b"[1, 2]");
        assert!(
            problem
                .unwrap()
                .to_string()
                .contains("the top level is an array")
        );
        let big = vec![b' '; MAX_RESULT_BYTES as usize + 1];
        let (_d, (fields, problem)) = with(&big);
        assert!(fields.is_empty());
        assert!(matches!(problem, Some(ResultProblem::TooBig { .. })));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()), (Map::new(), None));
    }
}
