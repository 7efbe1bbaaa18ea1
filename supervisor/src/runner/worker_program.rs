//! Which program a worker process runs.
//!
//! In order: `$ISOBATCH_WORKER` when set; else the `isobatch-worker` binary beside this
//! executable when it was built from the same sources (its `--build-id` equals
//! [`isobatch_worker::BUILD_ID`]); else this executable's hidden `__worker` subcommand. The
//! sibling is a fraction of this binary's size, so each fresh subprocess-mode worker starts
//! faster; the build-id check means a stale one (`cargo build` builds only the supervisor) is
//! never used, so results never depend on which of the two ran.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use isobatch_worker::BUILD_ID;
use isobatch_worker::cli::BUILD_ID_FLAG;
use wait_timeout::ChildExt;

/// The name of the worker binary looked for beside the supervisor.
pub const SIBLING_NAME: &str = "isobatch-worker";

/// How long a sibling may take to print its build id before it is passed over.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// A program and the arguments that make it a worker (before `--connect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerProgram {
    /// The executable.
    pub program: PathBuf,
    /// Arguments before the worker's own (`__worker` when this binary is re-executed).
    pub prefix: Vec<String>,
    /// Why this program was chosen, for the run log.
    pub reason: String,
}

impl WorkerProgram {
    /// Chooses the worker program as the module documentation describes.
    pub fn locate() -> anyhow::Result<Self> {
        if let Some(program) = std::env::var_os("ISOBATCH_WORKER") {
            return Ok(Self {
                program: program.into(),
                prefix: Vec::new(),
                reason: "set by ISOBATCH_WORKER".into(),
            });
        }
        let exe = std::env::current_exe().context("cannot locate the isobatch executable")?;
        let sibling = exe.with_file_name(SIBLING_NAME);
        let reason = match probe(&sibling) {
            Ok(()) => {
                return Ok(Self {
                    program: sibling,
                    prefix: Vec::new(),
                    reason: format!("the same build, {BUILD_ID}"),
                });
            }
            Err(why) => format!("{} not used: {why}", sibling.display()),
        };
        Ok(Self {
            program: exe,
            prefix: vec!["__worker".into()],
            reason,
        })
    }
}

/// Ok when `path` runs and prints this build's id.
fn probe(path: &Path) -> Result<(), String> {
    if !path.is_file() {
        return Err("not found".into());
    }
    let mut child = Command::new(path)
        .arg(BUILD_ID_FLAG)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run it: {e}"))?;
    let status = match child.wait_timeout(PROBE_TIMEOUT) {
        Ok(Some(status)) => status,
        Ok(None) | Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "no answer to {BUILD_ID_FLAG} within {PROBE_TIMEOUT:?}"
            ));
        }
    };
    let mut out = String::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = stdout.take(256).read_to_string(&mut out);
    }
    match out.trim() {
        id if status.success() && id == BUILD_ID => Ok(()),
        id if status.success() => Err(format!("built from other sources ({id})")),
        _ => Err(format!("{BUILD_ID_FLAG} failed ({status})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, body: &str) -> PathBuf {
        let path = dir.join(SIBLING_NAME);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn only_a_sibling_printing_this_build_id_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(probe(&dir.path().join("absent")), Err("not found".into()));
        let same = script(dir.path(), &format!("echo {BUILD_ID}"));
        assert_eq!(probe(&same), Ok(()));
        let other = script(dir.path(), "echo 0123456789abcdef");
        assert!(probe(&other).unwrap_err().contains("other sources"));
        let failing = script(dir.path(), &format!("echo {BUILD_ID}; exit 3"));
        assert!(probe(&failing).unwrap_err().contains("failed"));
    }
}
