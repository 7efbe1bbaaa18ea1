//! Forward SIGINT, SIGTERM and SIGHUP to the dispatcher as events.
//!
//! Workers run in their own process groups, so a terminal's Ctrl-C reaches
//! only the supervisor, which decides what happens to running tasks.

use std::thread;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// A termination request from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// Ctrl-C: first one drains, second one terminates.
    Interrupt,
    /// SIGTERM or SIGHUP: terminate running tasks now.
    Terminate,
}

/// Starts a thread that calls `on_signal` for every SIGINT/SIGTERM/SIGHUP.
pub fn forward<F>(on_signal: F) -> std::io::Result<()>
where
    F: Fn(StopSignal) + Send + 'static,
{
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                on_signal(if sig == SIGINT {
                    StopSignal::Interrupt
                } else {
                    StopSignal::Terminate
                });
            }
        })?;
    Ok(())
}
