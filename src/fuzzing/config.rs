//! Whole configurations through `config::load`, with includes: the input is split at NUL bytes
//! into keepalived.conf and the files it may include (`a.conf`, `b.conf`, `d/c.conf`, ...), all
//! written to a directory of their own for the one call, then removed.

use crate::config::{load, Config, LoadOptions};
use crate::director::Director;
use crate::vrrp::from_config;
use crate::vrrp::packet::Family;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// File names of the pieces after the first, relative to keepalived.conf.
const NAMES: &[&str] = &["a.conf", "b.conf", "d/c.conf", "d/e.conf", "d/f/g.conf"];

pub fn config(data: &[u8]) {
    let dir = scratch_dir();
    let main = dir.join("keepalived.conf");
    let mut pieces = data.split(|&b| b == 0);
    let written = std::fs::create_dir_all(dir.join("d/f")).is_ok()
        && std::fs::write(&main, pieces.next().unwrap_or_default()).is_ok()
        && NAMES
            .iter()
            .zip(pieces)
            .all(|(name, body)| std::fs::write(dir.join(name), body).is_ok());
    if written {
        let loaded = load(
            &main,
            &LoadOptions {
                config_id: "main".into(),
                check_machine: false,
            },
        );
        // Diagnostics are rendered for the log, and a model that loads is what the daemon runs.
        let _ = loaded.render();
        if let Some(cfg) = loaded.config {
            run_model(cfg);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// What start-up does with a loaded model before any socket: --dump-conf, the VRRP parameters
/// and the desired IPVS table.
fn run_model(cfg: Config) {
    let _ = serde_json::to_string(&cfg);
    for inst in &cfg.vrrp_instances {
        let primary = match from_config::family(inst) {
            Family::V4 => IpAddr::from([192, 0, 2, 1]),
            Family::V6 => IpAddr::from([0xfe80, 0, 0, 0, 0, 0, 0, 1]),
        };
        let _ = from_config::instance_params(inst, primary);
        let _ = from_config::destinations(&cfg, inst);
        let _ = from_config::interface_of(&cfg, inst);
    }
    let director = Director::new(&Arc::new(cfg));
    let _ = director.desired();
}

/// A directory no other call (thread or process) uses.
fn scratch_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Path::new(&std::env::temp_dir()).join(format!("lvsd-fuzz-{}-{n}", std::process::id()))
}
