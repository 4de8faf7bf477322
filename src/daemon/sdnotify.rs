//! systemd's notify protocol (Type=notify): one datagram to $NOTIFY_SOCKET per state, a no-op when
//! lvsd is not started by systemd.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use tracing::debug;

/// Sends `msg` (e.g. "READY=1"); errors are only logged at debug level: systemd may be gone.
pub fn notify(msg: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let path = path.to_string_lossy().into_owned();
    let addr = match path.strip_prefix('@') {
        Some(abs) => SocketAddr::from_abstract_name(abs.as_bytes()),
        None => SocketAddr::from_pathname(&path),
    };
    let r =
        addr.and_then(|a| UnixDatagram::unbound().and_then(|s| s.send_to_addr(msg.as_bytes(), &a)));
    if let Err(e) = r {
        debug!("sd_notify {msg} to {path}: {e}");
    }
}

pub fn ready() {
    notify(&format!("READY=1\nMAINPID={}", std::process::id()));
}

pub fn stopping() {
    notify("STOPPING=1");
}

/// For the reload path: RELOADING=1 now, `ready()` when the new configuration is applied.
pub fn reloading() {
    notify("RELOADING=1");
}
