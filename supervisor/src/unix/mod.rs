//! Linux process control: process groups, parent-death signals, the child
//! subreaper, tree walks and kills, signal forwarding, and where IPC sockets live. Everything that
//! talks to the kernel about processes lives here, one concern per file.

pub mod ipc_dir;
pub mod process_group;
pub mod signals;
pub mod subreaper;
pub mod tree;
