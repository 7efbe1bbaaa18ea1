//! A writer thread behind a bounded queue: what the dispatcher hands it never
//! blocks the dispatcher, however long the write itself takes.
//!
//! Terminals and files can block a `write` indefinitely (a terminal nobody
//! reads, a pipe whose reader stopped, a hung network file system). Each such
//! destination gets an [`Outlet`]: a thread that performs the writes, fed by a
//! bounded queue that callers only ever `try_send` to. A full queue, or a write
//! that has been stuck for longer than the outlet's patience, reports
//! [`Refused`] so the caller can turn that output off instead of waiting.
//!
//! The thread hands its handler every message waiting at once. With a
//! `linger`, it first sleeps through that window after the first message (as
//! the journal's group commit does): messages sent meanwhile find nobody to
//! wake, so a busy batch costs the dispatcher no wake-up per line, and the
//! handler can write them with one system call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread;
use std::time::{Duration, Instant};

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The queue is full or the writer has been stuck in one write for too long.
    Stalled,
    /// The writer thread is gone.
    Closed,
}

enum Item<M> {
    Msg(M),
    Flush(mpsc::Sender<()>),
}

/// The sending side of a writer thread; clones share the thread.
pub struct Outlet<M> {
    tx: SyncSender<Item<M>>,
    /// Milliseconds since `epoch` (plus one) at which the writer started its
    /// current message; 0 while it waits for one.
    busy_since: Arc<AtomicU64>,
    epoch: Instant,
    patience: Duration,
}

impl<M> Clone for Outlet<M> {
    fn clone(&self) -> Self {
        Outlet {
            tx: self.tx.clone(),
            busy_since: self.busy_since.clone(),
            epoch: self.epoch,
            patience: self.patience,
        }
    }
}

impl<M: Send + 'static> Outlet<M> {
    /// Starts thread `name` calling `handle` with the messages waiting, in
    /// order, gathering for `linger` after the first. At most `capacity`
    /// messages wait; a write stuck for longer than `patience` makes
    /// [`Outlet::send`] refuse.
    pub fn start(
        name: &str,
        capacity: usize,
        patience: Duration,
        linger: Duration,
        mut handle: impl FnMut(Vec<M>) + Send + 'static,
    ) -> std::io::Result<Self> {
        let (tx, rx): (SyncSender<Item<M>>, Receiver<Item<M>>) = mpsc::sync_channel(capacity);
        let busy_since = Arc::new(AtomicU64::new(0));
        let epoch = Instant::now();
        let busy = busy_since.clone();
        thread::Builder::new().name(name.into()).spawn(move || {
            while let Ok(first) = rx.recv() {
                let (mut batch, mut acks) = (Vec::new(), Vec::new());
                let mut take = |item| match item {
                    Item::Msg(m) => batch.push(m),
                    Item::Flush(done) => acks.push(done),
                };
                let lingers = matches!(first, Item::Msg(_)) && !linger.is_zero();
                take(first);
                let ms = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
                busy.store(ms.saturating_add(1), Ordering::Relaxed);
                if lingers {
                    thread::sleep(linger);
                }
                while let Ok(item) = rx.try_recv() {
                    take(item);
                }
                if !batch.is_empty() {
                    handle(batch);
                }
                busy.store(0, Ordering::Relaxed);
                for done in acks {
                    let _ = done.send(());
                }
            }
        })?;
        Ok(Outlet {
            tx,
            busy_since,
            epoch,
            patience,
        })
    }

    /// How long the writer has been inside its current message (zero when idle).
    fn stuck_for(&self) -> Duration {
        match self.busy_since.load(Ordering::Relaxed) {
            0 => Duration::ZERO,
            since => self
                .epoch
                .elapsed()
                .saturating_sub(Duration::from_millis(since - 1)),
        }
    }

    /// Queues `m` without waiting.
    pub fn send(&self, m: M) -> Result<(), Refused> {
        if self.stuck_for() > self.patience {
            return Err(Refused::Stalled);
        }
        match self.tx.try_send(Item::Msg(m)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(Refused::Stalled),
            Err(TrySendError::Disconnected(_)) => Err(Refused::Closed),
        }
    }

    /// Waits until everything queued so far is handled; gives up (false) once
    /// the writer has been stuck in one message for longer than its patience,
    /// so a terminal nobody reads cannot hold the process forever.
    pub fn flush(&self) -> bool {
        let (done_tx, done_rx) = mpsc::channel();
        let mut item = Item::Flush(done_tx);
        // The queue may be full of messages a live writer is still working through.
        loop {
            match self.tx.try_send(item) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) => {
                    if self.stuck_for() > self.patience {
                        return false;
                    }
                    item = back;
                    thread::yield_now();
                    thread::park_timeout(Duration::from_millis(5));
                }
            }
        }
        loop {
            match done_rx.recv_timeout(Duration::from_millis(50)) {
                Ok(()) => return true,
                Err(RecvTimeoutError::Disconnected) => return false,
                Err(RecvTimeoutError::Timeout) if self.stuck_for() > self.patience => return false,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn messages_arrive_in_order_and_flush_waits_for_them() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let patience = Duration::from_secs(5);
        let linger = Duration::from_millis(1);
        let out = Outlet::start("t", 4, patience, linger, move |m: Vec<u32>| {
            s.lock().unwrap().extend(m)
        })
        .unwrap();
        for i in 0..3 {
            out.send(i).unwrap();
        }
        assert!(out.flush());
        assert_eq!(*seen.lock().unwrap(), vec![0, 1, 2]);
    }

    #[test]
    fn a_stuck_writer_refuses_instead_of_blocking() {
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let gate = Mutex::new(gate_rx);
        let patience = Duration::from_millis(50);
        let out = Outlet::start("t", 2, patience, Duration::ZERO, move |_: Vec<u32>| {
            let _ = gate.lock().unwrap().recv();
        })
        .unwrap();
        out.send(1).unwrap();
        // The writer is now stuck in message 1: the queue fills, or the patience runs out.
        let refused = (0..1000).find_map(|i| out.send(i).err());
        assert_eq!(refused, Some(Refused::Stalled));
        assert!(!out.flush(), "flush must give up on a stuck writer");
        drop(gate_tx);
    }
}
