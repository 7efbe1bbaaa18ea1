//! One file per subcommand.

pub mod demo;
pub mod logs;
pub mod logs_follow;
pub mod plan;
pub mod run;
pub mod status;
