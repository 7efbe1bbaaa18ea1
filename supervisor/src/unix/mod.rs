//! Linux process control: process groups, parent-death signals, the child
//! subreaper, the run's cgroup, tree walks and kills, the sweep of a killed
//! run's leftovers, signal forwarding, and where IPC sockets live. Everything that
//! talks to the kernel about processes lives here, one concern per file.

pub mod cgroup;
pub mod ipc_dir;
pub mod process_group;
pub mod signals;
pub mod subreaper;
pub mod sweep;
pub mod tree;
