//! lvsd: a keepalived.conf-compatible load-balancer director.
pub mod cli;
pub mod config;
pub mod director;
pub mod vrrp;
