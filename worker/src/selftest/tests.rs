//! Unit tests for the selftest pipeline: parsing good and bad files, and outputs.

use super::*;
use isobatch_shared::{Outcome, Pipeline};

fn parse(text: &str) -> Result<Directives, (usize, String)> {
    let mut d = Directives::default();
    parse_text(&mut d, text).map(|()| d)
}

fn spec(dir: &Path, inputs: Vec<PathBuf>) -> TaskSpec {
    TaskSpec {
        position: None,
        task: "s1".into(),
        attempt: 1,
        pipeline: Pipeline::Selftest,
        inputs,
        fields: vec![],
        task_dir: dir.join("out/s1"),
        log_path: dir.join("out/.isobatch/logs/s1/attempt-1.log"),
        params: Default::default(),
        argv: vec![],
        stages: Default::default(),
        tracked: Vec::new(),
        checksum: false,
        reuse_from: None,
    }
}

#[test]
fn parses_every_key() {
    let d = parse(
        "# comment\n\n sleep = 0.5 \nalloc=1M\nleak=4096\nfail=it broke = badly\n\
         panic=0\nabort=0\nignore_term=1\nchild=2\nescape=1.5\nexit=3\noutput=1k\n",
    )
    .unwrap();
    assert_eq!(
        d,
        Directives {
            sleep: Some(Duration::from_millis(500)),
            alloc: Some(1 << 20),
            leak: Some(4096),
            fail: Some("it broke = badly".into()),
            panic: false,
            abort: false,
            ignore_term: true,
            child: Some(Duration::from_secs(2)),
            escape: Some(Duration::from_millis(1500)),
            exit: Some(3),
            output: Some(1024),
        }
    );
    assert_eq!(parse("").unwrap(), Directives::default());
    assert_eq!(
        parse("sleep=1\nsleep=2").unwrap().sleep,
        Some(Duration::from_secs(2))
    );
}

#[test]
fn rejects_bad_lines_with_line_numbers() {
    let cases = [
        ("# ok\nfrobnicate=1", 2, "unknown key \"frobnicate\""),
        ("sleep", 1, "expected key=value"),
        ("\n\nsleep=soon", 3, "invalid value \"soon\" for sleep"),
        ("alloc=12X", 1, "for alloc"),
        ("panic=yes", 1, "1 or 0"),
        ("exit=256", 1, "exit code"),
        ("exit=-1", 1, "exit code"),
        ("fail=", 1, "a message"),
        ("output=", 1, "for output"),
    ];
    for (text, line, needle) in cases {
        let (got_line, msg) = parse(text).unwrap_err();
        assert_eq!(got_line, line, "{text:?}: {msg}");
        assert!(msg.contains(needle), "{text:?}: {msg}");
    }
}

#[test]
fn bad_or_unreadable_files_are_invalid_input_before_any_action() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.txt");
    fs::write(&good, "output=10\n").unwrap();
    let bad = dir.path().join("bad.txt");
    fs::write(&bad, "sleep=1\nnope=2\n").unwrap();
    let s = spec(dir.path(), vec![good.clone(), bad]);
    match run(&s, &mut |_, _, _| {}).outcome {
        Outcome::InvalidInput(m) => assert!(m.contains("bad.txt:2:") && m.contains("nope"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(
        !s.task_dir.join("output.bin").exists(),
        "acted before parsing everything"
    );

    let missing = spec(dir.path(), vec![dir.path().join("absent.txt")]);
    match run(&missing, &mut |_, _, _| {}).outcome {
        Outcome::InvalidInput(m) => assert!(m.contains("absent.txt"), "{m}"),
        other => panic!("{other:?}"),
    }
    let binary = dir.path().join("img.tif");
    fs::write(&binary, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    let s = spec(dir.path(), vec![binary]);
    assert!(matches!(
        run(&s, &mut |_, _, _| {}).outcome,
        Outcome::InvalidInput(_)
    ));
    assert!(matches!(
        run(&spec(dir.path(), vec![]), &mut |_, _, _| {}).outcome,
        Outcome::InvalidInput(_)
    ));
}

#[test]
fn output_is_deterministic_and_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    fs::write(&input, "output=100000\nalloc=64K\nleak=1K\nsleep=0.01\n").unwrap();
    let s = spec(dir.path(), vec![input]);
    let mut stages = Vec::new();
    let result = run(&s, &mut |stage, fraction, _| {
        stages.push((stage.to_string(), fraction))
    });
    assert_eq!(result.outcome, Outcome::Done);
    let path = s.task_dir.join("output.bin");
    assert_eq!(result.outputs, vec![path.clone()]);
    let bytes = fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 100_000);
    let mut expected = Vec::new();
    write_output_content("s1", 100_000, &mut expected).unwrap();
    assert_eq!(bytes, expected);
    let mut other = Vec::new();
    write_output_content("s2", 100_000, &mut other).unwrap();
    assert_ne!(bytes, other);
    assert_eq!(
        fs::read_dir(&s.task_dir).unwrap().count(),
        1,
        "temp file left"
    );
    assert!(stages.iter().all(|(stage, _)| stage == "selftest"));
    assert_eq!(stages.last().map(|s| s.1), Some(1.0));
    let log = fs::read_to_string(&s.log_path).unwrap();
    assert!(log.contains("writing 100000 bytes"), "{log}");
}

#[test]
fn fail_is_an_error_with_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    fs::write(&input, "fail=disk on fire\n").unwrap();
    let result = run(&spec(dir.path(), vec![input]), &mut |_, _, _| {});
    assert_eq!(result.outcome, Outcome::Error("disk on fire".into()));
}

#[test]
fn child_stays_in_the_group_and_escape_leaves_it() {
    use isobatch_shared::procfs::stat_of;
    use nix::sys::signal::{Signal, kill};
    use nix::sys::wait::waitpid;
    use nix::unistd::{Pid, getpgrp};

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("attempt-1.log");
    let child = spawn_sleep(Duration::from_secs(30), false, &log).unwrap();
    let escaped = spawn_sleep(Duration::from_secs(30), true, &log).unwrap();
    let child_stat = stat_of(child).unwrap();
    let escaped_stat = stat_of(escaped).unwrap();
    for pid in [child, escaped] {
        let pid = Pid::from_raw(pid as i32);
        kill(pid, Signal::SIGKILL).unwrap();
        waitpid(pid, None).unwrap();
    }
    assert_eq!(child_stat.pgid as i32, getpgrp().as_raw());
    assert_eq!(
        escaped_stat.pgid, escaped,
        "setsid makes it its own group leader"
    );
}
