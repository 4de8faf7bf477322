//! The thin shell between the director and the kernel: connects to IPVS, applies global settings
//! (lvs_flush, lvs_timeouts, lvs_sync_daemon) and keeps the services lvsd owns equal to the desired
//! table. Services lvsd did not create are never touched (unless lvs_flush / lvs_flush_on_stop say so).

use crate::config::model::{FlushOnStop, Global, LvsSyncDaemon};
use ipvs::{plan_owned, Client, Daemon, DaemonState, DestKey, Op, ServiceKey, Table};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// What one synchronisation did.
#[derive(Debug, Default, Clone)]
pub struct SyncReport {
    pub ops: usize,
    pub failed: Vec<String>,
    pub elapsed: Duration,
}

pub struct Kernel {
    client: Client,
    /// Services lvsd created or adopted: the only ones it edits or deletes.
    owned: BTreeSet<ServiceKey>,
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
            owned: BTreeSet::new(),
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

    /// Makes the services lvsd owns equal to `desired`: only the differences are sent. New destinations
    /// of a service are added in the order `rank` gives (the configuration's).
    pub fn sync(
        &mut self,
        desired: &Table,
        rank: impl Fn(&ServiceKey, &DestKey) -> usize,
    ) -> Result<SyncReport, ipvs::Error> {
        let started = Instant::now();
        let actual = self.client.table()?;
        let owned = &self.owned;
        let mut ops = plan_owned(desired, &actual, |k| owned.contains(k));
        order_adds(&mut ops, rank);
        let report = self.apply(&ops)?;
        self.owned = desired.services.keys().copied().collect();
        Ok(SyncReport {
            elapsed: started.elapsed(),
            ..report
        })
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
        self.owned.extend(keys);
    }

    fn apply(&mut self, ops: &[Op]) -> Result<SyncReport, ipvs::Error> {
        if ops.is_empty() {
            return Ok(SyncReport::default());
        }
        let batch = self.client.apply(ops)?;
        let failed: Vec<String> = batch
            .failed
            .iter()
            .map(|(i, e)| {
                format!(
                    "{}: {e}",
                    ops.get(*i).map(ToString::to_string).unwrap_or_default()
                )
            })
            .collect();
        for f in &failed {
            tracing::error!("IPVS: {f}");
        }
        Ok(SyncReport {
            ops: ops.len(),
            failed,
            elapsed: Duration::ZERO,
        })
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
                let ops: Vec<Op> = self.owned.iter().map(|k| Op::DelService(*k)).collect();
                self.apply(&ops)?
            }
        };
        self.stop_daemons();
        Ok(SyncReport {
            elapsed: started.elapsed(),
            ..report
        })
    }
}

/// Sorts each run of consecutive AddDest operations of one service by `rank`.
fn order_adds(ops: &mut [Op], rank: impl Fn(&ServiceKey, &DestKey) -> usize) {
    let mut i = 0;
    while i < ops.len() {
        let Op::AddDest(key, _) = &ops[i] else {
            i += 1;
            continue;
        };
        let key = *key;
        let run = ops[i..]
            .iter()
            .take_while(|o| matches!(o, Op::AddDest(k, _) if *k == key))
            .count();
        ops[i..i + run].sort_by_key(|o| match o {
            Op::AddDest(k, d) => rank(k, &d.key()),
            _ => usize::MAX,
        });
        i += run;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipvs::{Destination, Forward};

    #[test]
    fn adds_follow_the_configuration_order_within_each_service() {
        let k = ServiceKey::tcp("192.0.2.1".parse().expect("ip"), 80);
        let d = |last: u8| {
            Destination::new(
                format!("10.0.0.{last}").parse().expect("ip"),
                80,
                Forward::Masq,
            )
        };
        let mut ops = vec![
            Op::AddService(ipvs::Service::new(k, "rr")),
            Op::AddDest(k, d(1)),
            Op::AddDest(k, d(2)),
            Op::AddDest(k, d(3)),
        ];
        // Configuration order: .3, .1, .2
        order_adds(&mut ops, |_, dk| match dk.addr.to_string().as_str() {
            "10.0.0.3" => 0,
            "10.0.0.1" => 1,
            _ => 2,
        });
        let order: Vec<String> = ops[1..]
            .iter()
            .map(|o| match o {
                Op::AddDest(_, d) => d.addr.to_string(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(order, vec!["10.0.0.3", "10.0.0.1", "10.0.0.2"]);
    }
}
