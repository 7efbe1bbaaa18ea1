//! One file per subcommand.

pub mod completions;
pub mod conclude;
pub mod demo;
pub mod logs;
pub mod logs_follow;
pub mod man;
pub mod plan;
pub mod report;
pub mod run;
pub mod status;
