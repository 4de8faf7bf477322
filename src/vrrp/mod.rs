//! VRRP (RFC 3768 / RFC 5798). Pure parts: packet codec, validation, the per-instance state
//! machine, tracking and sync groups. Shell: `socket` (raw IP 112), `netlink` (VIPs, links),
//! `routes`, `rules`, `statics` (static_ipaddress / routes / rules), `announce` (GARP/NA),
//! `from_config` (model -> params) and `engine`, the task that owns every instance and its timers.
//! `reload` decides what a new configuration changes.

pub mod announce;
pub mod checksum;
pub mod engine;
pub mod from_config;
pub mod garp;
pub mod netlink;
pub mod news;
pub mod packet;
pub mod params;
pub mod reload;
pub mod routes;
pub mod rules;
pub mod socket;
pub mod state;
pub mod statics;
pub mod statics_plan;
pub mod sync;
pub mod timers;
pub mod track;
pub mod track_process;
pub mod validate;
pub mod vmac;

pub use params::InstanceParams;
pub use state::{Action, Input, Instance, State};
