//! Samples the RSS of every busy worker's whole process tree (the worker and
//! all its descendants) from `/proc`, keeps the peak per attempt, and reports a
//! tree that crosses `--max-task-memory` to the dispatcher.
//!
//! This is what makes peak memory the worker's, never the supervisor's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use isobatch_shared::procfs;

use super::events::{Event, WorkerId};

#[derive(Debug)]
struct Tracked {
    /// Bumped per attempt, so a sample taken for the previous attempt of a
    /// pool worker is never credited to the next one.
    epoch: u64,
    pid: u32,
    peak: u64,
    limit: Option<u64>,
    reported: bool,
}

/// Handle to the sampling thread; dropping it stops the thread.
pub struct Sampler {
    tracked: Arc<Mutex<HashMap<WorkerId, Tracked>>>,
    stop: Arc<AtomicBool>,
    epoch: std::sync::atomic::AtomicU64,
}

fn lock(m: &Mutex<HashMap<WorkerId, Tracked>>) -> MutexGuard<'_, HashMap<WorkerId, Tracked>> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Sampler {
    /// Starts sampling every `interval`; over-limit trees are sent to `events`.
    pub fn start(interval: Duration, events: Sender<Event>) -> std::io::Result<Self> {
        let tracked: Arc<Mutex<HashMap<WorkerId, Tracked>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (tracked.clone(), stop.clone());
        thread::Builder::new()
            .name("rss-sampler".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    thread::sleep(interval);
                    let pids: Vec<(WorkerId, u32, u64)> = lock(&t)
                        .iter()
                        .map(|(w, tr)| (*w, tr.pid, tr.epoch))
                        .collect();
                    for (worker, pid, epoch) in pids {
                        let rss = procfs::tree_rss(pid);
                        let mut map = lock(&t);
                        let Some(tr) = map.get_mut(&worker).filter(|tr| tr.epoch == epoch) else {
                            continue;
                        };
                        tr.peak = tr.peak.max(rss);
                        if tr.limit.is_some_and(|l| rss > l) && !tr.reported {
                            tr.reported = true;
                            drop(map);
                            let _ = events.send(Event::OverMemory { worker, rss });
                        }
                    }
                }
            })?;
        Ok(Sampler {
            tracked,
            stop,
            epoch: Default::default(),
        })
    }

    /// Starts a new attempt's measurement for `worker` (peak reset). The first
    /// sample comes from the thread, so a no-op task costs no `/proc` reads here.
    pub fn track(&self, worker: WorkerId, pid: u32, limit: Option<u64>) {
        lock(&self.tracked).insert(
            worker,
            Tracked {
                epoch: self.epoch.fetch_add(1, Ordering::Relaxed),
                pid,
                peak: 0,
                limit,
                reported: false,
            },
        );
    }

    /// The peak so far, without ending the measurement.
    pub fn peak(&self, worker: WorkerId) -> u64 {
        lock(&self.tracked).get(&worker).map_or(0, |t| t.peak)
    }

    /// Ends the measurement; returns the attempt's sampled peak.
    pub fn untrack(&self, worker: WorkerId) -> u64 {
        lock(&self.tracked).remove(&worker).map_or(0, |t| t.peak)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
