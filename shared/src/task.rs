//! The description of one task attempt, as the supervisor hands it to a worker.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::stages::StageControl;

/// Which pipeline a worker runs for a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Pipeline {
    /// Time-lapse field-of-view analysis (copy → segment → background → track → extract).
    Fov,
    /// Pre/post-stain pairs (a later issue).
    Pair,
    /// Scripted behaviour for testing the supervisor itself (DESIGN.md, "selftest").
    Selftest,
    /// Any external command, started directly from an argv template.
    Exec,
}

impl Pipeline {
    /// The name used on the command line and in `results.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Pipeline::Fov => "fov",
            Pipeline::Pair => "pair",
            Pipeline::Selftest => "selftest",
            Pipeline::Exec => "exec",
        }
    }
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One attempt of one task: everything a worker needs, nothing it must look up.
///
/// Paths are absolute so that a worker's working directory never matters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Stable task id (pattern field values joined by `_`).
    pub task: String,
    /// 1-based attempt number within this run.
    pub attempt: u32,
    /// The pipeline to run.
    pub pipeline: Pipeline,
    /// The input files matched for this task, in discovery order.
    pub inputs: Vec<PathBuf>,
    /// Captured pattern fields, in pattern order.
    pub fields: Vec<(String, String)>,
    /// The position (field of view) inside a multi-position input file; `None` for a
    /// file with one position.
    #[serde(default)]
    pub position: Option<usize>,
    /// Where this attempt writes its outputs and checkpoints: a fresh staging
    /// folder that replaces `OUTPUT/TASK` only when the attempt is `done`, or
    /// `OUTPUT/TASK` itself with `--reuse-task-dir`.
    pub task_dir: PathBuf,
    /// `OUTPUT/.isobatch/logs/TASK/attempt-N.log`: the attempt's stdout and stderr.
    pub log_path: PathBuf,
    /// `--param KEY=VALUE` pairs.
    pub params: BTreeMap<String, String>,
    /// For [`Pipeline::Exec`]: the program and its arguments, placeholders already substituted.
    pub argv: Vec<String>,
    /// For multi-stage pipelines: which stages to run and how to checkpoint them.
    pub stages: StageControl,
    /// Files besides `inputs` whose identity decides the result (the exec
    /// program, `--rerun-on` files): recorded with the inputs' identities.
    pub tracked: Vec<PathBuf>,
    /// `--checksum`: record a content hash of every input and tracked file.
    pub checksum: bool,
    /// The task's last published folder, whose valid stage checkpoints a
    /// built-in pipeline may hard-link into `task_dir` and reuse.
    pub reuse_from: Option<PathBuf>,
}

impl TaskSpec {
    /// Environment variables every attempt gets: `ISOBATCH_TASK`,
    /// `ISOBATCH_TASK_DIR`, `ISOBATCH_ATTEMPT`, and `ISOBATCH_PARAM_KEY` for each
    /// `--param KEY=VALUE` (see [`param_env_name`]).
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("ISOBATCH_TASK".to_string(), self.task.clone()),
            (
                "ISOBATCH_TASK_DIR".to_string(),
                self.task_dir.to_string_lossy().into_owned(),
            ),
            ("ISOBATCH_ATTEMPT".to_string(), self.attempt.to_string()),
        ];
        env.extend(
            self.params
                .iter()
                .map(|(k, v)| (param_env_name(k), v.clone())),
        );
        env
    }
}

/// The environment variable carrying `--param KEY=VALUE`: `ISOBATCH_PARAM_`
/// followed by KEY in upper case (`pad` → `ISOBATCH_PARAM_PAD`).
pub fn param_env_name(key: &str) -> String {
    format!("ISOBATCH_PARAM_{}", key.to_ascii_uppercase())
}
