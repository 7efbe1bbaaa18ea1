//! A task's checkpoints leave the page cache once no later stage reads them, not
//! before, and its input never: checked with `mincore` on real files on the
//! target folder's disk.

use std::cell::Cell;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use isobatch_shared::StageControl;
use isobatch_worker::stage::{Reporter, Stage, StageError, run_stages};
use nix::libc;

const BYTES: usize = 4 << 20;

/// Pages of `path` in the page cache, out of all its pages.
fn cached_pages(path: &Path) -> (usize, usize) {
    let file = File::open(path).unwrap();
    // SAFETY: the file is not modified while mapped (the test owns its folder).
    let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
    let page = 4096;
    let pages = map.len().div_ceil(page);
    let mut vec = vec![0u8; pages];
    // SAFETY: `vec` holds one byte per page of the mapping, as mincore requires.
    let rc = unsafe {
        libc::mincore(
            map.as_ptr() as *mut libc::c_void,
            map.len(),
            vec.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0, "mincore failed: {}", std::io::Error::last_os_error());
    (vec.iter().filter(|b| *b & 1 == 1).count(), pages)
}

/// Writes `BYTES` to `path` and fsyncs it, as a checkpoint commit does.
fn write_committed(path: &Path) -> Result<(), StageError> {
    let fail = |e: std::io::Error| StageError::Failed(e.to_string());
    let mut f = File::create(path).map_err(fail)?;
    f.write_all(&vec![7u8; BYTES]).map_err(fail)?;
    f.sync_all().map_err(fail)
}

/// A stage that writes one file; when it has an input, it first notes how much
/// of it is still cached.
struct Writer {
    name: &'static str,
    input: Option<PathBuf>,
    output: PathBuf,
    input_cached: Rc<Cell<Option<(usize, usize)>>>,
}

impl Stage for Writer {
    fn name(&self) -> &'static str {
        self.name
    }
    fn version(&self) -> u32 {
        1
    }
    fn params(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn inputs(&self) -> Vec<PathBuf> {
        self.input.iter().cloned().collect()
    }
    fn outputs(&self) -> Vec<PathBuf> {
        vec![self.output.clone()]
    }
    fn run(&mut self, _: &mut dyn FnMut(f32, &str)) -> Result<(), StageError> {
        if let Some(input) = &self.input {
            self.input_cached.set(Some(cached_pages(input)));
        }
        write_committed(&self.output)
    }
}

#[test]
fn checkpoints_stay_cached_while_read_and_are_released_after() {
    // On the target folder's disk: tmpfs (a common TMPDIR) has no page cache to drop.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let fs_type = nix::sys::statfs::statfs(dir.path())
        .unwrap()
        .filesystem_type();
    if fs_type == nix::sys::statfs::TMPFS_MAGIC {
        eprintln!("skipped: {} is on tmpfs", dir.path().display());
        return;
    }
    let (a, b) = (dir.path().join("a.bin"), dir.path().join("b.bin"));
    // The task's own input (no stage writes it) is the lab's file: never released.
    let raw = dir.path().join("raw.bin");
    write_committed(&raw).unwrap();
    let seen = Rc::new(Cell::new(None));
    let mut stages: Vec<Box<dyn Stage>> = vec![
        Box::new(Writer {
            name: "first",
            input: Some(raw.clone()),
            output: a.clone(),
            input_cached: Rc::new(Cell::new(None)),
        }),
        Box::new(Writer {
            name: "second",
            input: Some(a.clone()),
            output: b.clone(),
            input_cached: seen.clone(),
        }),
    ];
    let mut log = Vec::new();
    let mut progress = |_: &str, _: f32, _: &str| {};
    let mut out = Reporter {
        progress: &mut progress,
        log: &mut log,
    };
    run_stages(dir.path(), &mut stages, &StageControl::default(), &mut out).unwrap();

    let (cached, pages) = cached_pages(&raw);
    assert_eq!(cached, pages, "the task's input was dropped from the cache");
    let (cached, pages) = seen.get().expect("the second stage ran");
    assert_eq!(
        cached, pages,
        "a.bin was dropped before the stage reading it ran"
    );
    for p in [&a, &b] {
        assert_eq!(fs::metadata(p).unwrap().len(), BYTES as u64);
        let (cached, pages) = cached_pages(p);
        assert_eq!(
            cached,
            0,
            "{} still has {cached} of {pages} pages cached",
            p.display()
        );
    }
}
