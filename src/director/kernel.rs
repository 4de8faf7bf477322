//! The thin shell between the director and the kernel: connects to IPVS, applies global settings
//! (lvs_flush, lvs_timeouts, lvs_sync_daemon) and keeps the services lvsd owns equal to the desired
//! table (planned against what lvsd last applied: see sync.rs). Services lvsd did not create are never
//! touched (unless lvs_flush / lvs_flush_on_stop say so).

pub use super::sync::SyncReport;
use super::sync::TableSync;
use crate::config::model::{FlushOnStop, Global, LvsSyncDaemon};
use ipvs::{Client, Daemon, DaemonState, DestKey, Op, ServiceKey, Table};
use std::time::Instant;

pub struct Kernel {
    client: Client,
    tables: TableSync,
    daemons: Vec<DaemonState>,
}

impl Kernel {
    /// Connects (running `modprobe ip_vs` once if the family is missing) and applies the global
    /// settings. The sync daemon starts as backup when it follows a VRRP instance, else both.
    pub fn start(global: &Global, sync_id_default: u8) -> Result<Kernel, ipvs::Error> {
        let mut client = Client::connect_or_modprobe()?;
        if global.lvs_flush {
            tracing::info!("lvs_flush: flushing the IPVS table");
            client.flush()?;
        }
        let t = global.lvs_timeouts;
        if t.tcp.is_some() || t.tcpfin.is_some() || t.udp.is_some() {
            // Zero leaves a timeout unchanged in the kernel, so only the configured ones change.
            let c = ipvs::Config {
                tcp: t.tcp.unwrap_or(0),
                tcp_fin: t.tcpfin.unwrap_or(0),
                udp: t.udp.unwrap_or(0),
            };
            client.set_config(&c)?;
        }
        let mut k = Kernel {
            client,
            tables: TableSync::default(),
            daemons: Vec::new(),
        };
        if let Some(d) = &global.lvs_sync_daemon {
            let states: &[DaemonState] = if d.instance.is_some() {
                &[DaemonState::Backup]
            } else {
                &[DaemonState::Master, DaemonState::Backup]
            };
            for s in states {
                k.start_daemon(d, *s, sync_id_default);
            }
        }
        Ok(k)
    }

    fn start_daemon(&mut self, d: &LvsSyncDaemon, state: DaemonState, sync_id_default: u8) {
        let mut daemon = Daemon::new(
            state,
            &d.interface,
            u32::from(d.sync_id.unwrap_or(sync_id_default)),
        );
        daemon.sync_maxlen = d.maxlen;
        daemon.mcast_group = d.group;
        daemon.mcast_port = d.port;
        daemon.mcast_ttl = d.ttl;
        match self.client.new_daemon(&daemon) {
            Ok(()) => self.daemons.push(state),
            Err(e) => tracing::warn!(
                "lvs_sync_daemon on {}: cannot start the {state:?} sync daemon: {e}",
                d.interface
            ),
        }
    }

    /// Makes the services lvsd owns equal to `desired`: only the differences from what lvsd last
    /// applied are sent. New destinations of a service are added in the order `rank` gives (the
    /// configuration's).
    pub fn sync(
        &mut self,
        desired: &Table,
        rank: impl Fn(&ServiceKey, &DestKey) -> usize,
    ) -> Result<SyncReport, ipvs::Error> {
        self.tables.sync(&mut self.client, desired, rank)
    }

    /// Reads the kernel's table and repairs what another program changed (on reload).
    pub fn recheck(
        &mut self,
        desired: &Table,
        rank: impl Fn(&ServiceKey, &DestKey) -> usize,
    ) -> Result<SyncReport, ipvs::Error> {
        self.tables.recheck(&mut self.client, desired, rank)
    }

    /// Connections (active + inactive) per destination of a service.
    pub fn connections(
        &mut self,
        key: &ServiceKey,
    ) -> Result<std::collections::HashMap<DestKey, u32>, ipvs::Error> {
        Ok(self
            .client
            .dests(key)?
            .into_iter()
            .map(|e| {
                (
                    e.dest.key(),
                    e.active_conns.saturating_add(e.inactive_conns),
                )
            })
            .collect())
    }

    /// Takes ownership of services (e.g. to remove the configured ones without having created them).
    pub fn adopt<'a>(&mut self, keys: impl IntoIterator<Item = &'a ServiceKey>) {
        self.tables.adopt(keys);
    }

    /// On stop with --dont-release-ipvs: the services and their destinations stay as they are (also
    /// with lvs_flush_on_stop); only the sync daemons lvsd started are stopped, as they are not part
    /// of the table.
    pub fn leave(mut self) {
        self.stop_daemons();
    }

    fn stop_daemons(&mut self) {
        for s in std::mem::take(&mut self.daemons) {
            if let Err(e) = self.client.del_daemon(s) {
                tracing::warn!("cannot stop the {s:?} sync daemon: {e}");
            }
        }
    }

    /// On stop: remove what lvsd added, or flush everything with `lvs_flush_on_stop`.
    pub fn stop(mut self, mode: FlushOnStop) -> Result<SyncReport, ipvs::Error> {
        let started = Instant::now();
        let report = match mode {
            FlushOnStop::All => {
                self.client.flush()?;
                SyncReport {
                    ops: 1,
                    ..SyncReport::default()
                }
            }
            FlushOnStop::No | FlushOnStop::VirtualServers => {
                let ops: Vec<Op> = self
                    .tables
                    .owned()
                    .iter()
                    .map(|k| Op::DelService(*k))
                    .collect();
                let batch = self.client.apply(&ops)?;
                let failed: Vec<String> = batch
                    .failed
                    .iter()
                    .map(|(i, e)| match ops.get(*i) {
                        Some(op) => format!("{op}: {}", e.reason()),
                        None => e.to_string(),
                    })
                    .collect();
                for f in &failed {
                    tracing::error!("IPVS: {f}");
                }
                SyncReport {
                    ops: ops.len(),
                    failed,
                    ..SyncReport::default()
                }
            }
        };
        self.stop_daemons();
        Ok(SyncReport {
            elapsed: started.elapsed(),
            ..report
        })
    }
}
