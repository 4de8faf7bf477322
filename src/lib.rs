//! lvsd: a keepalived.conf-compatible load-balancer director.
pub mod announce;
pub mod check;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod director;
#[doc(hidden)]
pub mod fuzzing;
pub mod notify;
pub mod status;
pub mod vrrp;
