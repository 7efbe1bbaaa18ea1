//! Killing every descendant of this process from inside a signal handler.
//!
//! When the supervisor dies and the run has no cgroup, the worker's
//! parent-death handler must find and kill everything its tasks started,
//! `setsid` escapees included. A handler may only make async-signal-safe
//! calls: no allocation, no locks, no std I/O. So this walks `/proc` with raw
//! `open`/`read`/`getdents64` into fixed buffers on the stack, and SIGKILLs
//! every process it finds below this one. (A helper thread could do it with
//! ordinary code, but a second thread in every worker costs the kernel
//! milliseconds when the worker is reaped, measured on Linux 6.18: it would
//! halve subprocess mode's throughput.)
//!
//! The worker is a child subreaper, so whatever loses its parent while this
//! runs is re-parented to the worker and found by the next round; rounds
//! repeat, a millisecond apart, until the worker has no child left.

use nix::libc;

/// Most processes killed per round (the rest wait for the next round).
const MAX_PIDS: usize = 2048;
/// Rounds before giving up (about this many milliseconds at most).
const ROUNDS: usize = 200;

/// A path like `/proc/123/task/456/children`, NUL-terminated, built without allocating.
struct PathBuf {
    bytes: [u8; 96],
    len: usize,
}

impl PathBuf {
    fn new() -> Self {
        PathBuf {
            bytes: [0; 96],
            len: 0,
        }
    }

    fn push(&mut self, s: &[u8]) -> &mut Self {
        for &b in s {
            if self.len + 1 < self.bytes.len() {
                self.bytes[self.len] = b;
                self.len += 1;
            }
        }
        self
    }

    fn push_num(&mut self, mut n: u32) -> &mut Self {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..])
    }

    fn c_str(&mut self) -> *const libc::c_char {
        self.bytes[self.len] = 0;
        self.bytes.as_ptr().cast()
    }
}

/// Calls `each` with every number in `text` (whitespace-separated digits).
fn numbers(text: &[u8], mut each: impl FnMut(u32)) {
    let mut n: Option<u32> = None;
    for &b in text.iter().chain(std::iter::once(&b' ')) {
        if b.is_ascii_digit() {
            n = Some(
                n.unwrap_or(0)
                    .wrapping_mul(10)
                    .wrapping_add(u32::from(b - b'0')),
            );
        } else if let Some(v) = n.take() {
            each(v);
        }
    }
}

/// Reads the file at `path` into `buf`; the bytes read (none on any error).
fn read_file<'b>(path: &mut PathBuf, buf: &'b mut [u8]) -> &'b [u8] {
    // SAFETY: open/read/close are async-signal-safe; the path is NUL-terminated
    // and `buf` is writable for its length.
    unsafe {
        let fd = libc::open(path.c_str(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return &[];
        }
        let mut len = 0;
        while len < buf.len() {
            let n = libc::read(fd, buf[len..].as_mut_ptr().cast(), buf.len() - len);
            if n <= 0 {
                break;
            }
            len += n as usize;
        }
        libc::close(fd);
        &buf[..len]
    }
}

/// Calls `each` with the id of every thread of `pid` (from `/proc/PID/task`).
fn threads(pid: u32, mut each: impl FnMut(u32)) {
    let mut path = PathBuf::new();
    path.push(b"/proc/").push_num(pid).push(b"/task");
    let mut buf = [0u8; 2048];
    // SAFETY: open/getdents64/close are async-signal-safe; `buf` is writable for its length.
    unsafe {
        let fd = libc::open(
            path.c_str(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return;
        }
        loop {
            let n = libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len());
            if n <= 0 {
                break;
            }
            // linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name.
            let mut at = 0usize;
            while at + 19 < n as usize {
                let reclen = usize::from(u16::from_ne_bytes([buf[at + 16], buf[at + 17]]));
                if reclen == 0 {
                    break;
                }
                let name = &buf[at + 19..(at + reclen).min(n as usize)];
                let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
                if !name.is_empty() && name.iter().all(u8::is_ascii_digit) {
                    numbers(name, &mut each);
                }
                at += reclen;
            }
        }
        libc::close(fd);
    }
}

/// Calls `each` with every child of `pid` (all its threads' `children` files).
fn children(pid: u32, mut each: impl FnMut(u32)) {
    threads(pid, |tid| {
        let mut path = PathBuf::new();
        path.push(b"/proc/")
            .push_num(pid)
            .push(b"/task/")
            .push_num(tid)
            .push(b"/children");
        let mut buf = [0u8; 4096];
        numbers(read_file(&mut path, &mut buf), &mut each);
    });
}

/// SIGKILLs every descendant of this process found now; returns how many.
fn kill_round(me: u32) -> usize {
    let mut stack = [0u32; MAX_PIDS];
    let (mut top, mut killed) = (1usize, 0usize);
    stack[0] = me;
    while top > 0 {
        top -= 1;
        let pid = stack[top];
        children(pid, |child| {
            // SAFETY: kill(2) is async-signal-safe.
            unsafe {
                libc::kill(child as libc::pid_t, libc::SIGKILL);
            }
            killed += 1;
            if top < MAX_PIDS {
                stack[top] = child;
                top += 1;
            }
        });
    }
    killed
}

/// Kills every descendant of this process, round after round until it has no
/// child left (or [`ROUNDS`] have passed). Async-signal-safe.
pub fn kill_descendants() {
    // SAFETY: getpid, waitpid and nanosleep are async-signal-safe.
    unsafe {
        let me = libc::getpid() as u32;
        for _ in 0..ROUNDS {
            kill_round(me);
            while libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) > 0 {}
            let mut any = false;
            children(me, |_| any = true);
            if !any {
                return;
            }
            let pause = libc::timespec {
                tv_sec: 0,
                tv_nsec: 1_000_000,
            };
            libc::nanosleep(&pause, std::ptr::null_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_numbers_without_allocating() {
        let mut p = PathBuf::new();
        p.push(b"/proc/")
            .push_num(0)
            .push(b"/task/")
            .push_num(4_294_967_295);
        assert_eq!(&p.bytes[..p.len], b"/proc/0/task/4294967295");
        let mut seen = Vec::new();
        numbers(b"12 7\n345", |n| seen.push(n));
        assert_eq!(seen, vec![12, 7, 345]);
    }

    #[test]
    fn finds_this_process_s_threads_and_children() {
        let me = std::process::id();
        let mut tids = Vec::new();
        threads(me, |t| tids.push(t));
        assert!(tids.contains(&me), "{tids:?}");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut kids = Vec::new();
        children(me, |c| kids.push(c));
        assert!(kids.contains(&child.id()), "{kids:?}");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
