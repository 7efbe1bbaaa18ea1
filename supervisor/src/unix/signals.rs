//! What the supervisor does with SIGINT, SIGTERM and SIGHUP (DESIGN.md, "Signals").
//!
//! SIGINT and SIGTERM stop a batch: the first drains (nothing new starts,
//! running tasks finish), the second cancels running tasks. SIGHUP only means
//! the terminal is gone: the batch goes on without terminal output. A SIGHUP
//! that arrives ignored (`nohup`, or a parent that set SIG_IGN) stays ignored:
//! installing a handler would undo what the user asked for.
//!
//! Workers run in their own process groups, so a terminal's Ctrl-C reaches
//! only the supervisor, which decides what happens to running tasks.

use std::thread;

use nix::libc;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// A request to stop the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl StopSignal {
    /// The signal's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
        }
    }
}

/// How SIGHUP is handled in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hangup {
    /// It arrived ignored and stays ignored (e.g. under `nohup`).
    InheritedIgnore,
    /// It is caught and turns terminal output off.
    Caught,
}

/// True when `sig`'s disposition is SIG_IGN right now.
fn ignored(sig: libc::c_int) -> bool {
    let mut old = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: with a null new action, sigaction only reads the current one into `old`.
    let rc = unsafe { libc::sigaction(sig, std::ptr::null(), old.as_mut_ptr()) };
    // SAFETY: zero-initialised and, on success, filled in by the kernel.
    rc == 0 && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_IGN
}

/// The supervisor's signal handling: SIGHUP is caught from [`Catcher::install`]
/// on (so a hangup during discovery is not fatal), SIGINT and SIGTERM from
/// [`Catcher::forward`] on (until then they end the process, nothing having run).
pub struct Catcher {
    signals: Signals,
    hangup: Hangup,
}

impl Catcher {
    /// Catches SIGHUP from now on, unless it arrived ignored.
    pub fn install() -> std::io::Result<Catcher> {
        let hangup = if ignored(SIGHUP) {
            Hangup::InheritedIgnore
        } else {
            Hangup::Caught
        };
        let wanted: &[libc::c_int] = match hangup {
            Hangup::Caught => &[SIGHUP],
            Hangup::InheritedIgnore => &[],
        };
        Ok(Catcher {
            signals: Signals::new(wanted)?,
            hangup,
        })
    }

    /// How SIGHUP is handled in this run.
    pub fn hangup(&self) -> Hangup {
        self.hangup
    }

    /// Catches SIGINT and SIGTERM too, and starts a thread that calls `on_stop`
    /// for each of them and `on_hangup` for each SIGHUP (including one that
    /// arrived since [`Catcher::install`]).
    pub fn forward<S, H>(self, on_stop: S, on_hangup: H) -> std::io::Result<()>
    where
        S: Fn(StopSignal) + Send + 'static,
        H: Fn() + Send + 'static,
    {
        let mut signals = self.signals;
        signals.add_signal(SIGINT)?;
        signals.add_signal(SIGTERM)?;
        thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    match sig {
                        SIGHUP => on_hangup(),
                        SIGINT => on_stop(StopSignal::Interrupt),
                        _ => on_stop(StopSignal::Terminate),
                    }
                }
            })?;
        Ok(())
    }
}
