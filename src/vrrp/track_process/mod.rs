//! vrrp_track_process: counting the processes that match each block and deciding whether it has
//! its quorum. `pattern` (which process matches) and `quorum` (counts, verdicts, delays, with
//! explicit time) are pure; `wire` decodes the kernel's process events; `connector` (the netlink
//! socket), `procfs` (/proc) and `monitor` (the thread that runs it all) are the shell.

pub mod connector;
pub mod monitor;
pub mod pattern;
pub mod procfs;
pub mod quorum;
pub mod wire;

pub use monitor::{Monitor, Options, Verdicts};
pub use quorum::{Change, Def};
