//! What a batch tells people and programs: live progress, the end-of-run
//! summary, `summary.csv`, `results.json`, `memory.csv`, a fov batch's
//! combined `traces.csv` and `lineage.csv`, the column dictionary
//! (`columns.md`, `columns.json`) and `report.html`.

pub mod columns;
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
