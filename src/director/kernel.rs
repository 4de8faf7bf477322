//! The thin shell between the director and the kernel: connects to IPVS, applies global settings
//! (lvs_flush, lvs_timeouts, lvs_sysctl), runs the sync daemons (syncd.rs says which) and keeps the services lvsd owns equal to the desired
//! table (planned against what lvsd last applied: see sync.rs). Services lvsd did not create are never
//! touched (unless lvs_flush / lvs_flush_on_stop say so).

pub use super::sync::SyncReport;
use super::sync::TableSync;
use super::syncd::{switch, Role, SyncSpec};
use crate::config::model::{FlushOnStop, Global};
use ipvs::{Client, DaemonState, DestKey, Op, ServiceKey, Table};
use std::time::Instant;

pub struct Kernel {
    client: Client,
    tables: TableSync,
    /// Sync daemons lvsd runs, and what they were started with.
    daemons: Vec<DaemonState>,
    spec: Option<SyncSpec>,
    /// Leftover daemons of an earlier process were stopped.
    cleaned: bool,
    /// Where the set of services lvsd owns is kept (and what it last wrote there).
    owned_file: Option<std::path::PathBuf>,
    written: Option<std::collections::BTreeSet<ServiceKey>>,
}

impl Kernel {
    /// Connects (running `modprobe ip_vs` once if the family is missing) and applies the global
    /// settings; the sync daemons start with `set_sync`.
    pub fn start(global: &Global) -> Result<Kernel, ipvs::Error> {
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
        super::sysctl::apply(&global.lvs_sysctl);
        Ok(Kernel {
            client,
            tables: TableSync::default(),
            daemons: Vec::new(),
            spec: None,
            cleaned: false,
            owned_file: None,
            written: None,
        })
    }

    /// Keeps the services lvsd owns in `file` after each change and takes over the ones it lists:
    /// an lvsd killed with -9 left them, and the next sync removes those no longer configured.
    pub fn keep_owned_in(mut self, file: Option<std::path::PathBuf>) -> Kernel {
        if let Some(path) = &file {
            match std::fs::read_to_string(path) {
                Ok(text) => match ipvs::text::parse_table(&text) {
                    Ok(t) => {
                        let keys: Vec<ServiceKey> = t.services.keys().copied().collect();
                        if !keys.is_empty() {
                            tracing::info!(
                                "IPVS: taking over {} service(s) an earlier lvsd created ({})",
                                keys.len(),
                                path.display()
                            );
                        }
                        self.tables.adopt(keys.iter());
                        self.written = Some(keys.into_iter().collect());
                    }
                    Err(e) => {
                        tracing::warn!("{}: {e}; not taking over its services", path.display())
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("{}: {e}", path.display()),
            }
        }
        self.owned_file = file;
        self
    }

    /// Writes the owned set when it changed (atomically: beside, then renamed).
    fn persist_owned(&mut self) {
        let Some(path) = &self.owned_file else { return };
        let owned = self.tables.owned().clone();
        if self.written.as_ref() == Some(&owned) {
            return;
        }
        let mut t = Table::new();
        for k in &owned {
            t.insert_service(ipvs::Service::new(*k, "rr"));
        }
        let text = format!(
            "# Services lvsd created; a restarted lvsd takes them over. Written by lvsd.\n{}",
            ipvs::text::format_table(&t)
        );
        let tmp = path.with_extension("tmp");
        let r = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::write(&tmp, text))
            .and_then(|_| std::fs::rename(&tmp, path));
        match r {
            Ok(()) => self.written = Some(owned),
            Err(e) => tracing::warn!("{}: {e}", path.display()),
        }
    }

    /// Runs the sync daemons `spec` and `role` call for. A changed `spec` restarts them; the
    /// first call stops daemons an earlier lvsd left running (kill -9), since the kernel refuses
    /// a second master or backup.
    pub fn set_sync(&mut self, spec: Option<&SyncSpec>, role: Role) {
        if spec.is_some() && !self.cleaned {
            self.cleaned = true;
            for s in [DaemonState::Master, DaemonState::Backup] {
                if self.client.del_daemon(s).is_ok() {
                    tracing::info!("stopped a {s:?} sync daemon left by an earlier process");
                }
            }
        }
        if self.spec.as_ref() != spec {
            self.stop_daemons();
            self.spec = spec.cloned();
        }
        let want = match &self.spec {
            Some(_) => role.daemons(),
            None => &[],
        };
        for (start, state) in switch(&self.daemons, want) {
            if start {
                self.start_daemon(state);
            } else {
                match self.client.del_daemon(state) {
                    Ok(()) => tracing::info!("IPVS: stopped the {state:?} sync daemon"),
                    Err(e) => tracing::warn!("cannot stop the {state:?} sync daemon: {e}"),
                }
                self.daemons.retain(|d| *d != state);
            }
        }
        self.report();
    }

    fn start_daemon(&mut self, state: DaemonState) {
        let Some(spec) = &self.spec else { return };
        match self.client.new_daemon(&spec.daemon(state)) {
            Ok(()) => {
                tracing::info!(
                    "IPVS: started the {state:?} sync daemon on {} (syncid {})",
                    spec.interface,
                    spec.syncid
                );
                self.daemons.push(state);
            }
            Err(e) => tracing::warn!(
                "lvs_sync_daemon on {}: cannot start the {state:?} sync daemon: {e}",
                spec.interface
            ),
        }
    }

    fn report(&self) {
        crate::status::emit(crate::status::Event::SyncDaemon(self.spec.as_ref().map(
            |s| crate::status::SyncdView {
                spec: s.clone(),
                master: self.daemons.contains(&DaemonState::Master),
                backup: self.daemons.contains(&DaemonState::Backup),
            },
        )));
    }

    /// The kernel's connections of `table`'s services, as sync entries (for catch-up).
    pub fn sync_entries(&self, table: &Table) -> Result<Vec<ipvs::conns::SyncConn>, String> {
        let conns = ipvs::conns::read_conns().map_err(|e| format!("/proc/net/ip_vs_conn: {e}"))?;
        Ok(ipvs::conns::sync_entries(&conns, table))
    }

    /// Makes the services lvsd owns equal to `desired`: only the differences from what lvsd last
    /// applied are sent. New destinations of a service are added in the order `rank` gives (the
    /// configuration's).
    pub fn sync(
        &mut self,
        desired: &Table,
        rank: impl Fn(&ServiceKey, &DestKey) -> usize,
    ) -> Result<SyncReport, ipvs::Error> {
        let r = self.tables.sync(&mut self.client, desired, rank);
        self.persist_owned();
        r
    }

    /// What `sync(desired)` would send now, without sending it.
    pub fn planned(
        &self,
        desired: &Table,
        rank: impl Fn(&ServiceKey, &DestKey) -> usize,
    ) -> Option<Vec<Op>> {
        self.tables.planned(desired, rank)
    }

    /// Active connections per destination of the services `keys`.
    pub fn active(
        &mut self,
        keys: &[ServiceKey],
    ) -> std::collections::HashMap<(ServiceKey, DestKey), u32> {
        let mut out = std::collections::HashMap::new();
        for k in keys {
            if let Ok(ds) = self.client.dests(k) {
                for e in ds {
                    out.insert((*k, e.dest.key()), e.active_conns);
                }
            }
        }
        out
    }

    /// Reads the kernel's table and repairs what another program changed (on reload).
    pub fn recheck(
        &mut self,
        desired: &Table,
        rank: impl Fn(&ServiceKey, &DestKey) -> usize,
    ) -> Result<SyncReport, ipvs::Error> {
        let r = self.tables.recheck(&mut self.client, desired, rank);
        self.persist_owned();
        r
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
            match self.client.del_daemon(s) {
                Ok(()) => tracing::info!("IPVS: stopped the {s:?} sync daemon"),
                Err(e) => tracing::warn!("cannot stop the {s:?} sync daemon: {e}"),
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
                tracing::info!("IPVS: removing the {} service(s) lvsd added", ops.len());
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
        // Nothing of lvsd's is left to take over (a refused delete keeps the list for next time).
        if let (Some(p), true) = (&self.owned_file, report.failed.is_empty()) {
            let _ = std::fs::remove_file(p);
        }
        Ok(SyncReport {
            elapsed: started.elapsed(),
            ..report
        })
    }
}
