//! What the isobatch supervisor and its workers must agree on.
//!
//! Everything that crosses the process boundary lives here: the IPC messages and
//! their wire encoding ([`protocol`]), the task description a worker receives
//! ([`task`]), the verdict vocabulary of summaries and journals ([`verdict`]),
//! stage control and reports ([`stages`]),
//! size and duration parsing ([`units`]), atomic file writes ([`atomic`]), a
//! stable hash for identities ([`digest`]), input identity ([`identity`]) and
//! `/proc` memory readings ([`procfs`]), and the cause line of a failure
//! message ([`cause`]).

pub mod atomic;
pub mod cause;
pub mod digest;
pub mod identity;
pub mod procfs;
pub mod protocol;
pub mod stages;
pub mod task;
pub mod units;
pub mod verdict;

pub use identity::FileIdentity;
pub use protocol::{FromWorker, Outcome, ToWorker};
pub use stages::{
    CheckpointFormat, FrameQc, StageAction, StageControl, StageQc, StageReport, qc_warnings,
};
pub use task::{Pipeline, TaskSpec};
pub use verdict::Verdict;
