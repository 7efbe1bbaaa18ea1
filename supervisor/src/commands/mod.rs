//! One file per subcommand (and `run_state`, the state of a last run for `status`).

pub mod completions;
pub mod conclude;
pub mod demo;
pub mod logs;
pub mod logs_follow;
pub mod man;
pub mod plan;
pub mod report;
pub mod run;
pub mod run_state;
pub mod status;
