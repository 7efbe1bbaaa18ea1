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
    /// `OUTPUT/TASK`: where the task writes its outputs and checkpoints.
    pub task_dir: PathBuf,
    /// `OUTPUT/.isobatch/logs/TASK/attempt-N.log`: the attempt's stdout and stderr.
    pub log_path: PathBuf,
    /// `--param KEY=VALUE` pairs.
    pub params: BTreeMap<String, String>,
    /// For [`Pipeline::Exec`]: the program and its arguments, placeholders already substituted.
    pub argv: Vec<String>,
    /// For multi-stage pipelines: which stages to run and how to checkpoint them.
    pub stages: StageControl,
}

impl TaskSpec {
    /// Environment variables every attempt gets (`ISOBATCH_TASK`, `ISOBATCH_TASK_DIR`, `ISOBATCH_ATTEMPT`).
    pub fn env(&self) -> [(&'static str, String); 3] {
        [
            ("ISOBATCH_TASK", self.task.clone()),
            (
                "ISOBATCH_TASK_DIR",
                self.task_dir.to_string_lossy().into_owned(),
            ),
            ("ISOBATCH_ATTEMPT", self.attempt.to_string()),
        ]
    }
}
