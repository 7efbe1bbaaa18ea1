//! Make the supervisor the child subreaper of everything it starts.
//!
//! A grandchild that escapes its worker's process group with `setsid` and then
//! loses its parent is re-parented to the supervisor instead of init, so the
//! supervisor can still find it (as its own child) and kill it.

use nix::sys::prctl;

/// Marks this process as a child subreaper (PR_SET_CHILD_SUBREAPER).
pub fn become_subreaper() -> nix::Result<()> {
    prctl::set_child_subreaper(true)
}
