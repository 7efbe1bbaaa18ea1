//! Every error kind maps to its verdict, with its message unchanged.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;

use isobatch_shared::{Outcome, Pipeline};

use super::TaskError;
use crate::exec::{ExecError, LastOutput};
use crate::fov::error::{FovError, LayoutError, ParamError};
use crate::image::ImageError;
use crate::selftest::SelftestError;
use crate::stage::StageError;

fn input() -> PathBuf {
    PathBuf::from("raw/f.tif")
}

fn os_error() -> io::Error {
    io::Error::from_raw_os_error(nix::libc::EACCES)
}

fn invalid_image() -> ImageError {
    ImageError::invalid(
        &input(),
        "not a TIFF file (3 bytes, starting with [00 01 02])",
    )
}

fn invalid(m: &str) -> Outcome {
    Outcome::InvalidInput(m.into())
}

fn error(m: &str) -> Outcome {
    Outcome::Error(m.into())
}

/// Asserts that every error becomes exactly the expected outcome.
fn check(cases: Vec<(TaskError, Outcome)>) {
    for (err, want) in cases {
        assert_eq!(err.outcome(), want, "{err:?}");
    }
}

#[test]
fn fov_refusals_are_invalid_input_except_parameters() {
    let not_tiff = "raw/f.tif: not a TIFF file (3 bytes, starting with [00 01 02])";
    check(vec![
        (
            FovError::Param(ParamError::Unknown {
                key: "bogus".into(),
                known: "channels, pc".into(),
            })
            .into(),
            error("--param bogus: the fov pipeline has no such parameter (known: channels, pc)"),
        ),
        (FovError::Input(invalid_image()).into(), invalid(not_tiff)),
        // An input that cannot even be opened cannot be read as what the pipeline needs.
        (
            FovError::Input(ImageError::io(&input(), os_error())).into(),
            invalid("raw/f.tif: Permission denied (os error 13)"),
        ),
        (
            FovError::Layout {
                source: LayoutError::FluorescenceIsPhase { pc: 0 },
                position: None,
            }
            .into(),
            invalid("--param fl lists channel 0, which is the phase-contrast channel"),
        ),
        (
            FovError::InputCount(vec!["a.tif".into(), "b.tif".into()]).into(),
            invalid("the fov pipeline takes one image file per task, got 2: a.tif, b.tif"),
        ),
    ]);
}

#[test]
fn stage_errors_blame_the_input_only_when_it_is_invalid() {
    let usage = ImageError::Usage {
        path: input(),
        reason: "page 9 does not exist (2 pages)".into(),
    };
    check(vec![
        (
            StageError::InvalidInput("bad input".into()).into(),
            invalid("bad input"),
        ),
        (
            StageError::Image(invalid_image()).into(),
            invalid("raw/f.tif: not a TIFF file (3 bytes, starting with [00 01 02])"),
        ),
        (
            StageError::Image(ImageError::io(&input(), os_error())).into(),
            error("raw/f.tif: Permission denied (os error 13)"),
        ),
        (
            StageError::Image(usage).into(),
            error("raw/f.tif: page 9 does not exist (2 pages)"),
        ),
        // A damaged checkpoint is the task's failure even though the image is invalid.
        (
            StageError::Checkpoint(invalid_image()).into(),
            error(
                "cannot read a checkpoint: raw/f.tif: not a TIFF file (3 bytes, starting with [00 01 02])",
            ),
        ),
        (
            StageError::io("cannot write traces", os_error()).into(),
            error("cannot write traces: Permission denied (os error 13)"),
        ),
        (
            StageError::InputChanged { stage: "segment" }.into(),
            error("an input of stage segment changed while it ran; its result was not recorded"),
        ),
        (
            StageError::Failed("label 7 does not fit the label type".into()).into(),
            error("label 7 does not fit the label type"),
        ),
    ]);
}

#[test]
fn selftest_input_problems_are_invalid_input_and_actions_errors() {
    let refused = Vec::<u8>::new()
        .try_reserve_exact(usize::MAX)
        .expect_err("usize::MAX bytes cannot be reserved");
    let alloc_message = format!("cannot allocate 5 bytes: {refused}");
    check(vec![
        (
            SelftestError::NoInput.into(),
            invalid("the selftest pipeline needs at least one input file"),
        ),
        (
            SelftestError::Read {
                path: "in/a.txt".into(),
                source: os_error(),
            }
            .into(),
            invalid("cannot read selftest file in/a.txt: Permission denied (os error 13)"),
        ),
        (
            SelftestError::Directive {
                path: "in/a.txt".into(),
                line: 2,
                problem: "expected key=value, found \"sleep\"".into(),
            }
            .into(),
            invalid("in/a.txt:2: expected key=value, found \"sleep\""),
        ),
        (
            SelftestError::IgnoreTerm(nix::Error::EINVAL).into(),
            error("cannot ignore SIGTERM: EINVAL: Invalid argument"),
        ),
        (
            SelftestError::Sleep(os_error()).into(),
            error("cannot start sleep: Permission denied (os error 13)"),
        ),
        (
            SelftestError::TooLarge { bytes: u64::MAX }.into(),
            error("cannot allocate 18446744073709551615 bytes"),
        ),
        (
            SelftestError::Alloc {
                bytes: 5,
                source: refused,
            }
            .into(),
            error(&alloc_message),
        ),
        (
            SelftestError::Asked("disk on fire".into()).into(),
            error("disk on fire"),
        ),
    ]);
}

#[test]
fn exec_signals_are_crashes_and_other_failures_errors() {
    let last = LastOutput(vec!["why".into(), "because".into()]);
    // A wait status that is neither an exit nor a death by signal: stopped by SIGSTOP.
    let stopped = ExitStatus::from_raw(0x137f);
    check(vec![
        (
            ExecError::Killed {
                signal: "SIGSEGV".into(),
                core_dumped: true,
                last: last.clone(),
            }
            .into(),
            Outcome::Crashed(
                "command killed by SIGSEGV (core dumped)\nlast output:\nwhy\nbecause".into(),
            ),
        ),
        (
            ExecError::Killed {
                signal: "SIGTERM".into(),
                core_dumped: false,
                last: LastOutput::default(),
            }
            .into(),
            Outcome::Crashed("command killed by SIGTERM".into()),
        ),
        (
            ExecError::NoCommand.into(),
            error("the exec pipeline needs a command, but the task's argv is empty"),
        ),
        (
            ExecError::ShareLog {
                program: "python3".into(),
                source: os_error(),
            }
            .into(),
            error("cannot share the attempt log with \"python3\": Permission denied (os error 13)"),
        ),
        (
            ExecError::Run {
                program: "python3".into(),
                source: os_error(),
            }
            .into(),
            error("cannot run \"python3\": Permission denied (os error 13)"),
        ),
        (
            ExecError::Exited { code: 4, last }.into(),
            error("because\ncommand exited with status 4\nlast output:\nwhy\nbecause"),
        ),
        (
            ExecError::Ended {
                status: stopped,
                last: LastOutput::default(),
            }
            .into(),
            error(&format!("command ended with {stopped}")),
        ),
    ]);
}

#[test]
fn the_task_s_own_files_and_unavailable_pipelines_are_errors() {
    check(vec![
        (
            TaskError::AttemptLog(io::Error::other(
                "cannot open attempt log out/.isobatch/logs/t/attempt-1.log: Permission denied",
            )),
            error("cannot open attempt log out/.isobatch/logs/t/attempt-1.log: Permission denied"),
        ),
        (
            TaskError::io("create", &PathBuf::from("out/t"), os_error()),
            error("cannot create out/t: Permission denied (os error 13)"),
        ),
        (
            TaskError::NotAvailable(Pipeline::Pair),
            error("the pair pipeline is not available yet"),
        ),
    ]);
}
