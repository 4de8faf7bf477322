//! VRRP (RFC 3768 / RFC 5798) pure parts: packet codec, validation, the per-instance state
//! machine, tracking and sync groups. Sockets, addresses and timers live in the shell.

pub mod checksum;
pub mod packet;
pub mod params;
pub mod timers;
pub mod validate;
