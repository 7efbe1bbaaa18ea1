//! The Stage machinery on a toy three-stage pipeline that counts how often each stage runs.

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use isobatch_shared::{StageAction, StageControl};

use super::*;

/// A stage that appends its name and parameter to its input's content.
struct Toy {
    name: &'static str,
    param: String,
    input: PathBuf,
    output: PathBuf,
    runs: Rc<RefCell<Vec<&'static str>>>,
    fail: bool,
}

impl Stage for Toy {
    fn name(&self) -> &'static str {
        self.name
    }
    fn version(&self) -> u32 {
        1
    }
    fn params(&self) -> Vec<(String, String)> {
        vec![("p".into(), self.param.clone())]
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.input.clone()]
    }
    fn outputs(&self) -> Vec<PathBuf> {
        vec![self.output.clone()]
    }
    fn run(&mut self, progress: &mut dyn FnMut(f32, &str)) -> Result<(), StageError> {
        self.runs.borrow_mut().push(self.name);
        if self.fail {
            return Err(StageError::InvalidInput("bad input".into()));
        }
        progress(0.5, "half");
        let text =
            fs::read_to_string(&self.input).map_err(|e| StageError::Failed(e.to_string()))?;
        isobatch_shared::atomic::write(
            &self.output,
            format!("{text}{}={}\n", self.name, self.param).as_bytes(),
        )
        .map_err(|e| StageError::Failed(e.to_string()))
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    params: [&'static str; 3],
    fail: Option<&'static str>,
    runs: Rc<RefCell<Vec<&'static str>>>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("raw.txt"), "raw\n").unwrap();
        Fixture {
            dir,
            params: ["1", "1", "1"],
            fail: None,
            runs: Rc::default(),
        }
    }

    fn task(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the pipeline; returns (stage, action) per stage and which stages ran.
    fn run(&self, control: StageControl) -> (Vec<(String, StageAction)>, Vec<&'static str>) {
        self.runs.borrow_mut().clear();
        let names = ["a", "b", "c"];
        let mut stages: Vec<Box<dyn Stage>> = Vec::new();
        let mut input = self.task().join("raw.txt");
        for (i, name) in names.into_iter().enumerate() {
            let output = self.task().join(format!("{name}.txt"));
            stages.push(Box::new(Toy {
                name,
                param: self.params[i].into(),
                input: input.clone(),
                output: output.clone(),
                runs: self.runs.clone(),
                fail: self.fail == Some(name),
            }));
            input = output;
        }
        let mut log = Vec::new();
        let mut fractions = Vec::new();
        let mut progress = |_: &str, f: f32, _: &str| fractions.push(f);
        let mut out = Reporter {
            progress: &mut progress,
            log: &mut log,
        };
        let reports = match run_stages(self.task(), &mut stages, &control, &mut out) {
            Ok((reports, outputs)) => {
                assert!(outputs.iter().all(|p| p.exists()));
                reports
            }
            Err(failed) => failed.reports,
        };
        assert!(
            fractions.windows(2).all(|w| w[0] <= w[1]),
            "progress went backwards: {fractions:?}"
        );
        let runs = self.runs.borrow().clone();
        (
            reports.into_iter().map(|r| (r.name, r.action)).collect(),
            runs,
        )
    }
}

fn control() -> StageControl {
    StageControl::default()
}

#[test]
fn second_run_reuses_every_checkpoint() {
    let f = Fixture::new();
    assert_eq!(f.run(control()).1, ["a", "b", "c"]);
    let (reports, runs) = f.run(control());
    assert!(runs.is_empty(), "recomputed {runs:?}");
    assert!(reports.iter().all(|(_, a)| *a == StageAction::Reused));
    assert_eq!(
        fs::read_to_string(f.task().join("c.txt")).unwrap(),
        "raw\na=1\nb=1\nc=1\n"
    );
}

#[test]
fn a_changed_parameter_recomputes_that_stage_and_later_ones_only() {
    let mut f = Fixture::new();
    f.run(control());
    f.params[1] = "2";
    let (reports, runs) = f.run(control());
    assert_eq!(runs, ["b", "c"]);
    assert_eq!(reports[0].1, StageAction::Reused);
    assert_eq!(
        fs::read_to_string(f.task().join("c.txt")).unwrap(),
        "raw\na=1\nb=2\nc=1\n"
    );
    f.params[2] = "3";
    assert_eq!(f.run(control()).1, ["c"]);
}

#[test]
fn a_truncated_or_missing_checkpoint_is_recomputed_never_kept() {
    let f = Fixture::new();
    f.run(control());
    let b = f.task().join("b.txt");
    let len = fs::metadata(&b).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&b)
        .unwrap()
        .set_len(len - 2)
        .unwrap();
    assert_eq!(f.run(control()).1, ["b", "c"]);
    assert_eq!(fs::read_to_string(&b).unwrap(), "raw\na=1\nb=1\n");
    fs::remove_file(f.task().join("a.txt")).unwrap();
    assert_eq!(f.run(control()).1, ["a", "b", "c"]);
}

#[test]
fn a_changed_input_or_damaged_record_is_recomputed() {
    let f = Fixture::new();
    f.run(control());
    fs::write(f.task().join("raw.txt"), "new raw, longer\n").unwrap();
    assert_eq!(f.run(control()).1, ["a", "b", "c"]);
    fs::write(record::StageRecord::path(f.task(), "c"), "{not json").unwrap();
    assert_eq!(f.run(control()).1, ["c"]);
}

#[test]
fn from_to_and_force_select_what_runs() {
    let f = Fixture::new();
    let (reports, runs) = f.run(StageControl {
        to: Some("a".into()),
        ..control()
    });
    assert_eq!(runs, ["a"]);
    assert_eq!(reports[1].1, StageAction::NotRun);
    assert!(!f.task().join("b.txt").exists());
    let from_b = StageControl {
        from: Some("b".into()),
        ..control()
    };
    assert_eq!(f.run(from_b.clone()).1, ["b", "c"]);
    assert_eq!(
        f.run(from_b).1,
        ["b", "c"],
        "--from-stage recomputes even when up to date"
    );
    assert_eq!(
        f.run(StageControl {
            force: true,
            ..control()
        })
        .1,
        ["a", "b", "c"]
    );
    assert!(f.run(control()).1.is_empty());
}

#[test]
fn to_stage_after_a_recompute_removes_the_stale_later_checkpoints() {
    let mut f = Fixture::new();
    f.run(control());
    f.params[0] = "2";
    let (reports, runs) = f.run(StageControl {
        to: Some("a".into()),
        ..control()
    });
    assert_eq!(runs, ["a"]);
    assert_eq!(reports[2].1, StageAction::NotRun);
    for stale in ["b.txt", "c.txt", "b.stage.json", "c.stage.json"] {
        assert!(!f.task().join(stale).exists(), "{stale} left behind");
    }
    assert_eq!(f.run(control()).1, ["b", "c"]);
    assert!(
        f.run(StageControl {
            to: Some("a".into()),
            ..control()
        })
        .1
        .is_empty()
    );
    assert!(
        f.task().join("c.txt").exists(),
        "nothing recomputed, nothing removed"
    );
}

#[test]
fn a_failing_stage_stops_the_pipeline_and_leaves_no_record() {
    let mut f = Fixture::new();
    f.run(control());
    f.params[1] = "2";
    f.fail = Some("b");
    let (reports, runs) = f.run(control());
    assert_eq!(runs, ["b"]);
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1].1, StageAction::Failed);
    assert!(!record::StageRecord::path(f.task(), "b").exists());
    f.fail = None;
    assert_eq!(f.run(control()).1, ["b", "c"]);
}
