//! The run's cgroup, where the machine offers one this process may use.
//!
//! A cgroup (v2) is the one container a process cannot leave by `setsid`,
//! double forks or re-parenting, and its `cgroup.kill` ends everything in it
//! at once. So when this process may create a child of its own cgroup, it
//! moves itself into a new `isobatch-PID` there, and every worker and task it
//! starts is born inside (moving each worker in would cost milliseconds per
//! worker: a migration waits for an RCU grace period). A worker that outlives
//! its supervisor kills the cgroup; at the end of the run the supervisor moves
//! itself back out, then kills and removes it; a later run sweeps one left by
//! a killed run. Nothing depends on it: without a cgroup (v1-only machines,
//! no delegation, read-only `/sys/fs/cgroup`), process trees are found through
//! `/proc` as before. Where systemd runs the machine, a cgroup is only used
//! when systemd delegated it (its rules: nobody else creates cgroups in a
//! subtree it manages). `ISOBATCH_NO_CGROUP=1` turns it off (to compare,
//! or where cgroups misbehave); the tests run both ways.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long removal waits for killed processes to leave the cgroup.
const EMPTY_WAIT: Duration = Duration::from_secs(2);

/// A cgroup made for this run, holding this process; killed and removed by
/// [`RunCgroup::remove`], or only left (and removed if empty) when dropped on
/// an early error.
#[derive(Debug)]
pub struct RunCgroup {
    path: PathBuf,
    /// The cgroup this process came from, and goes back to.
    home: PathBuf,
}

/// Moves this process (all its threads) into the cgroup at `dir`.
fn move_self(dir: &Path) -> io::Result<()> {
    fs::write(dir.join("cgroup.procs"), "0")
}

/// This process's cgroup v2 folder: its `0::/PATH` line in `/proc/self/cgroup`
/// under the cgroup2 mount point from `/proc/self/mountinfo`.
fn own_cgroup() -> Result<PathBuf, String> {
    let membership = fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
    let rel = membership
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("no cgroup v2 membership")?;
    let mounts = fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    let mount = mounts
        .lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            (right.split_whitespace().next()? == "cgroup2")
                .then(|| left.split_whitespace().nth(4).map(PathBuf::from))
                .flatten()
        })
        .ok_or("no cgroup2 file system mounted")?;
    Ok(mount.join(rel.trim().trim_start_matches('/')))
}

/// True when extended attribute `name` of `path` is `1`.
fn xattr_is_one(path: &Path, name: &str) -> bool {
    let (Ok(p), Ok(n)) = (
        std::ffi::CString::new(path.as_os_str().as_encoded_bytes()),
        std::ffi::CString::new(name),
    ) else {
        return false;
    };
    let mut buf = [0u8; 8];
    // SAFETY: NUL-terminated strings and a buffer of the length passed.
    let len =
        unsafe { nix::libc::getxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    len == 1 && buf[0] == b'1'
}

/// Whether this process may make cgroups below `own`: on a machine systemd
/// runs only where it delegated the subtree; elsewhere wherever the kernel allows.
fn may_use(own: &Path) -> Result<(), String> {
    if !Path::new("/run/systemd/system").exists()
        || ["trusted.delegate", "user.delegate"]
            .iter()
            .any(|a| xattr_is_one(own, a))
    {
        Ok(())
    } else {
        Err(format!(
            "systemd manages {} and did not delegate it",
            own.display()
        ))
    }
}

/// Removes `isobatch-PID` cgroups beside this run's whose process is gone:
/// a run killed with SIGKILL leaves its cgroup behind, emptied by its workers.
/// Only empty cgroups can be removed, so one still in use is never harmed.
fn remove_stale(parent: &Path) {
    for entry in fs::read_dir(parent).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("isobatch-")) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir(entry.path());
        }
    }
}

impl RunCgroup {
    /// Makes `isobatch-PID` in this process's own cgroup (removing stale ones
    /// of dead runs beside it) and moves this process into it; the error says why not.
    pub fn create() -> Result<RunCgroup, String> {
        if std::env::var_os("ISOBATCH_NO_CGROUP").is_some_and(|v| v == "1") {
            return Err("ISOBATCH_NO_CGROUP=1".into());
        }
        let home = own_cgroup()?;
        may_use(&home)?;
        remove_stale(&home);
        let path = home.join(format!("isobatch-{}", std::process::id()));
        fs::create_dir(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let fail = |why: String| {
            let _ = fs::remove_dir(&path);
            Err(why)
        };
        if !path.join("cgroup.kill").exists() {
            return fail("the kernel has no cgroup.kill (Linux 5.14 or later)".into());
        }
        if let Err(e) = move_self(&path) {
            return fail(format!("cannot move into {}: {e}", path.display()));
        }
        Ok(RunCgroup { path, home })
    }

    /// The cgroup's folder, which workers join.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves this process back where it came from, then kills whatever is
    /// still in the cgroup and removes it; says why when it cannot (a process
    /// in uninterruptible sleep cannot die yet; a later run sweeps it).
    pub fn remove(self) -> Result<(), String> {
        move_self(&self.home).map_err(|e| {
            format!(
                "cannot leave {} ({e}); it stays until a later run removes it",
                self.path.display()
            )
        })?;
        kill_and_remove(&self.path)
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        // After `remove` it is gone already; on an early error nothing else is in it.
        if move_self(&self.home).is_ok() {
            let _ = fs::remove_dir(&self.path);
        }
    }
}

/// SIGKILLs every process in the cgroup at `path`, waits (briefly) for them to
/// leave, and removes it. A cgroup that is already gone is fine.
pub fn kill_and_remove(path: &Path) -> Result<(), String> {
    match fs::write(path.join("cgroup.kill"), "1") {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot kill cgroup {}: {e}", path.display())),
    }
    let end = Instant::now() + EMPTY_WAIT;
    loop {
        match fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if Instant::now() >= end => {
                return Err(format!(
                    "cannot remove cgroup {} ({e}): a process in it does not die \
                     (uninterruptible sleep?)",
                    path.display()
                ));
            }
            // Killed processes leave the cgroup as they finish exiting: moments, unless stuck.
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_kill_ends_a_setsid_escapee() {
        // A cgroup of the test's own: moving the test process itself would take
        // every other test's children along.
        let Ok(home) = own_cgroup() else {
            eprintln!("skipped: no cgroup v2 here");
            return;
        };
        let path = home.join(format!("isobatch-unit-{}", std::process::id()));
        if fs::create_dir(&path).is_err() || !path.join("cgroup.kill").exists() {
            let _ = fs::remove_dir(&path);
            eprintln!("skipped: no usable cgroup v2 here");
            return;
        }
        let procs = path.join("cgroup.procs");
        let mut cmd = std::process::Command::new("setsid");
        cmd.args(["sleep", "60"]);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            let procs = std::ffi::CString::new(procs.to_string_lossy().as_bytes()).unwrap();
            cmd.pre_exec(move || {
                let fd = nix::libc::open(procs.as_ptr(), nix::libc::O_WRONLY);
                if fd < 0 || nix::libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(io::Error::last_os_error());
                }
                nix::libc::close(fd);
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap();
        assert!(
            fs::read_to_string(&procs)
                .unwrap()
                .contains(&child.id().to_string())
        );
        kill_and_remove(&path).unwrap();
        assert!(!path.exists());
        let status = child.wait().unwrap();
        assert!(!status.success());
    }
}
