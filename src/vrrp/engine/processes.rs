//! The engine's side of vrrp_track_process: the monitor thread for the blocks some instance or
//! sync group tracks, and their verdicts as the engine last heard them. Each configuration gets
//! a generation; verdicts of an older one (still in the channel after a reload) are dropped,
//! since the reload's answer already holds what they said.

use std::collections::HashMap;

use tokio::sync::mpsc;
use tracing::info;

use crate::config::model::Config;
use crate::vrrp::reload::tracked_processes;
use crate::vrrp::track_process::{Change, Def, Monitor, Options, Verdicts};

pub(super) struct Processes {
    monitor: Option<Monitor>,
    defs: Vec<Def>,
    up: HashMap<String, bool>,
    gen: u64,
    tx: mpsc::UnboundedSender<Verdicts>,
}

fn defs(cfg: &Config) -> Vec<Def> {
    tracked_processes(cfg).into_iter().map(Def::new).collect()
}

fn options(cfg: &Config) -> Options {
    Options {
        rcvbuf: cfg.global.process_monitor_rcv_bufs,
        rcvbuf_force: cfg.global.process_monitor_rcv_bufs_force,
    }
}

impl Processes {
    /// Counts the tracked processes of `cfg` (if any) before the instances start.
    pub(super) async fn start(cfg: &Config, tx: mpsc::UnboundedSender<Verdicts>) -> Processes {
        let mut p = Processes {
            monitor: None,
            defs: Vec::new(),
            up: HashMap::new(),
            gen: 0,
            tx,
        };
        p.follow(cfg).await;
        p
    }

    /// A reload: starts, reconfigures or stops the monitor when the tracked blocks changed.
    pub(super) async fn follow(&mut self, cfg: &Config) {
        let defs = defs(cfg);
        if defs == self.defs && (self.monitor.is_some() || defs.is_empty()) {
            return;
        }
        self.gen += 1;
        let statuses = if defs.is_empty() {
            if self.monitor.take().is_some() {
                info!("track_process: no process tracked any more, stopped watching");
            }
            Vec::new()
        } else {
            let answer = match &self.monitor {
                Some(m) => m.reconfigure(defs.clone(), self.gen).await,
                None => None,
            };
            match answer {
                Some(s) => s,
                None => self.restart(cfg, &defs).await,
            }
        };
        self.defs = defs;
        self.up = statuses.into_iter().map(|c| (c.name, c.up)).collect();
    }

    async fn restart(&mut self, cfg: &Config, defs: &[Def]) -> Vec<Change> {
        let (monitor, statuses) =
            Monitor::start(defs.to_vec(), self.gen, options(cfg), self.tx.clone()).await;
        self.monitor = monitor;
        statuses
    }

    /// Verdicts from the monitor: those of the running configuration, recorded.
    pub(super) fn accept(&mut self, v: Verdicts) -> Vec<(String, bool)> {
        if v.gen != self.gen {
            return Vec::new();
        }
        v.changes
            .into_iter()
            .map(|c| {
                self.up.insert(c.name.clone(), c.up);
                (c.name, c.up)
            })
            .collect()
    }

    pub(super) fn is_up(&self, name: &str) -> bool {
        self.up.get(name).copied().unwrap_or(false)
    }
}
