//! One file per subcommand.

pub mod conclude;
pub mod demo;
pub mod plan;
pub mod run;
pub mod status;
