//! lvsd: a keepalived.conf-compatible load-balancer director.
pub mod config;
pub mod vrrp;
