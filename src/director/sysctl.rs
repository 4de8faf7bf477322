//! lvs_sysctl: the `net.ipv4.vs.*` values the configuration sets, written at start and when a
//! reload changes them. Values the configuration does not name keep the kernel's.

use crate::config::model::LvsSysctl;

const DIR: &str = "/proc/sys/net/ipv4/vs";

/// Writes every set value; one that cannot be written is logged with its name and the cause.
pub fn apply(s: &LvsSysctl) {
    for (name, value) in s.entries() {
        let path = format!("{DIR}/{name}");
        match std::fs::write(&path, format!("{value}\n")) {
            Ok(()) => tracing::info!("lvs_sysctl: net.ipv4.vs.{name} = {value}"),
            Err(e) => tracing::warn!("lvs_sysctl: cannot set net.ipv4.vs.{name} to {value}: {e}"),
        }
    }
}
