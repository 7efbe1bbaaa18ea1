//! What a batch tells people and programs: live progress, the end-of-run
//! summary, `summary.csv`, `results.json`, `memory.csv` and a fov batch's
//! combined `traces.csv` and `lineage.csv`, and `report.html`.

pub mod files;
pub mod html;
pub mod lineage;
pub mod memory;
pub mod outlet;
pub mod problems;
pub mod progress;
pub mod run_log;
pub mod summary;
pub mod tally;
pub mod terminal;
pub mod traces;
