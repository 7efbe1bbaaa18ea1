//! A FUSE file system served by a test thread, for a real D state: one file,
//! `stuck.txt`, in an otherwise empty folder. Whose requests are held
//! unanswered until [`Fuse::release`] is the mount's [`Hold`]: reads of the
//! file by anyone but the test's own children (a worker, a task), or every
//! request of the test's children (the supervisor itself: a hung mount under
//! its output folder). A thread whose request the server holds enters
//! uninterruptible sleep once a fatal signal arrives, and cannot die
//! until it is answered: what a hung NFS mount does. Raw protocol (7.31), no
//! library: INIT, LOOKUP, GETATTR, OPEN, OPENDIR, READ, READDIR, RELEASE,
//! FLUSH; ENOSYS otherwise.

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
}

/// A FUSE mount served by a thread of this test: one file, `stuck.txt`, whose
/// requests are held as [`Hold`] says until [`Fuse::release`] or drop.
pub struct Fuse {
    dir: PathBuf,
    dev: File,
    hung: Arc<Held>,
}

/// Held requests: (request id, requesting thread); None once released (from
/// then on nothing is held).
type Held = Mutex<Option<Vec<(u64, u32)>>>;

fn le(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// `fuse_attr` for the root folder or the file.
fn attr(node: u64) -> Vec<u8> {
    let (size, mode, nlink) = if node == ROOT {
        (0u64, 0o040755u32, 2u32)
    } else {
        (CONTENT.len() as u64, 0o100644u32, 1u32)
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
        let hung = Arc::new(Mutex::new(Some(Vec::new())));
        let reader = dev.try_clone().ok()?;
        let h = hung.clone();
        std::thread::spawn(move || serve(reader, &h, hold));
        Some(Fuse {
            dir: dir.to_path_buf(),
            dev,
            hung,
        })
    }

    pub fn file(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// The threads whose requests are held unanswered so far.
    pub fn hung(&self) -> Vec<u32> {
        let hung = self.hung.lock().unwrap();
        hung.iter().flatten().map(|h| h.1).collect()
    }

    /// Answers every held request with EIO (the threads wake up, and die of
    /// their pending signals) and holds nothing from now on.
    pub fn release(&self) {
        for (unique, _) in self.hung.lock().unwrap().take().into_iter().flatten() {
            let _ = (&self.dev).write_all(&reply(unique, -libc::EIO, &[]));
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

/// The server loop: answers INIT, LOOKUP, GETATTR, OPEN, OPENDIR, READ,
/// READDIR (empty), RELEASE, FLUSH; ENOSYS for anything else that expects an
/// answer. Holds what `hold` says instead.
fn serve(mut dev: File, hung: &Held, hold: Hold) {
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
        // INIT comes from the mount itself; FORGET and the like expect no answer.
        let answers = !matches!(opcode, 26 | 2 | 36 | 42 | 38);
        let held = |hung: &Held| {
            let mut hung = hung.lock().unwrap();
            hung.as_mut().map(|h| h.push((unique, pid))).is_some()
        };
        if hold == Hold::Supervisor && answers && parent_of(pid) == Some(me) && held(hung) {
            continue;
        }
        let answer = match opcode {
            // INIT: protocol 7.31, no optional features.
            26 => {
                let readahead = u32::from_le_bytes(body[8..12].try_into().unwrap());
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
                Some((0, out))
            }
            // LOOKUP
            1 => {
                let name = body.split(|&b| b == 0).next().unwrap_or(b"");
                if node == ROOT && name == FILE_NAME.as_bytes() {
                    let mut out = le(&[&FILE.to_le_bytes(), &0u64.to_le_bytes()]);
                    out.extend_from_slice(&60u64.to_le_bytes()); // entry_valid
                    out.extend_from_slice(&60u64.to_le_bytes()); // attr_valid
                    out.extend_from_slice(&[0u8; 8]);
                    out.extend_from_slice(&attr(FILE));
                    Some((0, out))
                } else {
                    Some((-libc::ENOENT, Vec::new()))
                }
            }
            // GETATTR
            3 => {
                let mut out = le(&[&60u64.to_le_bytes(), &[0u8; 8]]);
                out.extend_from_slice(&attr(node));
                Some((0, out))
            }
            // OPEN, OPENDIR: direct I/O, so every read comes here (no page cache).
            14 | 27 => Some((
                0,
                le(&[&0u64.to_le_bytes(), &1u32.to_le_bytes(), &[0u8; 4]]),
            )),
            // READ: the supervisor gets the content; a worker waits forever.
            15 => {
                if hold == Hold::OthersReads && parent_of(pid) != Some(me) && held(hung) {
                    None
                } else {
                    let offset = usize::try_from(u64_at(48)).unwrap_or(usize::MAX);
                    Some((0, CONTENT.get(offset..).unwrap_or(&[]).to_vec()))
                }
            }
            // READDIR: no entries (a listing that ends at once).
            28 => Some((0, Vec::new())),
            // RELEASE, FLUSH, RELEASEDIR
            18 | 25 | 29 => Some((0, Vec::new())),
            // FORGET, INTERRUPT, BATCH_FORGET, DESTROY: no answer expected (or wanted).
            2 | 36 | 42 | 38 => None,
            _ => Some((-libc::ENOSYS, Vec::new())),
        };
        if let Some((error, payload)) = answer {
            let _ = (&dev).write_all(&reply(unique, error, &payload));
        }
    }
}
