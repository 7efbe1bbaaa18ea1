//! A FUSE file system served by a test thread, for a real D state: one file,
//! `stuck.txt`, in an otherwise empty folder. Whose requests are held
//! unanswered until [`Fuse::release`] (or [`Fuse::thaw`]) is the mount's
//! [`Hold`]: reads of the file by anyone but the test's own children (a
//! worker, a task), every request of the test's children (the supervisor
//! itself: a hung mount under its output folder), or only their writes and
//! syncs (a journal on a disk that stopped taking writes; the file then starts
//! empty and keeps what is written to it). A thread whose request the server holds enters
//! uninterruptible sleep once a fatal signal arrives, and cannot die
//! until it is answered: what a hung NFS mount does. Raw protocol (7.31), no
//! library: INIT, LOOKUP, GETATTR, SETATTR (size), OPEN, OPENDIR, READ,
//! READDIR, WRITE, FSYNC, RELEASE, FLUSH; ENOSYS otherwise.

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nix::libc;

/// What the FUSE file holds (a selftest task for whoever may read it).
const CONTENT: &[u8] = b"sleep=0\n";
const FILE_NAME: &str = "stuck.txt";
const ROOT: u64 = 1;
const FILE: u64 = 2;

/// Whose requests a [`Fuse`] holds unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Reads of `stuck.txt` by anyone but this test's children: the
    /// supervisor's discovery and pre-flight read it, a worker hangs on it.
    OthersReads,
    /// Every request of this test's children (the supervisor's threads):
    /// the supervisor's own file operations hang there.
    Supervisor,
    /// Writes and syncs of this test's children: the file starts empty, can
    /// be opened, read and appended to, but what the supervisor writes
    /// reaches it only once the test calls [`Fuse::thaw`].
    SupervisorWrites,
}

/// A FUSE mount served by a thread of this test: one file, `stuck.txt`, whose
/// requests are held as [`Hold`] says until [`Fuse::release`] or drop.
pub struct Fuse {
    dir: PathBuf,
    dev: File,
    state: Arc<Mutex<State>>,
}

/// One request the server holds.
struct Request {
    unique: u64,
    pid: u32,
    opcode: u32,
    node: u64,
    body: Vec<u8>,
}

/// What the server thread and the test share.
struct State {
    hold: Hold,
    /// Held requests; None once released or thawed (nothing is held then).
    held: Option<Vec<Request>>,
    /// The file's bytes.
    content: Vec<u8>,
}

fn le(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// `fuse_attr` for the root folder or the file of `size` bytes.
fn attr(node: u64, size: u64) -> Vec<u8> {
    let (size, mode, nlink) = if node == ROOT {
        (0u64, 0o040755u32, 2u32)
    } else {
        (size, 0o100644u32, 1u32)
    };
    le(&[
        &node.to_le_bytes(),
        &size.to_le_bytes(),
        &1u64.to_le_bytes(), // blocks
        &[0u8; 24],          // atime, mtime, ctime
        &[0u8; 12],          // their nanoseconds
        &mode.to_le_bytes(),
        &nlink.to_le_bytes(),
        &[0u8; 12],             // uid, gid, rdev
        &4096u32.to_le_bytes(), // blksize
        &0u32.to_le_bytes(),    // flags
    ])
}

/// The parent pid of the process owning thread `tid`.
pub fn parent_of(tid: u32) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))?
        .trim()
        .parse()
        .ok()
}

impl Fuse {
    /// Mounts at `dir`, holding reads of the file by others than the
    /// supervisor ([`Hold::OthersReads`]); None where FUSE cannot be mounted.
    pub fn mount(dir: &Path) -> Option<Fuse> {
        Fuse::mount_holding(dir, Hold::OthersReads)
    }

    /// Mounts at `dir`, holding the requests `hold` names; None where FUSE
    /// cannot be mounted.
    pub fn mount_holding(dir: &Path, hold: Hold) -> Option<Fuse> {
        fs::create_dir_all(dir).ok()?;
        let dev = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/fuse")
            .ok()?;
        let opts = format!("fd={},rootmode=40000,user_id=0,group_id=0", dev.as_raw_fd());
        let (src, target, fstype, data) = (
            CString::new("isobatch-test").ok()?,
            CString::new(dir.as_os_str().as_encoded_bytes()).ok()?,
            CString::new("fuse").ok()?,
            CString::new(opts).ok()?,
        );
        // SAFETY: valid NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                data.as_ptr().cast(),
            )
        };
        if rc != 0 {
            return None;
        }
        let content = match hold {
            Hold::SupervisorWrites => Vec::new(),
            _ => CONTENT.to_vec(),
        };
        let state = Arc::new(Mutex::new(State {
            hold,
            held: Some(Vec::new()),
            content,
        }));
        let reader = dev.try_clone().ok()?;
        let s = state.clone();
        std::thread::spawn(move || serve(reader, &s));
        Some(Fuse {
            dir: dir.to_path_buf(),
            dev,
            state,
        })
    }

    pub fn file(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// The threads whose requests are held unanswered so far.
    pub fn hung(&self) -> Vec<u32> {
        let state = self.state.lock().unwrap();
        state.held.iter().flatten().map(|r| r.pid).collect()
    }

    /// Answers every held request with EIO (the threads wake up, and die of
    /// their pending signals) and holds nothing from now on.
    pub fn release(&self) {
        let held = self.state.lock().unwrap().held.take();
        for r in held.into_iter().flatten() {
            let _ = (&self.dev).write_all(&reply(r.unique, -libc::EIO, &[]));
        }
    }

    /// Answers every held request as if it had never been held, in the order
    /// they came, and holds nothing from now on: the file system works again.
    pub fn thaw(&self) {
        let mut state = self.state.lock().unwrap();
        for r in state.held.take().into_iter().flatten() {
            if let Some((error, payload)) = state.answer(r.opcode, r.node, &r.body) {
                let _ = (&self.dev).write_all(&reply(r.unique, error, &payload));
            }
        }
    }
}

/// Releases a [`Fuse`] when dropped: declared after the process that may hang
/// on the mount, it lets that process die before the test waits for it, even
/// when the test fails half-way.
pub struct ReleaseOnDrop<'a>(pub &'a Fuse);

impl Drop for ReleaseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl Drop for Fuse {
    fn drop(&mut self) {
        self.release();
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status();
    }
}

fn reply(unique: u64, error: i32, payload: &[u8]) -> Vec<u8> {
    let len = (16 + payload.len()) as u32;
    le(&[
        &len.to_le_bytes(),
        &error.to_le_bytes(),
        &unique.to_le_bytes(),
        payload,
    ])
}

/// The server loop: answers INIT, LOOKUP, GETATTR, SETATTR, OPEN, OPENDIR,
/// READ, READDIR (empty), WRITE, FSYNC, RELEASE, FLUSH; ENOSYS for anything
/// else that expects an answer. Holds what the state's [`Hold`] says instead.
fn serve(mut dev: File, state: &Mutex<State>) {
    let me = std::process::id();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match dev.read(&mut buf) {
            Ok(n) if n >= 40 => n,
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            _ => return,
        };
        let req = &buf[..n];
        let u32_at = |o: usize| u32::from_le_bytes(req[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(req[o..o + 8].try_into().unwrap());
        let (opcode, unique, node, pid) = (u32_at(4), u64_at(8), u64_at(16), u32_at(32));
        let body = &req[40..];
        let mut state = state.lock().unwrap();
        // INIT comes from the mount itself; FORGET and the like expect no answer.
        let answers = !matches!(opcode, 26 | 2 | 36 | 42 | 38);
        let supervisor = parent_of(pid) == Some(me);
        let hold = match state.hold {
            Hold::OthersReads => opcode == 15 && !supervisor,
            Hold::Supervisor => answers && supervisor,
            Hold::SupervisorWrites => matches!(opcode, 16 | 20) && supervisor,
        };
        if hold && let Some(held) = state.held.as_mut() {
            held.push(Request {
                unique,
                pid,
                opcode,
                node,
                body: body.to_vec(),
            });
            continue;
        }
        if let Some((error, payload)) = state.answer(opcode, node, body) {
            let _ = (&dev).write_all(&reply(unique, error, &payload));
        }
    }
}

/// `fuse_attr_out` (or the attribute half of `fuse_entry_out`): never cached
/// where the file changes, so every stat reaches the server.
fn attr_out(node: u64, size: u64, valid: u64) -> Vec<u8> {
    let mut out = le(&[&valid.to_le_bytes(), &[0u8; 8]]);
    out.extend_from_slice(&attr(node, size));
    out
}

impl State {
    /// The answer to one request, None for those that expect none.
    fn answer(&mut self, opcode: u32, node: u64, body: &[u8]) -> Option<(i32, Vec<u8>)> {
        let u32_at = |o: usize| u32::from_le_bytes(body[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(body[o..o + 8].try_into().unwrap());
        let size = self.content.len() as u64;
        let valid: u64 = if self.hold == Hold::SupervisorWrites {
            0
        } else {
            60
        };
        Some(match opcode {
            // INIT: protocol 7.31, no optional features.
            26 => {
                let readahead = u32_at(8);
                let mut out = le(&[
                    &7u32.to_le_bytes(),
                    &31u32.to_le_bytes(),
                    &readahead.to_le_bytes(),
                ]);
                out.extend_from_slice(&0u32.to_le_bytes()); // flags
                out.extend_from_slice(&[0u8; 4]); // max_background, congestion_threshold
                out.extend_from_slice(&65536u32.to_le_bytes()); // max_write
                out.extend_from_slice(&1u32.to_le_bytes()); // time_gran
                out.resize(64, 0);
                (0, out)
            }
            // LOOKUP
            1 => {
                let name = body.split(|&b| b == 0).next().unwrap_or(b"");
                if node == ROOT && name == FILE_NAME.as_bytes() {
                    let mut out = le(&[&FILE.to_le_bytes(), &0u64.to_le_bytes()]);
                    out.extend_from_slice(&valid.to_le_bytes()); // entry_valid
                    out.extend_from_slice(&valid.to_le_bytes()); // attr_valid
                    out.extend_from_slice(&[0u8; 8]);
                    out.extend_from_slice(&attr(FILE, size));
                    (0, out)
                } else {
                    (-libc::ENOENT, Vec::new())
                }
            }
            // GETATTR
            3 => (0, attr_out(node, size, valid)),
            // SETATTR: only a new size (the journal truncates back after a failed commit).
            4 => {
                const FATTR_SIZE: u32 = 1 << 3;
                if node == FILE && u32_at(0) & FATTR_SIZE != 0 {
                    let len = usize::try_from(u64_at(16)).unwrap_or(usize::MAX);
                    self.content.resize(len, 0);
                }
                (0, attr_out(node, self.content.len() as u64, valid))
            }
            // OPEN, OPENDIR: direct I/O, so every read and write comes here (no page cache).
            14 | 27 => (
                0,
                le(&[&0u64.to_le_bytes(), &1u32.to_le_bytes(), &[0u8; 4]]),
            ),
            // READ
            15 => {
                let offset = usize::try_from(u64_at(8)).unwrap_or(usize::MAX);
                let len = u32_at(16) as usize;
                let bytes = self.content.get(offset..).unwrap_or(&[]);
                (0, bytes[..bytes.len().min(len)].to_vec())
            }
            // WRITE: fuse_write_in is 40 bytes, the data follows.
            16 => {
                let offset = usize::try_from(u64_at(8)).unwrap_or(usize::MAX);
                let data = &body[40..40 + u32_at(16) as usize];
                if self.content.len() < offset + data.len() {
                    self.content.resize(offset + data.len(), 0);
                }
                self.content[offset..offset + data.len()].copy_from_slice(data);
                (0, le(&[&(data.len() as u32).to_le_bytes(), &[0u8; 4]]))
            }
            // READDIR: no entries (a listing that ends at once).
            28 => (0, Vec::new()),
            // RELEASE, FLUSH, FSYNC, RELEASEDIR
            18 | 25 | 20 | 29 => (0, Vec::new()),
            // FORGET, INTERRUPT, BATCH_FORGET, DESTROY: no answer expected (or wanted).
            2 | 36 | 42 | 38 => return None,
            _ => (-libc::ENOSYS, Vec::new()),
        })
    }
}
