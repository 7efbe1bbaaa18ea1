//! Helpers for the tests that run on a real Slurm cluster (scripts/slurm-up).

use std::process::Command;

use super::Batch;

/// Panics unless a Slurm cluster answers (they are run on purpose, so absence is a failure).
pub fn require_slurm() {
    let up = Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    assert!(
        up,
        "no Slurm cluster answers `sinfo`: start one with scripts/slurm-up (the Slurm tests \
         fail rather than skip without it)"
    );
}

/// Runs a Slurm command (or any other) that must succeed; its standard output.
pub fn slurm(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The job ids the journal recorded, in order.
pub fn arrays(b: &Batch) -> Vec<String> {
    b.journal()
        .iter()
        .filter(|e| e["event"] == "slurm_array")
        .map(|e| e["job_id"].as_str().expect("job_id").to_string())
        .collect()
}
