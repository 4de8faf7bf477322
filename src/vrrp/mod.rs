//! VRRP (RFC 3768 / RFC 5798) pure parts: packet codec, validation, the per-instance state
//! machine, tracking and sync groups. Sockets, addresses and timers live in the shell.

pub mod checksum;
pub mod garp;
pub mod packet;
pub mod params;
pub mod state;
pub mod sync;
pub mod timers;
pub mod track;
pub mod validate;

pub use params::InstanceParams;
pub use state::{Action, Input, Instance, State};
