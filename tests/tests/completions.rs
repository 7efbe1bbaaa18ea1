//! `isobatch completions SHELL` and `isobatch man`: generated from the real
//! command line, so they know every subcommand and flag; the bash script is
//! checked by bash itself and completes a flag.
mod common;
use common::*;

use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn stdout_of(args: &[&str]) -> String {
    let mut cmd = isobatch();
    cmd.args(args);
    let out = run_within(cmd, LIMIT);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn bash_completion_completes_subcommands_and_new_flags() {
    let script = stdout_of(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("isobatch.bash");
    std::fs::write(&path, &script).unwrap();
    // Source it and ask for completions of `isobatch run --max-f`, as bash would.
    let probe = format!(
        "source {}; COMP_WORDS=(isobatch run --max-f); COMP_CWORD=2; _isobatch isobatch --max-f run; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"; COMP_WORDS=(isobatch lo); COMP_CWORD=1; \
         _isobatch isobatch lo isobatch; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.lines().any(|l| l == "--max-fail"), "{text}");
    assert!(text.lines().any(|l| l == "logs"), "{text}");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        assert!(
            stdout_of(&["completions", shell]).contains("only-failed"),
            "{shell}"
        );
    }
}

#[test]
fn man_pages_cover_every_subcommand() {
    let page = stdout_of(&["man"]);
    assert!(
        page.starts_with(".ie") && page.contains(".TH isobatch 1"),
        "{page}"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = isobatch();
    cmd.args(["man", "--out"]).arg(dir.path());
    assert_eq!(run_within(cmd, LIMIT).status.code(), Some(0));
    for sub in ["run", "status", "logs", "demo", "completions"] {
        let p = dir.path().join(format!("isobatch-{sub}.1"));
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(text.contains(&format!(".TH isobatch-{sub} 1")), "{text}");
    }
    let run = std::fs::read_to_string(dir.path().join("isobatch-run.1")).unwrap();
    assert!(
        run.contains("max\\-fail") && run.contains("skip\\-failed"),
        "{run}"
    );
}
