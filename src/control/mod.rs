//! Runtime control: `lvsd ctl` over a root-only Unix socket (DESIGN.md: a pure protocol module
//! and a server shell). `proto` is the wire format, `select` names servers, `server` is the
//! daemon's side, `client` the command's.

pub mod client;
pub mod proto;
pub mod select;
pub mod server;
pub mod view;

/// Where the socket is when neither `--control-socket` nor global_defs `control_socket` say.
pub const DEFAULT_SOCKET: &str = "/run/lvsd/lvsd.sock";
