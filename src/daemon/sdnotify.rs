//! systemd's notify protocol (Type=notify): one datagram to $NOTIFY_SOCKET per state, a no-op when
//! lvsd is not started by systemd.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use tracing::debug;

/// Sends `msg` (e.g. "READY=1"); errors are only logged at debug level: systemd may be gone.
pub fn notify(msg: &str) {
    if let Some(path) = std::env::var_os("NOTIFY_SOCKET") {
        send(&path.to_string_lossy(), msg);
    }
}

/// Sends `msg` to the notify socket `path` (`@name`: an abstract one).
fn send(path: &str, msg: &str) {
    let addr = match path.strip_prefix('@') {
        Some(abs) => SocketAddr::from_abstract_name(abs.as_bytes()),
        None => SocketAddr::from_pathname(path),
    };
    let r =
        addr.and_then(|a| UnixDatagram::unbound().and_then(|s| s.send_to_addr(msg.as_bytes(), &a)));
    if let Err(e) = r {
        debug!("sd_notify {msg} to {path}: {e}");
    }
}

fn ready_message() -> String {
    format!("READY=1\nMAINPID={}", std::process::id())
}

pub fn ready() {
    notify(&ready_message());
}

const STOPPING: &str = "STOPPING=1";

pub fn stopping() {
    notify(STOPPING);
}

/// systemd's watchdog (WatchdogSec=): when it asks for keep-alives, this thread sends one every
/// half interval. The thread is the one every engine's events run on, so a stuck lvsd stops
/// them, systemd kills it, and the kernel deletes the BGP liveness interface with it.
pub fn spawn_watchdog() {
    let Some(every) = watchdog_interval() else {
        return;
    };
    tracing::info!(
        "systemd watchdog: keep-alive every {:.1} s",
        every.as_secs_f64()
    );
    tokio::task::spawn_local(async move {
        let mut t = tokio::time::interval(every);
        loop {
            t.tick().await;
            notify("WATCHDOG=1");
        }
    });
}

/// Half of WATCHDOG_USEC, when it is meant for this process (WATCHDOG_PID unset or ours).
pub fn watchdog_interval() -> Option<std::time::Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| std::time::Duration::from_micros(usec / 2))
}

/// For the reload path: RELOADING=1 now, `ready()` when the new configuration is applied.
pub fn reloading() {
    notify("RELOADING=1");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_reaches_the_notify_socket() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("notify");
        let sock = UnixDatagram::bind(&path).expect("bind");
        // Sent to the path directly: setting NOTIFY_SOCKET would race with the tests running
        // beside this one (their lvsd code would notify this socket; C code reads the environment
        // unlocked).
        let path = path.to_str().expect("utf-8 path");
        send(path, &ready_message());
        send(path, STOPPING);
        let mut buf = [0u8; 256];
        let n = sock.recv(&mut buf).expect("first datagram");
        let first = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(first.starts_with("READY=1\nMAINPID="), "{first}");
        let n = sock.recv(&mut buf).expect("second datagram");
        assert_eq!(&buf[..n], b"STOPPING=1");
    }
}
